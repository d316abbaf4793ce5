/**
 * Postfix as the benchmark's reference: a plain queueing relay (smtpd -> cleanup -> queue ->
 * smtp to a relayhost) run from a private configuration folder with `postfix -c DIR`, so that
 * nothing under /etc/postfix is read or written. Loopback only, a port of our choosing, its own
 * queue_directory and data_directory inside DIR, and stopped by the master's PID at the end.
 *
 * The relayhost is an SMTP sink with STARTTLS (bench/sink.ts) in the bench process: Postfix
 * cannot do Exchange's XOAUTH2, so it cannot deliver to the mock Exchange that our relay
 * delivers to; it must use TLS to the sink (smtp_tls_security_level = encrypt).
 * Postfix defaults are kept otherwise (fsync of every queue file before 250, in_flow_delay,
 * process limits), except those a relay on loopback needs: no local delivery, no DNS.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const POSTFIX = '/usr/sbin/postfix';

/** Why Postfix cannot be the reference here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'Postfix is only compared on Linux';
  if (!existsSync(POSTFIX)) return `${POSTFIX} is not installed`;
  if (process.getuid?.() !== 0) return 'Postfix needs root to start (it drops to its mail_owner)';
  return undefined;
}

export interface PostfixRelay {
  readonly port: number;
  readonly dir: string;
  /** PIDs of every process of this Postfix instance (the master and its children). */
  pids(): Promise<number[]>;
  /** mail_version, e.g. "3.7.11". */
  version(): Promise<string>;
  stop(): Promise<void>;
}

const MASTER_CF = (port: number): string =>
  `# Written by bench/postfix.ts; no chroot, so no copies of /etc files are needed.
127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

const MAIN_CF = (dir: string, relayPort: number, maxMessageBytes: number, caFile: string): string =>
  `# Written by bench/postfix.ts: a queueing relay for loopback clients only.
compatibility_level = 3.6
queue_directory = ${join(dir, 'queue')}
data_directory = ${join(dir, 'data')}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix-bench.localdomain
mydestination =
local_transport = error:no local delivery
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:${relayPort}
smtp_tls_security_level = encrypt
smtp_tls_CAfile = ${caFile}
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
message_size_limit = ${maxMessageBytes}
maillog_file = ${join(dir, 'maillog')}
maillog_file_prefixes = ${dir}
biff = no
`;

/** Starts Postfix on 127.0.0.1:`port`, relaying to 127.0.0.1:`relayPort`. */
export async function startPostfix(dir: string, port: number, relayPort: number, maxMessageBytes: number, caFile: string): Promise<PostfixRelay> {
  // Postfix's daemons run as mail_owner: they must be able to enter the folder.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'queue'), { recursive: true, mode: 0o755 });
  await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
  await run('chown', ['postfix:postfix', join(dir, 'data')]);
  await writeFile(join(dir, 'main.cf'), MAIN_CF(dir, relayPort, maxMessageBytes, caFile));
  await writeFile(join(dir, 'master.cf'), MASTER_CF(port));
  // set-permissions creates the queue's sub-folders with the owners Postfix expects.
  await run(POSTFIX, ['-c', dir, 'set-permissions'], { env: { ...process.env, LANG: 'C' } }).catch(() => undefined);
  await run(POSTFIX, ['-c', dir, 'start']);
  const pidFile = join(dir, 'queue', 'pid', 'master.pid');
  const masterPid = await waitFor(async () => Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || undefined, 10_000);
  return {
    port,
    dir,
    pids: () => processTree(masterPid),
    version: async () => (await run('/usr/sbin/postconf', ['-c', dir, '-h', 'mail_version'])).stdout.trim(),
    async stop() {
      const pids = await processTree(masterPid);
      try {
        process.kill(masterPid, 'SIGTERM');
      } catch {
        return;
      }
      // The master ends its children; wait until every one is gone.
      await waitFor(async () => ((await Promise.all(pids.map(alive))).some(Boolean) ? undefined : true), 10_000).catch(() => {
        for (const pid of pids) if (pid !== masterPid) void killQuietly(pid);
      });
    },
  };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Postfix did not start (or stop) in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function alive(pid: number): Promise<boolean> {
  return existsSync(`/proc/${pid}`);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** `root` and all its descendants, from /proc/<pid>/stat (field 4 is the parent PID). */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // The command name is in parentheses and may contain spaces: read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const parent = Number(fields[1]);
    if (Number.isInteger(parent)) parents.set(pid, parent);
  }
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (!tree.has(pid) && tree.has(parent)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree].filter((pid) => parents.has(pid));
}
