/**
 * Per-client limits (listen.perClient): how many connections one client address may hold at
 * once, and how many messages it may start in any minute. A looping script or a broken
 * printer on the LAN then slows down itself only, not every other program behind the relay,
 * and cannot run the account into Exchange's own throttling (30 messages a minute, docs/microsoft-365.md).
 *
 * Replies: RFC 5321 3.8 / 4.2.5 allow "421 ... closing transmission channel" in place of the
 * greeting; RFC 3463 4.7.0 (other security or policy status) for too many connections and
 * 4.7.1 (delivery not authorized) for the rate, as Postfix's anvil and Exchange do. Both are
 * temporary: a well-behaved client queues and retries.
 */
import type { Clock } from '../core/clock.js';
import { inboundReply } from '../core/inbound-replies.js';
import { isLoopbackClient, normalizeClientAddress } from './client-policy.js';

export interface PerClientLimits {
  readonly maxConnections: number;
  readonly messagesPerMinute: number;
  /**
   * Whether programs on this machine are limited too. Off by default: the local program is the
   * one the relay exists for, and Sage's Paperless Office sends batches of hundreds of messages
   * at once; the queue, not a 451, is what paces them for Exchange.
   */
  readonly includeLoopback?: boolean;
}

/** The sliding window of messagesPerMinute. */
const WINDOW_MS = 60_000;

export class ClientLimits {
  private readonly connections = new Map<string, number>();
  /** Per client, when each message in the current window started (oldest first). */
  private readonly messageTimes = new Map<string, number[]>();

  constructor(
    private readonly limits: PerClientLimits,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts a new connection from `address`, or throws the 421 it should get. Every
   * successful call must be matched by one `release`.
   */
  admitConnection(address: string): void {
    if (this.exempt(address)) return;
    const client = normalizeClientAddress(address);
    const open = this.connections.get(client) ?? 0;
    if (open >= this.limits.maxConnections) {
      throw inboundReply('client-too-many-connections', client);
    }
    this.connections.set(client, open + 1);
  }

  releaseConnection(address: string): void {
    if (this.exempt(address)) return;
    const client = normalizeClientAddress(address);
    const open = this.connections.get(client) ?? 0;
    if (open <= 1) this.connections.delete(client);
    else this.connections.set(client, open - 1);
  }

  /** Counts a message (MAIL FROM) from `address`, or throws the 451 it should get. */
  admitMessage(address: string): void {
    if (this.exempt(address)) return;
    const client = normalizeClientAddress(address);
    const now = this.clock.now();
    const recent = (this.messageTimes.get(client) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length >= this.limits.messagesPerMinute) {
      this.messageTimes.set(client, recent);
      throw inboundReply('client-too-many-messages', client);
    }
    recent.push(now);
    this.messageTimes.set(client, recent);
    this.forgetIdleClients(now);
  }

  /** Connections open now from `address` (for tests and status). */
  openConnections(address: string): number {
    return this.connections.get(normalizeClientAddress(address)) ?? 0;
  }

  /** Keeps the map from growing with every address ever seen (a LAN of printers, a scan). */
  private forgetIdleClients(now: number): void {
    if (this.messageTimes.size < 1024) return;
    for (const [client, times] of this.messageTimes) {
      if ((times[times.length - 1] ?? 0) <= now - WINDOW_MS) this.messageTimes.delete(client);
    }
  }

  private exempt(address: string): boolean {
    return this.limits.includeLoopback !== true && isLoopbackClient(address);
  }
}
