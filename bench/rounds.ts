/**
 * The submission scenarios of `npm run bench`, run in alternating rounds (ours, Postfix, ours,
 * Postfix...) so that both see the same machine. Each round starts with an empty queue on both
 * relays and ends when the measured relay has delivered it, so that neither pays for the other's
 * backlog and the round's CPU (cpu-usage.ts) includes the delivery of its messages.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuFigures, measureRound, type CpuFigures, type RoundCpu } from './cpu-usage.js';
import { summarize } from './latency-stats.js';
import type { ColdStart, Figures, ScenarioResult } from './report.js';
import { PHASES, runScenario, SCENARIOS, type Credentials, type Phase, type Scenario, type ScenarioRun } from './scenarios.js';

const DRAIN_TIMEOUT_MS = 180_000;


/** A relay under test: where it listens, how many messages it has delivered so far, its CPU. */
export interface Target {
  readonly name: string;
  readonly port: number;
  readonly delivered: () => number;
  /** CPU ms (user + system) the relay's processes have used so far (cpu-usage.ts treeCpuMs). */
  readonly cpuMs: () => Promise<number>;
  sent: number;
}

/** Waits until the target has delivered every message sent to it. */
export async function drained(target: Target): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (target.delivered() < target.sent) {
    if (Date.now() > deadline) throw new Error(`${target.name}: ${target.delivered()} of ${target.sent} delivered`);
    await sleep(20);
  }
}

interface Round {
  readonly run: ScenarioRun;
  readonly cpu: RoundCpu;
}

/** Latency, rate and (per connection) phase medians of `runs`; with the CPU of their rounds when measured. */
function figures(runs: readonly ScenarioRun[], perConnection: boolean, cpu?: CpuFigures): Figures {
  const latencies = runs.flatMap((run) => run.latenciesNs);
  const elapsed = runs.reduce((sum, run) => sum + Number(run.elapsedNs) / 1e9, 0);
  const phaseMedian = (phase: Phase): number => {
    const samples = runs.flatMap((run) => run.phasesNs[phase]);
    return samples.length === 0 ? 0 : summarize(samples).medianMs;
  };
  return {
    messages: latencies.length,
    messagesPerSecond: latencies.length / elapsed,
    latency: summarize(latencies),
    ...(perConnection ? { phasesMs: Object.fromEntries(PHASES.map((phase) => [phase, phaseMedian(phase)])) as Record<Phase, number> } : {}),
    ...(cpu === undefined ? {} : { cpu }),
  };
}

function roundFigures(rounds: readonly Round[], perConnection: boolean): Figures {
  return figures(rounds.map((round) => round.run), perConnection, cpuFigures(rounds.map((round) => round.cpu)));
}

export interface RoundsOptions {
  readonly message: Buffer;
  /** Measured messages per scenario and relay, over all rounds. */
  readonly messages: number;
  readonly rounds: number;
  readonly warmUp: number;
  readonly credentials: Credentials;
  /** Scenario keys to run (scenarios.ts); all when undefined. */
  readonly keys: readonly string[] | undefined;
  readonly say: (text: string) => void;
}

async function runOn(target: Target, scenario: Scenario, options: RoundsOptions, count: number): Promise<ScenarioRun> {
  const run = await runScenario(scenario, target.port, options.message, count, options.credentials);
  target.sent += count;
  return run;
}

/** One measured round on `target`: the clients send, then the target delivers; CPU read around both. */
async function measured(target: Target, scenario: Scenario, options: RoundsOptions, count: number): Promise<Round> {
  const { result, cpu } = await measureRound(count, target.cpuMs, () => runOn(target, scenario, options, count), () => drained(target));
  return { run: result, cpu };
}

/**
 * The first `count` messages after start, new connections from 8 clients, on each relay in turn
 * (ours first), each then drained: how a relay does before its code is warm (bench.ts, step 2).
 */
export async function coldStart(ours: Target, postfix: Target | undefined, options: RoundsOptions, count: number): Promise<ColdStart> {
  const scenario = SCENARIOS.find((s) => s.key === 'fresh-8');
  if (scenario === undefined) throw new Error('no fresh-8 scenario');
  options.say(`cold start: the first ${count} messages after start, ${scenario.name}, on each relay`);
  const measure = async (target: Target): Promise<Figures> => {
    const run = await runOn(target, scenario, options, count);
    await drained(target);
    return figures([run], false);
  };
  const oursFigures = await measure(ours);
  return { scenario: scenario.name, ours: oursFigures, ...(postfix === undefined ? {} : { postfix: await measure(postfix) }) };
}

export async function runScenarios(ours: Target, postfix: Target | undefined, options: RoundsOptions): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const perRound = Math.max(1, Math.round(options.messages / options.rounds));
  for (const scenario of SCENARIOS.filter((s) => options.keys?.includes(s.key) ?? true)) {
    // Postfix has no SASL here: an AUTH scenario reuses its figures without AUTH.
    const reference = scenario.auth ? undefined : postfix;
    options.say(`${scenario.name}: ${options.warmUp} warm-up + ${options.rounds} x ${perRound} messages${reference === undefined ? '' : ' on each relay'}`);
    await runOn(ours, scenario, options, options.warmUp);
    if (reference !== undefined) await runOn(reference, scenario, options, options.warmUp);
    await drained(ours);
    if (reference !== undefined) await drained(reference);
    const oursRounds: Round[] = [];
    const theirRounds: Round[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      // A measured round ends when its relay has delivered it: every round starts with both queues empty.
      oursRounds.push(await measured(ours, scenario, options, perRound));
      if (reference !== undefined) theirRounds.push(await measured(reference, scenario, options, perRound));
    }
    const perConnection = scenario.mode === 'per-message';
    const withoutAuth = results.find((r) => !r.auth && r.key === scenario.key.replace('-auth', ''));
    const postfixFigures = reference !== undefined ? roundFigures(theirRounds, perConnection) : withoutAuth?.postfix;
    results.push({
      key: scenario.key,
      name: scenario.name,
      auth: scenario.auth,
      ours: roundFigures(oursRounds, perConnection),
      ...(postfixFigures === undefined ? {} : { postfix: postfixFigures }),
    });
  }
  await drained(ours);
  if (postfix !== undefined) await drained(postfix);
  return results;
}
