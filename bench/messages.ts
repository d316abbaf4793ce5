/**
 * What the benchmark sends: a 10 KB message held once as a Buffer and reused, and a 30 MB
 * message streamed in 64 KiB blocks (never built as one string) with the socket's backpressure.
 */
import type { Writable } from 'node:stream';

export const SENDER = 'invoices@contoso.example';
export const RECIPIENT = 'customer@fabrikam.example';

/** 76 characters of body text and CRLF; never starts with a dot, so no dot-stuffing is needed. */
const BODY_LINE = `${'Invoice line item 10042 quantity 1 price 100.00 EUR VAT 20 percent'.padEnd(76, ' x')}\r\n`;

function headerBlock(subject: string): string {
  return [
    `From: Sage 100 <${SENDER}>`,
    `To: ${RECIPIENT}`,
    `Subject: ${subject}`,
    'Date: Mon, 16 Nov 2026 10:00:00 +0000',
    'Message-ID: <bench@contoso.example>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    '',
  ].join('\r\n');
}

/** A message of about `bytes` octets followed by the end-of-data line, ready for the wire. */
export function messageOnWire(bytes: number): Buffer {
  const head = headerBlock(`Benchmark ${bytes} bytes`);
  const lines = Math.max(1, Math.ceil((bytes - head.length) / BODY_LINE.length));
  return Buffer.from(`${head}${BODY_LINE.repeat(lines)}.\r\n`, 'latin1');
}

/** Streams a message of at least `bytes` octets and the end-of-data line; resolves when written. */
export async function streamLargeMessage(socket: Writable, bytes: number): Promise<number> {
  const block = Buffer.from(BODY_LINE.repeat(Math.floor((64 * 1024) / BODY_LINE.length)), 'latin1');
  const write = (chunk: Buffer): Promise<void> =>
    socket.write(chunk) ? Promise.resolve() : new Promise((resolve) => socket.once('drain', () => resolve()));
  const head = Buffer.from(headerBlock(`Benchmark large message`), 'latin1');
  let written = head.length;
  await write(head);
  while (written < bytes) {
    await write(block);
    written += block.length;
  }
  await write(Buffer.from('.\r\n', 'latin1'));
  return written;
}
