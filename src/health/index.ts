/** Warnings before a sign-in or a client secret lapses: what the daemon wires. */
export { AlertLedger, RETENTION_DAYS } from './alert-ledger.js';
export {
  AlertMonitor,
  CHECK_INTERVAL_MS,
  type AlertMonitorOptions,
  type CheckResult,
  type OutgoingNotice,
  type SentWarnings,
} from './alert-monitor.js';
export {
  crossedThreshold,
  dueWarnings,
  warningKey,
  type DueWarningsInput,
  type ExpiryWarning,
  type WarnedAccount,
  type WarningKind,
  type WarningLevel,
} from './expiry-warnings.js';
export { composeNotice, NOTICE_SENDER_NAME, NOTICE_SUBJECT_PREFIX, type NoticeContent } from './notice-message.js';
export {
  LATENCY_BUCKETS_SECONDS,
  queueDepthRows,
  RelayMetrics,
  type DeliveryObserver,
  type QueueDepthRow,
  type QueueDepthState,
  type RelayMetricsOptions,
  type TokenRequestOutcome,
} from './metrics.js';
export {
  createOsLog,
  EVENT_IDS,
  EVENT_SOURCE,
  JournalLog,
  noOsLog,
  PriorityLineLog,
  SERVICE_HOST_ENV,
  type OsLog,
  type OsLogLevel,
} from './os-log.js';
export { STUCK_CHECK_INTERVAL_MS, StuckQueueWatch, type StuckQueueWatchOptions, type WatchedRecord } from './stuck-queue-watch.js';
export { configFileWarnings, environmentWarnings, fileModeWarnings, inlineSecretWarnings, type ConfigForWarnings } from './standing-warnings.js';
