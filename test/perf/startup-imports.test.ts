/**
 * What the daemon's modules load when `serve` starts: the large packages a relay may never need
 * (MSAL until an account asks for a token, mailparser until a Graph delivery, the keychain's
 * native addon until a key is read) stay unloaded, and so do the other commands' modules (the
 * CLI loads a command's work when it runs, src/cli/main.ts). docs/performance.md ("Memory") has
 * the sizes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/relay-process.js';

/** A loader hook that prints every package a module resolves to, and every module of dist/. */
const HOOKS = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(resolved.url);
  if (match) process.stdout.write('PACKAGE ' + match[1] + '\\n');
  if (match && match[1] === 'nodemailer') process.stdout.write('NODEMAILER ' + resolved.url.slice(resolved.url.indexOf('/nodemailer/') + 12) + '\\n');
  const own = /\\/dist\\/(.+\\.js)$/.exec(resolved.url);
  if (own && !match) process.stdout.write('MODULE ' + own[1] + '\\n');
  return resolved;
}`;
const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`;

/** The modules of dist/ (paths below it) that the CLI loads for these arguments; its exit code does not matter. */
function cliModules(args: readonly string[]): string[] {
  const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return [...result.stdout.matchAll(/^MODULE (.+)$/gm)].map((match) => match[1] ?? '');
}

/** Runs `body` (module code) under the hook; returns the packages it loaded and the other lines it printed. */
function run(body: string): { packages: Set<string>; nodemailerFiles: string[]; lines: string[] } {
  const script = [REGISTER, body].join('\n');
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  const lines = output.split('\n').filter((line) => line !== '');
  return {
    packages: new Set(lines.filter((line) => line.startsWith('PACKAGE ')).map((line) => line.slice('PACKAGE '.length))),
    nodemailerFiles: lines.filter((line) => line.startsWith('NODEMAILER ')).map((line) => line.slice('NODEMAILER '.length)),
    lines: lines.filter((line) => !line.startsWith('PACKAGE ') && !line.startsWith('MODULE ') && !line.startsWith('NODEMAILER ')),
  };
}

const dist = (path: string): string => pathToFileURL(join(REPO_ROOT, 'dist', path)).href;
const RELAY_MODULE = join(REPO_ROOT, 'dist/daemon/relay.js');
const CLI = join(REPO_ROOT, 'dist/cli/main.js');
/** What only other commands need: their work, doctor, and the service managers. */
const OTHER_COMMANDS = /^(cli\/.+-actions\.js|daemon\/doctor\.js|service\/)/;
const MSAL = ['@azure/msal-node', '@azure/msal-common'];

describe.skipIf(!existsSync(RELAY_MODULE))('modules loaded at start (dist/daemon/relay.js)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('loads smtp-server but not MSAL, mailparser, the keychain addon or nodemailer\'s transports', () => {
    const { packages, nodemailerFiles } = run(`await import(${JSON.stringify(dist('daemon/relay.js'))});`);
    // The hook works: the SMTP server is needed at once, and it uses a few of nodemailer's helpers.
    expect(packages).toContain('smtp-server');
    expect(nodemailerFiles.some((file) => /shared/.test(file))).toBe(true);
    for (const name of [...MSAL, 'mailparser', '@napi-rs/keyring']) expect(packages).not.toContain(name);
    // Transports and the message composer load at the first delivery, notice or doctor.
    expect(nodemailerFiles.filter((file) => /(^|\/)(mailer|smtp-pool|smtp-transport|mail-composer|mime-node)\//.test(file))).toEqual([]);
  });

  it('holds an app-only account without a usable secret at start without loading MSAL', () => {
    dir = mkdtempSync(join(tmpdir(), 'startup-imports-'));
    const app = { tenantId: '00000000-0000-4000-8000-000000000001', clientId: '11111111-1111-4111-8111-111111111111' };
    const config = {
      dataDir: join(dir, 'data'),
      secrets: { keyStore: 'file' },
      // Nothing listens there: a token request, were one made, would fail rather than wait.
      identity: { authorityHost: 'https://127.0.0.1:1' },
      accounts: [
        { name: 'ready', mailbox: 'ready@contoso.example', auth: { method: 'client-credentials', ...app, clientSecret: 'a secret Entra would judge' } },
        { name: 'unsealed', mailbox: 'unsealed@contoso.example', auth: { method: 'client-credentials', ...app } },
        {
          name: 'keyless',
          mailbox: 'keyless@contoso.example',
          auth: { method: 'client-credentials', ...app, certificateFile: join(dir, 'app.crt'), privateKeyFile: join(dir, 'absent.key') },
        },
      ],
    };
    const { packages, lines } = run(`
      const { configSchema } = await import(${JSON.stringify(dist('core/config.js'))});
      const { silentLogger } = await import(${JSON.stringify(dist('core/logger.js'))});
      const { systemClock } = await import(${JSON.stringify(dist('core/clock.js'))});
      const { SignIn } = await import(${JSON.stringify(dist('daemon/sign-in.js'))});
      const { holdAppOnlyAccountsWithoutSecret } = await import(${JSON.stringify(dist('daemon/relay-wiring.js'))});
      const config = configSchema.parse(${JSON.stringify(config)});
      const signIn = await SignIn.create(config, { logger: silentLogger(), clock: systemClock });
      await holdAppOnlyAccountsWithoutSecret(config, signIn.providers, { hold: (account, reason) => console.log('HELD ' + account + ': ' + reason) });
      await signIn.stop();
    `);
    // The checks run side by side: their order is not fixed.
    expect([...lines].sort()).toEqual([
      expect.stringMatching(/^HELD keyless: .*auth\.privateKeyFile .*absent\.key cannot be read/),
      expect.stringMatching(/^HELD unsealed: .*secret set --account unsealed/),
    ]);
    for (const name of MSAL) expect(packages).not.toContain(name);
  });

  it('serve loads the relay but no other command\'s modules; --help loads no command\'s work', () => {
    // A configuration that cannot be read ends serve at once (exit 78), after its imports.
    const serve = cliModules(['serve', '--config', join(REPO_ROOT, 'no-such-config.json')]);
    expect(serve).toContain('daemon/relay.js');
    expect(serve.filter((module) => OTHER_COMMANDS.test(module))).toEqual([]);
    const help = cliModules(['--help']);
    expect(help).toContain('cli/main.js');
    // The definitions and the default configuration path (core/), no command's work.
    expect(help.filter((module) => module === 'cli/serve-command.js' || OTHER_COMMANDS.test(module) || !/^(cli|core)\//.test(module))).toEqual([]);
  });
});
