/**
 * The Graph stand-in's messages: a draft as Graph keeps it (the JSON message resource of
 * https://learn.microsoft.com/graph/api/resources/message plus its file attachments), made from
 * JSON or from MIME, and the MIME that "Exchange" would put on the wire when it is sent
 * (rebuilt with nodemailer's MailComposer, as Exchange rebuilds a draft's MIME).
 */
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { simpleParser, type AddressObject } from 'mailparser';

export interface GraphAddress {
  readonly address: string;
  readonly name?: string | undefined;
}

export interface GraphFileAttachment {
  readonly id: string;
  readonly name: string;
  readonly contentType: string;
  readonly contentId?: string | undefined;
  readonly isInline: boolean;
  readonly bytes: Buffer;
}

export interface GraphDraft {
  readonly id: string;
  readonly mailbox: string;
  subject: string;
  from: GraphAddress | undefined;
  toRecipients: GraphAddress[];
  ccRecipients: GraphAddress[];
  bccRecipients: GraphAddress[];
  replyTo: GraphAddress[];
  internetMessageId: string | undefined;
  internetMessageHeaders: { name: string; value: string }[];
  body: { contentType: 'text' | 'html'; content: string };
  readonly attachments: GraphFileAttachment[];
}

/** Graph's JSON shape of a recipient: `{ emailAddress: { address, name } }`. */
interface JsonRecipient {
  emailAddress?: { address?: string; name?: string };
}

/** The writable fields of a message resource that the stand-in understands. */
export interface JsonMessage {
  subject?: string;
  from?: JsonRecipient;
  toRecipients?: JsonRecipient[];
  ccRecipients?: JsonRecipient[];
  bccRecipients?: JsonRecipient[];
  replyTo?: JsonRecipient[];
  internetMessageId?: string;
  internetMessageHeaders?: { name: string; value: string }[];
  body?: { contentType?: string; content?: string };
  attachments?: JsonAttachment[];
}

export interface JsonAttachment {
  '@odata.type'?: string;
  name?: string;
  contentType?: string;
  contentBytes?: string;
  contentId?: string;
  isInline?: boolean;
}

/** Graph refuses custom headers that do not start with "x-" (message resource, internetMessageHeaders). */
export function headerProblem(headers: readonly { name: string }[] | undefined): string | undefined {
  const bad = (headers ?? []).find((header) => !/^x-/i.test(header.name));
  return bad === undefined ? undefined : `The internet message header name '${bad.name}' should start with 'x-' or 'X-'.`;
}

export function draftFromJson(mailbox: string, message: JsonMessage): GraphDraft {
  const draft: GraphDraft = {
    id: randomUUID(),
    mailbox,
    subject: '',
    from: undefined,
    toRecipients: [],
    ccRecipients: [],
    bccRecipients: [],
    replyTo: [],
    internetMessageId: undefined,
    internetMessageHeaders: [],
    body: { contentType: 'text', content: '' },
    attachments: [],
  };
  applyJson(draft, message);
  for (const attachment of message.attachments ?? []) draft.attachments.push(attachmentFromJson(attachment));
  return draft;
}

/** PATCH semantics: the fields given replace the draft's. */
export function applyJson(draft: GraphDraft, message: JsonMessage): void {
  if (message.subject !== undefined) draft.subject = message.subject;
  if (message.from !== undefined) draft.from = address(message.from);
  if (message.toRecipients !== undefined) draft.toRecipients = addresses(message.toRecipients);
  if (message.ccRecipients !== undefined) draft.ccRecipients = addresses(message.ccRecipients);
  if (message.bccRecipients !== undefined) draft.bccRecipients = addresses(message.bccRecipients);
  if (message.replyTo !== undefined) draft.replyTo = addresses(message.replyTo);
  if (message.internetMessageId !== undefined) draft.internetMessageId = message.internetMessageId;
  if (message.internetMessageHeaders !== undefined) draft.internetMessageHeaders = message.internetMessageHeaders;
  if (message.body !== undefined) {
    draft.body = { contentType: message.body.contentType?.toLowerCase() === 'html' ? 'html' : 'text', content: message.body.content ?? '' };
  }
}

