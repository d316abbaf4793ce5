import { describe, expect, it } from 'vitest';
import { createOsLog, JournalLog, noOsLog, PriorityLineLog } from './os-log.js';

function recordingStream(): { write(text: string): boolean; written: string[] } {
  const written: string[] = [];
  return { written, write: (text: string) => written.push(text) > 0 };
}

describe('PriorityLineLog (journald and the Windows service host read the same lines)', () => {
  it('writes one line with the sd-daemon priority prefix: <4> warning, <3> error', () => {
    const stream = recordingStream();
    const log = new JournalLog(stream);
    log.warn('sage: sign-in expires in 7 days');
    log.error('message Q1 has waited 1 hour\nafter 3 failed attempts');
    expect(stream.written).toEqual(['<4>sage: sign-in expires in 7 days\n', '<3>message Q1 has waited 1 hour after 3 failed attempts\n']);
  });

  it('reports a write that throws instead of throwing', () => {
    const failures: string[] = [];
    const broken = {
      write: () => {
        throw new Error('EPIPE');
      },
    };
    expect(() => new PriorityLineLog(broken, (error) => failures.push(error.message)).warn('queue stuck')).not.toThrow();
    expect(failures).toEqual(['EPIPE']);
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

  it('on Windows, hands the line to the service host (SMTP_OAUTH_RELAY_SERVICE_HOST=1), which writes the Event Log; nothing in a terminal', () => {
    const stream = recordingStream();
    createOsLog({ platform: 'win32', env: { SMTP_OAUTH_RELAY_SERVICE_HOST: '1' }, stream }).error('sage: sign-in required');
    expect(stream.written).toEqual(['<3>sage: sign-in required\n']);
    expect(createOsLog({ platform: 'win32', env: {}, stream })).toBe(noOsLog);
    expect(createOsLog({ platform: 'win32', env: { JOURNAL_STREAM: '8:1' }, stream })).toBe(noOsLog);
  });
});
