import { PassThrough, type Readable } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../core/queue-record.js';
import { SmtpReplyError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { testConfig } from '../../test/inbound/config.js';
import { createClientPolicy } from './client-policy.js';
import { buildSenderIndex } from './sender-policy.js';
import { createSessionHooks } from './session-hooks.js';
import type { MessageSink } from './types.js';

const config = testConfig({ allowClients: ['192.168.1.0/24'] });
const unusedSink: MessageSink = {
  receive: () => Promise.reject(new Error('not used by these tests')),
};

function hooks(accepting = true) {
  return createSessionHooks({
    sink: unusedSink,
    logger: silentLogger(),
    maxMessageBytes: config.listen.maxMessageBytes,
    clientPolicy: createClientPolicy(config.listen.allowClients),
    senders: buildSenderIndex(config.accounts),
    maxRecipients: config.listen.maxRecipients,
    isAccepting: () => accepting,
  });
}

/** The reply onConnect gives a client at `remoteAddress`, or "accepted". */
function connectFrom(remoteAddress: string, accepting = true): Promise<string> {
  const session = { id: 'test', remoteAddress } as SMTPServerSession;
  return new Promise((resolve) => {
    hooks(accepting).onConnect(session, (err) => {
      if (err === undefined || err === null) return resolve('accepted');
      resolve(err instanceof SmtpReplyError ? err.reply : `not an SmtpReplyError: ${String(err)}`);
    });
  });
}

describe('onConnect', () => {
  it('accepts loopback and allow-listed clients', async () => {
    expect(await connectFrom('127.0.0.1')).toBe('accepted');
    expect(await connectFrom('::1')).toBe('accepted');
    expect(await connectFrom('192.168.1.20')).toBe('accepted');
    expect(await connectFrom('::ffff:192.168.1.20')).toBe('accepted');
  });

  it('refuses other clients with 554 5.7.1 naming the setting to change', async () => {
    expect(await connectFrom('192.168.2.20')).toBe(
      '554 5.7.1 192.168.2.20 is not allowed to use this relay; add it to listen.allowClients',
    );
    expect(await connectFrom('2001:db8::7')).toMatch(/^554 5\.7\.1 2001:db8::7 is not allowed/);
  });

  it('refuses everyone with 421 4.3.2 once the relay stops accepting', async () => {
    expect(await connectFrom('127.0.0.1', false)).toBe('421 4.3.2 Service shutting down, try again later');
  });
});

describe('onData', () => {
  it('writes the 250 before it logs the message or hands it to delivery', async () => {
    const events: string[] = [];
    const sink: MessageSink = {
      receive: async (message: Readable) => {
        for await (const chunk of message) void chunk;
        return {
          id: 'm1',
          size: 0,
          commit: async (fields): Promise<QueueRecord> => ({
            version: QUEUE_RECORD_VERSION,
            id: 'm1',
            kind: fields.kind,
            account: fields.account,
            receivedAt: '2026-12-01T00:00:00.000Z',
            client: { address: fields.client.address },
            mailFrom: fields.mailFrom,
            size: 0,
            recipients: fields.recipients.map((address) => ({ address, status: 'pending' as const })),
            attempts: 0,
            nextAttemptAt: '2026-12-01T00:00:00.000Z',
          }),
          discard: async () => undefined,
        };
      },
    };
    const logger = silentLogger();
    logger.info = ((_fields: unknown, msg?: string) => void events.push(`log: ${msg ?? ''}`)) as typeof logger.info;
    const sessionHooks = createSessionHooks({
      sink,
      logger,
      maxMessageBytes: config.listen.maxMessageBytes,
      clientPolicy: createClientPolicy([]),
      senders: buildSenderIndex(config.accounts),
      maxRecipients: config.listen.maxRecipients,
      isAccepting: () => true,
      onAccepted: () => void events.push('handed to delivery'),
    });
    const sender = 'invoices@contoso.com';
    const session = {
      id: 'test',
      remoteAddress: '127.0.0.1',
      envelope: { mailFrom: { address: sender, args: false }, rcptTo: [{ address: 'customer@example.com', args: false }] },
    } as unknown as SMTPServerSession;
    await new Promise<void>((resolve, reject) => sessionHooks.onMailFrom(session.envelope.mailFrom as never, session, (err) => (err ? reject(err) : resolve())));
    const stream = Object.assign(new PassThrough(), { sizeExceeded: false, byteLength: 0 });

    await new Promise<void>((resolve, reject) => {
      sessionHooks.onData(stream as unknown as SMTPServerDataStream, session, (err, reply) => {
        if (err) return reject(err);
        events.push(`reply: ${reply ?? ''}`);
        resolve();
      });
      stream.end(`From: ${sender}\r\nSubject: x\r\n\r\nbody\r\n`);
    });

    expect(events).toEqual(['reply: 2.0.0 queued as m1', 'log: message accepted', 'handed to delivery']);
  });
});
