import { type Kysely } from 'kysely';

/**
 * The refresh worker's claim looks at each organization's earliest due grants and counts its
 * live leases (oauth-store.ts claimDue): both by index, so a claim costs the same however
 * many grants are due.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.createIndex('oauth_grants_organization_due').on('oauth_grants').columns(['organization_id', 'refresh_due_at', 'credential_id']).execute();
  await db.schema.createIndex('oauth_grants_organization_lease').on('oauth_grants').columns(['organization_id', 'lease_expires_at']).execute();
};
