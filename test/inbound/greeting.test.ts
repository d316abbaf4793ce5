/**
 * The greeting must not wait for smtp-server's 100 ms early-talker timer. Tested without
 * measuring time: only setTimeout is faked, so a timer never fires unless the test advances
 * it. A greeting that still arrives cannot have come from that timer.
 */
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { PromptGreetingServer } from '../../src/inbound/prompt-greeting.js';
import { SmtpWire, type Reply } from '../support/smtp-wire.js';

// Captured before any faking: only a guard so that a broken build fails instead of hanging.
const realSetTimeout = globalThis.setTimeout;

const options = {
  name: 'relay.test',
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  logger: false as const,
};

let server: SMTPServer | undefined;
let wire: SmtpWire | undefined;

afterEach(async () => {
  vi.useRealTimers();
  wire?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
  wire = undefined;
});

async function listen(created: SMTPServer): Promise<number> {
  server = created;
  await new Promise<void>((resolve) => created.listen(0, '127.0.0.1', () => resolve()));
  const address = created.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Lets I/O and promise callbacks run a few rounds (setImmediate is not faked). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

function withinGuard(reply: Promise<Reply>): Promise<Reply> {
  return Promise.race([
    reply,
    new Promise<never>((_, reject) => realSetTimeout(() => reject(new Error('no greeting: the connection waited for a timer')), 5000)),
  ]);
}

describe('greeting without the 100 ms early-talker timer', () => {
  it('our listener greets a TCP client while no timer can fire', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const port = await listen(new PromptGreetingServer({ ...options }, silentLogger()));
    expect((server as PromptGreetingServer).greetsPromptly).toBe(true);

    wire = await SmtpWire.open(port);
    const greeting = await withinGuard(wire.reply());
    expect(greeting.last).toBe('220 relay.test ESMTP');
    // The stock timer is still pending and, when it fires, does not greet a second time.
    vi.advanceTimersByTime(1000);
    expect((await wire.command('NOOP')).code).toBe(250);
  });

  it('stock smtp-server fails that check: its greeting needs the timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const stock = new SMTPServer({ ...options });
    const port = await listen(stock);

    wire = await SmtpWire.open(port);
    while (stock.connections.size === 0) await turns(1);
    await turns(20);
    expect(wire.received).toBe(false);

    vi.advanceTimersByTime(100);
    expect((await withinGuard(wire.reply())).last).toBe('220 relay.test ESMTP');
  });
});
