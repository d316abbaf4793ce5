/** Sign-in for the relay's accounts: what the daemon imports from src/auth. */
export { createTokenProvider, type ClosableTokenProvider, type TokenProviderOptions } from './create-token-provider.js';
export {
  DelegatedTokenProvider,
  type DelegatedTokenProviderOptions,
  type LoginOptions,
  type LoginPrompt,
  type LoginResult,
} from './delegated-token-provider.js';
export { LoginFailedError, loginFailure, type LoginFailureEvidence } from './login-failure.js';
export { SIGN_IN_CANCELLED_EXIT, SignInCancelledError } from './loopback-sign-in.js';
export { KEEP_ALIVE_RETRY_DELAYS_MS, KeepAlive, type KeepAliveOptions, type KeepAliveOutcome, type KeepAlivePhase, type KeepAliveTarget } from './keep-alive.js';
export {
  defaultSignInState,
  listSignInStates,
  readSignInState,
  readSignInStateSync,
  SignInStateCorruptError,
  signInStatePath,
  writeSignInState,
  type SignInAccountRef,
} from './sign-in-state-store.js';
export { TokenReuse, type TokenReuseOptions } from './token-reuse.js';
export type { TokenRequestObserver, TokenRequestOutcome } from './token-request-observer.js';
export { ClientCredentialsTokenProvider, MissingClientSecretError, REFRESH_BEFORE_EXPIRY_MS } from './client-credentials-provider.js';
export { HttpsNetworkClient, type HttpsNetworkClientOptions } from './https-network-client.js';
export { classifyTokenError, findAadstsCode, personMustActFor } from './entra-errors.js';
export { KEY_BYTES, type KeyStore } from './key-store.js';
export { explainKeychainError, KEYCHAIN_SERVICE, keychainAdvice, keychainEntryName, KeychainKeyStore, KeychainUnavailableError, probeKeychain } from './keychain.js';
export { FileKeyStore } from './file-key-store.js';
export { keyFor, keyStoreWarning, openKeyStore, type KeyStoreChoice, type KeyStoreSettings } from './open-key-store.js';
export { seal, SealedFile, SealedFileCorruptError, unseal, UnsealError, type SealedFileOptions } from './sealed-file.js';
export { createTokenCachePlugin, SealedTokenCachePlugin, TokenCacheCorruptError, tokenCacheKeyName, tokenCachePath, type TokenCachePluginOptions } from './token-cache-plugin.js';
export {
  clientSecretPath,
  ClientSecretCorruptError,
  ClientSecretNotStoredError,
  deleteClientSecret,
  loadClientSecret,
  storeClientSecret,
  storedClientSecretSource,
} from './secret-store.js';
export { EmptySecretError, readSecret, type ReadSecretOptions } from './read-secret.js';
export { ClientCertificateError, describeCredential, msalClientCertificate, readClientCertificate, readPrivateKeyFile, type MsalClientCertificate } from './client-certificate.js';
