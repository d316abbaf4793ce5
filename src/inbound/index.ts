/** Inbound SMTP: the listener legacy programs talk to. */
export { startInbound } from './inbound-server.js';
export type { InboundOptions, InboundServer, MessageSink, NewRecordFields, SpooledDraft } from './types.js';
