/**
 * MSAL (`@azure/msal-node` with msal-common, jsonwebtoken and semver: about 190 modules and
 * 8-12 MiB) loaded the first time an account needs a token or a sign-in, not when the relay
 * starts: `serve` with a queue to accept and nothing to deliver yet never needs it, nor do most
 * CLI commands. docs/performance.md ("Memory") has the figures.
 *
 * The classes here keep the synchronous construction and the method names of MSAL's own that
 * the providers use, so a provider is still made synchronously; the MSAL application behind one
 * is built on its first request. `AuthError` and `InteractionRequiredAuthError` answer
 * `instanceof` against MSAL's classes once MSAL is loaded (before that, no MSAL error can
 * exist). The dynamic import loads the same ESM build a static import would, so these are the
 * very classes MSAL throws.
 */
import type * as Msal from '@azure/msal-node';

type MsalModule = typeof Msal;

let loading: Promise<MsalModule> | undefined;
let loaded: MsalModule | undefined;

/** MSAL itself, imported once on first use. */
export function loadMsal(): Promise<MsalModule> {
  loading ??= import('@azure/msal-node').then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** `instanceof` against an MSAL error class, false while MSAL is not loaded. */
function msalErrorCheck<T>(pick: (module: MsalModule) => abstract new (...args: never[]) => T) {
  return {
    [Symbol.hasInstance](value: unknown): value is T {
      return loaded !== undefined && value instanceof pick(loaded);
    },
  };
}

export const AuthError = msalErrorCheck<Msal.AuthError>((module) => module.AuthError);
export const InteractionRequiredAuthError = msalErrorCheck<Msal.InteractionRequiredAuthError>((module) => module.InteractionRequiredAuthError);
export const ServerError = msalErrorCheck<Msal.ServerError>((module) => module.ServerError);

/** The part of MSAL's TokenCache the providers use, resolved once the application is built. */
export interface LazyTokenCache {
  getAllAccounts(): Promise<Msal.AccountInfo[]>;
  removeAccount(account: Msal.AccountInfo): Promise<void>;
}

/** A public client (delegated sign-in) whose MSAL application is built on its first request. */
export class PublicClientApplication {
  private app: Promise<Msal.PublicClientApplication> | undefined;

  constructor(private readonly configuration: Msal.Configuration) {}

  async acquireTokenSilent(request: Msal.SilentFlowRequest): Promise<Msal.AuthenticationResult> {
    return (await this.built()).acquireTokenSilent(request);
  }

  async acquireTokenInteractive(request: Msal.InteractiveRequest): Promise<Msal.AuthenticationResult> {
    return (await this.built()).acquireTokenInteractive(request);
  }

  async acquireTokenByDeviceCode(request: Msal.DeviceCodeRequest): Promise<Msal.AuthenticationResult | null> {
    return (await this.built()).acquireTokenByDeviceCode(request);
  }

  async getAuthCodeUrl(request: Msal.AuthorizationUrlRequest): Promise<string> {
    return (await this.built()).getAuthCodeUrl(request);
  }

  async acquireTokenByCode(request: Msal.AuthorizationCodeRequest): Promise<Msal.AuthenticationResult> {
    return (await this.built()).acquireTokenByCode(request);
  }

  getTokenCache(): LazyTokenCache {
    return {
      getAllAccounts: async () => (await this.built()).getTokenCache().getAllAccounts(),
      removeAccount: async (account) => (await this.built()).getTokenCache().removeAccount(account),
    };
  }

  private built(): Promise<Msal.PublicClientApplication> {
    // A failed build is not kept: the next request tries again, as a failed constructor would.
    this.app ??= loadMsal().then((msal) => new msal.PublicClientApplication(this.configuration)).catch((error: unknown) => {
      this.app = undefined;
      throw error;
    });
    return this.app;
  }
}

/** A confidential client (app-only tokens) whose MSAL application is built on its first request. */
export class ConfidentialClientApplication {
  private app: Promise<Msal.ConfidentialClientApplication> | undefined;

  constructor(private readonly configuration: Msal.Configuration) {}

  async acquireTokenByClientCredential(request: Msal.ClientCredentialRequest): Promise<Msal.AuthenticationResult | null> {
    this.app ??= loadMsal().then((msal) => new msal.ConfidentialClientApplication(this.configuration)).catch((error: unknown) => {
      this.app = undefined;
      throw error;
    });
    return (await this.app).acquireTokenByClientCredential(request);
  }
}
