/** The queue part: durable spool, start-up recovery and the queue admin commands. */
export { Spool, type SpooledDraft, type SpoolOptions, type NewRecordFields, type RecoveryReport } from './spool.js';
export {
  listQueue,
  findMessage,
  retryMessage,
  deleteMessage,
  MessageNotFoundError,
  type QueueFolder,
  type FoundMessage,
} from './queue-admin.js';
export { InvalidRecordError } from './record-file.js';
export { MessageSourceError } from './message-file.js';
export { newQueueId, isSafeQueueId } from './queue-id.js';
export { appendAudit, auditLogPath, type AuditEntry } from './queue-audit.js';
