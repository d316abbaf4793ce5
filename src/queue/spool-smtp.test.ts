/**
 * The spool behind a real smtp-server, fed by a real SMTP client: a disk failure in the middle of
 * DATA must become a 451 reply after the client's final dot, with the session still usable
 * (smtp-server answers only once the DATA stream ends, so the spool must drain it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { newQueueId } from './queue-id.js';
import { Spool } from './spool.js';

let dataDir: string;
let spool: Spool;
let server: SMTPServer;
let nextIds: string[];
let client: SMTPConnection | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'spool-smtp-'));
  nextIds = [];
  spool = (await Spool.open(dataDir, { logger: silentLogger(), newId: (now) => nextIds.shift() ?? newQueueId(now) })).spool;
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      spool
        .receive(stream)
        .then((draft) =>
          draft.commit({
            kind: 'message',
            account: 'sage',
            client: { address: session.remoteAddress },
            mailFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            recipients: session.envelope.rcptTo.map((r) => r.address),
          }),
        )
        .then((record) => callback(null, `Queued as ${record.id}`), callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  client?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await spool.close();
  await rm(dataDir, { recursive: true, force: true });
});

function send(connection: SMTPConnection, message: Buffer): Promise<{ ok: true; response: string } | { ok: false; code: number | undefined; response: string | undefined }> {
  return new Promise((resolve) => {
    connection.send({ from: 'invoices@contoso.com', to: ['a@example.com'] }, message, (err, info) => {
      if (err) resolve({ ok: false, code: err.responseCode, response: err.response });
      else resolve({ ok: true, response: info.response });
    });
  });
}

it.runIf(existsSync('/dev/full'))('a full disk mid-DATA gives 451 and the same session then queues the next message', async () => {
  const failingId = newQueueId(Date.now());
  nextIds.push(failingId);
  await symlink('/dev/full', join(dataDir, 'spool', 'queue', `${failingId}.eml`));

  const { port } = server.server.address() as AddressInfo;
  const connection = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true });
  client = connection;
  await new Promise<void>((resolve, reject) => connection.connect((err) => (err ? reject(err) : resolve())));

  const big = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(30_000)); // about 2.4 MB
  const first = await send(connection, big);
  expect(first).toEqual({ ok: false, code: 451, response: '451 4.3.0 Could not store the message, try again later' });

  const second = await send(connection, Buffer.from('Subject: small\r\n\r\nhello\r\n'));
  expect(second.ok).toBe(true);
  const queued = await readdir(join(dataDir, 'spool', 'queue'));
  // One file per queued message, its record at its end (record-trailer.ts).
  expect(queued).toHaveLength(1);
  expect(second.ok && second.response).toContain(`Queued as ${queued[0]?.replace(/\.eml$/, '')}`);
  expect(await readdir(join(dataDir, 'spool', 'tmp'))).toEqual([]);
});
