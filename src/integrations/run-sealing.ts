import type { CipherContext, Keyring } from '../crypto/keyring.js';
import { openJson, sealJson } from '../crypto/sealed-json.js';
import type { Run, RunSummary, StepRecord, StepSummary } from './integration-store.js';

/**
 * What the steps of a run said — each output and log (an SFTP read is a customer's file),
 * and every error — is a customer's data. It is sealed with the data key of the instance's
 * customer, in two parts: the errors, which the run list shows, and the outputs with their
 * logs, which only a single run shows. Names, statuses and timings stay in clear.
 */
export const RUN_ERRORS_FIELD_SET = 'run-errors';
export const RUN_OUTPUTS_FIELD_SET = 'run-outputs';

export interface SealedRunParts {
  errors: string | null;
  outputs: string | null;
}

interface RunErrors {
  error: string | null;
  steps: Array<string | null>;
}

interface RunOutputs {
  steps: Array<Pick<StepRecord, 'output' | 'logs'>>;
}

export const runContext = (run: Pick<Run, 'id' | 'organizationId'>, customerId: string, fieldSet: string): CipherContext => ({
  organizationId: run.organizationId,
  scopeId: customerId,
  recordId: run.id,
  fieldSet,
});

/** The run as stored in clear: every step without output, logs or error. */
export const runSkeleton = (run: Run): Run => ({
  ...run,
  error: null,
  steps: run.steps.map((step) => ({ ...step, output: null, logs: [], error: null })),
});

/** Seals a finished run's errors and outputs for the instance's customer. */
export const sealRun = async (keyring: Pick<Keyring, 'seal'>, run: Run, customerId: string): Promise<SealedRunParts> => {
  const errors: RunErrors = { error: run.error, steps: run.steps.map((step) => step.error) };
  const outputs: RunOutputs = { steps: run.steps.map((step) => ({ output: step.output, logs: step.logs })) };
  return {
    errors: await sealJson(keyring, runContext(run, customerId, RUN_ERRORS_FIELD_SET), errors),
    outputs: await sealJson(keyring, runContext(run, customerId, RUN_OUTPUTS_FIELD_SET), outputs),
  };
};

const withErrors = async <S extends StepSummary>(keyring: Pick<Keyring, 'open'>, run: Omit<Run, 'steps'> & { steps: S[] }, customerId: string, sealed: string | null) => {
  if (sealed === null) return run;
  const errors = await openJson<RunErrors>(keyring, runContext(run, customerId, RUN_ERRORS_FIELD_SET), sealed);
  return { ...run, error: errors.error, steps: run.steps.map((step, index) => ({ ...step, error: errors.steps[index] ?? null })) };
};

/** A stored run, opened; one stored before sealing (no ciphertexts) as it is. */
export const openRun = async (keyring: Pick<Keyring, 'open'>, run: Run, customerId: string, sealed: SealedRunParts): Promise<Run> => {
  const opened = await withErrors(keyring, run, customerId, sealed.errors);
  if (sealed.outputs === null) return opened;
  const outputs = await openJson<RunOutputs>(keyring, runContext(run, customerId, RUN_OUTPUTS_FIELD_SET), sealed.outputs);
  return { ...opened, steps: opened.steps.map((step, index) => ({ ...step, output: outputs.steps[index]?.output ?? null, logs: outputs.steps[index]?.logs ?? [] })) };
};

/** A run of the list, with its errors opened (its outputs are not read at all). */
export const openRunSummary = (keyring: Pick<Keyring, 'open'>, run: RunSummary, customerId: string, sealedErrors: string | null): Promise<RunSummary> =>
  withErrors(keyring, run, customerId, sealedErrors);
