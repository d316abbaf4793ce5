import { describe, expect, it } from 'vitest';
import { createOsLog, EVENT_TEXT_MAX, eventcreateArgs, JournalLog, noOsLog, WindowsEventLog, type CommandRunner } from './os-log.js';

/** Records what would run, as Windows would be asked; fails on demand. */
function recordingRunner(fail = false): { run: CommandRunner; calls: Array<{ program: string; args: readonly string[] }> } {
  const calls: Array<{ program: string; args: readonly string[] }> = [];
  return {
    calls,
    run: async (program, args) => {
      calls.push({ program, args });
      if (fail) throw new Error('Access is denied.');
    },
  };
}

function recordingStream(): { write(text: string): boolean; written: string[] } {
  const written: string[] = [];
  return { written, write: (text: string) => written.push(text) > 0 };
}

describe('WindowsEventLog (eventcreate)', () => {
  it('runs eventcreate for the Application log, source smtp-oauth-relay, WARNING id 100 and ERROR id 101', async () => {
    const { run, calls } = recordingRunner();
    const log = new WindowsEventLog(run);
    log.warn('sage: sign-in expires in 7 days. Next step: run `smtp-oauth-relay login --account sage`');
    log.error('sage: sign-in required');
    await Promise.resolve();
    expect(calls).toEqual([
      {
        program: 'eventcreate',
        args: ['/L', 'APPLICATION', '/SO', 'smtp-oauth-relay', '/T', 'WARNING', '/ID', '100', '/D', 'sage: sign-in expires in 7 days. Next step: run `smtp-oauth-relay login --account sage`'],
      },
      { program: 'eventcreate', args: ['/L', 'APPLICATION', '/SO', 'smtp-oauth-relay', '/T', 'ERROR', '/ID', '101', '/D', 'sage: sign-in required'] },
    ]);
  });

  it('makes the description one line without double quotes, and cuts it at 255 characters', () => {
    expect(eventcreateArgs('warn', 'first line\r\n  second "quoted" line\n').at(-1)).toBe("first line second 'quoted' line");
    const long = eventcreateArgs('error', 'x'.repeat(400)).at(-1)!;
    expect(long).toHaveLength(EVENT_TEXT_MAX);
    expect(long.endsWith('...')).toBe(true);
    expect(eventcreateArgs('warn', 'y'.repeat(EVENT_TEXT_MAX)).at(-1)).toBe('y'.repeat(EVENT_TEXT_MAX));
  });

  it('reports a failed eventcreate instead of throwing', async () => {
    const { run } = recordingRunner(true);
    const failures: string[] = [];
    const log = new WindowsEventLog(run, (error) => failures.push(error.message));
    expect(() => log.warn('queue stuck')).not.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual(['Access is denied.']);
  });
});

describe('JournalLog', () => {
  it('writes one line with the sd-daemon priority prefix: <4> warning, <3> error', () => {
    const stream = recordingStream();
    const log = new JournalLog(stream);
    log.warn('sage: sign-in expires in 7 days');
    log.error('message Q1 has waited 1 hour\nafter 3 failed attempts');
    expect(stream.written).toEqual(['<4>sage: sign-in expires in 7 days\n', '<3>message Q1 has waited 1 hour after 3 failed attempts\n']);
  });
});

describe('createOsLog', () => {
  it('writes to the journal on Linux when systemd runs the relay (JOURNAL_STREAM or INVOCATION_ID)', () => {
    for (const env of [{ JOURNAL_STREAM: '8:12345' }, { INVOCATION_ID: 'abc' }]) {
      const stream = recordingStream();
      createOsLog({ platform: 'linux', env, stream }).warn('held');
      expect(stream.written).toEqual(['<4>held\n']);
    }
  });

  it('writes nothing extra outside systemd and on macOS', () => {
    const stream = recordingStream();
    createOsLog({ platform: 'linux', env: {}, stream }).warn('held');
    createOsLog({ platform: 'darwin', env: { JOURNAL_STREAM: '8:1' }, stream }).error('held');
    expect(stream.written).toEqual([]);
    expect(createOsLog({ platform: 'linux', env: {}, stream })).toBe(noOsLog);
  });

  it('uses the event log on Windows', async () => {
    const { run, calls } = recordingRunner();
    createOsLog({ platform: 'win32', env: {}, run }).error('sage: sign-in required');
    await Promise.resolve();
    expect(calls.map((call) => call.args.slice(0, 8))).toEqual([['/L', 'APPLICATION', '/SO', 'smtp-oauth-relay', '/T', 'ERROR', '/ID', '101']]);
  });
});
