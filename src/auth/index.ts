/** Sign-in for the relay's accounts: what the daemon imports from src/auth. */
export { createTokenProvider, type ClosableTokenProvider, type TokenProviderOptions } from './create-token-provider.js';
export { ClientCredentialsTokenProvider, MissingClientSecretError, REFRESH_BEFORE_EXPIRY_MS } from './client-credentials-provider.js';
export { HttpsNetworkClient, type HttpsNetworkClientOptions } from './https-network-client.js';
export { classifyTokenError, findAadstsCode, PERSON_MUST_ACT_AADSTS } from './entra-errors.js';
