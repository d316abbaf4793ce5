/**
 * What `status` reports about a running relay. A fuller, versioned status model with
 * monitoring exit codes belongs to the health issue; this is its first shape.
 */
import type { KeepAlivePhase } from '../auth/index.js';
import type { DeliverySnapshot } from '../delivery/index.js';

export interface RelayStatus {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly smtp: { readonly host: string; readonly port: number };
  readonly delivery: DeliverySnapshot;
  /** Standing warnings, e.g. a key kept in a file instead of the OS keychain. */
  readonly warnings: readonly string[];
  /** The keep-alive schedule of each delegated account (SignIn.keepAliveInfo()). */
  readonly signIn: readonly SignInInfo[];
}

export interface SignInInfo {
  readonly account: string;
  readonly keepAlive: { readonly phase: KeepAlivePhase; readonly nextRunAt?: string | undefined };
}

export function buildStatus(input: {
  version: string;
  startedAt: number;
  now: number;
  smtp: { host: string; port: number };
  delivery: DeliverySnapshot;
  warnings: readonly string[];
  signIn?: readonly SignInInfo[];
}): RelayStatus {
  return {
    version: input.version,
    pid: process.pid,
    startedAt: new Date(input.startedAt).toISOString(),
    uptimeSeconds: Math.round((input.now - input.startedAt) / 1000),
    smtp: input.smtp,
    delivery: input.delivery,
    warnings: input.warnings,
    signIn: input.signIn ?? [],
  };
}
