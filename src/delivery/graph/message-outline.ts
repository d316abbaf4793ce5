/**
 * A spooled message read with mailparser (nodemailer's MIME parser) as a stream from its file,
 * never whole in memory: the first pass learns the headers, the body and each attachment's size
 * (an upload session must be told the size before the first byte); the second pass hands each
 * attachment's bytes to a visitor, with backpressure (mailparser waits for `release()`).
 * Memory stays at the body plus one upload chunk, whatever the attachments weigh.
 */
import { pipeline } from 'node:stream/promises';
import type { AddressObject, AttachmentStream, HeaderLines, Headers, MessageText } from 'mailparser';
import { readMessageStream, type MessageFile } from '../../core/message-file.js';
import type { NamedAddress } from './graph-recipients.js';

export interface AttachmentOutline {
  readonly index: number;
  readonly name: string;
  readonly contentType: string;
  /** Content-ID without angle brackets, for `cid:` references in the HTML body. */
  readonly contentId?: string | undefined;
  readonly isInline: boolean;
  readonly size: number;
}

export interface MessageOutline {
  readonly subject: string;
  readonly from?: NamedAddress | undefined;
  readonly to: NamedAddress[];
  readonly cc: NamedAddress[];
  readonly bcc: NamedAddress[];
  readonly replyTo: NamedAddress[];
  readonly messageId?: string | undefined;
  /** X- header fields, which Graph lets a message carry (internetMessageHeaders). */
  readonly customHeaders: { readonly name: string; readonly value: string }[];
  readonly body: { readonly contentType: 'html' | 'text'; readonly content: string };
  readonly attachments: AttachmentOutline[];
}

const PARSER_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, keepCidLinks: true, checksumAlgo: false as const };

/** First pass: everything but the attachments' bytes. */
export async function outlineMessage(file: MessageFile): Promise<MessageOutline> {
  let headers: Headers = new Map();
  let headerLines: HeaderLines = [];
  let text: MessageText | undefined;
  const attachments: AttachmentOutline[] = [];
  await parse(file, {
    onHeaders: (parsed) => {
      headers = parsed;
    },
    onHeaderLines: (lines) => {
      headerLines = lines;
    },
    onAttachment: async (attachment) => {
      let size = 0;
      for await (const chunk of attachment.content as AsyncIterable<Buffer>) size += chunk.length;
      attachments.push({ ...describe(attachment, attachments.length), size });
    },
    onText: (found) => {
      text = found;
    },
  });
  const addresses = (name: string): NamedAddress[] => addressesOf(headers.get(name) as AddressObject | AddressObject[] | undefined);
  const html = text?.html;
  return {
    subject: typeof headers.get('subject') === 'string' ? (headers.get('subject') as string) : '',
    from: addresses('from')[0],
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    replyTo: addresses('reply-to'),
    messageId: typeof headers.get('message-id') === 'string' ? (headers.get('message-id') as string) : undefined,
    customHeaders: headerLines.filter((line) => /^x-/i.test(line.key)).map((line) => customHeader(line.line)),
    body: typeof html === 'string' ? { contentType: 'html', content: html } : { contentType: 'text', content: text?.text ?? '' },
    attachments,
  };
}

/** Second pass: each attachment in order, its bytes as a stream the visitor must consume. */
export async function forEachAttachment(file: MessageFile, visit: (outline: Omit<AttachmentOutline, 'size'>, content: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  let index = 0;
  await parse(file, {
    onAttachment: async (attachment) => {
      await visit(describe(attachment, index), attachment.content as AsyncIterable<Buffer>);
      index += 1;
    },
  });
}

interface ParseHandlers {
  onHeaders?: (headers: Headers) => void;
  /** mailparser emits the raw lines after the parsed headers. */
  onHeaderLines?: (lines: HeaderLines) => void;
  onAttachment: (attachment: AttachmentStream) => Promise<void>;
  onText?: (text: MessageText) => void;
}

async function parse(file: MessageFile, handlers: ParseHandlers): Promise<void> {
  // Loaded on first use: mailparser with html-to-text and htmlparser2 adds about 29 MiB to a
  // relay that never delivers through Graph (docs/performance.md, "Memory").
  const { MailParser } = await import('mailparser');
  const parser = new MailParser(PARSER_OPTIONS);
  parser.on('headers', (headers: Headers) => handlers.onHeaders?.(headers));
  parser.on('headerLines', (lines: HeaderLines) => handlers.onHeaderLines?.(lines));
  const consume = (async () => {
    for await (const data of parser as AsyncIterable<AttachmentStream | MessageText>) {
      if (data.type === 'text') {
        handlers.onText?.(data);
        continue;
      }
      try {
        await handlers.onAttachment(data);
      } finally {
        // Released even after a failure, so the parser drains and the pipeline ends.
        if (typeof data.release === 'function') data.release();
      }
    }
  })();
  // Only the message's own bytes: whatever the file holds after them is not part of it.
  await Promise.all([pipeline(readMessageStream(file), parser), consume]);
}

function describe(attachment: AttachmentStream, index: number): Omit<AttachmentOutline, 'size'> {
  return {
    index,
    name: attachment.filename ?? `attachment-${index + 1}`,
    contentType: attachment.contentType,
    contentId: attachment.cid,
    isInline: attachment.related === true || (attachment.contentDisposition === 'inline' && attachment.cid !== undefined),
  };
}

function addressesOf(value: AddressObject | AddressObject[] | undefined): NamedAddress[] {
  const objects = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const flat = (entries: AddressObject['value']): NamedAddress[] =>
    entries.flatMap((entry) => [
      ...(entry.address === undefined || entry.address === '' ? [] : [{ address: entry.address, ...(entry.name === '' ? {} : { name: entry.name }) }]),
      ...flat(entry.group ?? []),
    ]);
  return objects.flatMap((object) => flat(object.value));
}

function customHeader(line: string): { name: string; value: string } {
  const colon = line.indexOf(':');
  return { name: line.slice(0, colon).trim(), value: line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim() };
}
