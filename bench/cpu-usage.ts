/**
 * The benchmark's "CPU ms per message": the CPU time (user + system) that each relay, and the
 * bench process itself, spent per accepted message in the measured rounds (bench/rounds.ts),
 * from the round's start until the relay had delivered every message of it.
 *
 * A relay's CPU is read from /proc/<pid>/stat for every process of its tree: utime and stime
 * (fields 14 and 15; all threads of a process are in them) plus cutime and cstime (16 and 17:
 * the times of the children it has waited for). Our relay is one process (threads only).
 * Postfix's smtpd, cleanup and smtp processes come and go; one that exits between two
 * snapshots is still counted, once: before its exit by its own fields, after it by its parent's
 * cutime (the kernel adds a reaped child's utime + stime + cutime + cstime there, and a zombie
 * still shows its own times until it is reaped). A snapshot is read again when the tree changed
 * while it was being read: a child reaped between reading it and reading its parent would be
 * counted twice, one reaped before it was read not at all. The fields are clock ticks (10 ms),
 * each truncated: with 200 messages a round, Postfix's figure (some ten busy processes) is good to
 * about 0.1 ms per message, ours (one process) to a few hundredths.
 *
 * The bench process (the SMTP clients, the mock identity provider and mock Exchange that our
 * relay delivers to, and the sink Postfix delivers to) is read with process.cpuUsage(); reading
 * a relay's /proc files in the middle of a window is left out of the bench's figure.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** `getconf CLK_TCK`: the unit of /proc/<pid>/stat's times (100 on Linux in practice). */
let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    let value = Number.NaN;
    try {
      value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      // No getconf: Linux's USER_HZ is 100.
    }
    clockTicks = Number.isInteger(value) && value > 0 ? value : 100;
  }
  return clockTicks;
}

/** utime + stime + cutime + cstime of one process, in clock ticks; undefined once it is gone. */
async function processTicks(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name is in parentheses and may contain spaces: fields[0] is field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const times = [11, 12, 13, 14].map((index) => Number(fields[index]));
  if (times.some((value) => !Number.isFinite(value))) throw new Error(`/proc/${pid}/stat: unexpected "${stat.trim()}"`);
  return times.reduce((sum, value) => sum + value, 0);
}

const MAX_ATTEMPTS = 50;

/** The CPU ms used so far by all processes `listPids` names (and by their reaped children). */
export async function treeCpuMs(listPids: () => Promise<readonly number[]>): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const pids = await listPids();
    const ticks = await Promise.all(pids.map(processTicks));
    const again = new Set(await listPids());
    // Consistent only if every process was read and none was reaped or born meanwhile.
    if (ticks.some((value) => value === undefined) || again.size !== pids.length || pids.some((pid) => !again.has(pid))) continue;
    return ((ticks as number[]).reduce((sum, value) => sum + value, 0) * 1000) / ticksPerSecond();
  }
  throw new Error(`no consistent CPU snapshot of the process tree in ${MAX_ATTEMPTS} attempts`);
}

/** What one measured round cost, in ms. */
export interface RoundCpu {
  readonly messages: number;
  /** The relay, from the round's start until it had delivered the round's messages. */
  readonly relayMs: number;
  /** The relay, while the clients were sending (the rest of relayMs is the delivery after it). */
  readonly relayRoundMs: number;
  /** The bench process over the same window as relayMs, and while the clients were sending. */
  readonly benchMs: number;
  readonly benchRoundMs: number;
  /** Wall time while the clients were sending. */
  readonly roundMs: number;
}

const benchUs = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

/** A short pause after the last delivery, for the relay's last steps (its removal of the message, the log line). */
const SETTLE_MS = 100;

/**
 * Runs `send` (the clients submit `messages` messages) and then `drain` (until the relay has
 * delivered them), with the relay's CPU (`relayCpuMs`) and the bench's read around both.
 */
export async function measureRound<T>(messages: number, relayCpuMs: () => Promise<number>, send: () => Promise<T>, drain: () => Promise<void>): Promise<{ result: T; cpu: RoundCpu }> {
  const relayStart = await relayCpuMs();
  const benchStart = benchUs();
  const wallStart = process.hrtime.bigint();
  const result = await send();
  const roundMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
  const benchSent = benchUs();
  const relaySent = await relayCpuMs();
  const reading = benchUs() - benchSent;
  await drain();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const benchEnd = benchUs();
  const relayEnd = await relayCpuMs();
  const cpu: RoundCpu = {
    messages,
    relayMs: relayEnd - relayStart,
    relayRoundMs: relaySent - relayStart,
    benchMs: (benchEnd - benchStart - reading) / 1000,
    benchRoundMs: (benchSent - benchStart) / 1000,
    roundMs,
  };
  return { result, cpu };
}

/** A scenario's CPU figures for one relay, over all its measured rounds. */
export interface CpuFigures {
  /** The relay's CPU per accepted message, delivery included (RoundCpu.relayMs). */
  readonly relayMsPerMessage: number;
  /** The part of it spent while the clients were sending. */
  readonly relayWhileSendingMsPerMessage: number;
  /** The bench process's CPU per message over the same window as relayMsPerMessage. */
  readonly benchMsPerMessage: number;
  /** CPU while the clients were sending over its wall time: how many cores each kept busy. */
  readonly relayCores: number;
  readonly benchCores: number;
}

export function cpuFigures(rounds: readonly RoundCpu[]): CpuFigures | undefined {
  const total = (key: keyof RoundCpu): number => rounds.reduce((sum, round) => sum + round[key], 0);
  const messages = total('messages');
  if (messages === 0) return undefined;
  return {
    relayMsPerMessage: total('relayMs') / messages,
    relayWhileSendingMsPerMessage: total('relayRoundMs') / messages,
    benchMsPerMessage: total('benchMs') / messages,
    relayCores: total('relayRoundMs') / total('roundMs'),
    benchCores: total('benchRoundMs') / total('roundMs'),
  };
}
