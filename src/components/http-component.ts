import { STATUS_CODES } from 'node:http';
import { Type, type Static, type TObject } from 'typebox';
import { Value } from 'typebox/value';
import { REFUSED_ADDRESS_REASON } from '../net/guarded-fetch.js';
import { ComponentError, type ActionContext, type Component, type StepCredential } from './component.js';

/**
 * The `http` component: one request to any http(s) URL, with the bound credential turned into
 * headers. `basic` → `Authorization: Basic`, `api_key` → a header of the user's choice (default
 * `Authorization: Bearer <key>`), `api_key_secret` → two headers of the user's choice, `oauth2` →
 * `Authorization: Bearer <access token>`. A credential is optional.
 *
 * Redirects are never followed: a 3xx comes back as the status, so credentials cannot travel on
 * to another origin. Error messages and log lines name the host, never the path, query or a secret.
 *
 * @example
 * await httpComponent.actions[0].perform(context, { url: 'https://api.example.com/v1/me' });
 * // { status: 200, headers: { 'content-type': 'application/json' }, body: { id: 7 }, truncated: false }
 */

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
type Method = (typeof METHODS)[number];

/** Text bodies are cut here; JSON bodies up to MAX_JSON_BYTES are parsed whole. */
export const MAX_TEXT_BYTES = 64 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;
const SAFE_RESPONSE_HEADERS = ['content-type', 'content-length'] as const;

// RFC 9110 token: what a header name may be made of.
const headerName = (description: string) =>
  Type.Optional(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", maxLength: 256, description }));

const target = {
  url: Type.String({ pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 8192, description: 'Absolute http:// or https:// URL' }),
  method: Type.Optional(Type.Enum(METHODS, { default: 'GET', description: 'HTTP method' })),
  headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra request headers; the credential’s headers take precedence' })),
  headerName: headerName('api_key: the header carrying the key; Authorization (the default) sends "Bearer <key>", any other header the raw key'),
  keyHeaderName: headerName('api_key_secret: the header carrying the key (default X-API-Key)'),
  secretHeaderName: headerName('api_key_secret: the header carrying the secret (default X-API-Secret)'),
};

const RequestInputs = Type.Object(
  {
    ...target,
    body: Type.Optional(
      Type.Union([Type.String(), Type.Object({}, { additionalProperties: true }), Type.Array(Type.Unknown())], {
        description: 'Request body; an object or array is sent as JSON',
      }),
    ),
    expectStatus: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'Fail unless the server answers exactly this status' })),
  },
  { additionalProperties: false },
);
const TestInputs = Type.Object(target, { additionalProperties: false });

type RequestInput = Static<typeof RequestInputs>;
type TargetInput = Static<typeof TestInputs>;

const ACCEPTED = ['basic', 'api_key', 'api_key_secret', 'oauth2'] as const;

/**
 * Fills defaults and checks `raw` against an action's input schema, or throws `bad_input`
 * naming the first problem. Messages name the input, never its value.
 */
export const parseInputs = <T extends TObject>(schema: T, raw: Record<string, unknown>): Static<T> => {
  const value = Value.Default(schema, Value.Clone(raw));
  const problem = Value.Errors(schema, value)[0];
  if (problem) {
    const where = problem.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'inputs';
    const what = problem.keyword === 'boolean' ? 'is not an input of this action' : problem.message;
    throw new ComponentError('bad_input', `Input ${where} ${what}`);
  }
  return value as Static<T>;
};

/** `401 Unauthorized`: the status with its standard reason phrase (never the server's own text). */
export const statusLabel = (status: number): string => `${status} ${STATUS_CODES[status] ?? 'Unknown Status'}`;

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host',
  // From the guarded fetch (src/net/guarded-fetch.ts).
  CREDENCE_OUTBOUND_REFUSED: REFUSED_ADDRESS_REASON,
  CREDENCE_RESPONSE_TOO_LARGE: 'the answer is too large',
};

const errorCode = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; current instanceof Object && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
};

/**
 * Maps a thrown fetch (or body read) to `unreachable`, naming only the host. The error's own
 * message is not reused: undici puts URLs and header values into some of them.
 */
export const fetchFailure = (error: unknown, url: URL, context: Pick<ActionContext, 'signal' | 'timeoutMs'>): ComponentError => {
  const host = url.host;
  if (context.signal.aborted) {
    const reason: unknown = context.signal.reason;
    const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
    return new ComponentError('unreachable', timedOut ? `No answer from ${host} within ${context.timeoutMs} ms` : `The call to ${host} was cancelled`);
  }
  const code = errorCode(error);
  const reason = code === undefined ? undefined : NETWORK_REASONS[code];
  return new ComponentError('unreachable', `Could not reach ${host}${reason ? ` (${reason})` : ''}`);
};

