/** Public face of delivery, for the daemon (the composition root). */
export { DeliveryScheduler } from './scheduler.js';
export type { AccountSnapshot, AccountState, DeliveryObserver, DeliverySchedulerOptions, DeliverySnapshot, RetryPlan } from './scheduler.js';
export type { DeliveryStore, EnqueueFields } from './delivery-store.js';
export type { MessageSender, RejectedRecipient, SendOptions, SendResult, UpstreamReply } from './message-sender.js';
export { UpstreamTransport } from './upstream-transport.js';
export { upstreamTlsOptions } from './upstream-tls.js';
export type { UpstreamTransportOptions } from './upstream-transport.js';
export { classifyReply, recordedCondition } from './reply-classification.js';
export type { Classification, DeliveryAction, UpstreamOutcome } from './reply-classification.js';
export { RetrySchedule, pauseIntervals, type PauseIntervals } from './retry-schedule.js';
export { AcceptancePacer, PacingFile } from './pacing.js';
export { ACCOUNT_EVENTS, STATE_TEXT, TRANSITIONS, transition } from './account-states.js';
export { composeDsn, readHeaderBlock } from './dsn.js';
export { FallbackSender, GraphSender } from './graph/index.js';
export type { GraphSenderOptions } from './graph/index.js';
