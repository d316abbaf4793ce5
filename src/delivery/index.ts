/** Public face of delivery, for the daemon (the composition root). */
export { DeliveryScheduler } from './scheduler.js';
export type { AccountSnapshot, AccountState, DeliveryObserver, DeliverySchedulerOptions, DeliverySnapshot } from './scheduler.js';
export type { DeliveryStore, EnqueueFields } from './delivery-store.js';
export type { MessageSender, RejectedRecipient, SendOptions, SendResult, UpstreamReply } from './message-sender.js';
export { UpstreamTransport } from './upstream-transport.js';
export { upstreamTlsOptions } from './upstream-tls.js';
export type { UpstreamTransportOptions } from './upstream-transport.js';
export { classifyReply, REPLY_RULES } from './reply-classification.js';
export type { Classification, DeliveryAction, ReplyRule, UpstreamOutcome } from './reply-classification.js';
export { RetrySchedule } from './retry-schedule.js';
export { SlidingWindowRateLimiter } from './rate-limiter.js';
export { composeDsn, readHeaderBlock } from './dsn.js';
export { FallbackSender, GraphSender, GRAPH_CONDITIONS } from './graph/index.js';
export type { GraphCondition, GraphSenderOptions } from './graph/index.js';
