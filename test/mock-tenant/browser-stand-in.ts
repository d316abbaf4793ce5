/**
 * What a person's browser does during a sign-in, done with plain HTTP so tests can drive the
 * real MSAL flows end to end: open the authorization URL, follow the identity provider's
 * answer to the app's loopback redirect URI (a 302 with the code in the query, or Entra's
 * self-submitting form_post page, which MSAL Node 7 asks for), and open the device login page.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface BrowserSignInResult {
  /** The redirect URI the identity provider sent the browser to. */
  readonly redirectUri: string;
  /** What arrived there: code, state, client_info, or error and error_description. */
  readonly fields: Readonly<Record<string, string>>;
  /** How it arrived: 'form_post' (POST body) or 'query' (302). */
  readonly mode: 'form_post' | 'query';
  /** The app's answer at the redirect URI; undefined when `deliver` was false. */
  readonly appStatus: number | undefined;
  readonly appBody: string | undefined;
}

export interface BrowserSignInOptions {
  /** CA that signed the identity provider's certificate. */
  readonly caPem: string;
  /** false: stop before the redirect URI (to redeem the code by hand). Default true. */
  readonly deliver?: boolean;
}

interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * Opens `authorizeUrl` as a browser would and delivers the answer to the redirect URI.
 * Throws with the provider's error text when it shows an error page instead of redirecting.
 */
export async function completeBrowserSignIn(authorizeUrl: string, options: BrowserSignInOptions): Promise<BrowserSignInResult> {
  const answer = await fetchText(authorizeUrl, { caPem: options.caPem });
  const deliver = options.deliver ?? true;
  const location = answer.headers.location;
  if (answer.status === 302 && typeof location === 'string') {
    const target = new URL(location);
    const fields = Object.fromEntries(target.searchParams);
    const reply = deliver ? await fetchText(location, {}) : undefined;
    return { redirectUri: stripQuery(location), fields, mode: 'query', appStatus: reply?.status, appBody: reply?.body };
  }
  const form = answer.status === 200 ? parseForm(answer.body) : undefined;
  if (form === undefined) {
    const text = /<p id="error">([^<]*)<\/p>/.exec(answer.body)?.[1] ?? answer.body.slice(0, 300);
    throw new Error(`The identity provider answered ${answer.status} instead of a redirect: ${unescapeHtml(text)}`);
  }
  const reply = deliver
    ? await fetchText(form.action, {
        method: 'POST',
        body: new URLSearchParams(form.fields).toString(),
        contentType: 'application/x-www-form-urlencoded',
      })
    : undefined;
  return { redirectUri: form.action, fields: form.fields, mode: 'form_post', appStatus: reply?.status, appBody: reply?.body };
}

/**
 * What a person does with a device code: opens the verification page and enters the code
 * (and consents, or declines). Returns the page's status and text.
 */
export async function openDeviceLoginPage(
  verificationUri: string,
  userCode: string,
  options: { readonly caPem: string; readonly decline?: boolean },
): Promise<{ status: number; body: string }> {
  const url = new URL(verificationUri);
  url.searchParams.set('user_code', userCode);
  if (options.decline === true) url.searchParams.set('decline', '1');
  const { status, body } = await fetchText(url.href, { caPem: options.caPem });
  return { status, body };
}

function parseForm(page: string): { action: string; fields: Record<string, string> } | undefined {
  const action = /<form[^>]*\baction="([^"]*)"/i.exec(page)?.[1];
  if (action === undefined) return undefined;
  const fields: Record<string, string> = {};
  for (const input of page.matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/.exec(input[0])?.[1];
    const value = /\bvalue="([^"]*)"/.exec(input[0])?.[1];
    const type = /\btype="([^"]*)"/.exec(input[0])?.[1];
    if (name === undefined || type !== 'hidden') continue;
    fields[unescapeHtml(name)] = unescapeHtml(value ?? '');
  }
  return { action: unescapeHtml(action), fields };
}

function fetchText(
  url: string,
  options: { caPem?: string; method?: 'GET' | 'POST'; body?: string; contentType?: string },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const headers: Record<string, string | number> = { host: target.host };
  if (options.body !== undefined) {
    headers['content-type'] = options.contentType ?? 'text/plain';
    headers['content-length'] = Buffer.byteLength(options.body);
  }
  // MSAL's loopback server listens on 127.0.0.1 but names itself http://localhost:PORT, which
  // may resolve to ::1 first; a browser would try both, this connects to IPv4 directly.
  const hostname = target.hostname === 'localhost' ? '127.0.0.1' : target.hostname;
  const common = { hostname, port: target.port, path: `${target.pathname}${target.search}`, method: options.method ?? 'GET', headers };
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    };
    const req =
      target.protocol === 'https:'
        ? httpsRequest({ ...common, ca: options.caPem, rejectUnauthorized: true }, onResponse)
        : httpRequest(common, onResponse);
    req.on('error', reject);
    req.end(options.body);
  });
}

function stripQuery(url: string): string {
  const parsed = new URL(url);
  parsed.search = '';
  return parsed.href;
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
