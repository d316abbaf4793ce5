/**
 * listen.connections over real sockets, with a manual clock: the session lifetime and the DATA
 * deadline that no trickle of bytes extends (slowloris), and the loopback pool's cap.
 * Time only moves when the test says so; nothing here depends on the speed of the machine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { ManualClock } from '../support/manual-clock.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function start(connections: Record<string, number>): Promise<{ h: Harness; clock: ManualClock }> {
  const clock = new ManualClock();
  harness = await startHarness({ connections }, silentLogger(), { clock });
  return { h: harness, clock };
}

describe('session lifetime', () => {
  it('closes a session that trickles bytes past sessionSeconds with 421 4.4.2', async () => {
    const { h, clock } = await start({ sessionSeconds: 60 });
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    // One byte every 15 s: each byte would restart an idle timeout; this deadline does not move.
    for (let n = 0; n < 3; n++) {
      wire.write('N');
      await clock.advance(15_000);
    }
    await clock.advance(15_000);
    expect((await wire.reply()).last).toBe('421 4.4.2 Session open longer than 60 s; closing the connection');
    await wire.closed;
  });

  it('leaves a session alone before its deadline', async () => {
    const { h, clock } = await start({ sessionSeconds: 60 });
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await clock.advance(59_000);
    expect((await wire.command('NOOP')).last).toMatch(/^250 /);
  });
});

describe('DATA deadline', () => {
  it('ends a message still incomplete after dataSeconds with 421 4.4.2 and keeps nothing', async () => {
    const { h, clock } = await start({ dataSeconds: 30 });
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write('From: sage@contoso.com\r\n\r\n');
    for (let n = 0; n < 2; n++) {
      wire.write('x');
      await clock.advance(14_000);
    }
    await clock.advance(2_000);
    expect((await wire.reply()).last).toBe('421 4.4.2 Message not complete within 30 s of DATA; closing the connection');
    await wire.closed;
    expect(h.accepted).toEqual([]);
    await expect.poll(() => h.sink.files('tmp')).toEqual([]);
    expect(await h.sink.files('queue')).toEqual([]);
  });

  it('does not count time between messages against the next one', async () => {
    const { h, clock } = await start({ dataSeconds: 30 });
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write('From: sage@contoso.com\r\n\r\none\r\n.\r\n');
    expect((await wire.reply()).last).toMatch(/^250 /);
    await clock.advance(40_000);
    await wire.startDataAfterEhlo('sage@contoso.com', ['a@example.com']);
    await clock.advance(20_000);
    wire.write('From: sage@contoso.com\r\n\r\ntwo\r\n.\r\n');
    expect((await wire.reply()).last).toMatch(/^250 /);
    expect(h.accepted).toHaveLength(2);
  });
});

describe('connection pools', () => {
  it('caps programs on this machine at connections.loopback with 421 4.7.0; a freed slot is usable again', async () => {
    const { h } = await start({ loopback: 2, lan: 5 });
    const first = await h.wire();
    const second = await h.wire();
    await first.expect(first.reply(), 220);
    await second.expect(second.reply(), 220);
    const third = await h.wire();
    expect((await third.reply()).last).toBe('421 4.7.0 All 2 connection slots for programs on this machine are in use, try again later');
    await third.closed;
    await first.command('QUIT');
    await first.closed;
    await expect
      .poll(async () => {
        const next = await h.wire();
        return (await next.reply()).code;
      })
      .toBe(220);
  });
});
