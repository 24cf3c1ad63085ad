import { vi } from 'vitest';

/** One request the code under test made. */
export interface ApiCall {
  method: string;
  /** The path under /api/v1, without the query. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string>;
}

export interface MockReply {
  status: number;
  body?: unknown;
}

type Handler = (call: ApiCall) => unknown;
const REPLY = Symbol('reply');

/** An answer with a status other than 200 (or an error body). */
export const reply = (status: number, body?: unknown): MockReply & { [REPLY]: true } => ({ [REPLY]: true, status, body });
export const apiError = (status: number, code: string, message: string) => reply(status, { error: { code, message } });

const isReply = (value: unknown): value is MockReply => typeof value === 'object' && value !== null && REPLY in value;

/**
 * Replaces `fetch` with a fake `/api/v1`: `routes` maps "METHOD /path" to a body (200)
 * or to a function of the call. Unmatched requests answer 404 NOT_FOUND.
 */
export const mockApi = (routes: Record<string, unknown>) => {
  const calls: ApiCall[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), 'http://localhost');
    const method = init?.method ?? 'GET';
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const call: ApiCall = {
      method,
      path: url.pathname.replace(/^\/api\/v1/, ''),
      query: url.searchParams,
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
      headers,
    };
    calls.push(call);
    const route = routes[`${method} ${call.path}`];
    const result = route === undefined ? reply(404, { error: { code: 'NOT_FOUND', message: `No mock for ${method} ${call.path}` } }) : typeof route === 'function' ? await (route as Handler)(call) : route;
    const { status, body } = isReply(result) ? result : { status: 200, body: result };
    if (body === undefined || status === 204) return new Response(null, { status });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  const callsTo = (method: string, path: string) => calls.filter((c) => c.method === method && c.path === path);
  return { calls, callsTo, fetch: fetchMock };
};
