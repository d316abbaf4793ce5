/**
 * The audit trail of `queue delete` and `queue retry`: an acknowledged message must never vanish
 * without a trace. One JSON line per action (who, what, which message, when) appended to
 * <dataDir>/audit.log, readable by the relay's own account only, whether the running daemon or
 * the CLI on the spool did it.
 */
import { appendFile } from 'node:fs/promises';
import { dataPaths } from '../core/data-paths.js';

export interface AuditEntry {
  readonly at: string;
  readonly action: 'queue.delete' | 'queue.retry';
  readonly id: string;
  readonly account: string;
  readonly folder: 'queue' | 'failed';
  /** The OS user, and whether through the running relay or directly on the spool. */
  readonly by: string;
}

export function auditLogPath(dataDir: string): string {
  return dataPaths(dataDir).audit;
}

export async function appendAudit(dataDir: string, entry: AuditEntry): Promise<void> {
  await appendFile(auditLogPath(dataDir), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
}
