/**
 * Fixes lost commands when a client pipelines several transactions in one write (RFC 2920
 * allows the final "." of a message to be followed by more commands in the same group).
 *
 * smtp-server 3.21.6 SMTPStream.continue() runs the stored continuation first and clears it
 * afterwards:
 *   `this._continueCallback(); this._continueCallback = false;`
 * The continuation parses the rest of the input. When that rest holds a whole further
 * message and our hooks answer synchronously (they do: onMailFrom and onRcptTo need no I/O),
 * the parser reaches that message's final dot inside the call and stores the next
 * continuation, which the line after it then wipes out: whatever followed the second
 * message (QUIT, a third message) is never read and the client waits until the idle timeout.
 * Found by test/inbound/legacy-clients.test.ts ("sends the whole session in one write").
 *
 * The fix takes the continuation off before running it, on each parser instance only.
 */
import type { CommandParser } from './parser-hooks.js';

interface ContinueState {
  _continueCallback: (() => void) | boolean;
}

export function continueInOrder(parser: CommandParser): void {
  const state = parser as unknown as ContinueState;
  // If a future smtp-server renames the field, leave its own continue() alone.
  if (!('_continueCallback' in state)) return;
  parser.continue = function continueThenClear(): void {
    const next = state._continueCallback;
    if (typeof next === 'function') {
      state._continueCallback = false;
      next();
      return;
    }
    // Called before the final dot was parsed: run the continuation as soon as it is stored.
    state._continueCallback = true;
  };
}
