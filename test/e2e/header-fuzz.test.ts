/**
 * A seeded fuzz of header blocks mixing CR, LF, NUL, folding and hostile sender fields
 * (docs/message-integrity.md). For every message the relay takes, the From, Sender and
 * Resent-From that Exchange would read from the exact bytes the upstream receives must be
 * allowed addresses (test/inbound/strict-reader.ts is the independent reader).
 *
 * The bulk (HEADER_FUZZ_COUNT, 12,000 by default) drives the intake's header path directly:
 * the HeaderRewriter with the relay's own rewrites, the sender check, and then nodemailer's
 * real DataStream, which is what turns the spooled file into the bytes Exchange receives. A few
 * hundred (HEADER_FUZZ_RELAY, 300) go through the real relay process to the mock tenant, and
 * the relay's answer must agree with the direct one for each of them.
 *
 * Reproduce a run with HEADER_FUZZ_SEED=<seed> (printed at the start).
 */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpReplyError } from '../../src/core/errors.js';
import { composeHeaderRewrites, HeaderRewriter, type HeaderRewrite } from '../../src/inbound/header-rewriter.js';
import { checkHeaderSenders } from '../../src/inbound/sender-policy.js';
import { rewriteSenderHeaders } from '../../src/inbound/sender-rewrite.js';
import { addMissingDateAndMessageId } from '../../src/inbound/submission-headers.js';
import { MOCK_MAILBOX, MOCK_SEND_AS } from '../mock-tenant/index.js';
import { forgeries } from '../inbound/strict-reader.js';
import { ManualClock } from '../support/manual-clock.js';
import { RelayProcess } from '../support/relay-process.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { FaultFixture, RECIPIENT } from './fault-fixture.js';
import { pick, prng } from '../support/seeded-random.js';

const SEED = Number(process.env.HEADER_FUZZ_SEED ?? Date.now() % 2 ** 31);
const COUNT = Number(process.env.HEADER_FUZZ_COUNT ?? 12_000);
const THROUGH_RELAY = Number(process.env.HEADER_FUZZ_RELAY ?? 300);
const ALLOWED = [MOCK_MAILBOX, MOCK_SEND_AS];


const CEO = 'ceo@contoso.example';
const FIELDS = [
  `From: ${MOCK_SEND_AS}`,
  `From: Sage 100 <${MOCK_SEND_AS}>`,
  `From: "Chief Executive" <${CEO}>`,
  `From: <${MOCK_SEND_AS}> <${CEO}>`,
  `From: ${MOCK_SEND_AS} ${CEO}`,
  `From: ${CEO}\\ <${MOCK_SEND_AS}>`,
  `From: ${MOCK_SEND_AS}, ${CEO}`,
  `From: "${MOCK_SEND_AS}" <${CEO}>`,
  `From: =?utf-8?q?ceo=40contoso.example?= <${MOCK_SEND_AS}>`,
  `FROM:${MOCK_MAILBOX.toUpperCase()}`,
  `from : ${CEO}`,
  `From:`,
  `Sender: ${CEO}`,
  `Sender: ${MOCK_MAILBOX}`,
  `Resent-From: ${CEO}`,
  `Resent-From: Sage <${MOCK_SEND_AS}>`,
  `Resent-Sender: <${CEO}>`,
  `Reply-To: ${CEO}`,
  `To: ${RECIPIENT}`,
  'Subject: invoice 42',
  'X-A: a',
  ` ${CEO}`,
  `\tFrom: ${CEO}`,
  'garbage without a colon',
] as const;
/** Mostly CRLF; the rest are the line breaks and bytes readers disagree about. */
const SEPARATORS = ['\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\n', '\n', '\r', '\r\r\n', '\n\r', '\r\n\r\n', '\0', ' ', '\r\n ', '\r\n\t', '\x0b', '\r\0\n', ''] as const;
const ENDINGS = ['\r\n\r\nbody\r\n', '\r\n\r\nbody\r\n', '\n\nbody\n', '\r\n', '\r\r\nbody\r\n', '\r\n\r\n.\r\nMAIL FROM:<x@y>\r\n'] as const;

