import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL: appending a batch of audit events in one round trip. The function takes the
 * events in chain order (grouped by organization, organizations in a fixed order), locks each
 * organization's head row (creating it for a first event), links every event to the one
 * before it — hash = SHA-256(previous hash ‖ position as 8 bytes ‖ content hash), the same
 * bytes as linkHash in audit-chain.ts, with the content hash computed by the caller — inserts
 * them and moves the head on. Called on its own it is its own transaction: one statement,
 * one commit. SQLite appends in the process (audit-store.ts).
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    create or replace function credence_append_audit(events jsonb, genesis text) returns integer
    language plpgsql as $fn$
    declare
      e jsonb;
      current_org text := null;
      head_seq bigint;
      head_hash text;
      previous text;
      appended integer := 0;
    begin
      for e in select value from jsonb_array_elements(events) loop
        if current_org is distinct from (e->>'organization_id') then
          if current_org is not null then
            update audit_heads set seq = head_seq, prev_hash = previous, hash = head_hash where organization_id = current_org;
          end if;
          current_org := e->>'organization_id';
          insert into audit_heads (organization_id, seq, prev_hash, hash) values (current_org, 0, genesis, genesis)
            on conflict (organization_id) do nothing;
          select h.seq, h.hash, h.prev_hash into head_seq, head_hash, previous from audit_heads h where h.organization_id = current_org for update;
        end if;
        head_seq := head_seq + 1;
        previous := head_hash;
        head_hash := encode(sha256(decode(previous, 'hex') || int8send(head_seq) || decode(e->>'content_hash', 'hex')), 'hex');
        insert into audit_events
          (id, organization_id, customer_id, actor_type, actor_id, actor_role, action, target_type, target_id, details, occurred_at, seq, prev_hash, hash)
        values
          (e->>'id', current_org, e->>'customer_id', e->>'actor_type', e->>'actor_id', e->>'actor_role', e->>'action',
           e->>'target_type', e->>'target_id', e->>'details', e->>'occurred_at', head_seq, previous, head_hash);
        appended := appended + 1;
      end loop;
      if current_org is not null then
        update audit_heads set seq = head_seq, prev_hash = previous, hash = head_hash where organization_id = current_org;
      end if;
      return appended;
    end
    $fn$`.execute(db);
};
