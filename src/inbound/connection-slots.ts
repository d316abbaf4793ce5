/**
 * Two pools of connection slots, one for programs on this machine (loopback) and one for the
 * LAN devices of listen.allowClients (listen.connections.loopback / .lan). smtp-server's own
 * maxClients is their sum, so neither side can fill the other's slots: a printer storm or a
 * slow LAN client cannot lock Sage out, and a runaway local script cannot lock the printers out.
 * Within the LAN pool, listen.perClient.maxConnections still bounds each device.
 *
 * Reply: RFC 5321 3.8 allows 421 in place of the greeting; RFC 3463 4.7.0 as for the per-client
 * limit (client-limits.ts). A legacy client queues and tries again.
 */
import { inboundReply } from '../core/inbound-replies.js';
import { isLoopbackClient } from './client-policy.js';

export interface SlotLimits {
  readonly loopback: number;
  readonly lan: number;
}

type Pool = keyof SlotLimits;

export class ConnectionSlots {
  private readonly open: Record<Pool, number> = { loopback: 0, lan: 0 };

  constructor(private readonly limits: SlotLimits) {}

  /** smtp-server's maxClients: room for both pools. */
  get total(): number {
    return this.limits.loopback + this.limits.lan;
  }

  /** Takes a slot for `address`, or throws the 421 it should get. Every success needs one release(). */
  admit(address: string): void {
    const pool = poolOf(address);
    if (this.open[pool] >= this.limits[pool]) {
      const who = pool === 'loopback' ? 'programs on this machine' : 'LAN clients';
      throw inboundReply('connection-slots-full', this.limits[pool], who);
    }
    this.open[pool] += 1;
  }

  release(address: string): void {
    const pool = poolOf(address);
    this.open[pool] = Math.max(0, this.open[pool] - 1);
  }

  /** Slots in use (for tests and status). */
  inUse(pool: Pool): number {
    return this.open[pool];
  }
}

function poolOf(address: string): Pool {
  return isLoopbackClient(address) ? 'loopback' : 'lan';
}
