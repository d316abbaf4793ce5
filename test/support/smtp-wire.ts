/**
 * A raw SMTP client over a real TCP socket, for tests that need exact bytes on the wire
 * (dot-stuffing, bare commands, dropping the connection mid-DATA, single replies, connections
 * held open) and for the demo. STARTTLS (RFC 3207) and AUTH XOAUTH2 for talking to the mock
 * Exchange. It waits on socket events only, never on timers, so it also works under fake timers.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export interface Reply {
  readonly code: number;
  /** Text of every line without the code and separator. */
  readonly lines: readonly string[];
  /** The last line as received, e.g. "250 2.0.0 queued as abc". */
  readonly last: string;
  /** Every line as received, joined with "\n" (RFC 5321 section 4.2: "250-..." continues, "250 ..." ends). */
  readonly text: string;
}

export class SmtpWire {
  private socket: Socket;
  private buffer = '';
  private readonly replies: Reply[] = [];
  private waiting: Array<(reply: Reply | undefined) => void> = [];
  private pending: string[] = [];
  private ended = false;
  private closedResolve: () => void = () => undefined;
  readonly closed: Promise<void>;
  private readonly onData = (data: string): void => this.receive(data);
  private readonly onClose = (): void => {
    this.ended = true;
    this.closedResolve();
    for (const wake of this.waiting.splice(0)) wake(undefined);
  };

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => (this.closedResolve = resolve));
    this.attach(socket);
  }

  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<SmtpWire> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) });
      socket.once('connect', () => resolve(new SmtpWire(socket)));
      socket.once('error', reject);
    });
  }

  /** Whether any byte has arrived (the greeting tests use this). */
  get received(): boolean {
    return this.buffer.length > 0 || this.replies.length > 0 || this.pending.length > 0;
  }

  /** The next reply; rejects if the server closes the connection first. */
  async reply(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready !== undefined) return ready;
    if (this.ended) throw new Error('connection closed before a reply');
    const reply = await new Promise<Reply | undefined>((resolve) => this.waiting.push(resolve));
    if (reply === undefined) throw new Error('connection closed before a reply');
    return reply;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes the last bytes and half-closes (FIN) once they are sent: a client that goes away. */
  end(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.end(data, () => resolve()));
  }

  /** Sends one command line and returns its reply. */
  async command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Greeting, EHLO, MAIL, RCPT... up to the 354 of DATA; throws on an unexpected reply. */
  async startData(from: string, recipients: readonly string[], mailParams = ''): Promise<void> {
    await this.expect(this.reply(), 220);
    await this.expect(this.command('EHLO client.example'), 250);
    await this.startDataAfterEhlo(from, recipients, mailParams);
  }

  /** MAIL, RCPT... up to the 354 of DATA, in a session that has said EHLO. */
  async startDataAfterEhlo(from: string, recipients: readonly string[], mailParams = ''): Promise<void> {
    await this.expect(this.command(`MAIL FROM:<${from}>${mailParams}`), 250);
    for (const rcpt of recipients) await this.expect(this.command(`RCPT TO:<${rcpt}>`), 250);
    await this.expect(this.command('DATA'), 354);
  }

  /**
   * After the greeting: EHLO, STARTTLS, a TLS handshake verified against `caPem`, EHLO again;
   * returns the EHLO reply given over TLS.
   */
  async secure(caPem: string, servername = 'localhost'): Promise<Reply> {
    await this.expect(this.command('EHLO client.test'), 250);
    await this.expect(this.command('STARTTLS'), 220);
    const plain = this.socket;
    this.detach(plain);
    const secured = connectTls({ socket: plain, ca: caPem, servername, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    await new Promise<void>((resolve, reject) => secured.once('secureConnect', resolve).once('error', reject));
    this.socket = secured;
    this.attach(secured);
    return this.command('EHLO client.test');
  }

  /** AUTH XOAUTH2 with the initial response: the SASL string of docs/microsoft-365.md. */
  authXoauth2(user: string, token: string): Promise<Reply> {
    const sasl = Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    return this.command(`AUTH XOAUTH2 ${sasl}`);
  }

  async expect(reply: Promise<Reply>, code: number): Promise<Reply> {
    const got = await reply;
    if (got.code !== code) throw new Error(`expected ${code}, got "${got.last}"`);
    return got;
  }

  close(): void {
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    socket.once('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
  }

  private receive(data: string): void {
    this.buffer += data;
    let newline = this.buffer.indexOf('\r\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 2);
      this.pending.push(line);
      if (line.charAt(3) !== '-') this.finishReply();
      newline = this.buffer.indexOf('\r\n');
    }
  }

  private finishReply(): void {
    const lines = this.pending.splice(0);
    const last = lines[lines.length - 1] ?? '';
    const reply: Reply = { code: Number(last.slice(0, 3)), lines: lines.map((line) => line.slice(4)), last, text: lines.join('\n') };
    const wake = this.waiting.shift();
    if (wake === undefined) this.replies.push(reply);
    else wake(reply);
  }
}
