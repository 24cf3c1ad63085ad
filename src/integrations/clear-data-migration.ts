import type { CredentialStore } from '../credentials/credential-store.js';
import { sealLastTest } from '../credentials/last-test.js';
import type { Keyring } from '../crypto/keyring.js';
import type { IntegrationStore } from './integration-store.js';
import { runSkeleton, sealRun } from './run-sealing.js';

const BATCH = 200;

/**
 * Seals what was kept in clear before migration 0012: the last test of each credential and
 * the outputs, logs and errors of each finished run, each with its customer's key (the
 * organization's for organization credentials). Every write is guarded, so several processes
 * starting at once, or a start after a crash, seal each row once. Answers how many rows it sealed.
 */
export const sealClearCustomerData = async (deps: {
  credentials: Pick<CredentialStore, 'listWithClearLastTest' | 'sealLegacyLastTest'>;
  runs: Pick<IntegrationStore, 'listClearRuns' | 'finishRun'>;
  keyring: Pick<Keyring, 'seal'>;
}): Promise<{ lastTests: number; runs: number }> => {
  let lastTests = 0;
  for (const record of await deps.credentials.listWithClearLastTest()) {
    if (record.legacyLastTest === null) continue;
    const sealed = await sealLastTest(deps.keyring, record, record.legacyLastTest);
    if (await deps.credentials.sealLegacyLastTest(record.organizationId, record.id, sealed)) lastTests += 1;
  }

  let runs = 0;
  let after: string | null = null;
  for (;;) {
    const batch = await deps.runs.listClearRuns(after, BATCH);
    for (const { run, customerId } of batch) {
      if (await deps.runs.finishRun(runSkeleton(run), await sealRun(deps.keyring, run, customerId), { unsealedOnly: true })) runs += 1;
    }
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1]?.run.id ?? null;
  }
  return { lastTests, runs };
};
