import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { describe, expect, it } from 'vitest';
import { hasEarlyTalkerTimer } from './prompt-greeting.js';

describe('hasEarlyTalkerTimer', () => {
  it('recognizes the installed smtp-server', () => {
    expect(hasEarlyTalkerTimer(SMTPConnection.prototype.init, SMTPConnection.prototype.connectionReady)).toBe(true);
  });

  it('refuses shapes it does not know, so the stock greeting is kept', () => {
    function initWithoutTimer(this: { connectionReady(): void }): void {
      this.connectionReady();
    }
    function initWithOtherTimer(this: { ready(): void }): void {
      setTimeout(() => this.ready(), 100);
    }
    const ready = (): void => undefined;
    expect(hasEarlyTalkerTimer(initWithoutTimer, ready)).toBe(false);
    expect(hasEarlyTalkerTimer(initWithOtherTimer, ready)).toBe(false);
    expect(hasEarlyTalkerTimer(SMTPConnection.prototype.init, undefined)).toBe(false);
    expect(hasEarlyTalkerTimer(undefined, ready)).toBe(false);
  });
});
