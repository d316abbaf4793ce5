/** A condition's fix, filled for one account and upstream ({mailbox}, {account}, {host}, ...). */
import type { Condition, SignInMethod } from './types.js';

export interface FixContext {
  readonly account?: string;
  readonly mailbox?: string;
  readonly method?: SignInMethod;
  readonly clientId?: string;
  readonly tenantId?: string;
  readonly host?: string;
  readonly port?: number;
  readonly authority?: string;
}

/** The filled fix text, or undefined when the condition needs no one to act. */
export function fixFor(condition: Condition, context: FixContext = {}): string | undefined {
  if (condition.fix === undefined) return undefined;
  const template = typeof condition.fix === 'string' ? condition.fix : condition.fix[context.method ?? 'client-credentials'];
  return template.replace(/\{(\w+)\}/g, (placeholder, key: string) => {
    const value = (context as Record<string, unknown>)[key];
    return value === undefined ? placeholder.replace(/[{}]/g, (brace) => (brace === '{' ? '<' : '>')) : String(value);
  });
}
