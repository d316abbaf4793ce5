import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

  it.skipIf(process.platform === 'win32')('creates relay.log owner-only (0600), and narrows one an older version left 0644', async () => {
    dir = await mkdtemp(join(tmpdir(), 'logger-'));
    const previousMask = process.umask(0o022);
    try {
      createLogger({ level: 'info', logDir: dir, stdout: new PassThrough(), pretty: false }).info('first');
      expect((await stat(join(dir, 'relay.log'))).mode & 0o777).toBe(0o600);
      const old = join(dir, 'old');
      await mkdir(old);
      await writeFile(join(old, 'relay.log'), '');
      await chmod(join(old, 'relay.log'), 0o644);
      createLogger({ level: 'info', logDir: old, stdout: new PassThrough(), pretty: false }).info('again');
      expect((await stat(join(old, 'relay.log'))).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previousMask);
    }
  });
});
