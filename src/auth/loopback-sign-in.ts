/**
 * The authorization code flow with PKCE (RFC 7636, S256) and a loopback redirect on 127.0.0.1
 * (RFC 8252 section 7.3), as MSAL's acquireTokenInteractive runs it, but with a listener the
 * relay owns: MSAL's own cannot be stopped from outside, so a cancelled `login` (Ctrl+C, or the
 * control client gone) left its port open and a late redirect still redeemed the code.
 * Here a cancel closes the listener at once (the port refuses connections) and no code that
 * arrives afterwards is redeemed.
 * Microsoft: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
 * (form_post: the code travels in a POST body, never in a URL that a browser keeps in its history).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthenticationResult } from '@azure/msal-node';
import { loadMsal, type PublicClientApplication } from './lazy-msal.js';
import type { Logger } from '../core/logger.js';

/** 128 + SIGINT, what a shell reports for a command ended by Ctrl+C. */
export const SIGN_IN_CANCELLED_EXIT = 130;

/** Thrown when the person's side gave up (Ctrl+C, or the control client went away). */
export class SignInCancelledError extends Error {
  readonly exitCode = SIGN_IN_CANCELLED_EXIT;

  constructor(message = 'The sign-in was cancelled; the loopback listener is closed and no code will be redeemed.') {
    super(message);
    this.name = 'SignInCancelledError';
  }
}

export interface LoopbackSignInOptions {
  readonly app: PublicClientApplication;
  readonly scopes: readonly string[];
  /** Shows the URL (opens a browser or prints it); the listener waits for the redirect after that. */
  readonly showUrl: (url: string) => Promise<void> | void;
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
  readonly successPage: string;
  readonly errorPage: string;
}

/** What arrived at the redirect URI: code, state, client_info, or error and error_description. */
type RedirectFields = Readonly<Record<string, string>>;

/** A form_post body larger than this is not an authorization response. */
const MAX_BODY_BYTES = 64 * 1024;

export async function signInThroughLoopback(options: LoopbackSignInOptions): Promise<AuthenticationResult> {
  options.signal?.throwIfAborted();
  const msal = await loadMsal();
  const crypto = new msal.CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const listener = await LoopbackListener.open(state, options.successPage, options.errorPage);
  const cancelled = cancellation(options.signal, () => {
    listener.close();
    options.logger.warn({ port: listener.port }, 'sign-in cancelled: the loopback listener is closed and a late redirect will not be redeemed');
  });
  try {
    // MSAL names the loopback "localhost" (what the app registration lists); the listener is on 127.0.0.1.
    const redirectUri = `http://localhost:${listener.port}`;
    const scopes = [...options.scopes];
    const url = await options.app.getAuthCodeUrl({
      scopes,
      redirectUri,
      responseMode: msal.ResponseMode.FORM_POST,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
    });
    await Promise.race([Promise.resolve().then(() => options.showUrl(url)), cancelled.promise]);
    const fields = await Promise.race([listener.response, cancelled.promise]);
    // A redirect and a cancel in the same turn: the cancel wins, the code is not redeemed.
    if (options.signal?.aborted === true) throw new SignInCancelledError();
    const code = fields.code;
    if (fields.error !== undefined || code === undefined) {
      throw new msal.ServerError(fields.error ?? 'no_code', '', fields.error_description ?? 'The redirect carried no authorization code.');
    }
    return await options.app.acquireTokenByCode({ code, codeVerifier: verifier, redirectUri, scopes, clientInfo: fields.client_info ?? '' });
  } finally {
    cancelled.dispose();
    listener.close();
  }
}

/** A promise that rejects with SignInCancelledError on abort (after `onAbort` ran). */
function cancellation(signal: AbortSignal | undefined, onAbort: () => void): { promise: Promise<never>; dispose: () => void } {
  let abort: () => void = () => undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    abort = () => {
      onAbort();
      reject(new SignInCancelledError());
    };
  });
  // Never left unhandled when nothing races it any more.
  promise.catch(() => undefined);
  signal?.addEventListener('abort', abort, { once: true });
  return { promise, dispose: () => signal?.removeEventListener('abort', abort) };
}

/** The HTTP listener at the redirect URI: takes one authorization response with the expected state. */
class LoopbackListener {
  readonly response: Promise<RedirectFields>;
  private resolve: (fields: RedirectFields) => void = () => undefined;
  private reject: (error: Error) => void = () => undefined;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.response = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.response.catch(() => undefined);
  }

  static async open(state: string, successPage: string, errorPage: string): Promise<LoopbackListener> {
    let listener: LoopbackListener | undefined;
    const server = createServer((req, res) => listener?.answer(req, res, state, successPage, errorPage));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    listener = new LoopbackListener(server, (server.address() as AddressInfo).port);
    return listener;
  }

  /** Stops listening and drops open connections: the port refuses from now on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    this.server.closeAllConnections();
  }

  private answer(req: IncomingMessage, res: ServerResponse, state: string, successPage: string, errorPage: string): void {
    if (this.closed) return void res.destroy();
    if (req.method === 'GET') {
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      // The browser loading a favicon or the page again: nothing to take.
      if (!query.has('code') && !query.has('error')) return void res.writeHead(200).end(req.url === '/' ? successPage : '');
      res.writeHead(400).end('OAuth responses must use form_post and cannot be returned in the URL.');
      return this.reject(new Error('The identity provider returned the sign-in in the URL instead of a form_post.'));
    }
    if (req.method !== 'POST' || req.headers['content-type']?.split(';')[0]?.trim() !== 'application/x-www-form-urlencoded') {
      return void res.writeHead(405).end();
    }
    // The redirect URI is the root; a POST elsewhere is not the authorization response.
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/') return void res.writeHead(404).end();
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) req.destroy();
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      if (!form.has('code') && !form.has('error')) return void res.writeHead(200).end();
      // An unrelated or forged callback neither settles nor cancels the sign-in under way.
      if (form.getAll('state').length !== 1 || form.get('state') !== state) return void res.writeHead(400).end('Invalid authorization response state.');
      if (this.closed) return void res.destroy();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(form.has('error') ? errorPage : successPage);
      this.resolve(Object.fromEntries(form));
    });
  }
}
