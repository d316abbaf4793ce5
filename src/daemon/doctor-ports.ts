/**
 * doctor's port checks: the SMTP port and the health port are free (or held by this relay when
 * it runs), and this account may listen on them.
 */
import { createServer } from 'node:net';
import type { Config } from '../core/config.js';
import type { CheckResult } from './doctor.js';

/** RFC 5321 gives no port to a submission relay; what matters is that nobody else holds ours. */
export async function checkPorts(config: Config, daemon: { readonly pid: number | undefined } | undefined, record: (result: CheckResult) => void): Promise<void> {
  const ports = [{ check: 'smtp-port', host: config.listen.host, port: config.listen.port, field: 'listen.port' }];
  if (config.health.enabled) ports.push({ check: 'health-port', host: config.health.host, port: config.health.port, field: 'health.port' });
  for (const { check, host, port, field } of ports) {
    const where = `${host}:${port}`;
    if (daemon !== undefined) {
      record({ check, status: 'pass', finding: `${where} is in use by this relay${daemon.pid === undefined ? '' : `, pid ${daemon.pid}`}` });
      continue;
    }
    if (port === 0) {
      record({ check, status: 'pass', finding: `${field} is 0: a free port is picked at start` });
      continue;
    }
    const failure = await tryBind(host, port);
    if (failure === undefined) {
      record({ check, status: 'pass', finding: `${where} is free` });
    } else if (failure === 'EADDRINUSE') {
      record({ check, status: 'fail', finding: `another program listens on ${where}`, fix: `stop that program (ss -ltnp / netstat -ano shows which), or choose another ${field}` });
    } else if (failure === 'EACCES') {
      record({ check, status: 'fail', finding: `not allowed to listen on ${where}`, fix: `ports below 1024 need privileges: choose a port above 1024 in ${field}` });
    } else {
      record({ check, status: 'fail', finding: `cannot listen on ${where} (${failure})`, fix: `check that ${host} is an address of this machine` });
    }
  }
}

function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
