import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir === undefined) return;
    // The logger keeps relay.log open for the life of the process (the daemon's is never closed),
    // and Windows (Wine 8 at least) cannot remove a folder that holds an open file: leave it to
    // the temporary folder there.
    await rm(dir, { recursive: true, force: true }).catch((error: unknown) => {
      if (process.platform !== 'win32') throw error;
    });
  });

  it('redacts tokens, secrets and passwords at every depth we log them, on stdout and in the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'logger-'));
    const stdout = new PassThrough();
    const printed: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => printed.push(chunk));
    const logger = createLogger({ level: 'info', logDir: dir, stdout, pretty: false });

    logger.info(
      {
        accessToken: 'eyJ.top.level',
        auth: { clientSecret: 'secret-at-depth-1', token: 'tok-depth-1' },
        account: { auth: { clientSecret: 'secret-at-depth-2', password: 'pw-depth-2' } },
        id: 'kept-visible',
      },
      'something happened',
    );

    const file = await readFile(join(dir, 'relay.log'), 'utf8');
    for (const output of [Buffer.concat(printed).toString('utf8'), file]) {
      expect(output).toContain('kept-visible');
      expect(output).toContain('[redacted]');
      for (const secret of ['eyJ.top.level', 'secret-at-depth-1', 'tok-depth-1', 'secret-at-depth-2', 'pw-depth-2']) {
        expect(output).not.toContain(secret);
      }
    }
  });
});
