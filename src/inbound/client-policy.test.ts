import { describe, expect, it } from 'vitest';
import { clientRefusal, createClientPolicy, normalizeClientAddress } from './client-policy.js';

describe('client policy', () => {
  it('always allows loopback, IPv4 /8, IPv6 and IPv4-mapped', () => {
    const allowed = createClientPolicy([]);
    expect(allowed('127.0.0.1')).toBe(true);
    expect(allowed('127.45.6.7')).toBe(true);
    expect(allowed('::1')).toBe(true);
    expect(allowed('::ffff:127.0.0.1')).toBe(true);
    expect(allowed('::FFFF:127.0.0.9')).toBe(true);
  });

  it('refuses everything else when allowClients is empty', () => {
    const allowed = createClientPolicy([]);
    expect(allowed('192.168.1.20')).toBe(false);
    expect(allowed('::ffff:192.168.1.20')).toBe(false);
    expect(allowed('2001:db8::1')).toBe(false);
    expect(allowed('128.0.0.1')).toBe(false);
    expect(allowed('not-an-address')).toBe(false);
  });

  it('gives the same answers when asked again, past the addresses it remembers', () => {
    const allowed = createClientPolicy(['10.1.0.0/16']);
    // Three passes over 1,500 addresses: the remembered answers are cleared more than once.
    for (let pass = 0; pass < 3; pass += 1) {
      for (let n = 0; n < 1500; n += 1) {
        const inRange = `10.1.${n >> 8}.${n & 255}`;
        const outside = `10.2.${n >> 8}.${n & 255}`;
        expect(allowed(inRange), inRange).toBe(true);
        expect(allowed(outside), outside).toBe(false);
      }
    }
    expect(allowed('127.0.0.1')).toBe(true);
    expect(allowed('192.168.1.20')).toBe(false);
  });

  it('matches single IPv4 addresses and CIDR ranges', () => {
    const allowed = createClientPolicy(['192.168.1.20', '10.1.0.0/16']);
    expect(allowed('192.168.1.20')).toBe(true);
    expect(allowed('192.168.1.21')).toBe(false);
    expect(allowed('10.1.255.3')).toBe(true);
    expect(allowed('10.2.0.1')).toBe(false);
  });

  it('matches IPv4-mapped client addresses against IPv4 rules', () => {
    const allowed = createClientPolicy(['192.168.1.0/24']);
    expect(allowed('::ffff:192.168.1.77')).toBe(true);
    expect(allowed('::ffff:192.168.2.77')).toBe(false);
  });

  it('matches IPv6 addresses and ranges, in any spelling and with a zone id', () => {
    const allowed = createClientPolicy(['2001:db8:1::/48', 'fe80::10']);
    expect(allowed('2001:db8:1:ffff::5')).toBe(true);
    expect(allowed('2001:0DB8:0001:0000:0000:0000:0000:0005')).toBe(true);
    expect(allowed('2001:db8:2::5')).toBe(false);
    expect(allowed('fe80::10%eth0')).toBe(true);
    expect(allowed('fe80::11')).toBe(false);
  });

  it('turns IPv4-mapped rules into IPv4 rules', () => {
    const allowed = createClientPolicy(['::ffff:192.168.5.5', '::ffff:10.9.0.0/112']);
    expect(allowed('192.168.5.5')).toBe(true);
    expect(allowed('10.9.200.1')).toBe(true);
    expect(allowed('10.8.0.1')).toBe(false);
  });

  it('refuses a mapped range that would reach beyond IPv4', () => {
    expect(() => createClientPolicy(['::ffff:10.0.0.0/64'])).toThrow(/at least \/96/);
  });

  it('normalizes addresses and words the refusal for the administrator', () => {
    expect(normalizeClientAddress('::ffff:192.168.1.20')).toBe('192.168.1.20');
    expect(normalizeClientAddress('FE80::1%eth0')).toBe('fe80::1');
    expect(clientRefusal('::ffff:192.168.1.20').reply).toBe(
      '554 5.7.1 192.168.1.20 is not allowed to use this relay; add it to listen.allowClients',
    );
  });
});
