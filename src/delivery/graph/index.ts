/** Delivery through Microsoft Graph (docs/graph.md): what the daemon and the catalogue import. */
export { GraphSender, type GraphSenderOptions } from './graph-sender.js';
export { FallbackSender, type FallbackSenderOptions } from './fallback-sender.js';
export { MAX_CONCURRENT_REQUESTS } from './graph-http.js';