export function attachmentFromJson(attachment: JsonAttachment): GraphFileAttachment {
  return {
    id: randomUUID(),
    name: attachment.name ?? 'attachment',
    contentType: attachment.contentType ?? 'application/octet-stream',
    contentId: attachment.contentId,
    isInline: attachment.isInline === true,
    bytes: Buffer.from(attachment.contentBytes ?? '', 'base64'),
  };
}

/** A draft made from MIME (`POST /messages` with text/plain): Graph parses it into the resource. */
export async function draftFromMime(mailbox: string, mime: Buffer): Promise<GraphDraft> {
  const parsed = await simpleParser(mime);
  const list = (value: AddressObject | AddressObject[] | undefined): GraphAddress[] =>
    (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((object) =>
      object.value.flatMap((entry) => (entry.address === undefined ? [] : [{ address: entry.address, name: entry.name }])),
    );
  const draft = draftFromJson(mailbox, {});
  draft.subject = parsed.subject ?? '';
  draft.from = list(parsed.from)[0];
  draft.toRecipients = list(parsed.to);
  draft.ccRecipients = list(parsed.cc);
  draft.bccRecipients = list(parsed.bcc);
  draft.replyTo = list(parsed.replyTo);
  draft.internetMessageId = parsed.messageId;
  draft.body = typeof parsed.html === 'string' ? { contentType: 'html', content: parsed.html } : { contentType: 'text', content: parsed.text ?? '' };
  for (const attachment of parsed.attachments) {
    draft.attachments.push({
      id: randomUUID(),
      name: attachment.filename ?? 'attachment',
      contentType: attachment.contentType,
      contentId: attachment.contentId?.replace(/^<|>$/g, ''),
      isInline: attachment.related === true || attachment.contentDisposition === 'inline',
      bytes: attachment.content,
    });
  }
  return draft;
}

/** The MIME "Exchange" sends for a draft: what the recipient gets. */
export function mimeOfDraft(draft: GraphDraft): Promise<Buffer> {
  const format = (entry: GraphAddress) => ({ address: entry.address, name: entry.name ?? '' });
  const composer = new MailComposer({
    from: format(draft.from ?? { address: draft.mailbox }),
    to: draft.toRecipients.map(format),
    cc: draft.ccRecipients.map(format),
    bcc: draft.bccRecipients.map(format),
    replyTo: draft.replyTo.map(format),
    subject: draft.subject,
    ...(draft.internetMessageId === undefined ? {} : { messageId: draft.internetMessageId }),
    headers: draft.internetMessageHeaders.map((header) => ({ key: header.name, value: header.value })),
    ...(draft.body.contentType === 'html' ? { html: draft.body.content } : { text: draft.body.content }),
    attachments: draft.attachments.map((attachment) => ({
      filename: attachment.name,
      content: attachment.bytes,
      contentType: attachment.contentType,
      contentDisposition: attachment.isInline ? ('inline' as const) : ('attachment' as const),
      ...(attachment.contentId === undefined ? {} : { cid: attachment.contentId }),
    })),
  });
  return new Promise((resolve, reject) => {
    composer.compile().build((error, message) => (error === null ? resolve(message) : reject(error)));
  });
}

function address(recipient: JsonRecipient): GraphAddress | undefined {
  const value = recipient.emailAddress?.address;
  return value === undefined ? undefined : { address: value, name: recipient.emailAddress?.name };
}

function addresses(recipients: readonly JsonRecipient[]): GraphAddress[] {
  return recipients.flatMap((recipient) => {
    const found = address(recipient);
    return found === undefined ? [] : [found];
  });
}
