import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Every change to a stored credential — by Credence in any process, or by anyone else who
 * can write to the database — is made known, so each process's cache of credential rows
 * (src/credentials/credential-cache.ts) never answers with a row that has changed.
 *
 * SQLite: a one-row counter, moved on by triggers on every update and delete; a process
 * reads it (one tiny indexed read) before it trusts a cached row.
 * PostgreSQL: a trigger sends the changed credential's id on the channel
 * `credence_credential_changed` (NOTIFY, delivered to every listening process on commit).
 * A new credential needs no signal: nothing can have cached it yet.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`
      create or replace function credence_credential_changed() returns trigger
      language plpgsql as $fn$
      begin
        perform pg_notify('credence_credential_changed', old.id);
        return null;
      end
      $fn$`.execute(db);
    await sql`
      create trigger credentials_changed after update or delete on credentials
      for each row execute function credence_credential_changed()`.execute(db);
    return;
  }
  await sql`create table credential_changes (id integer primary key check (id = 1), generation integer not null)`.execute(db);
  await sql`insert into credential_changes (id, generation) values (1, 0)`.execute(db);
  await sql`
    create trigger credentials_changed_on_update after update on credentials
    begin update credential_changes set generation = generation + 1 where id = 1; end`.execute(db);
  await sql`
    create trigger credentials_changed_on_delete after delete on credentials
    begin update credential_changes set generation = generation + 1 where id = 1; end`.execute(db);
};

