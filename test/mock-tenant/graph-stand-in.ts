/**
 * A stand-in for Microsoft Graph's mail API, over HTTPS with the mock tenant's CA, checking
 * bearer tokens against the mock identity provider's keys (graph-token-check.ts). It does what
 * the relay uses, with Graph's limits and error shapes:
 *  - POST /v1.0/users/{id}/sendMail: base64 MIME (text/plain) or JSON {message, saveToSentItems}
 *    https://learn.microsoft.com/graph/api/user-sendmail
 *  - drafts: POST /users/{id}/messages (MIME or JSON), PATCH /users/{id}/messages/{mid},
 *    POST .../messages/{mid}/attachments (a file under 3 MB), POST .../messages/{mid}/send
 *    https://learn.microsoft.com/graph/api/user-post-messages, message-send
 *  - upload sessions: POST .../attachments/createUploadSession, then PUT byte ranges with
 *    Content-Range to the uploadUrl, without an Authorization header
 *    https://learn.microsoft.com/graph/outlook-large-attachments
 *  - 4 MB per request (413), 4 concurrent requests per mailbox (429)
 *    https://learn.microsoft.com/graph/throttling-limits ("Outlook service limits")
 *  - scripted answers: 429/503 with Retry-After, 401/403, Graph error codes.
 * What it "sends" is kept as MIME, so tests compare it with what the legacy program handed over.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import type { JWTPayload } from 'jose';
import type { TestCertificates } from './certs.js';
import { applyJson, attachmentFromJson, draftFromJson, draftFromMime, headerProblem, mimeOfDraft, type GraphDraft, type JsonAttachment, type JsonMessage } from './graph-drafts.js';
import { GraphTokenRefused, type GraphTokenCheck } from './graph-token-check.js';
import { decodeMime, GraphFailure, isMime, parseJson, readBody, recipientsOf, recipientsOfMime, toFailure, type Answer, type GraphRecipients } from './graph-wire.js';

export { GRAPH_MAX_REQUEST_BYTES } from './graph-wire.js';

/** Files of 3 MB and more must go through an upload session; smaller ones in one POST. */
export const GRAPH_SMALL_ATTACHMENT_BYTES = 3_000_000;
export const GRAPH_MAX_CONCURRENT_PER_MAILBOX = 4;
/** Upload-session chunks are multiples of 320 KiB, except the last. */
export const UPLOAD_CHUNK_UNIT = 320 * 1024;

export type GraphOperation = 'sendMail' | 'createMessage' | 'updateMessage' | 'deleteMessage' | 'addAttachment' | 'createUploadSession' | 'uploadChunk' | 'send';

/** A scripted answer instead of the real one. */
export interface GraphScriptStep {
  readonly on?: GraphOperation | 'any';
  readonly status: number;
  readonly code?: string;
  readonly message?: string;
  readonly retryAfterSeconds?: number;
  /** How many matching requests get it (1 by default). */
  readonly times?: number;
}

export interface GraphSentMessage {
  readonly mailbox: string;
  /** sendMail with MIME, sendMail with JSON, or a draft sent with /send. */
  readonly via: 'mime' | 'json' | 'draft';
  readonly mime: Buffer;
  readonly recipients: GraphRecipients;
  readonly saveToSentItems: boolean;
  readonly claims: JWTPayload;
  readonly sentAt: number;
}

export interface GraphRequestRecord {
  readonly method: string;
  readonly operation: GraphOperation | 'unknown';
  readonly mailbox: string | undefined;
  readonly bytes: number;
  readonly status: number;
  readonly authorization: boolean;
  /** When the request arrived and when it was answered (ms since the epoch). */
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface MockGraphOptions {
  readonly certificates: TestCertificates;
  readonly checkToken: GraphTokenCheck;
  readonly mailboxes: readonly string[];
  /** Addresses each mailbox may send as besides itself (Send As permission). */
  readonly sendAs?: Readonly<Record<string, readonly string[]>>;
  readonly port?: number;
}

interface UploadSession {
  readonly mailbox: string;
  readonly draft: GraphDraft;
  readonly item: { name: string; size: number; contentType: string; contentId?: string; isInline: boolean };
  readonly chunks: Buffer[];
  received: number;
}


export class MockGraph {
  readonly sent: GraphSentMessage[] = [];
  readonly requests: GraphRequestRecord[] = [];
  /** Most requests in flight at once for any one mailbox. */
  peakConcurrency = 0;
  private readonly server: Server;
  private readonly drafts = new Map<string, GraphDraft>();
  /** Drafts created and neither sent nor deleted. */
  get openDrafts(): number {
    return this.drafts.size;
  }
  private readonly uploads = new Map<string, UploadSession>();
  private readonly script: { step: GraphScriptStep; remaining: number }[] = [];
  private readonly inFlight = new Map<string, number>();
  private readonly sentWaiters = new Set<{ count: number; resolve: () => void }>();
  private port = 0;

