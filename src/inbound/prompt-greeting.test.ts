import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { hasDeferredProxyCallback, hasEarlyTalkerTimer, SessionIds } from './prompt-greeting.js';

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

describe('hasDeferredProxyCallback', () => {
  it('recognizes the installed smtp-server', () => {
    expect(hasDeferredProxyCallback(SMTPServer.prototype._handleProxy)).toBe(true);
  });

  it('refuses shapes it does not know, so the stock path is kept', () => {
    function immediate(_socket: unknown, callback: (err: null, options: object) => void): void {
      callback(null, {});
    }
    expect(hasDeferredProxyCallback(immediate)).toBe(false);
    expect(hasDeferredProxyCallback(undefined)).toBe(false);
  });
});

describe('SessionIds', () => {
  it('gives ids of the form smtp-server gives, none twice, across refills of the pool', () => {
    const ids = new SessionIds();
    const drawn = Array.from({ length: 1000 }, () => ids.next());
    expect(new Set(drawn).size).toBe(1000);
    for (const id of drawn) expect(id).toMatch(/^[0-9a-v]{16}$/);
  });
});
