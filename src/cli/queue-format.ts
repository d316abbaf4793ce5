/** Text views of queue entries for people; `--json` gives the records themselves. */
import { conditionById } from '../core/conditions/index.js';
import type { RecordedReply } from '../core/queue-record.js';
import type { QueueEntry } from '../daemon/queue-commands.js';

export function formatQueueTable(entries: readonly QueueEntry[], folder: string, now: number): string {
  if (entries.length === 0) return folder === 'failed' ? 'No failed messages.\n' : 'The queue is empty.\n';
  const rows = entries.map((entry) => [
    entry.id,
    age(now - Date.parse(entry.receivedAt)),
    entry.account,
    entry.mailFrom,
    `${entry.recipients.filter((r) => r.status === 'pending').length}/${entry.recipients.length}`,
    String(entry.attempts),
    (lastReplyOf(entry)?.text ?? '').slice(0, 60),
    ...(folder === 'failed' ? [finalReason(entry)] : []),
  ]);
  const header = ['ID', 'AGE', 'ACCOUNT', 'FROM', 'PENDING', 'TRIES', 'LAST REPLY', ...(folder === 'failed' ? ['FINAL REASON'] : [])];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n${entries.length} message${entries.length === 1 ? '' : 's'}.\n`;
}

export function formatQueueEntry(entry: QueueEntry & { emlPath: string }): string {
  const recipients = entry.recipients.map((r) => `    ${r.address}  ${r.status}${r.lastReply ? `  (${replyLine(r.lastReply)})` : ''}`);
  const last = lastReplyOf(entry);
  return [
    `id:            ${entry.id} (${entry.folder})`,
    `kind:          ${entry.kind}`,
    `account:       ${entry.account}`,
    `from:          ${entry.mailFrom}`,
    `client:        ${entry.client.address}${entry.client.helo ? ` (${entry.client.helo})` : ''}`,
    `received:      ${entry.receivedAt}`,
    `size:          ${entry.size} bytes`,
    `attempts:      ${entry.attempts}`,
    // A failed message is never tried again by itself.
    ...(entry.folder === 'failed' ? [`final reason:  ${finalReason(entry)}`] : [`next attempt:  ${entry.nextAttemptAt}`]),
    `last reply:    ${last === undefined ? '-' : replyLine(last)}`,
    'recipients:',
    ...recipients,
    // The spool keeps the first record after the message in the same file (docs/architecture.md).
    `message file:  ${entry.emlPath} (its first ${entry.size} bytes)`,
    '',
  ].join('\n');
}

/** The message's last reply, or (a message refused at its first try) the first failed recipient's. */
function lastReplyOf(entry: QueueEntry): RecordedReply | undefined {
  return entry.lastReply ?? entry.recipients.find((r) => r.status === 'failed')?.lastReply;
}

/** The catalogue's sentence for why it failed (docs/exchange-replies.md). */
function finalReason(entry: QueueEntry): string {
  const reply = entry.recipients.find((r) => r.status === 'failed')?.lastReply;
  return conditionById(reply?.condition)?.meaning ?? (reply === undefined ? '-' : reply.text.slice(0, 60));
}

/** "550 5.7.60 ..." once, never "550 550 5.7.60". */
function replyLine(reply: RecordedReply): string {
  return reply.code === undefined || reply.text.startsWith(String(reply.code)) ? reply.text : `${reply.code} ${reply.text}`;
}

function age(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}
