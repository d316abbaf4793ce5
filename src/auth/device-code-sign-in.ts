/**
 * The device code flow (RFC 8628) for a server without a browser: MSAL polls the token endpoint
 * while a person enters the code on another device.
 * Microsoft: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
 */
import type { AuthenticationResult, DeviceCodeRequest } from '@azure/msal-node';
import type { PublicClientApplication } from './lazy-msal.js';
import type { Logger } from '../core/logger.js';
import { SignInCancelledError } from './loopback-sign-in.js';

export interface DeviceCodeSignInOptions {
  readonly app: PublicClientApplication;
  readonly scopes: readonly string[];
  /** Shows the code and the address to the person. */
  readonly showCode: (code: { userCode: string; verificationUri: string; message: string }) => Promise<void> | void;
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
}

export async function signInWithDeviceCode(options: DeviceCodeSignInOptions): Promise<AuthenticationResult | null> {
  options.signal?.throwIfAborted();
  const request: DeviceCodeRequest = {
    scopes: [...options.scopes],
    deviceCodeCallback: (response) => {
      void Promise.resolve(
        options.showCode({ userCode: response.userCode, verificationUri: response.verificationUri, message: response.message }),
      ).catch((error: unknown) => options.logger.warn({ err: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'showing the device code failed'));
    },
  };
  // MSAL checks `cancel` between polls and then ends with device_code_polling_cancelled.
  const cancel = (): void => {
    request.cancel = true;
  };
  options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await options.app.acquireTokenByDeviceCode(request);
  } catch (error) {
    if (options.signal?.aborted !== true) throw error;
    options.logger.warn('sign-in cancelled: the device code is no longer polled');
    throw new SignInCancelledError('The sign-in was cancelled; the device code is no longer polled.');
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
}
