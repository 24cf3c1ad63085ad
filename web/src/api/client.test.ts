import { describe, expect, it } from 'vitest';
import { apiError, mockApi, reply } from '../test/mock-api.js';
import { ORG_ADMIN } from '../test/render.js';
import { ApiError, api } from './client.js';

describe('the API client', () => {
  it('sends the CSRF token from the session with every change, and never with a read', async () => {
    const { calls } = mockApi({
      'POST /sessions': { user: ORG_ADMIN, csrfToken: 'csrf-1' },
      'GET /customers': { items: [], nextCursor: null },
      'POST /customers': reply(201, { id: 'cus_1', name: 'Globex' }),
    });

    await api.session.signIn({ email: 'admin@acme.example', password: 'correct horse battery' });
    await api.customers.list();
    await api.customers.create({ name: 'Globex' });

    expect(calls.map((c) => [c.method, c.path, c.headers['x-csrf-token']])).toEqual([
      ['POST', '/sessions', undefined],
      ['GET', '/customers', undefined],
      ['POST', '/customers', 'csrf-1'],
    ]);
  });

  it('answers null for the session when signed out, and the user when signed in', async () => {
    mockApi({ 'GET /session': apiError(401, 'UNAUTHENTICATED', 'Not signed in') });
    expect(await api.session.current()).toBeNull();
    mockApi({ 'GET /session': { user: ORG_ADMIN, csrfToken: 'csrf-2' } });
    expect(await api.session.current()).toEqual(ORG_ADMIN);
  });

  it('turns an error body into an ApiError carrying its code and message', async () => {
    mockApi({ 'POST /sessions': apiError(401, 'INVALID_CREDENTIALS', 'The email or password is not right') });
    const error = await api.session.signIn({ email: 'a@b.example', password: 'wrong' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS', message: 'The email or password is not right' });
  });

  it('fetches a fresh CSRF token and retries once when the server refuses a stale one', async () => {
    let token = 'old';
    const { callsTo } = mockApi({
      'POST /sessions': { user: ORG_ADMIN, csrfToken: 'old' },
      'GET /session': () => {
        token = 'new';
        return { user: ORG_ADMIN, csrfToken: 'new' };
      },
      'DELETE /customers/cus_1': ({ headers }: { headers: Record<string, string> }) =>
        headers['x-csrf-token'] === token && token === 'new' ? reply(204) : apiError(403, 'CSRF_FAILED', 'Missing or wrong CSRF token'),
    });
    await api.session.signIn({ email: 'admin@acme.example', password: 'x' });

    await api.customers.remove('cus_1', 'Globex');

    expect(callsTo('DELETE', '/customers/cus_1').map((c) => c.headers['x-csrf-token'])).toEqual(['old', 'new']);
  });

  it('reports an unreachable server as NETWORK_ERROR with a message a person can act on', async () => {
    const { fetch } = mockApi({});
    fetch.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await expect(api.customers.list()).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR', message: expect.stringMatching(/Could not reach/) });
  });
});