  private constructor(private readonly options: MockGraphOptions) {
    this.server = createServer({ key: options.certificates.keyPem, cert: options.certificates.certPem }, (req, res) => {
      void this.handle(req, res);
    });
  }

  static async start(options: MockGraphOptions): Promise<MockGraph> {
    const graph = new MockGraph(options);
    await new Promise<void>((resolve, reject) => {
      graph.server.once('error', reject);
      graph.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    graph.port = (graph.server.address() as AddressInfo).port;
    return graph;
  }

  /** The relay's `graph.baseUrl`. */
  get baseUrl(): string {
    return `https://127.0.0.1:${this.port}/v1.0`;
  }

  /** The next matching requests get this answer. */
  failNext(step: GraphScriptStep): void {
    this.script.push({ step, remaining: step.times ?? 1 });
  }

  clearScript(): void {
    this.script.length = 0;
  }

  /** Resolves once `count` messages have been sent in all. */
  waitForSent(count: number, timeoutMs = 60_000): Promise<void> {
    if (this.sent.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { count, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.sentWaiters.delete(waiter);
        reject(new Error(`Graph stand-in: ${this.sent.length} of ${count} messages sent within ${timeoutMs} ms`));
      }, timeoutMs);
      this.sentWaiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // --- routing ---------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const route = this.route(req.method ?? 'GET', url.pathname);
    let mailbox = route?.mailbox;
    let status = 500;
    let bytes = 0;
    const startedAt = Date.now();
    try {
      if (route === undefined) throw new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${url.pathname}'.`);
      const body = await readBody(req);
      bytes = body.length;
      if (route.operation === 'uploadChunk') {
        const session = this.uploads.get(route.id ?? '');
        mailbox = session?.mailbox;
      }
      const answer = await this.withConcurrency(mailbox, async () => {
        const scripted = this.takeScripted(route.operation);
        if (scripted !== undefined) throw new GraphFailure(scripted.status, scripted.code ?? 'ErrorScripted', scripted.message ?? 'Scripted failure.', scripted.retryAfterSeconds);
        if (route.operation === 'uploadChunk') return this.uploadChunk(route.id ?? '', req, body, url);
        if (!this.options.mailboxes.some((known) => known.toLowerCase() === route.mailbox?.toLowerCase())) {
          throw new GraphFailure(404, 'ErrorInvalidUser', `The requested user '${route.mailbox ?? ''}' is invalid.`);
        }
        const claims = await this.authorize(req, route.mailbox ?? '');
        return this.operate(route, req, body, claims);
      });
      status = answer.status;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    } catch (error) {
      const failure = toFailure(error);
      status = failure.status;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
      if (!res.headersSent) res.writeHead(failure.status, headers);
      res.end(JSON.stringify({ error: { code: failure.code, message: failure.message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } } }));
    } finally {
      this.requests.push({ method: req.method ?? '', operation: route?.operation ?? 'unknown', mailbox, bytes, status, authorization: req.headers.authorization !== undefined, startedAt, endedAt: Date.now() });
      this.notifySent();
    }
  }

  private route(method: string, path: string): { operation: GraphOperation; mailbox?: string; id?: string } | undefined {
    const upload = /^\/upload\/([\w-]+)$/.exec(path);
    if (upload !== null && method === 'PUT') return { operation: 'uploadChunk', ...(upload[1] === undefined ? {} : { id: upload[1] }) };
    const match = /^\/v1\.0\/users\/([^/]+)(\/.*)$/.exec(path);
    if (match === null) return undefined;
    const mailbox = decodeURIComponent(match[1] ?? '');
    const rest = match[2] ?? '';
    const message = /^\/messages\/([\w-]+)(\/.*)?$/.exec(rest);
    const id = message?.[1];
    const tail = message?.[2] ?? '';
    if (method === 'POST' && rest === '/sendMail') return { operation: 'sendMail', mailbox };
    if (method === 'POST' && rest === '/messages') return { operation: 'createMessage', mailbox };
    if (id === undefined) return undefined;
    if (method === 'PATCH' && tail === '') return { operation: 'updateMessage', mailbox, id };
    if (method === 'DELETE' && tail === '') return { operation: 'deleteMessage', mailbox, id };
    if (method === 'POST' && tail === '/attachments') return { operation: 'addAttachment', mailbox, id };
    if (method === 'POST' && tail === '/attachments/createUploadSession') return { operation: 'createUploadSession', mailbox, id };
    if (method === 'POST' && tail === '/send') return { operation: 'send', mailbox, id };
    return undefined;
  }

  private async operate(route: { operation: GraphOperation; mailbox?: string; id?: string }, req: IncomingMessage, body: Buffer, claims: JWTPayload): Promise<Answer> {
    const mailbox = route.mailbox ?? '';
    const mime = isMime(req);
    switch (route.operation) {
      case 'sendMail': {
        if (mime) {
          const raw = decodeMime(body);
          await this.deliver(mailbox, 'mime', raw, await recipientsOfMime(raw), true, claims);
          return { status: 202 };
        }
        const request = parseJson(body) as { message?: JsonMessage; saveToSentItems?: boolean };
        const draft = this.checkedDraft(draftFromJson(mailbox, request.message ?? {}));
        await this.deliver(mailbox, 'json', await mimeOfDraft(draft), recipientsOf(draft), request.saveToSentItems !== false, claims);
        return { status: 202 };
      }
      case 'createMessage': {
        const draft = mime ? await draftFromMime(mailbox, decodeMime(body)) : this.checkedDraft(draftFromJson(mailbox, parseJson(body) as JsonMessage));
        this.drafts.set(draft.id, draft);
        return { status: 201, body: { id: draft.id, isDraft: true, subject: draft.subject } };
      }
      case 'updateMessage': {
        const draft = this.draft(mailbox, route.id);
        const patch = parseJson(body) as JsonMessage;
        const problem = headerProblem(patch.internetMessageHeaders);
        if (problem !== undefined) throw new GraphFailure(400, 'InvalidInternetMessageHeader', problem);
        applyJson(draft, patch);
        return { status: 200, body: { id: draft.id, isDraft: true } };
      }
      case 'deleteMessage': {
        this.drafts.delete(this.draft(mailbox, route.id).id);
        return { status: 204 };
      }
      case 'addAttachment': {
        const draft = this.draft(mailbox, route.id);
        const attachment = attachmentFromJson(parseJson(body) as JsonAttachment);
        if (attachment.bytes.length >= GRAPH_SMALL_ATTACHMENT_BYTES) {
          throw new GraphFailure(413, 'ErrorAttachmentSizeTooLarge', 'Files of 3 MB and more must be attached through an upload session.');
        }
        draft.attachments.push(attachment);
        return { status: 201, body: { id: attachment.id, name: attachment.name, size: attachment.bytes.length } };
      }
      case 'createUploadSession': {
        const draft = this.draft(mailbox, route.id);
        const item = (parseJson(body) as { AttachmentItem?: { attachmentType?: string; name?: string; size?: number; contentType?: string; contentId?: string; isInline?: boolean } }).AttachmentItem;
        if (item?.attachmentType !== 'file' || item.name === undefined || typeof item.size !== 'number') {
          throw new GraphFailure(400, 'ErrorInvalidRequest', 'AttachmentItem needs attachmentType "file", name and size.');
        }
        if (item.size < GRAPH_SMALL_ATTACHMENT_BYTES || item.size > 150 * 1024 * 1024) {
          throw new GraphFailure(400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'An upload session takes files from 3 MB to 150 MB.');
        }
        const id = randomUUID();
        this.uploads.set(id, {
          mailbox,
          draft,
          item: { name: item.name, size: item.size, contentType: item.contentType ?? 'application/octet-stream', ...(item.contentId === undefined ? {} : { contentId: item.contentId }), isInline: item.isInline === true },
          chunks: [],
          received: 0,
        });
        const expires = new Date(Date.now() + 15 * 60_000).toISOString();
        // Real upload URLs carry their own authorization in the query string (authtoken=...).
        return { status: 201, body: { uploadUrl: `https://127.0.0.1:${this.port}/upload/${id}?authtoken=${randomUUID()}`, expirationDateTime: expires, nextExpectedRanges: ['0-'] } };
      }
      case 'send': {
        const draft = this.draft(mailbox, route.id);
        this.drafts.delete(draft.id);
        await this.deliver(mailbox, 'draft', await mimeOfDraft(draft), recipientsOf(draft), true, claims);
        return { status: 202 };
      }
      case 'uploadChunk':
        throw new GraphFailure(400, 'BadRequest', 'unreachable');
    }
  }

  private uploadChunk(id: string, req: IncomingMessage, body: Buffer, url: URL): Answer {
    const session = this.uploads.get(id);
    if (session === undefined || url.searchParams.get('authtoken') === null) throw new GraphFailure(404, 'ErrorItemNotFound', 'The upload session does not exist or has expired.');
    // The upload URL is pre-authorized; Graph refuses a bearer token sent to it.
    if (req.headers.authorization !== undefined) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Do not send an Authorization header to the upload URL.');
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers['content-range'] ?? '');
    if (range === null) throw new GraphFailure(400, 'InvalidContentRange', 'Content-Range is missing or malformed.');
    const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (start !== session.received || end - start + 1 !== body.length || total !== session.item.size || end >= total) {
      throw new GraphFailure(416, 'InvalidRange', `Expected bytes ${session.received}- of ${session.item.size}.`);
    }
    const last = end === total - 1;
    if (!last && body.length % UPLOAD_CHUNK_UNIT !== 0) throw new GraphFailure(400, 'InvalidChunkSize', 'Chunks other than the last must be a multiple of 320 KiB.');
    session.chunks.push(body);
    session.received += body.length;
    if (!last) return { status: 200, body: { expirationDateTime: new Date(Date.now() + 15 * 60_000).toISOString(), nextExpectedRanges: [`${session.received}-`] } };
    this.uploads.delete(id);
    const attachment = { id: randomUUID(), ...session.item, bytes: Buffer.concat(session.chunks) };
    session.draft.attachments.push(attachment);
    return { status: 201, headers: { location: `${this.baseUrl}/users/${session.mailbox}/messages/${session.draft.id}/attachments/${attachment.id}` } };
  }

