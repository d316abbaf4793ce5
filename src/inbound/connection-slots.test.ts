import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from './connection-slots.js';

describe('ConnectionSlots', () => {
  it('keeps the loopback and LAN pools apart: a full LAN pool never locks out loopback, nor the reverse', () => {
    const slots = new ConnectionSlots({ loopback: 2, lan: 1 });
    expect(slots.total).toBe(3);
    slots.admit('192.168.1.20');
    expect(() => slots.admit('192.168.1.21')).toThrow('4.7.0 All 1 connection slots for LAN clients are in use');
    slots.admit('127.0.0.1');
    slots.admit('::ffff:127.0.0.1');
    expect(() => slots.admit('::1')).toThrow('for programs on this machine');
    expect(slots.inUse('loopback')).toBe(2);
    slots.release('127.0.0.1');
    slots.admit('::1');
    slots.release('192.168.1.20');
    slots.admit('10.0.0.5');
    expect(slots.inUse('lan')).toBe(1);
  });
});
