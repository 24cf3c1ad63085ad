import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { randomMasterKey, startTestApp, type TestApp } from '../support/test-app.js';
import { resolveFields } from '../crypto/key-fixtures.js';

// Each process keeps credential rows (sealed, as stored) to answer reads by id without the
// database. A row is served only while it is still the stored one: a change made through
// this process, through another process, or straight in the database, is seen — at once on
// SQLite (a counter moved by triggers), and as soon as NOTIFY arrives on PostgreSQL (this
// process's own changes at once there too).

/** Polls `read` until it answers `expected`, for at most ~10 s; answers the last value read. */
const eventually = async <T>(read: () => Promise<T>, expected: T): Promise<T> => {
  let last = await read();
  for (let i = 0; i < 100 && JSON.stringify(last) !== JSON.stringify(expected); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  return last;
};

describe.each(ENGINES)('the credential cache on %s', (engine) => {
  let a: TestApp;
  let b: TestApp;
  let runtimeToken: string;
  /** SQLite sees every change before the next read; PostgreSQL, once its NOTIFY has arrived. */
  const seen = engine === 'sqlite' ? async <T>(read: () => Promise<T>) => read() : async <T>(read: () => Promise<T>, expected: T) => eventually(read, expected);

  beforeAll(async () => {
    const masterKey = randomMasterKey();
    a = await startTestApp(engine, { masterKey });
    // A second process over the same database.
    b = await startTestApp(engine, { masterKey, database: a.database });
    runtimeToken = await a.token('runtime');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const create = async (api_key: string): Promise<string> => {
    const response = await a.request('POST', `${API}/credentials`, { token: a.adminToken, body: { label: `Cached ${api_key}`, authMethod: 'api_key', fields: { api_key } } });
    expect(response.status).toBe(201);
    return response.body.id as string;
  };
  const lookups = async (app: TestApp): Promise<{ hit: number; miss: number }> => {
    const text = await app.runtime.services.metrics.render();
    const count = (result: string) => Number(new RegExp(`credence_credential_cache_lookups_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
    return { hit: count('hit'), miss: count('miss') };
  };
  /** Waits until process `app` caches again (on PostgreSQL, once its listening connection is up). */
  const warm = async (app: TestApp, id: string): Promise<void> => {
    for (let i = 0; i < 100; i += 1) {
      const before = (await lookups(app)).hit;
      await resolveFields(app, runtimeToken, id);
      await resolveFields(app, runtimeToken, id);
      if ((await lookups(app)).hit > before) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the process never served a credential from its cache');
  };

  it('answers repeated resolves from the cache, and a change made through the API at once', async () => {
    const id = await create('first-value');
    await warm(a, id);
    const before = await lookups(a);
    for (let i = 0; i < 10; i += 1) expect(await resolveFields(a, runtimeToken, id)).toEqual({ api_key: 'first-value' });
    const after = await lookups(a);
    expect(after.hit - before.hit).toBe(10);
    expect(after.miss - before.miss).toBe(0);

    const patched = await a.request('PATCH', `${API}/credentials/${id}`, { token: a.adminToken, body: { fields: { api_key: 'second-value' } } });
    expect(patched.status).toBe(200);
    expect(await resolveFields(a, runtimeToken, id)).toEqual({ api_key: 'second-value' });
  });

  it('sees a change made by another process', async () => {
    const id = await create('before-b');
    await warm(a, id);
    const patched = await b.request('PATCH', `${API}/credentials/${id}`, { token: a.adminToken, body: { fields: { api_key: 'from-b' } } });
    expect(patched.status).toBe(200);
    expect(await seen(() => resolveFields(a, runtimeToken, id), { api_key: 'from-b' })).toEqual({ api_key: 'from-b' });
  });

  it('sees a delete made by another process', async () => {
    const id = await create('to-delete');
    await warm(a, id);
    const deleted = await b.request('DELETE', `${API}/credentials/${id}`, { token: a.adminToken, body: { confirm: 'Cached to-delete' } });
    expect(deleted.status).toBe(204);
    expect(await seen(() => resolveFields(a, runtimeToken, id), '404 NOT_FOUND')).toBe('404 NOT_FOUND');
  });

  it('sees a row written straight into the database, and never serves the cached one after', async () => {
    const first = await create('victim');
    const other = await create('other');
    await warm(a, first);
    // Someone with write access to the database moves another credential's ciphertext onto this one.
    const db = b.runtime.store.db;
    await sql`update credentials set secret_ciphertext = (select secret_ciphertext from credentials where id = ${other}) where id = ${first}`.execute(db);
    expect(await seen(() => resolveFields(a, runtimeToken, first), '500 DECRYPTION_FAILED')).toBe('500 DECRYPTION_FAILED');
  });

  it('does not answer another organization from the cache', async () => {
    const id = await create('org-bound');
    await warm(a, id);
    const other = await a.otherOrganization();
    const theirs = await a.request('GET', `${API}/credentials/${id}`, { token: other.adminToken });
    expect(theirs.status).toBe(404);
  });

  it.runIf(engine === 'postgres')('follows changes again after its listening connection is cut, missing none made meanwhile', async () => {
    const id = await create('before-cut');
    await warm(a, id);
    const db = b.runtime.store.db;
    const listeners = async () =>
      (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and query = 'listen credence_credential_changed'`.execute(db)).rows.map((r) => r.pid);
    const before = await listeners();
    expect(before.length).toBe(2);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where pid = any(${before})`.execute(db);
    // Changed while nobody listens: no NOTIFY reaches either process.
    expect((await b.request('PATCH', `${API}/credentials/${id}`, { token: a.adminToken, body: { fields: { api_key: 'during-cut' } } })).status).toBe(200);
    expect(await eventually(() => resolveFields(a, runtimeToken, id), { api_key: 'during-cut' })).toEqual({ api_key: 'during-cut' });
    // Both listen again, and the cache serves again.
    expect((await eventually(async () => (await listeners()).filter((pid) => !before.includes(pid)).length, 2))).toBe(2);
    await warm(a, id);
    expect(await resolveFields(a, runtimeToken, id)).toEqual({ api_key: 'during-cut' });
  });
});
