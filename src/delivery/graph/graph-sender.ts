/**
 * The scheduler's MessageSender for an account with upstream "graph": one spooled message to its
 * pending recipients through Microsoft Graph, in one of three ways:
 *  - up to graph.mimeMaxBytes (~3 MB, so base64 stays under the 4 MB request limit): the MIME as
 *    it is, in one sendMail request (only To/Cc/Bcc rewritten when the envelope differs);
 *  - the same size with saveToSentItems false: one JSON sendMail (MIME sendMail always keeps a copy);
 *  - larger: a draft with upload sessions (draft-send.ts).
 * Graph answers become SendResults through the catalogue's Graph rows (src/core/conditions/graph-conditions.ts). Graph has
 * no per-recipient answer: a message is accepted or refused as a whole.
 */
import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../../core/clock.js';
import type { AccountConfig, Config } from '../../core/config.js';
import { readMessage, type MessageFile } from '../../core/message-file.js';
import type { QueueRecord } from '../../core/queue-record.js';
import { SignInRequiredError, type TokenProvider } from '../../core/token.js';
import { classify } from '../../core/conditions/index.js';
import type { MessageSender, SendOptions, SendResult } from '../message-sender.js';
import { GraphHttp, GraphRequestError } from './graph-http.js';
import { GraphMailbox } from './graph-mailbox.js';
import { planRecipients } from './graph-recipients.js';
import { sendAsDraft, sendAsJson } from './draft-send.js';
import { recipientsInHeader, withRecipients } from './mime-recipients.js';
import { UploadBudget } from './upload-budget.js';

export interface GraphSenderOptions {
  readonly graph: Config['graph'];
  readonly account: AccountConfig;
  /** A provider whose tokens are for Graph (scope https://graph.microsoft.com/...). */
  readonly tokens: TokenProvider;
  /** Where a record's message is (the spool's messageFile): only its first `size` bytes are sent. */
  readonly messageFile: (record: QueueRecord) => MessageFile;
  /** Added to the response text, e.g. why this account uses Graph (a fallback). */
  readonly note?: string;
  readonly clock?: Clock;
  /** Outlook's 150 MB in 5 minutes per mailbox by default; smaller in tests. */
  readonly uploadBudget?: UploadBudget;
}

type Route = 'sendMail (MIME)' | 'sendMail (JSON)' | 'draft with upload sessions';

/** A token error, told apart from Graph's own answers. */
class TokenFailure extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

export class GraphSender implements MessageSender {
  private readonly http: GraphHttp;
  private readonly clock: Clock;
  private readonly budget: UploadBudget;

  constructor(private readonly options: GraphSenderOptions) {
    const { graph } = options;
    this.clock = options.clock ?? systemClock;
    this.budget = options.uploadBudget ?? new UploadBudget();
    this.http = new GraphHttp({
      extraCaPem: graph.caFile === undefined ? undefined : readFileSync(graph.caFile, 'utf8'),
      timeoutMs: graph.requestTimeoutSeconds * 1000,
      onBodySent: (bytes) => this.budget.record(bytes, this.clock.now()),
    });
  }

  async send(record: QueueRecord, recipients: string[], options: SendOptions = {}): Promise<SendResult> {
    const file = this.options.messageFile(record);
    let forceRefresh = options.forceTokenRefresh === true;
    const mailbox = new GraphMailbox({
      http: this.http,
      baseUrl: this.options.graph.baseUrl,
      mailbox: this.options.account.mailbox,
      token: async () => {
        try {
          const token = await this.options.tokens.getToken({ forceRefresh });
          forceRefresh = false;
          return token.token;
        } catch (error) {
          throw new TokenFailure(error);
        }
      },
    });
    try {
      const route = await this.deliver(mailbox, file, recipients);
      const note = this.options.note === undefined ? '' : `; ${this.options.note}`;
      return { kind: 'sent', response: `202 2.0.0 Accepted by Microsoft Graph (${route}${note})`, accepted: recipients, rejected: [] };
    } catch (error) {
      return describeFailure(error);
    }
  }

  close(): void {
    this.http.close();
  }

  private async deliver(mailbox: GraphMailbox, file: MessageFile, recipients: readonly string[]): Promise<Route> {
    const { graph, account } = this.options;
    const { size } = file;
    this.checkBudget(size);
    if (size > graph.mimeMaxBytes) {
      await sendAsDraft({ mailbox, file, recipients, chunkBytes: graph.uploadChunkBytes });
      return 'draft with upload sessions';
    }
    if (!account.saveToSentItems) {
      await sendAsJson({ mailbox, file, recipients }, false);
      return 'sendMail (JSON)';
    }
    const raw = await readMessage(file);
    const plan = planRecipients(recipientsInHeader(raw), recipients);
    await mailbox.sendMime(plan.changed ? withRecipients(raw, plan) : raw);
    return 'sendMail (MIME)';
  }

  /**
   * Starts a message only when its upload fits the mailbox's budget: MIME goes base64 (4/3 of the
   * file); a draft carries the decoded parts, less than the file.
   */
  private checkBudget(size: number): void {
    const estimate = size > this.options.graph.mimeMaxBytes ? size : Math.ceil((size * 4) / 3);
    const waitMs = this.budget.msUntilRoom(estimate, this.clock.now());
    if (waitMs <= 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    throw new GraphRequestError(`upload budget of ${this.options.account.mailbox} used up (150 MB in 5 minutes); room again in ${seconds} s`, undefined, 'UploadBudgetUsedUp', seconds);
  }
}

function describeFailure(error: unknown): SendResult {
  if (error instanceof TokenFailure) {
    if (error.original instanceof SignInRequiredError) return { kind: 'sign-in-required', reason: error.original.message };
    return { kind: 'token-unavailable', reason: error.message };
  }
  if (error instanceof GraphRequestError) {
    const observation = { origin: 'graph' as const, text: error.message, httpStatus: error.status, graphCode: error.code, errorCodes: error.code === undefined ? [] : [error.code] };
    // The catalogue's Graph rows always carry the SMTP reply they stand for (records and DSNs show it).
    const [code, enhanced] = classify(observation).smtpEquivalent ?? [451, '4.4.0'];
    return {
      kind: 'failed',
      reply: {
        origin: 'graph',
        code,
        text: `${code} ${enhanced} Microsoft Graph ${error.message}`,
        // An HTTP answer other than 401/403 means the token was accepted (nodemailer's
        // EMESSAGE: "answered after AUTH"), which lifts a hold; a network error has no status.
        errorCode: error.status === undefined ? (error.code ?? 'ECONNECTION') : error.status === 401 || error.status === 403 ? 'EAUTH' : 'EMESSAGE',
        httpStatus: error.status,
        graphCode: error.code,
        retryAfterSeconds: error.retryAfterSeconds,
      },
    };
  }
  // Reading or parsing the spooled file failed: retry on the schedule (never bounce for our own fault).
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'failed', reply: { origin: 'graph', text: `Microsoft Graph delivery step failed: ${message}`, errorCode: 'EPROTOCOL' } };
}
