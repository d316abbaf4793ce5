import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPaths } from './data-paths.js';

describe('dataPaths', () => {
  // The layout existing installations already have on disk: a change here strands their data.
  it('names the same paths the parts used to spell themselves', () => {
    const root = join('/', 'var', 'lib', 'relay');
    const paths = dataPaths(root);
    expect({ ...paths, tokenCache: undefined, clientSecret: undefined, signInStateOf: undefined }).toEqual({
      root,
      spool: join(root, 'spool'),
      tokens: join(root, 'tokens'),
      secrets: join(root, 'secrets'),
      keys: join(root, 'keys'),
      state: join(root, 'state'),
      signInState: join(root, 'state', 'sign-in'),
      alerts: join(root, 'state', 'alerts.json'),
      users: join(root, 'users.json'),
      tls: join(root, 'tls'),
      logs: join(root, 'logs'),
      run: join(root, 'run'),
      pacing: join(root, 'delivery', 'pacing.json'),
      audit: join(root, 'audit.log'),
      tokenCache: undefined,
      clientSecret: undefined,
      signInStateOf: undefined,
    });
    expect(paths.tokenCache('sage')).toBe(join(root, 'tokens', 'sage.msal.sealed'));
    expect(paths.clientSecret('sage')).toBe(join(root, 'secrets', 'sage.client-secret.sealed'));
    expect(paths.signInStateOf('sage')).toBe(join(root, 'state', 'sign-in', 'sage.json'));
  });
});
