/** The one catalogue of conditions (docs/exchange-replies.md), read by delivery, health and auth. */
export { aadstsCodeOf, classify, conditionById, CONDITIONS, enhancedCodeOf, EXPIRED_STATUS } from './catalogue.js';
export { fixFor, type FixContext } from './fix-text.js';
export { CERTIFICATE_ERRORS, NETWORK_ERRORS } from './transport-conditions.js';
export { PERSON_MUST_ACT_OAUTH_ERRORS } from './entra-conditions.js';
export { SOURCES } from './sources.js';
export type { Condition, ConditionAction, ConditionEvent, ConditionMatch, ConditionOrigin, FixText, Observation, SignInMethod } from './types.js';
