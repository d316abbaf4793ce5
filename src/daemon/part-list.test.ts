import { describe, expect, it } from 'vitest';
import { PartList } from './part-list.js';

function recorder() {
  const steps: string[] = [];
  const part = (name: string) => ({
    quiesce: () => void steps.push(`quiesce ${name}`),
    stop: () => void steps.push(`stop ${name}`),
  });
  return { steps, part };
}

describe('PartList', () => {
  it('quiesces every part newest first, then stops them newest first', async () => {
    const { steps, part } = recorder();
    const parts = new PartList<undefined>();
    for (const name of ['control', 'spool', 'inbound']) await parts.start(name, () => name, part(name));
    await parts.stopAll(undefined, () => undefined);
    expect(steps).toEqual(['quiesce inbound', 'quiesce spool', 'quiesce control', 'stop inbound', 'stop spool', 'stop control']);
    expect(parts.names).toEqual([]);
  });

  it('a failed start stops only what had started, in reverse, with the same steps', async () => {
    const { steps, part } = recorder();
    const parts = new PartList<undefined>();
    await parts.start('control', () => 1, part('control'));
    await parts.start('spool', () => 2, part('spool'));
    await expect(parts.start('inbound', () => Promise.reject(new Error('port in use')), part('inbound'))).rejects.toThrow('port in use');
    expect(parts.names).toEqual(['control', 'spool']);
    await parts.stopAll(undefined, () => undefined);
    expect(steps).toEqual(['quiesce spool', 'quiesce control', 'stop spool', 'stop control']);
  });

  it('a stop that fails is reported, the older parts are still stopped, and the failure is thrown', async () => {
    const { steps, part } = recorder();
    const parts = new PartList<undefined>();
    const failed: string[] = [];
    await parts.start('control', () => 1, part('control'));
    await parts.start('health', () => 2, { stop: () => { throw new Error('busy'); } });
    await expect(parts.stopAll(undefined, (name) => failed.push(name))).rejects.toThrow('busy');
    expect(failed).toEqual(['health']);
    expect(steps).toEqual(['quiesce control', 'stop control']);
  });

  it('a part stops only after its own quiesce settled, and the context reaches both steps', async () => {
    const seen: string[] = [];
    const parts = new PartList<{ timeoutMs: number }>();
    let release = (): void => undefined;
    await parts.start('delivery', () => 'scheduler', {
      quiesce: (_, { timeoutMs }) => new Promise<void>((resolve) => { seen.push(`drain ${timeoutMs}`); release = resolve; }),
      stop: () => void seen.push('closed'),
    });
    const stopping = parts.stopAll({ timeoutMs: 250 }, () => undefined);
    await Promise.resolve();
    expect(seen).toEqual(['drain 250']);
    release();
    await stopping;
    expect(seen).toEqual(['drain 250', 'closed']);
  });
});
