/**
 * A delegated account's sign-in state as the token provider keeps it: in memory for every
 * request, and in `<dataDir>/state/sign-in/<account>.json` (sign-in-state-store.ts) for status
 * and for the next start. Writes go in order, so the file never goes back to an older state.
 */
import type { AccountConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { SignInState } from '../core/sign-in-state.js';
import { readSignInState, readSignInStateSync, SignInStateCorruptError, writeSignInState } from './sign-in-state-store.js';

export class SignInRecord {
  private state: SignInState;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataDir: string,
    private readonly account: AccountConfig,
    private readonly logger: Logger,
  ) {
    this.state = this.load();
  }

  get current(): SignInState {
    return this.state;
  }

  /** A login by another process (the CLI while the daemon was down) shows in the file. */
  async reread(): Promise<void> {
    try {
      const onDisk = await readSignInState(this.dataDir, { name: this.account.name, auth: { method: 'delegated' } });
      if (onDisk.status === 'ok') this.state = onDisk;
    } catch (error) {
      this.logger.debug({ err: describe(error) }, 'sign-in state file unreadable');
    }
  }

  async record(next: SignInState): Promise<void> {
    this.state = next;
    const write = this.writes.then(() => writeSignInState(this.dataDir, next));
    // A failed write must not fail the sign-in itself: the state is in memory and written next time.
    this.writes = write.catch((error: unknown) => {
      this.logger.error({ err: describe(error) }, 'could not record the sign-in state');
    });
    await this.writes;
  }

  private load(): SignInState {
    try {
      return readSignInStateSync(this.dataDir, this.account);
    } catch (error) {
      if (!(error instanceof SignInStateCorruptError)) throw error;
      // The cache decides: one signed-in user in it is used, none means sign in.
      this.logger.warn({ path: error.path }, error.message);
      return { version: 1, account: this.account.name, method: 'delegated', status: 'ok' };
    }
  }
}

/** Error name and message only: never a request (it carries codes and tokens). */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
