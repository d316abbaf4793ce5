/**
 * The benchmark's SMTP client: raw node:net, one command at a time (no PIPELINING, as the
 * legacy programs we serve talk), replies parsed per RFC 5321 4.2.1 (a line "250-..." goes on,
 * "250 ..." ends the reply). Deliberately tiny so that what we time is the relay, not a client
 * library: no timers, no per-line allocations beyond the reply text.
 */
import { connect, type Socket } from 'node:net';

export interface Reply {
  readonly code: number;
  /** The reply's last line, e.g. "250 2.0.0 queued as abc". */
  readonly last: string;
}

export class BenchSmtpClient {
  private buffer = '';
  private readonly ready: Reply[] = [];
  private waiter: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the relay')));
  }

  /** Connects; the greeting is the first `reply()`. */
  static open(port: number, host = '127.0.0.1'): Promise<BenchSmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new BenchSmtpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  reply(): Promise<Reply> {
    const next = this.ready.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Sends one command line and returns its reply. */
  command(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Sends a message already dot-stuffed and ending in CRLF.CRLF; returns the reply to it. */
  sendData(data: Buffer): Promise<Reply> {
    this.socket.write(data);
    return this.reply();
  }

  /** The socket, for streaming a large message with backpressure. */
  get stream(): Socket {
    return this.socket;
  }

  /** QUIT, wait for 221, close. */
  async quit(): Promise<void> {
    await this.command('QUIT').catch(() => undefined);
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(text: string): void {
    this.buffer += text;
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) !== -1) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      // "250-" continues a multi-line reply; "250 " (or a bare code) ends it.
      if (line.charAt(3) === '-') continue;
      this.push({ code: Number(line.slice(0, 3)), last: line });
    }
  }

  private push(reply: Reply): void {
    const waiter = this.waiter;
    if (waiter === undefined) return void this.ready.push(reply);
    this.waiter = undefined;
    waiter.resolve(reply);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}

/** Throws unless the reply has the expected code: a benchmark that counts refusals is wrong. */
export function expectCode(reply: Reply, code: number, what: string): Reply {
  if (reply.code !== code) throw new Error(`${what}: expected ${code}, got "${reply.last}"`);
  return reply;
}
