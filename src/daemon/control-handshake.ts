/**
 * The control channel's first exchange: each end proves that it holds the channel's key
 * (HMAC-SHA256 over both nonces, RFC 2104), so the CLI never sends a secret to, or takes a
 * device code from, a listener that is not the relay of that data folder, and the relay never
 * obeys a client that could not read the key.
 *
 *   CLI   -> relay  {"hello":{"version":2,"nonce":C}}
 *   relay -> CLI    {"hello":{"version":2,"nonce":R,"proof":HMAC(key, relay|C|R)}}
 *   CLI   -> relay  {"proof":HMAC(key, cli|C|R),"request":{...}}
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CONTROL_PROTOCOL_VERSION, controlRequestSchema } from './control-protocol.js';

export const CONTROL_KEY_BYTES = 32;
const NONCE_BYTES = 32;
const hex = z.string().regex(/^[0-9a-f]+$/);
const nonce = hex.length(NONCE_BYTES * 2);

export const clientHelloSchema = z.object({ hello: z.object({ version: z.number(), nonce }) });
export const relayHelloSchema = z.object({ hello: z.object({ version: z.number(), nonce, proof: hex }) });
export const provenRequestSchema = z.object({ proof: hex, request: controlRequestSchema });

export type Role = 'relay' | 'cli';

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

export function proofOf(key: Buffer, role: Role, clientNonce: string, relayNonce: string): string {
  return createHmac('sha256', key)
    .update(`smtp-oauth-relay control ${CONTROL_PROTOCOL_VERSION}\n${role}\n${clientNonce}\n${relayNonce}`)
    .digest('hex');
}

/** Constant-time comparison, so the answer's timing says nothing about the expected proof. */
export function proofMatches(key: Buffer, role: Role, clientNonce: string, relayNonce: string, given: string): boolean {
  const expected = Buffer.from(proofOf(key, role, clientNonce, relayNonce), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
