/**
 * `graphFallback: true`: the account sends through SMTP AUTH until Exchange answers 535 5.7.139
 * (SMTP AUTH disabled for the tenant or mailbox, https://aka.ms/smtp_auth_disabled); from then on,
 * until the relay restarts, it sends through Microsoft Graph instead, starting with the message
 * that was refused. The switch is logged and reported (status shows it as a standing warning).
 */
import type { QueueRecord } from '../../core/queue-record.js';
import type { MessageSender, SendOptions, SendResult } from '../message-sender.js';
import { classifyReply } from '../reply-classification.js';

/** The row of the SMTP table that means "SMTP AUTH is disabled". */
const SMTP_AUTH_DISABLED_RULE = 'smtp-auth-disabled';

export interface FallbackSenderOptions {
  readonly smtp: MessageSender;
  /** Built at the first fallback. */
  readonly graph: () => MessageSender;
  /** Told once, with Exchange's reply, when the account moves to Graph. */
  readonly onFallback: (reply: string) => void;
}

export class FallbackSender implements MessageSender {
  private graph: MessageSender | undefined;

  constructor(private readonly options: FallbackSenderOptions) {}

  async send(record: QueueRecord, recipients: string[], options: SendOptions = {}): Promise<SendResult> {
    if (this.graph !== undefined) return this.graph.send(record, recipients, options);
    const result = await this.options.smtp.send(record, recipients, options);
    if (result.kind !== 'failed' || classifyReply(result.reply).rule !== SMTP_AUTH_DISABLED_RULE) return result;
    this.graph = this.options.graph();
    this.options.onFallback(result.reply.text);
    // SMTP is of no use any more: release its pooled connections.
    this.options.smtp.close();
    return this.graph.send(record, recipients, {});
  }

  close(): void {
    this.options.smtp.close();
    this.graph?.close();
  }
}
