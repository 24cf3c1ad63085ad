import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { ApiResponse } from '../support/test-app.js';
import { API } from './credential-fixtures.js';

// Shared by the session tests: requests through `inject` with a cookie, CSRF token, bearer
// token or client address, and reading the session cookie back.

export const COOKIE_NAME = '__Host-credence-session';

/** A password nobody else uses, so finding it anywhere means it leaked. */
export const newPassword = (): string => `pw-${randomBytes(12).toString('hex')}`;
export const newEmail = (who: string): string => `${who}-${randomBytes(4).toString('hex')}@example.test`;

/**
 * Client addresses, each used once, so the sign-in rate limit (10/min per address) stays out
 * of the way unless a test means it; `prefix` keeps test files apart.
 */
export const addressSource = (prefix: string) => {
  let lastOctet = 0;
  return (): string => `${prefix}.${Math.floor(++lastOctet / 250)}.${(lastOctet % 250) + 1}`;
};

export interface Caller {
  app: FastifyInstance;
  responses?: Array<{ method: string; url: string; text: string }>;
}

/** A request through `inject`, optionally from a chosen client address; recorded in `caller.responses` if it keeps them. */
export const send = async (
  caller: Caller,
  method: string,
  url: string,
  options: { body?: unknown; cookie?: string; csrf?: string; token?: string; ip?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> => {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf !== undefined) headers['x-csrf-token'] = options.csrf;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await caller.app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(options.ip ? { remoteAddress: options.ip } : {}),
    ...(options.body !== undefined ? { payload: options.body as object } : {}),
  });
  caller.responses?.push({ method, url, text: response.body });
  let body: unknown;
  try {
    body = response.body ? JSON.parse(response.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body, text: response.body };
};

export const signIn = (caller: Caller, email: string, password: string, ip: string) =>
  send(caller, 'POST', `${API}/sessions`, { body: { email, password }, ip });

export const setCookiesOf = (response: ApiResponse): string[] => {
  const header = response.headers['set-cookie'];
  return Array.isArray(header) ? header.map(String) : typeof header === 'string' ? [header] : [];
};

/** The session cookie a response sets, as `name=value` for a `cookie` header. */
export const sessionCookieOf = (response: ApiResponse): string => {
  const cookies = setCookiesOf(response).filter((c) => c.startsWith(`${COOKIE_NAME}=`));
  expect(cookies).toHaveLength(1);
  return (cookies[0] ?? '').split(';')[0] ?? '';
};
