import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignInState } from '../core/sign-in-state.js';
import { readSignInState, SignInStateCorruptError, signInStatePath, writeSignInState } from './sign-in-state-store.js';

const sage = { name: 'sage', auth: { method: 'delegated' as const } };
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sign-in-state-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('sign-in state store', () => {
  it('defaults to never-signed-in for a delegated account and ok for an app-only one', async () => {
    expect(await readSignInState(dataDir, sage)).toEqual({ version: 1, account: 'sage', method: 'delegated', status: 'never-signed-in' });
    expect((await readSignInState(dataDir, { name: 'printer', auth: { method: 'client-credentials' } })).status).toBe('ok');
  });

  it('writes <dataDir>/state/sign-in/<account>.json owner-only and reads it back', async () => {
    const state: SignInState = {
      version: 1,
      account: 'sage',
      method: 'delegated',
      status: 'sign-in-required',
      signedInAs: 'sage@contoso.example',
      lastRefreshError: { at: '2026-11-22T09:00:00.000Z', error: 'invalid_grant', aadsts: 'AADSTS700082', message: 'expired' },
    };
    await writeSignInState(dataDir, state);
    const path = signInStatePath(dataDir, 'sage');
    expect(path).toBe(join(dataDir, 'state', 'sign-in', 'sage.json'));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(state);
    expect(await readSignInState(dataDir, sage)).toEqual(state);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that is not a sign-in state, naming it', async () => {
    const path = signInStatePath(dataDir, 'sage');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '{"version":1,"account":"other","status":"ok"}');
    await expect(readSignInState(dataDir, sage)).rejects.toBeInstanceOf(SignInStateCorruptError);
    await writeFile(path, 'not json');
    await expect(readSignInState(dataDir, sage)).rejects.toThrow(path);
  });
});
