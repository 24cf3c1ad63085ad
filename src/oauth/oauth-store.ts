import { sql, type ExpressionBuilder } from 'kysely';
import type { Db, Engine } from '../store/database.js';
import type { Database, OAuthGrantsTable, OAuthLinksTable, OAuthStatesTable } from '../store/schema.js';

/** The token side of an oauth2 credential. Tokens are sealed; the schedule is in the clear. */
export interface OAuthGrant {
  credentialId: string;
  organizationId: string;
  tokensCiphertext: string | null;
  tokenType: string | null;
  grantedScopes: string | null;
  expiresAt: string | null;
  refreshDueAt: string | null;
  authorizedAt: string | null;
  lastRefreshedAt: string | null;
  failureCount: number;
  lastError: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  version: number;
}

export interface AuthorizationLink {
  id: string;
  organizationId: string;
  credentialId: string;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  revokedAt: string | null;
  /** The authorization may come back for another provider account than the credential's. */
  allowAccountChange: boolean;
}

export interface AuthorizationState {
  id: string;
  organizationId: string;
  credentialId: string;
  linkId: string;
  browserHash: string;
  verifierCiphertext: string;
  redirectUri: string;
  issuer: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export type GrantChanges = Partial<Omit<OAuthGrant, 'credentialId' | 'organizationId' | 'version'>>;

/** One grant's new tokens, for OAuthStore.storeTokens. */
export interface StoredTokenWrite {
  organizationId: string;
  credentialId: string;
  expectedVersion: number;
  tokensCiphertext: string;
  tokenType: string;
  grantedScopes: string | null;
  expiresAt: string;
  refreshDueAt: string | null;
  lastRefreshedAt: string;
  /** Set at a first authorization; otherwise the grant keeps its own. */
  authorizedAt: string | null;
}

const toGrant = (row: OAuthGrantsTable): OAuthGrant => ({
  credentialId: row.credential_id,
  organizationId: row.organization_id,
  tokensCiphertext: row.tokens_ciphertext,
  tokenType: row.token_type,
  grantedScopes: row.granted_scopes,
  expiresAt: row.expires_at,
  refreshDueAt: row.refresh_due_at,
  authorizedAt: row.authorized_at,
  lastRefreshedAt: row.last_refreshed_at,
  failureCount: Number(row.failure_count),
  lastError: row.last_error,
  leaseOwner: row.lease_owner,
  leaseExpiresAt: row.lease_expires_at,
  version: Number(row.version),
});

const toLink = (row: OAuthLinksTable): AuthorizationLink => ({
  id: row.id,
  organizationId: row.organization_id,
  credentialId: row.credential_id,
  createdBy: row.created_by,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
  revokedAt: row.revoked_at,
  allowAccountChange: Number(row.allow_account_change ?? 0) === 1,
});

const toState = (row: OAuthStatesTable): AuthorizationState => ({
  id: row.id,
  organizationId: row.organization_id,
  credentialId: row.credential_id,
  linkId: row.link_id,
  browserHash: row.browser_hash,
  verifierCiphertext: row.verifier_ciphertext,
  redirectUri: row.redirect_uri,
  issuer: row.issuer,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
});

const GRANT_COLUMNS = {
  tokensCiphertext: 'tokens_ciphertext',
  tokenType: 'token_type',
  grantedScopes: 'granted_scopes',
  expiresAt: 'expires_at',
  refreshDueAt: 'refresh_due_at',
  authorizedAt: 'authorized_at',
  lastRefreshedAt: 'last_refreshed_at',
  failureCount: 'failure_count',
  lastError: 'last_error',
  leaseOwner: 'lease_owner',
  leaseExpiresAt: 'lease_expires_at',
} as const satisfies Record<keyof GrantChanges, keyof OAuthGrantsTable>;

const grantColumns = (changes: GrantChanges): Partial<OAuthGrantsTable> => {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(GRANT_COLUMNS)) {
    const value = changes[key as keyof GrantChanges];
    if (value !== undefined) row[column] = value;
  }
  return row as Partial<OAuthGrantsTable>;
};