/** Message n of the run, always ending in CRLF as the DATA content smtp-server hands over does. */
function fuzzMessage(n: number): { message: Buffer; rewrite: boolean; cuts: number[] } {
  const random = prng((SEED ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
  const fields = Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(random, FIELDS));
  // Most messages carry one allowed From somewhere, so that many are accepted and checked upstream.
  if (random() < 0.7) fields.splice(Math.floor(random() * (fields.length + 1)), 0, `From: ${MOCK_SEND_AS}`);
  let text = '';
  fields.forEach((field, index) => {
    text += field + (index === fields.length - 1 ? pick(random, ENDINGS) : pick(random, SEPARATORS));
  });
  if (!text.endsWith('\r\n')) text += '\r\n';
  // Chunk boundaries as a socket may cut: anywhere, also between a CR and its LF.
  const cuts = Array.from({ length: Math.floor(random() * 3) }, () => Math.floor(random() * text.length)).sort((a, b) => a - b);
  return { message: Buffer.from(text, 'latin1'), rewrite: random() < 0.2, cuts };
}

const clock = new ManualClock();
const stamps = addMissingDateAndMessageId('relay.test', clock);

/** The intake's header path, directly: what would be spooled, or the refusal. */
async function intake(message: Buffer, rewrite: boolean, cuts: readonly number[] = []): Promise<{ stored: Buffer } | { refused: string }> {
  const rewrites: HeaderRewrite[] = [stamps, ...(rewrite ? [rewriteSenderHeaders({ original: 'scan@printer.local', mailbox: MOCK_MAILBOX })] : [])];
  const headers = new HeaderRewriter(composeHeaderRewrites(...rewrites));
  try {
    const chunks = [0, ...cuts, message.length].slice(1).map((end, i, ends) => message.subarray(i === 0 ? 0 : (ends[i - 1] ?? 0), end));
    const stored = await buffer(Readable.from(chunks.filter((chunk) => chunk.length > 0)).pipe(headers));
    checkHeaderSenders(headers.emittedHeaderBlock, ALLOWED);
    return { stored };
  } catch (err) {
    if (err instanceof SmtpReplyError) return { refused: err.reply };
    throw err;
  }
}

/** What Exchange receives for a spooled file: nodemailer's DataStream, then the receiver's unstuffing. */
async function upstreamBytes(stored: Buffer): Promise<Buffer> {
  const wire = (await buffer(Readable.from([stored]).pipe(new DataStream()))).toString('latin1');
  const content = wire.slice(0, -'.\r\n'.length).replace(/(^|\r\n)\.\./g, '$1.');
  return Buffer.from(content, 'latin1');
}

describe(`header fuzz (HEADER_FUZZ_SEED=${SEED})`, () => {
  it('has a reader that sees what the relay before this fix let through (so the fuzz can fail)', async () => {
    // Spooled as they were before the line discipline: nodemailer then split them for Exchange.
    const oldSpool = [
      `X-A: a\rFrom: "Chief Executive" <${CEO}>\r\nFrom: ${MOCK_SEND_AS}\r\n\r\nbody\r\n`,
      // The header block ends early upstream: the checked From falls into the body.
      `X-B: b\r\r\nFrom: ${MOCK_SEND_AS}\r\n\r\nbody\r\n`,
      `From: <${MOCK_SEND_AS}> <${CEO}>\r\n\r\nbody\r\n`,
      `From: ${CEO}\\ <${MOCK_SEND_AS}>\r\n\r\nbody\r\n`,
      `From: ${MOCK_SEND_AS}\r\nSender: ${CEO}\r\n\r\nbody\r\n`,
    ];
    for (const stored of oldSpool) expect(forgeries(await upstreamBytes(Buffer.from(stored, 'latin1')), ALLOWED)).not.toEqual([]);
    expect(forgeries(await upstreamBytes(Buffer.from(`From: Sage <${MOCK_SEND_AS}>\r\n\r\nbody\r\n`)), ALLOWED)).toEqual([]);
  });

  it(`${COUNT} header blocks through the intake's header path: whatever is accepted reads as allowed senders upstream`, { timeout: 300_000 }, async () => {
    process.stdout.write(`header fuzz: HEADER_FUZZ_SEED=${SEED} HEADER_FUZZ_COUNT=${COUNT}\n`);
    let accepted = 0;
    const refusals = new Map<string, number>();
    const failures: string[] = [];
    for (let n = 0; n < COUNT; n++) {
      const { message, rewrite, cuts } = fuzzMessage(n);
      const outcome = await intake(message, rewrite, cuts);
      if ('refused' in outcome) {
        const reason = outcome.refused.replace(/<[^>]*>/g, '<...>').slice(0, 60);
        refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        continue;
      }
      accepted += 1;
      const found = forgeries(await upstreamBytes(outcome.stored), ALLOWED);
      if (found.length > 0 && failures.length < 5) failures.push(`#${n} ${JSON.stringify(message.toString('latin1'))}: ${found.join('; ')}`);
    }
    process.stdout.write(`header fuzz: ${accepted} of ${COUNT} accepted; refusals: ${JSON.stringify(Object.fromEntries(refusals))}\n`);
    expect(failures).toEqual([]);
    // The run means something only if both sides are well represented.
    if (COUNT >= 1000) {
      expect(accepted).toBeGreaterThan(COUNT / 20);
      expect(COUNT - accepted).toBeGreaterThan(COUNT / 20);
    }
  });
});

describe(`header fuzz through the real relay (HEADER_FUZZ_SEED=${SEED})`, () => {
  let fixture: FaultFixture;
  let relay: RelayProcess;

  beforeAll(async () => {
    fixture = await FaultFixture.create();
    const config = fixture.config();
    // No pacing: the fuzz sends hundreds of messages at once (Exchange's 30 a minute does not matter here).
    const accounts = config.accounts.map((account) => ({ ...account, rate: { messages: 100_000, perSeconds: 1 } }));
    relay = await RelayProcess.start({ config: { ...config, accounts }, dir: fixture.dir, env: { SMTP_OAUTH_RELAY_SECRET: fixture.tenant.clientSecret } });
  });

  afterAll(async () => {
    await relay?.kill('SIGKILL');
    await fixture?.close();
  });

  it(`${THROUGH_RELAY} of them through the relay to the mock tenant: the same answers, and nothing forged arrives`, { timeout: 300_000 }, async () => {
    const wire = await SmtpWire.open(relay.port);
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO fuzz.example'), 250);
    let accepted = 0;
    const disagreements: string[] = [];
    for (let n = 0; n < THROUGH_RELAY; n++) {
      // The relay has no rewrite rule for this client: compare with the direct path without one.
      const { message } = fuzzMessage(n);
      const direct = await intake(message, false);
      await wire.startDataAfterEhlo(MOCK_SEND_AS, [RECIPIENT]);
      // Dot-stuffing as smtp-server undoes it: a dot after any LF, or at the start, is doubled.
      wire.write(Buffer.concat([Buffer.from(message.toString('latin1').replace(/(^|\n)\./g, '$1..'), 'latin1'), Buffer.from('.\r\n')]));
      const reply = await wire.reply();
      const relayAccepted = reply.code === 250;
      if (relayAccepted) accepted += 1;
      if (relayAccepted !== 'stored' in direct && disagreements.length < 5) {
        disagreements.push(`#${n} relay "${reply.last}" direct ${JSON.stringify(direct).slice(0, 120)}`);
      }
    }
    wire.close();
    process.stdout.write(`header fuzz through the relay: ${accepted} of ${THROUGH_RELAY} accepted\n`);
    expect(disagreements).toEqual([]);
    if (THROUGH_RELAY >= 100) expect(accepted).toBeGreaterThan(THROUGH_RELAY / 100);
    const received = await fixture.tenant.upstream.waitForMessages(accepted, 120_000);
    expect(received).toHaveLength(accepted);
    const forged = received.flatMap((message) => forgeries(message.raw, ALLOWED).map((found) => `${message.id}: ${found}`));
    expect(forged).toEqual([]);
  });
});
