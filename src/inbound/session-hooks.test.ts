import type { SMTPServerSession } from 'smtp-server';
import { describe, expect, it } from 'vitest';
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