/** Discards a body nobody will read, so the connection can be reused. */
export const discardBody = async (response: Response): Promise<void> => {
  await response.body?.cancel().catch(() => undefined);
};

const reveal = (credential: StepCredential, name: string): string => {
  const value = credential.fields.reveal()[name];
  if (value === undefined || value === '') throw new ComponentError('bad_input', `The ${credential.authMethod} credential has no ${name}`);
  return value;
};

/** The headers a credential becomes, as [name, value] pairs. */
const credentialHeaders = (credential: StepCredential, input: TargetInput): Array<[string, string]> => {
  switch (credential.authMethod) {
    case 'basic': {
      const username = reveal(credential, 'username');
      const password = credential.fields.reveal().password ?? '';
      // RFC 7617: a user-id containing a colon cannot be told apart from the password.
      if (username.includes(':')) throw new ComponentError('bad_input', 'A Basic Auth username cannot contain a colon');
      return [['Authorization', `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`]];
    }
    case 'api_key': {
      const key = reveal(credential, 'api_key');
      const name = input.headerName ?? 'Authorization';
      return [[name, name.toLowerCase() === 'authorization' ? `Bearer ${key}` : key]];
    }
    case 'api_key_secret': {
      const keyHeader = input.keyHeaderName ?? 'X-API-Key';
      const secretHeader = input.secretHeaderName ?? 'X-API-Secret';
      if (keyHeader.toLowerCase() === secretHeader.toLowerCase()) {
        throw new ComponentError('bad_input', 'keyHeaderName and secretHeaderName must name two different headers');
      }
      return [[keyHeader, reveal(credential, 'api_key')], [secretHeader, reveal(credential, 'api_secret')]];
    }
    case 'oauth2': {
      const token = credential.accessToken?.reveal();
      if (!token) throw new ComponentError('bad_input', 'The OAuth 2.0 credential has no access token; authorize it first');
      return [['Authorization', `Bearer ${token}`]];
    }
    default:
      throw new ComponentError('bad_input', `The HTTP component does not accept ${credential.authMethod} credentials`);
  }
};

const buildHeaders = (context: ActionContext, input: TargetInput): Headers => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    try {
      headers.set(name, value);
    } catch {
      throw new ComponentError('bad_input', `Header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  if (!context.credential) return headers;
  for (const [name, value] of credentialHeaders(context.credential, input)) {
    if (headers.has(name)) context.log.warn('The credential replaces a header given in the inputs', { header: name });
    try {
      headers.set(name, value);
    } catch {
      // undici's message would quote the value.
      throw new ComponentError('bad_input', `The credential's value cannot be sent in the ${name} header (it contains a line break or control character)`);
    }
  }
  return headers;
};

const encodeBody = (method: Method, body: RequestInput['body'], headers: Headers): string | undefined => {
  if (body === undefined) return undefined;
  if (method === 'GET' || method === 'HEAD') throw new ComponentError('bad_input', `A ${method} request cannot have a body`);
  if (typeof body === 'string') return body;
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return JSON.stringify(body);
};

const parseUrl = (raw: string): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ComponentError('bad_input', 'Input url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ComponentError('bad_input', 'Input url must be http:// or https://');
  if (url.username || url.password) throw new ComponentError('bad_input', 'Input url must not carry a user name or password; use a credential');
  return url;
};

/** Sends the request without following redirects; a thrown fetch becomes `unreachable`. */
const send = async (context: ActionContext, input: RequestInput): Promise<{ response: Response; url: URL }> => {
  const url = parseUrl(input.url);
  // Before the credential becomes a header: only to its sealed destinations.
  context.egress.authorize(url);
  const method = input.method ?? 'GET';
  const headers = buildHeaders(context, input);
  const body = encodeBody(method, input.body, headers);
  context.log.info('HTTP request', { method, host: url.host, authMethod: context.credential?.authMethod ?? 'none' });
  try {
    const init: RequestInit = { method, headers, redirect: 'manual', signal: context.signal };
    if (body !== undefined) init.body = body;
    const response = await context.fetch(url, init);
    context.log.info('HTTP response', { status: response.status });
    return { response, url };
  } catch (error) {
    throw fetchFailure(error, url, context);
  }
};