  // --- checks ----------------------------------------------------------------------------

  private async authorize(req: IncomingMessage, mailbox: string): Promise<JWTPayload> {
    try {
      return await this.options.checkToken(req.headers.authorization, mailbox);
    } catch (error) {
      if (error instanceof GraphTokenRefused) throw new GraphFailure(error.status, error.code, error.message);
      throw error;
    }
  }

  private checkedDraft(draft: GraphDraft): GraphDraft {
    const problem = headerProblem(draft.internetMessageHeaders);
    if (problem !== undefined) throw new GraphFailure(400, 'InvalidInternetMessageHeader', problem);
    return draft;
  }

  private draft(mailbox: string, id: string | undefined): GraphDraft {
    const draft = this.drafts.get(id ?? '');
    if (draft === undefined || draft.mailbox.toLowerCase() !== mailbox.toLowerCase()) throw new GraphFailure(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return draft;
  }

  private async deliver(mailbox: string, via: GraphSentMessage['via'], mime: Buffer, recipients: GraphSentMessage['recipients'], saveToSentItems: boolean, claims: JWTPayload): Promise<void> {
    const all = [...recipients.to, ...recipients.cc, ...recipients.bcc];
    if (all.length === 0) throw new GraphFailure(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid., A message can\'t be sent because it contains no recipients.');
    const bad = all.find((address) => !/^[^@\s]+@[^@\s]+$/.test(address));
    if (bad !== undefined) throw new GraphFailure(400, 'ErrorInvalidRecipients', `At least one recipient is not valid., Recipient '${bad}' is not resolved.`);
    const from = (await simpleParser(mime, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true })).from?.value[0]?.address ?? mailbox;
    const allowed = [mailbox, ...(this.options.sendAs?.[mailbox] ?? [])].map((address) => address.toLowerCase());
    if (!allowed.includes(from.toLowerCase())) {
      throw new GraphFailure(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
    }
    this.sent.push({ mailbox, via, mime, recipients, saveToSentItems, claims, sentAt: Date.now() });
  }

  /** Called once the request is recorded, so a test that waits for a message also sees its request. */
  private notifySent(): void {
    for (const waiter of this.sentWaiters) {
      if (this.sent.length < waiter.count) continue;
      this.sentWaiters.delete(waiter);
      waiter.resolve();
    }
  }

  private takeScripted(operation: GraphOperation): GraphScriptStep | undefined {
    const index = this.script.findIndex((entry) => entry.step.on === undefined || entry.step.on === 'any' || entry.step.on === operation);
    const entry = this.script[index];
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.script.splice(index, 1);
    return entry.step;
  }

  private async withConcurrency<T>(mailbox: string | undefined, work: () => Promise<T>): Promise<T> {
    if (mailbox === undefined) return work();
    const key = mailbox.toLowerCase();
    const now = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, now);
    this.peakConcurrency = Math.max(this.peakConcurrency, now);
    try {
      if (now > GRAPH_MAX_CONCURRENT_PER_MAILBOX) throw new GraphFailure(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', 1);
      return await work();
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
  }
}
