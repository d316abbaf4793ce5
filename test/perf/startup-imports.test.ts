/**
 * What the daemon's modules load when `serve` starts: the large packages a relay may never need
 * (MSAL until an account asks for a token, mailparser until a Graph delivery, the keychain's
 * native addon until a key is read) stay unloaded. docs/performance.md ("Memory") has the sizes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/relay-process.js';

/** A loader hook that prints every package a module resolves to, then the composition root's import. */
const HOOKS = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(resolved.url);
  if (match) process.stdout.write('PACKAGE ' + match[1] + '\\n');
  return resolved;
}`;

function packagesLoadedBy(module: string): Set<string> {
  const script = [
    `import { register } from 'node:module';`,
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`,
    `await import(${JSON.stringify(module)});`,
  ].join('\n');
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  return new Set([...output.matchAll(/^PACKAGE (.+)$/gm)].map((match) => match[1] ?? ''));
}

const RELAY_MODULE = join(REPO_ROOT, 'dist/daemon/relay.js');

describe.skipIf(!existsSync(RELAY_MODULE))('modules loaded at start (dist/daemon/relay.js)', () => {
  it('loads smtp-server but not MSAL, mailparser or the keychain addon', () => {
    const loaded = packagesLoadedBy(RELAY_MODULE);
    // The hook works: the SMTP server is needed at once.
    expect(loaded).toContain('smtp-server');
    expect(loaded).not.toContain('@azure/msal-node');
    expect(loaded).not.toContain('@azure/msal-common');
    expect(loaded).not.toContain('mailparser');
    expect(loaded).not.toContain('@napi-rs/keyring');
  });
});
