import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../http/credential-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { resolveFields } from '../crypto/key-fixtures.js';

// A DATABASE_URL that names PostgreSQL's Unix socket directory instead of a host: every
// connection of the process — its pool and the one that listens for credential changes —
// goes over the socket, not TCP.

/** The test database's URL, turned to reach the same server over its Unix socket. */
const socketUrlOf = async (tcpUrl: string): Promise<string> => {
  const client = new pg.Client({ connectionString: tcpUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ dir: string }>("select current_setting('unix_socket_directories') as dir");
    const dir = (rows[0]?.dir ?? '').split(',')[0]?.trim();
    if (!dir) throw new Error('this PostgreSQL server listens on no Unix socket');
    const url = new URL(tcpUrl);
    return `postgresql://${url.username}@/${url.pathname.slice(1)}?host=${encodeURIComponent(dir)}`;
  } finally {
    await client.end();
  }
};

describe('PostgreSQL over its Unix socket', () => {
  let database: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const socketUrl = await socketUrlOf(database.url as string);
    t = await startTestApp('postgres', { database: { ...database, url: socketUrl } });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it('serves the API with every connection over the socket, credential changes followed there too', async () => {
    const connections = async () =>
      (await sql<{ client_addr: string | null; query: string }>`select client_addr, query from pg_stat_activity where datname = current_database()`.execute(t.runtime.store.db)).rows;
    const created = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: 'Over the socket', authMethod: 'api_key', fields: { api_key: 'socket-1' } } });
    expect(created.status).toBe(201);
    const runtime = await t.token('runtime');
    expect(await resolveFields(t, runtime, created.body.id)).toEqual({ api_key: 'socket-1' });
    // The listening connection comes up with the first cached read; wait for it (bounded).
    for (let i = 0; i < 100 && !(await connections()).some((c) => c.query === 'listen credence_credential_changed'); i += 1) {
      await resolveFields(t, runtime, created.body.id);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seen = await connections();
    expect(seen.some((c) => c.query === 'listen credence_credential_changed')).toBe(true);
    // A Unix-socket client has no address.
    expect(seen.every((c) => c.client_addr === null)).toBe(true);

    const patched = await t.request('PATCH', `${API}/credentials/${created.body.id}`, { token: t.adminToken, body: { fields: { api_key: 'socket-2' } } });
    expect(patched.status).toBe(200);
    expect(await resolveFields(t, runtime, created.body.id)).toEqual({ api_key: 'socket-2' });
  });
});
