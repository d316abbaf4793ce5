/**
 * The replies the relay itself gives its legacy clients, one row per condition: basic code
 * (RFC 5321 section 4.2), enhanced code (RFC 3463), the sentence, and the rule behind it.
 * Inbound (src/inbound) and the spool (src/queue) both answer from this table, so a disk
 * failure or a shutdown reads the same wherever it is noticed. It lives in core because the
 * queue may not import inbound (docs/architecture.md: parts on one level do not import each other).
 *
 * Texts are functions so that a row can name the limit or the client it is about. The sender
 * policy's refusals (src/inbound/sender-policy.ts) are still written there: that file is being
 * reworded for the rewriteSender hint and moves into this table afterwards.
 */
import { SmtpReplyError } from './errors.js';

export interface InboundReply<A extends unknown[] = never[]> {
  readonly code: number;
  /** Enhanced status code (RFC 3463), the start of the reply text. */
  readonly enhancedCode: string;
  readonly text: (...args: A) => string;
  /** The RFC section the code follows. */
  readonly source: string;
}

/** One wording for "we are stopping", whatever the code (421 between transactions, 451 within one). */
const SHUTTING_DOWN = 'Service shutting down, try again later';

export const INBOUND_REPLIES = {
  'shutting-down': {
    code: 421,
    enhancedCode: '4.3.2',
    text: () => SHUTTING_DOWN,
    source: 'RFC 5321 3.8 (421 and close); RFC 3463 X.3.2 system not accepting network messages',
  },
  'spool-closed': {
    code: 451,
    enhancedCode: '4.3.2',
    text: () => SHUTTING_DOWN,
    source: 'RFC 5321 4.2.3 (451 local error in processing); RFC 3463 X.3.2',
  },
  'store-failed': {
    code: 451,
    enhancedCode: '4.3.0',
    text: () => 'Could not store the message, try again later',
    source: 'RFC 3463 X.3.0 other or undefined mail system status (the disk refused)',
  },
  'transfer-interrupted': {
    code: 451,
    enhancedCode: '4.4.2',
    text: () => 'The message transfer was interrupted, try again later',
    source: 'RFC 3463 X.4.2 bad connection (the stream broke before its end)',
  },
  'no-sender-account': {
    code: 451,
    enhancedCode: '4.3.0',
    text: () => 'Local error: no sender account for this transaction',
    source: 'RFC 5321 4.2.3 (451 local error in processing); RFC 3463 X.3.0',
  },
  'too-many-recipients': {
    code: 452,
    enhancedCode: '4.5.3',
    text: () => 'Too many recipients',
    source: 'RFC 5321 4.5.3.1.10 (452 too many recipients); RFC 3463 X.5.3',
  },
  'message-too-big': {
    code: 552,
    enhancedCode: '5.3.4',
    text: (maxMessageBytes: number) => `Message exceeds the maximum size of ${maxMessageBytes} bytes`,
    source: 'RFC 1870 6.1; RFC 3463 X.3.4 message too big for system',
  },
  'header-bare-cr': {
    code: 550,
    enhancedCode: '5.6.0',
    text: () => 'Header block contains a CR without LF; end every header line with CRLF',
    source: 'RFC 5322 2.2; RFC 3463 X.6.0 other or undefined media error',
  },
  'header-nul': {
    code: 550,
    enhancedCode: '5.6.0',
    text: () => 'Header block contains a NUL byte; header fields must be text (RFC 5322 2.2)',
    source: 'RFC 5322 2.2; RFC 3463 X.6.0',
  },
  'header-too-long': {
    code: 550,
    enhancedCode: '5.6.0',
    text: (limit: number) => `Header block does not end within ${limit} bytes; end the header fields with an empty line`,
    source: 'RFC 5322 2.1; RFC 3463 X.6.0',
  },
  'header-leading-space': {
    code: 550,
    enhancedCode: '5.6.0',
    text: () => 'Header block starts with white space; the first line must be a header field (RFC 5322 2.2.3)',
    source: 'RFC 5322 2.2.3; RFC 3463 X.6.0',
  },
  'auth-required': {
    code: 530,
    enhancedCode: '5.7.0',
    text: () => 'Authentication required',
    source: 'RFC 4954 section 6 (530 5.7.0 authentication required)',
  },
  'auth-failed-in-session': {
    code: 530,
    enhancedCode: '5.7.0',
    text: () => 'Authentication failed in this session: no mail is taken until AUTH succeeds; check the user name and password',
    source: 'RFC 4954 section 6 (530 5.7.0)',
  },
  'auth-invalid': {
    code: 535,
    enhancedCode: '5.7.8',
    text: () => 'Authentication credentials invalid',
    source: 'RFC 4954 section 6 (535 5.7.8)',
  },
  'auth-temporary-failure': {
    code: 454,
    enhancedCode: '4.7.0',
    text: () => 'Temporary authentication failure, try again later',
    source: 'RFC 4954 section 6 (454 4.7.0)',
  },
  'auth-encryption-required': {
    code: 538,
    enhancedCode: '5.7.11',
    text: () => 'Encryption required: use STARTTLS before AUTH',
    source: 'RFC 4954 section 6 (538 5.7.11 encryption required)',
  },
  'auth-too-many-failures': {
    code: 421,
    enhancedCode: '4.7.0',
    text: () => 'Too many failed authentication attempts, closing connection',
    source: 'RFC 4954 section 9 (defend against guessing); RFC 3463 X.7.0',
  },
  'user-account-missing': {
    code: 550,
    enhancedCode: '5.7.1',
    text: (user: string, account: string) => `User ${user} belongs to account "${account}", which is not configured`,
    source: 'RFC 3463 X.7.1 delivery not authorized',
  },
  'user-sender-refused': {
    code: 550,
    enhancedCode: '5.7.1',
    text: (mailFrom: string, user: string) => `Sender <${mailFrom}> is not allowed for user ${user}`,
    source: 'RFC 3463 X.7.1 delivery not authorized',
  },
  'client-refused': {
    code: 554,
    enhancedCode: '5.7.1',
    text: (client: string) => `${client} is not allowed to use this relay; add it to listen.allowClients`,
    source: 'RFC 5321 3.1 (554 in place of the greeting); RFC 3463 X.7.1',
  },
  'client-too-many-connections': {
    code: 421,
    enhancedCode: '4.7.0',
    text: (client: string) => `Too many connections from ${client}, try again later`,
    source: 'RFC 5321 3.8 (421 in place of the greeting); RFC 3463 X.7.0',
  },
  'client-too-many-messages': {
    code: 451,
    enhancedCode: '4.7.1',
    text: (client: string) => `Too many messages from ${client}, slow down`,
    source: 'RFC 3463 X.7.1',
  },
  'connection-slots-full': {
    code: 421,
    enhancedCode: '4.7.0',
    text: (slots: number, who: string) => `All ${slots} connection slots for ${who} are in use, try again later`,
    source: 'RFC 5321 3.8 (421 in place of the greeting); RFC 3463 X.7.0',
  },
  'session-deadline': {
    code: 421,
    enhancedCode: '4.4.2',
    text: (seconds: number) => `Session open longer than ${seconds} s; closing the connection`,
    source: 'RFC 5321 3.8 (the server may close with 421); RFC 3463 X.4.2 bad connection',
  },
  'data-deadline': {
    code: 421,
    enhancedCode: '4.4.2',
    text: (seconds: number) => `Message not complete within ${seconds} s of DATA; closing the connection`,
    source: 'RFC 5321 4.5.3.2.6 (10 minutes for the final dot); RFC 3463 X.4.2',
  },
} satisfies Record<string, InboundReply<never>>;

