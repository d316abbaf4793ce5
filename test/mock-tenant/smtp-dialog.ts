/**
 * A bare SMTP client for tests that need to see single replies or hold connections open
 * (nodemailer hides both): send a line, get the complete reply (RFC 5321 section 4.2,
 * multi-line replies joined with "\n"), upgrade with STARTTLS (RFC 3207), AUTH XOAUTH2.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export interface SmtpReplyLines {
  readonly code: number;
  /** All lines of the reply, joined with "\n". */
  readonly text: string;
}

export class SmtpDialog {
  private socket: Socket;
  private buffer = '';
  private lines: string[] = [];
  private waiting: ((reply: SmtpReplyLines | Error) => void) | undefined;
  private readonly replies: (SmtpReplyLines | Error)[] = [];
  private readonly onData = (chunk: Buffer): void => this.receive(chunk.toString('latin1'));
  private readonly onEnd = (): void => this.deliver(new Error('connection closed by the server'));

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects and returns the dialog and the greeting. */
  static async open(port: number, host = '127.0.0.1'): Promise<{ dialog: SmtpDialog; greeting: SmtpReplyLines }> {
    const socket = connectTcp(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const dialog = new SmtpDialog(socket);
    return { dialog, greeting: await dialog.next() };
  }

  async command(line: string): Promise<SmtpReplyLines> {
    this.socket.write(`${line}\r\n`);
    return this.next();
  }

  /** EHLO, STARTTLS, TLS handshake verified against `caPem`, EHLO again; returns the last EHLO reply. */
  async secure(caPem: string, servername = 'localhost'): Promise<SmtpReplyLines> {
    await this.command('EHLO client.test');
    const ready = await this.command('STARTTLS');
    if (ready.code !== 220) throw new Error(`STARTTLS refused: ${ready.text}`);
    const plain = this.socket;
    this.detach(plain);
    const secured = connectTls({ socket: plain, ca: caPem, servername, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    await new Promise<void>((resolve, reject) => secured.once('secureConnect', resolve).once('error', reject));
    this.socket = secured;
    this.attach(secured);
    return this.command('EHLO client.test');
  }

  /** AUTH XOAUTH2 with the initial response (the SASL string of M365.md). */
  authXoauth2(user: string, token: string): Promise<SmtpReplyLines> {
    const sasl = Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    return this.command(`AUTH XOAUTH2 ${sasl}`);
  }

  /** Resolves when the server has closed the connection. */
  closed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', (error) => this.deliver(error));
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
  }

  private next(): Promise<SmtpReplyLines> {
    const ready = this.replies.shift();
    if (ready !== undefined) return ready instanceof Error ? Promise.reject(ready) : Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.waiting = (reply) => (reply instanceof Error ? reject(reply) : resolve(reply));
    });
  }

  private receive(text: string): void {
    this.buffer += text;
    let end = this.buffer.indexOf('\r\n');
    while (end >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.lines.push(line);
      // "250-..." continues a reply, "250 ..." ends it.
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
        this.lines = [];
        this.deliver(reply);
      }
      end = this.buffer.indexOf('\r\n');
    }
  }

  private deliver(reply: SmtpReplyLines | Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) waiting(reply);
    else this.replies.push(reply);
  }
}
