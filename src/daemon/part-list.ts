/**
 * The relay's parts as one ordered list (name, start, stop): a part is added when its start
 * resolves, and the started parts are stopped newest first by this one routine, whether a
 * later start failed or stop() was called, so the failure cleanup and stop() cannot disagree.
 *
 * Stopping sweeps the list twice, newest first both times:
 *   1. quiesce: every part stops taking new work at once (the listener answers 421, delivery
 *      starts nothing new and begins its bounded wait); nothing is awaited, so all drain together;
 *   2. stop: each part is closed once its own quiesce has settled.
 * A part that fails to stop is reported and the others are still stopped.
 */
type Step<T, C> = (part: T, context: C) => Promise<void> | void;

export interface PartStops<T, C> {
  /** Stop taking new work; not awaited before the older parts quiesce. */
  readonly quiesce?: Step<T, C>;
  readonly stop?: Step<T, C>;
}

interface StartedPart<C> {
  readonly name: string;
  readonly quiesce: (context: C) => Promise<void>;
  readonly stop: (context: C) => Promise<void>;
}

/** Runs a step, turning a synchronous throw into a rejection. */
async function run(step: (() => Promise<void> | void) | undefined): Promise<void> {
  await step?.();
}

export class PartList<C> {
  private readonly started: StartedPart<C>[] = [];

  /** Starts a part and, once it has started, remembers how to stop it. */
  async start<T>(name: string, start: () => Promise<T> | T, stops: PartStops<T, C>): Promise<T> {
    const part = await start();
    this.started.push({
      name,
      quiesce: (context) => run(stops.quiesce && (() => stops.quiesce!(part, context))),
      stop: (context) => run(stops.stop && (() => stops.stop!(part, context))),
    });
    return part;
  }

  /** The started parts, oldest first. */
  get names(): string[] {
    return this.started.map((part) => part.name);
  }

  /** Stops every started part, newest first; rejects with the first failure after all were tried. */
  async stopAll(context: C, onFailure: (name: string, error: unknown) => void): Promise<void> {
    const newestFirst = this.started.splice(0).reverse();
    const quiesced = newestFirst.map((part) => part.quiesce(context));
    const failures: unknown[] = [];
    for (const [index, part] of newestFirst.entries()) {
      try {
        await quiesced[index];
        await part.stop(context);
      } catch (error) {
        onFailure(part.name, error);
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
