/**
 * `serve --stop-on-stdin-close`, on Linux: the channel the Windows service host uses to stop the
 * relay (windows/service-host.c closes the child's stdin; docs/windows-service.md). The real relay
 * process, the mock tenant, a message before the stop: it is delivered, the relay logs a graceful
 * stop and exits 0. Without the flag, the end of stdin changes nothing.
 * Needs `npm run build` first (npm test does it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { RELAY_CLI, type LogLine } from '../support/relay-process.js';
import { LegacyClient, messageIdFor, messageIdOf } from '../e2e/fault-fixture.js';

interface Relay {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly exit: Promise<number | null>;
  waitFor(msg: string): Promise<LogLine>;
}

function startRelay(configFile: string, flags: readonly string[]): Relay {
  const child = spawn(process.execPath, [RELAY_CLI, 'serve', '--config', configFile, ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const waiters: Array<{ msg: string; resolve: (line: LogLine) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
  });
  child.stderr!.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    exit,
    waitFor: (msg) => {
      const seen = logs.find((line) => line.msg === msg);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ msg, resolve });
        void exit.then((code) => reject(new Error(`relay exited ${code} before "${msg}":\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)));
      });
    },
  };
}

describe('serve --stop-on-stdin-close', () => {
  let dir = '';
  let tenant: MockTenant | undefined;
  let relay: Relay | undefined;

  afterEach(async () => {
    relay?.child.kill('SIGKILL');
    await relay?.exit;
    await tenant?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
    relay = tenant = undefined;
  });

  async function setUp(): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), 'relay-stdin-'));
    tenant = await startMockTenant();
    const configFile = join(dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 }, log: { file: false } })));
    return configFile;
  }

  async function sendOne(tag: string): Promise<void> {
    const started = await relay!.waitFor('relay started');
    const client = await LegacyClient.connect(Number(String(started.smtp).split(':').pop()));
    await client.send(tag);
    await client.quit();
  }

  it('the end of stdin stops the relay gracefully: the message is delivered, "relay stopped", exit 0', async () => {
    relay = startRelay(await setUp(), ['--stop-on-stdin-close']);
    await sendOne('before-stop');
    await tenant!.upstream.waitForMessages(1, 30_000);

    relay.child.stdin!.end();
    expect(await relay.exit).toBe(0);
    expect(relay.logs.find((line) => line.msg === 'stopping')).toMatchObject({ reason: 'stdin closed' });
    expect(relay.logs.some((line) => line.msg === 'relay stopped')).toBe(true);
    expect(tenant!.upstream.messages.map(messageIdOf)).toEqual([messageIdFor('before-stop')]);
  });

  it('without the flag, the end of stdin is ignored: the relay still accepts and delivers', async () => {
    relay = startRelay(await setUp(), []);
    await relay.waitFor('relay started');
    relay.child.stdin!.end();
    await sendOne('after-stdin-end');
    await tenant!.upstream.waitForMessages(1, 30_000);
    expect(relay.child.exitCode).toBeNull();
    expect(relay.logs.some((line) => line.msg === 'stopping')).toBe(false);
  });
});
