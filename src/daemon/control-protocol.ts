/**
 * The control channel's wire format: one JSON request per connection; the daemon may answer with
 * event lines (e.g. the sign-in URL or device code, while a login waits for the person) before
 * the one final reply line. Small on purpose: the CLI is its only client. Version 2 opens every
 * connection with a mutual proof of the channel's key (control-handshake.ts).
 */
import { z } from 'zod';

export const CONTROL_PROTOCOL_VERSION = 2;

export const controlRequestSchema = z.discriminatedUnion('command', [
  z.object({ command: z.literal('ping') }),
  z.object({ command: z.literal('status') }),
  z.object({ command: z.literal('queue.list'), folder: z.enum(['queue', 'failed']) }),
  z.object({ command: z.literal('queue.show'), id: z.string() }),
  z.object({ command: z.literal('queue.retry'), id: z.string() }),
  z.object({ command: z.literal('queue.delete'), id: z.string() }),
  z.object({ command: z.literal('account.release'), account: z.string() }),
  // The secret travels only over the owner-only local channel, never on a command line.
  z.object({ command: z.literal('secret.set'), account: z.string(), secret: z.string().min(1) }),
  // The daemon signs in, so the tokens land in its own key store; the prompt comes back as an event.
  z.object({ command: z.literal('login'), account: z.string(), mode: z.enum(['browser', 'device-code']) }),
  z.object({ command: z.literal('logout'), account: z.string() }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

/** An intermediate line, sent while a long request (login) is under way. */
export interface ControlEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export type ControlResponse =
  | { readonly ok: true; readonly version: number; readonly result: unknown }
  | { readonly ok: false; readonly version: number; readonly error: string };

/** Requests and replies are small; anything bigger is not ours. */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024;
