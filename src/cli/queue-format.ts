/** Text views of queue entries for people; `--json` gives the records themselves. */
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
    entry.lastReply?.text.slice(0, 60) ?? '',
  ]);
  const header = ['ID', 'AGE', 'ACCOUNT', 'FROM', 'PENDING', 'TRIES', 'LAST REPLY'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n${entries.length} message${entries.length === 1 ? '' : 's'}.\n`;
}

export function formatQueueEntry(entry: QueueEntry & { emlPath: string }): string {
  const recipients = entry.recipients.map((r) => `    ${r.address}  ${r.status}${r.lastReply ? `  (${r.lastReply.code ?? ''} ${r.lastReply.text})` : ''}`);
  return [
    `id:            ${entry.id} (${entry.folder})`,
    `kind:          ${entry.kind}`,
    `account:       ${entry.account}`,
    `from:          ${entry.mailFrom}`,
    `client:        ${entry.client.address}${entry.client.helo ? ` (${entry.client.helo})` : ''}`,
    `received:      ${entry.receivedAt}`,
    `size:          ${entry.size} bytes`,
    `attempts:      ${entry.attempts}`,
    `next attempt:  ${entry.nextAttemptAt}`,
    `last reply:    ${entry.lastReply ? `${entry.lastReply.code ?? ''} ${entry.lastReply.text}` : '-'}`,
    'recipients:',
    ...recipients,
    `message file:  ${entry.emlPath}`,
    '',
  ].join('\n');
}

function age(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}
