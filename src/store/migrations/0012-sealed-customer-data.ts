import type { Kysely } from 'kysely';

/**
 * What a run's steps said (outputs, logs, errors) and what a credential test answered are a
 * customer's data, so they are sealed with the customer's data key: crypto-shredding the
 * customer makes them unreadable with everything else of theirs. Rows written before this
 * keep their clear values until the start-up migration (run-sealing.ts) seals them.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('runs').addColumn('errors_ciphertext', 'text').execute();
  await db.schema.alterTable('runs').addColumn('outputs_ciphertext', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('last_test_ciphertext', 'text').execute();
};
