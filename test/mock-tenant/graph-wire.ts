/**
 * The HTTP side of the Graph stand-in: Graph's error shape, its 4 MB request limit, and reading
 * MIME or JSON request bodies (https://learn.microsoft.com/graph/errors, user-sendmail).
 */
import type { IncomingMessage } from 'node:http';
import { simpleParser, type AddressObject } from 'mailparser';
import type { GraphDraft } from './graph-drafts.js';

/** "4 MB" request limit of Graph; taken as 4 MiB here. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface GraphRecipients {
  readonly to: string[];
  readonly cc: string[];
  readonly bcc: string[];
}

/** An answer with Graph's error body: `{ error: { code, message, innerError } }`. */
export class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export function toFailure(error: unknown): GraphFailure {
  if (error instanceof GraphFailure) return error;
  return new GraphFailure(500, 'InternalServerError', error instanceof Error ? error.message : String(error));
}

/** Reads the body, refusing more than Graph's 4 MB with 413 (the rest is read and dropped). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length <= GRAPH_MAX_REQUEST_BYTES) chunks.push(chunk as Buffer);
  }
  if (length > GRAPH_MAX_REQUEST_BYTES) throw new GraphFailure(413, 'RequestEntityTooLarge', `The request of ${length} bytes is larger than the 4 MB limit.`);
  return Buffer.concat(chunks);
}

export function isMime(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('text/plain');
}

export function decodeMime(body: Buffer): Buffer {
  const text = body.toString('ascii').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length === 0) throw new GraphFailure(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
  return Buffer.from(text, 'base64');
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new GraphFailure(400, 'BadRequest', 'Unable to read JSON request payload.');
  }
}

export function recipientsOf(draft: GraphDraft): GraphRecipients {
  return {
    to: draft.toRecipients.map((entry) => entry.address),
    cc: draft.ccRecipients.map((entry) => entry.address),
    bcc: draft.bccRecipients.map((entry) => entry.address),
  };
}

export async function recipientsOfMime(mime: Buffer): Promise<GraphRecipients> {
  const parsed = await simpleParser(mime, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const list = (value: AddressObject | AddressObject[] | undefined): string[] =>
    (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((object) => object.value.flatMap((entry) => (entry.address === undefined ? [] : [entry.address])));
  return { to: list(parsed.to), cc: list(parsed.cc), bcc: list(parsed.bcc) };
}
