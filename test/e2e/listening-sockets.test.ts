/**
 * Never an open relay (docs/architecture.md, "Sender policy"): with the default configuration nothing the
 * relay process listens on is reachable from another machine. Checked from the running process
 * (its sockets in /proc), not from the configuration, so a listener added later, a library that
 * opens its own port, or a default that changes would all show here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config.js';
import { controlEndpoint } from '../../src/daemon/control-endpoint.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { isLoopback, listeningInetSockets, listeningUnixSockets } from '../support/listening-sockets.js';
import { RelayProcess } from '../support/relay-process.js';

/** True once the configuration knows listen.tls (issue 6); the implicit TLS case waits for it. */
const LOCAL_TLS = configSchema.safeParse({
  listen: { tls: { implicitTlsPort: 465 } },
  accounts: [{ name: 'a', mailbox: 'a@contoso.example', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c' } }],
}).success;

describe.skipIf(process.platform !== 'linux')('what the relay process listens on (/proc)', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-listening-'));
    tenant = await startMockTenant();
  });

  afterEach(async () => {
    await relay?.kill('SIGTERM');
    relay = undefined;
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The default configuration: only the accounts and the mock's endpoints; port 0 so tests can run side by side. */
  const startWith = async (extra: object = {}): Promise<RelayProcess> => {
    const config = { ...tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 } }), ...extra };
    relay = await RelayProcess.start({ config, dir });
    return relay;
  };

  it('with the default configuration, listens on loopback only, and the control channel is a Unix socket', async () => {
    const started = await startWith();
    const pid = started.child.pid!;

    const inet = await listeningInetSockets(pid);
    const unix = await listeningUnixSockets(pid);

    // The reader found the SMTP listener, so an empty or wrong table cannot pass unnoticed.
    expect(inet).toContainEqual(expect.objectContaining({ protocol: 'tcp', address: '127.0.0.1', port: started.port }));
    expect(inet.filter((socket) => !isLoopback(socket.address))).toEqual([]);
    expect(inet).toHaveLength(1);
    expect(unix.map((socket) => socket.path)).toEqual([controlEndpoint(join(dir, 'data')).socketPath]);
  });

  it('with the health endpoint enabled, that listener is on loopback too', async () => {
    const started = await startWith({ health: { enabled: true, port: 0 } });
    const healthUrl = new URL(String((await started.waitForLog((line) => line.msg === 'relay started')).health));

    const inet = await listeningInetSockets(started.child.pid!);

    expect(inet.map((socket) => socket.port).sort()).toEqual([started.port, Number(healthUrl.port)].sort());
    expect(inet.filter((socket) => !isLoopback(socket.address))).toEqual([]);
  });

  it.skipIf(!LOCAL_TLS)('with implicit TLS on a second port, that listener is on loopback too', async () => {
    // Port 0 is accepted by the schema for tests; whatever port it gets, it must be on loopback.
    const started = await startWith({ listen: { port: 0, tls: { implicitTlsPort: 0 } } });

    const inet = await listeningInetSockets(started.child.pid!);

    expect(inet).toHaveLength(2);
    expect(inet.filter((socket) => !isLoopback(socket.address))).toEqual([]);
  });
});