/** Grants, links and states. Grant writes are guarded by a version, so a stale writer cannot overwrite newer tokens. */
export const createOAuthStore = (db: Db, engine: Engine) => ({
  async findGrant(organizationId: string, credentialId: string, trx: Db = db): Promise<OAuthGrant | undefined> {
    const row = await trx
      .selectFrom('oauth_grants')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return row && toGrant(row);
  },

  async findGrants(organizationId: string, credentialIds: string[], trx: Db = db): Promise<OAuthGrant[]> {
    if (credentialIds.length === 0) return [];
    const rows = await trx
      .selectFrom('oauth_grants')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('credential_id', 'in', credentialIds)
      .execute();
    return rows.map(toGrant);
  },

  /** Creates the grant row if missing (version 0, no tokens). */
  async ensureGrant(organizationId: string, credentialId: string, changes: GrantChanges, trx: Db = db): Promise<void> {
    await trx
      .insertInto('oauth_grants')
      .values({ credential_id: credentialId, organization_id: organizationId, failure_count: 0, version: 0, ...grantColumns(changes) })
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .execute();
  },

  /** Writes if the grant is still at `expectedVersion`; true when it did. */
  async updateGrant(organizationId: string, credentialId: string, expectedVersion: number, changes: GrantChanges, trx: Db = db): Promise<boolean> {
    const result = await trx
      .updateTable('oauth_grants')
      .set({ ...grantColumns(changes), version: expectedVersion + 1 })
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /**
   * Stores new tokens for many grants in one statement (`WITH v AS (VALUES …) UPDATE … FROM
   * v`, which both engines run), each only while its grant is still at the version read: the
   * new ciphertext, schedule and expiry, the failure count and lease cleared, the version
   * bumped. Answers the credential ids whose grant was written.
   */
  async storeTokens(items: readonly StoredTokenWrite[], trx: Db = db): Promise<boolean[]> {
    // Each statement names a grant once: a later write of the same grant goes in a later one.
    const chunks: Array<{ entries: Array<{ write: StoredTokenWrite; index: number }>; ids: Set<string> }> = [];
    items.forEach((write, index) => {
      let chunk = chunks.find((c) => c.entries.length < 200 && !c.ids.has(write.credentialId));
      if (!chunk) chunks.push((chunk = { entries: [], ids: new Set() }));
      chunk.entries.push({ write, index });
      chunk.ids.add(write.credentialId);
    });
    const written = items.map(() => false);
    for (const { entries: chunk } of chunks) {
      const tuples = chunk.map(
        ({ write: w }) =>
          sql`(${w.credentialId}, ${w.organizationId}, cast(${w.expectedVersion} as integer), ${w.tokensCiphertext}, cast(${w.tokenType} as text),
            cast(${w.grantedScopes} as text), ${w.expiresAt}, cast(${w.refreshDueAt} as text), ${w.lastRefreshedAt}, cast(${w.authorizedAt} as text))`,
      );
      const { rows } = await sql<{ credential_id: string }>`
        with v(credential_id, organization_id, expected_version, tokens_ciphertext, token_type, granted_scopes, expires_at, refresh_due_at, last_refreshed_at, authorized_at)
          as (values ${sql.join(tuples)})
        update oauth_grants set
          tokens_ciphertext = v.tokens_ciphertext, token_type = v.token_type, granted_scopes = v.granted_scopes, expires_at = v.expires_at,
          refresh_due_at = v.refresh_due_at, last_refreshed_at = v.last_refreshed_at, authorized_at = coalesce(v.authorized_at, oauth_grants.authorized_at),
          failure_count = 0, last_error = null, lease_owner = null, lease_expires_at = null, version = oauth_grants.version + 1
        from v
        where oauth_grants.credential_id = v.credential_id and oauth_grants.organization_id = v.organization_id and oauth_grants.version = v.expected_version
        returning oauth_grants.credential_id`.execute(trx);
      const ids = new Set(rows.map((row) => row.credential_id));
      for (const { write, index } of chunk) written[index] = ids.has(write.credentialId);
    }
    return written;
  },

  /**
   * Forgets every token of a grant (its credential now points at another provider, app or
   * client id): nothing obtained under the old configuration is used again. Bumps the version,
   * so a refresh still in flight under the old configuration cannot write its answer.
   */
  async resetGrant(organizationId: string, credentialId: string, refreshDueAt: string | null, trx: Db = db): Promise<void> {
    await trx
      .updateTable('oauth_grants')
      .set({
        tokens_ciphertext: null,
        token_type: null,
        granted_scopes: null,
        expires_at: null,
        authorized_at: null,
        last_refreshed_at: null,
        failure_count: 0,
        last_error: null,
        refresh_due_at: refreshDueAt,
        lease_owner: null,
        lease_expires_at: null,
        version: sql`version + 1`,
      })
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .execute();
  },

  /**
   * Takes the refresh lease on one grant unless another process holds a live one. The
   * lease is what keeps refreshes of one credential to one at a time across processes.
   */
  async tryLease(organizationId: string, credentialId: string, owner: string, now: string, until: string): Promise<boolean> {
    const result = await db
      .updateTable('oauth_grants')
      .set({ lease_owner: owner, lease_expires_at: until })
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      // A live lease blocks everyone, this process included: its worker may hold it.
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async releaseLease(credentialId: string, owner: string): Promise<void> {
    await db
      .updateTable('oauth_grants')
      .set({ lease_owner: null, lease_expires_at: null })
      .where('credential_id', '=', credentialId)
      .where('lease_owner', '=', owner)
      .execute();
  },

  /**
   * Claims up to `limit` grants whose refresh is due and whose lease is free, earliest due
   * first, leasing them to `owner`. No organization ends up with more than `perOrganization`
   * live leases (those already held, by any process, count): a tenant whose grants hang
   * cannot fill a batch and hold up everyone else's refreshes.
   *
   * On PostgreSQL the candidates are ranked first, then locked with FOR UPDATE SKIP LOCKED
   * (which cannot share a statement with the ranking window) and leased by id, inside one
   * transaction: workers claiming at the same moment get disjoint batches, never more than
   * `limit` rows. Twice `limit` candidates are ranked so that a worker racing another still
   * finds rows the other skipped; both come from one ranking, so the cap holds for the pair.
   */
  async claimDue(owner: string, now: string, until: string, limit: number, perOrganization: number = Number.MAX_SAFE_INTEGER): Promise<OAuthGrant[]> {
    // Still due and free when locked: the ranking below reads without locks, so by the time a
    // candidate is locked another worker may have refreshed it (due again only much later).
    const free = (eb: ExpressionBuilder<Database, 'oauth_grants'>) =>
      eb.and([eb('refresh_due_at', '<=', now), eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)])]);
    const lease = (trx: Db) => trx.updateTable('oauth_grants').set({ lease_owner: owner, lease_expires_at: until }).where(free);
    const ranked = async (trx: Db, count: number): Promise<string[]> => {
      const result =
        engine === 'postgres'
          ? // Organization by organization (index probes on migration 0015's indexes), not a
            // ranking of every due grant: a claim costs the same with 100 or 1,000,000 due.
            await sql<{ credential_id: string }>`
              select picked.credential_id from organizations o
              cross join lateral (
                select count(*) as leased from (
                  select 1 from oauth_grants l where l.organization_id = o.id and l.lease_expires_at > ${now} limit ${perOrganization}
                ) held
              ) busy
              cross join lateral (
                select g.credential_id, g.refresh_due_at from oauth_grants g
                where g.organization_id = o.id and g.refresh_due_at <= ${now} and (g.lease_expires_at is null or g.lease_expires_at <= ${now})
                order by g.refresh_due_at, g.credential_id
                limit least(${count}::bigint, greatest(0, ${perOrganization}::bigint - busy.leased))
              ) picked
              order by picked.refresh_due_at, picked.credential_id
              limit ${count}`.execute(trx)
          : await sql<{ credential_id: string }>`
              select ranked.credential_id from (
                select g.credential_id, g.refresh_due_at,
                  row_number() over (partition by g.organization_id order by g.refresh_due_at, g.credential_id) as place,
                  coalesce(busy.leased, 0) as leased
                from oauth_grants g
                left join (
                  select organization_id, count(*) as leased from oauth_grants where lease_expires_at > ${now} group by organization_id
                ) busy on busy.organization_id = g.organization_id
                where g.refresh_due_at <= ${now} and (g.lease_expires_at is null or g.lease_expires_at <= ${now})
              ) ranked
              where ranked.place + ranked.leased <= ${perOrganization}
              order by ranked.refresh_due_at, ranked.credential_id
              limit ${count}`.execute(trx);
      return result.rows.map((row) => row.credential_id);
    };
    const byDue = (grants: OAuthGrant[]) => grants.sort((a, b) => (a.refreshDueAt ?? '').localeCompare(b.refreshDueAt ?? '') || a.credentialId.localeCompare(b.credentialId));
    return db.transaction().execute(async (trx) => {
      const candidates = await ranked(trx, engine === 'postgres' ? 2 * limit : limit);
      if (candidates.length === 0) return [];
      const ids =
        engine === 'postgres'
          ? (
              await trx.selectFrom('oauth_grants').select('credential_id').where('credential_id', 'in', candidates).where(free).orderBy('refresh_due_at').orderBy('credential_id').limit(limit).forUpdate().skipLocked().execute()
            ).map((row) => row.credential_id)
          : candidates;
      if (ids.length === 0) return [];
      return byDue((await lease(trx).where('credential_id', 'in', ids).returningAll().execute()).map(toGrant));
    });
  },

  async insertLink(link: AuthorizationLink, tokenHash: string, trx: Db = db): Promise<void> {
    await trx
      .insertInto('oauth_links')
      .values({
        id: link.id,
        organization_id: link.organizationId,
        credential_id: link.credentialId,
        token_hash: tokenHash,
        created_by: link.createdBy,
        created_at: link.createdAt,
        expires_at: link.expiresAt,
        used_at: link.usedAt,
        revoked_at: link.revokedAt,
        allow_account_change: link.allowAccountChange ? 1 : 0,
        expiry_notified_at: null,
      })
      .execute();
  },

  async findLinkByHash(tokenHash: string, trx: Db = db): Promise<AuthorizationLink | undefined> {
    const row = await trx.selectFrom('oauth_links').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && toLink(row);
  },

  async findLink(id: string, trx: Db = db): Promise<AuthorizationLink | undefined> {
    const row = await trx.selectFrom('oauth_links').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toLink(row);
  },

  /** The newest link of a credential that is neither used nor revoked (it may have expired). */
  async findOpenLink(organizationId: string, credentialId: string, trx: Db = db): Promise<AuthorizationLink | undefined> {
    const row = await trx
      .selectFrom('oauth_links')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toLink(row);
  },

  /** Revokes every open link of a credential; returns how many. */
  async revokeLinks(organizationId: string, credentialId: string, at: string, trx: Db = db): Promise<number> {
    const result = await trx
      .updateTable('oauth_links')
      .set({ revoked_at: at })
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  },

  /** Marks a link used, once; false when it was already used or revoked. */
  async useLink(id: string, at: string, trx: Db = db): Promise<boolean> {
    const result = await trx
      .updateTable('oauth_links')
      .set({ used_at: at })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async insertState(state: AuthorizationState, stateHash: string, trx: Db = db): Promise<void> {
    await trx
      .insertInto('oauth_states')
      .values({
        id: state.id,
        state_hash: stateHash,
        organization_id: state.organizationId,
        credential_id: state.credentialId,
        link_id: state.linkId,
        browser_hash: state.browserHash,
        verifier_ciphertext: state.verifierCiphertext,
        redirect_uri: state.redirectUri,
        issuer: state.issuer,
        created_at: state.createdAt,
        expires_at: state.expiresAt,
        used_at: state.usedAt,
      })
      .execute();
  },

  async findStateByHash(stateHash: string, trx: Db = db): Promise<AuthorizationState | undefined> {
    const row = await trx.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
    return row && toState(row);
  },

  /** Consumes a state, once; false when another request already did. */
  async useState(id: string, at: string, trx: Db = db): Promise<boolean> {
    const result = await trx.updateTable('oauth_states').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Removes states past their life; they are useless and only grow the table. */
  async deleteExpiredStates(before: string): Promise<void> {
    await db.deleteFrom('oauth_states').where('expires_at', '<', before).execute();
  },
});

export type OAuthStore = ReturnType<typeof createOAuthStore>;
