import type { Kysely } from 'kysely';

/**
 * Destinations: the origins each credential's secret may be sent to. Null until the row is
 * resealed with them in its associated data (done at start-up by the destinations
 * migration, src/credentials/destination-migration.ts, which needs the keys this SQL cannot
 * reach); until then the credential is sent nowhere.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('credentials').addColumn('destinations', 'text').execute();
};