/** The failure a status stands for, given who was asking. */
const statusFailure = (response: Response, credential: StepCredential | undefined, url: URL, expected?: number): ComponentError => {
  const { status } = response;
  const label = statusLabel(status);
  if (status === 401 || status === 403) {
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (status === 401 && credential?.authMethod === 'oauth2' && /error\s*=\s*"?invalid_token"?/i.test(challenge)) {
      return new ComponentError('token_expired', `The server says the access token is expired or revoked (${label})`);
    }
    return new ComponentError('auth_refused', credential ? `The server refused the credential (${label})` : `The server asks for a credential (${label})`);
  }
  if (status === 404) return new ComponentError('not_found', `Nothing found at that address on ${url.host} (${label})`);
  if (status >= 300 && status < 400) return new ComponentError('remote_error', `${url.host} answered with a redirect (${label}), which is not followed`);
  return new ComponentError('remote_error', `${url.host} answered ${label}${expected === undefined ? '' : `, expected ${expected}`}`);
};

const readLimited = async (response: Response, limit: number): Promise<{ bytes: Uint8Array; truncated: boolean }> => {
  if (!response.body) return { bytes: new Uint8Array(0), truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks), truncated: false };
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return { bytes: Buffer.concat(chunks).subarray(0, limit), truncated: true };
    }
  }
};

// Streaming decode without the final flush drops a character cut in half at the limit.
const decodeText = (bytes: Uint8Array): string => new TextDecoder('utf-8').decode(bytes.subarray(0, MAX_TEXT_BYTES), { stream: true });

const isJson = (contentType: string | null): boolean => /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType ?? '');

/** The body as JSON when the server says it is JSON and it parses, otherwise as text cut at 64 KiB. */
const readBody = async (response: Response): Promise<{ body: unknown; truncated: boolean }> => {
  const json = isJson(response.headers.get('content-type'));
  const { bytes, truncated } = await readLimited(response, json ? MAX_JSON_BYTES : MAX_TEXT_BYTES);
  if (json && !truncated) {
    try {
      return { body: JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown, truncated: false };
    } catch {
      // Not JSON after all: fall through to text.
    }
  }
  return { body: decodeText(bytes), truncated: truncated || bytes.byteLength > MAX_TEXT_BYTES };
};

const safeHeaders = (response: Response): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
};

const performRequest = async (context: ActionContext, raw: Record<string, unknown>): Promise<unknown> => {
  const input = parseInputs(RequestInputs, raw);
  const { response, url } = await send(context, input);
  const unexpected =
    input.expectStatus === undefined
      ? context.credential !== undefined && (response.status === 401 || response.status === 403)
      : response.status !== input.expectStatus;
  if (unexpected) {
    await discardBody(response);
    throw statusFailure(response, context.credential, url, input.expectStatus);
  }
  try {
    const { body, truncated } = await readBody(response);
    return { status: response.status, headers: safeHeaders(response), body, truncated };
  } catch (error) {
    throw fetchFailure(error, url, context);
  }
};

const performTest = async (context: ActionContext, raw: Record<string, unknown>): Promise<unknown> => {
  const input = parseInputs(TestInputs, raw);
  const { response, url } = await send(context, input);
  await discardBody(response);
  if (response.status < 200 || response.status > 299) throw statusFailure(response, context.credential, url);
  return { status: response.status };
};

/** The origin an input URL names, for the destination check before a step runs; none when it is not a URL (the step then fails on its input). */
export const urlTargets =
  (input: string, fallback?: string) =>
  (inputs: Record<string, unknown>): URL[] => {
    const raw = inputs[input] ?? fallback;
    if (typeof raw !== 'string') return [];
    try {
      return [new URL(raw)];
    } catch {
      return [];
    }
  };

export const httpComponent: Component = {
  key: 'http',
  name: 'HTTP',
  description: 'Calls any HTTP or HTTPS endpoint, sending the bound credential as headers. Redirects are returned, not followed.',
  testAction: 'test',
  actions: [
    {
      key: 'request',
      name: 'Request',
      description:
        'Sends one request and returns {status, headers, body, truncated}: the body parsed when it is JSON, otherwise text cut at 64 KiB. ' +
        'A 401 or 403 to a request with a credential fails, as does any status other than expectStatus when it is given; other statuses are returned.',
      inputs: RequestInputs,
      authMethods: ACCEPTED,
      credentialRequired: false,
      targets: urlTargets('url'),
      perform: performRequest,
    },
    {
      key: 'test',
      name: 'Test',
      description: 'Sends one request that must answer 2xx; returns {status}.',
      inputs: TestInputs,
      authMethods: ACCEPTED,
      credentialRequired: false,
      targets: urlTargets('url'),
      perform: performTest,
    },
  ],
};