export type InboundReplyId = keyof typeof INBOUND_REPLIES;
type ReplyArgs<K extends InboundReplyId> = Parameters<(typeof INBOUND_REPLIES)[K]['text']>;

function rowText<K extends InboundReplyId>(id: K, args: ReplyArgs<K>): string {
  return (INBOUND_REPLIES[id].text as (...a: ReplyArgs<K>) => string)(...args);
}

/** The error a hook passes to smtp-server's callback: it becomes this row's reply. */
export function inboundReply<K extends InboundReplyId>(id: K, ...args: ReplyArgs<K>): SmtpReplyError {
  const row = INBOUND_REPLIES[id];
  return new SmtpReplyError(row.code, row.enhancedCode, rowText(id, args));
}

/** As inboundReply, keeping what went wrong underneath (a fs error, a broken stream) as the cause. */
export function inboundReplyCausedBy<K extends InboundReplyId>(cause: unknown, id: K, ...args: ReplyArgs<K>): SmtpReplyError {
  const row = INBOUND_REPLIES[id];
  return new SmtpReplyError(row.code, row.enhancedCode, rowText(id, args), { cause });
}

/** Code and text for `connection.send(code, text)` when we speak outside a hook's callback. */
export function inboundReplyLine<K extends InboundReplyId>(id: K, ...args: ReplyArgs<K>): { code: number; text: string } {
  const row = INBOUND_REPLIES[id];
  return { code: row.code, text: `${row.enhancedCode} ${rowText(id, args)}` };
}
