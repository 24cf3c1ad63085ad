import { isCredentialFailure } from '../credentials/health.js';
import type { HealthObservation, HealthService } from '../credentials/health-service.js';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { AuditService } from '../audit/audit-service.js';
import { ComponentError, type StepCredential, type StepLogger } from '../components/component.js';
import type { ComponentRegistry } from '../components/registry.js';
import { AUTH_METHODS } from '../credentials/auth-methods.js';
import { canSeeScope, requireRole, type Actor } from '../tenants/actor.js';
import { bindingOf, type IntegrationStore, type Run, type RunSummary, type StepRecord } from './integration-store.js';
import { checkInputs, substituteReferences } from './step-inputs.js';
import { stepContext, type StepNetwork } from './step-context.js';
import { createBindingView } from './binding-view.js';
import { openRun, openRunSummary, runSkeleton, sealRun } from './run-sealing.js';
import type { Keyring } from '../crypto/keyring.js';
import type { CredentialStore } from '../credentials/credential-store.js';

export const STEP_TIMEOUT_MS = 60_000;
const MAX_LOG_LINES = 200;
const MAX_OUTPUT_BYTES = 256 * 1024;
/** A run's record keeps at most this many bytes of step outputs; later outputs are left out. */
export const MAX_RUN_OUTPUT_BYTES = 2 * 1024 * 1024;

/** Leaves out, in the record, each output past the run's total; later steps still see them. */
const capRunOutputs = (steps: StepRecord[]): void => {
  let total = 0;
  for (const step of steps) {
    if (step.output === null) continue;
    const bytes = Buffer.byteLength(JSON.stringify(step.output));
    total += bytes;
    if (total > MAX_RUN_OUTPUT_BYTES) step.output = { truncated: true, bytes, reason: 'the run kept its outputs up to its total limit' };
  }
};

/** Gives a step its credential: decrypted, with a fresh access token, audited. */
export interface StepCredentialSource {
  resolveForStep(actor: Actor, credentialId: string, context: { instanceId: string; runId: string; step: string }): Promise<StepCredential>;
}

/**
 * The values a step's output and logs must never show: every secret field, the access
 * token, and the encoded forms a service might echo back (base64, and Basic auth's
 * base64 of `username:password`).
 */
export const secretsOf = (credential: StepCredential | undefined): string[] => {
  if (!credential) return [];
  const values = credential.fields.reveal();
  const plain = [
    ...AUTH_METHODS[credential.authMethod].fields.filter((f) => f.secret).map((f) => values[f.name]),
    credential.accessToken?.reveal(),
    credential.authMethod === 'basic' ? `${values.username ?? ''}:${values.password ?? ''}` : undefined,
  ].filter((v): v is string => typeof v === 'string' && v.length >= 4);
  const encoded = plain.filter((v) => v.length >= 6).flatMap((v) => [Buffer.from(v).toString('base64'), Buffer.from(v).toString('base64url')]);
  // Longest first, so a secret inside a longer one is not replaced piecemeal.
  return [...new Set([...plain, ...encoded])].sort((a, b) => b.length - a.length);
};

/** Replaces every occurrence of a secret in any string inside `value`. */
export const scrub = (value: unknown, secrets: readonly string[]): unknown => {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), value);
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]));
  return value;
};

const failureMessage = (error: unknown): string => {
  if (error instanceof ComponentError) return error.message;
  if (error instanceof AppError && error.expose) return error.message;
  if (error instanceof Error && error.name === 'TimeoutError') return 'The step took too long and was stopped';
  return 'The step failed unexpectedly';
};

interface StepHealth {
  credentialId: string;
  health: 'healthy' | 'failing';
  message?: string;
}

/**
 * Runs an instance: its steps in order, each with its bound credential resolved just
 * for that step. The run record keeps status, output, timing and logs — scrubbed of the
 * credential's values, so a secret never lands in it.
 */
export const createRunService = (deps: {
  store: IntegrationStore;
  components: ComponentRegistry;
  credentials: StepCredentialSource;
  /** Which customer each bound credential belongs to, to hide organization credentials from customer users. */
  credentialRecords: Pick<CredentialStore, 'findEach'>;
  /** Seals what the steps said with the customer's key. */
  keyring: Pick<Keyring, 'seal' | 'open'>;
  audit: Pick<AuditService, 'record'>;
  /** A step's outcome is what its credential's health goes by: it worked, or the service refused it. */
  health: Pick<HealthService, 'observe'>;
  clock: Clock;
  network: StepNetwork;
  stepTimeoutMs?: number;
}) => {
  const { store, components, credentials, audit, clock } = deps;
  const view = createBindingView(deps.credentialRecords);
  const stepTimeoutMs = deps.stepTimeoutMs ?? STEP_TIMEOUT_MS;

  /** Runs one step; answers what it showed of its credential's health, if anything. */
  const runStep = async (actor: Actor, run: Run, step: StepRecord, inputs: Record<string, unknown>, outputs: Map<string, unknown>): Promise<StepHealth | undefined> => {
    const { credentialId } = step;
    const action = components.action(step.component, step.action);
    const started = clock.now();
    step.startedAt = started.toISOString();
    let secrets: string[] = [];
    const log = (level: string) => (message: string, details?: Record<string, unknown>) => {
      if (step.logs.length >= MAX_LOG_LINES) return;
      const text = details ? `${message} ${JSON.stringify(details)}` : message;
      step.logs.push({ level, message: scrub(text, secrets) as string, at: clock.now().toISOString() });
    };
    const logger: StepLogger = { info: log('info'), warn: log('warn') };
    try {
      // A binding left missing by a forced delete fails the step even where a credential is optional.
      if (step.missingBinding || (action.credentialRequired && !credentialId)) throw new AppError('INVALID_BINDING', `No credential is bound to step ${step.name}`);
      const credential = credentialId ? await credentials.resolveForStep(actor, credentialId, { instanceId: run.instanceId, runId: run.id, step: step.name }) : undefined;
      secrets = secretsOf(credential);
      let resolvedInputs: unknown;
      try {
        resolvedInputs = substituteReferences(inputs, outputs);
      } catch (error) {
        throw new AppError('VALIDATION_FAILED', `Input ${(error as Error).message}`);
      }
      const checked = checkInputs(action.inputs, resolvedInputs);
      if (!checked.ok) throw new AppError('VALIDATION_FAILED', `Inputs do not fit ${step.component}.${step.action}: ${checked.message}`);
      const signal = AbortSignal.timeout(stepTimeoutMs);
      const context = stepContext(deps.network, action, checked.value, { credential, log: logger, signal, timeoutMs: stepTimeoutMs });
      const output = await action.perform(context, checked.value);
      const clean = scrub(output ?? null, secrets);
      const size = Buffer.byteLength(JSON.stringify(clean));
      step.output = size <= MAX_OUTPUT_BYTES ? clean : { truncated: true, bytes: size };
      step.status = 'succeeded';
      outputs.set(step.name, clean);
      return credentialId ? { credentialId, health: 'healthy' } : undefined;
    } catch (error) {
      step.status = 'failed';
      step.error = scrub(failureMessage(error), secrets) as string;
      // Only a refusal of the credential itself says something of it; a wrong path or a service that is down does not.
      if (credentialId && secrets.length > 0 && error instanceof ComponentError && isCredentialFailure(error.kind)) return { credentialId, health: 'failing', message: step.error };
      return undefined;
    } finally {
      step.durationMs = clock.now().getTime() - started.getTime();
    }
  };

  /** Applies what a run's steps showed of their credentials' health (the last step of each credential counts). */
  const observeHealth = async (organizationId: string, seen: StepHealth[]): Promise<void> => {
    if (seen.length === 0) return;
    const records = await deps.credentialRecords.findEach(seen.map(({ credentialId }) => ({ organizationId, id: credentialId })));
    const observations: HealthObservation[] = [];
    seen.forEach((s, i) => {
      const credential = records[i];
      if (credential) observations.push({ credential, health: s.health, source: 'run', message: s.message });
    });
    await deps.health.observe(observations);
  };

  return {
    async run(actor: Actor, instanceId: string): Promise<Run> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      const instance = await store.findInstance(actor.organizationId, instanceId);
      if (!instance || (actor.role !== 'runtime' && !canSeeScope(actor, instance.customerId))) throw notFound('Instance');
      const integration = await store.findIntegration(actor.organizationId, instance.integrationId);
      if (!integration) throw notFound('Integration');
      const run: Run = {
        id: newId('run'),
        organizationId: actor.organizationId,
        instanceId,
        status: 'running',
        steps: integration.steps.map((s) => ({
          name: s.name,
          component: s.component,
          action: s.action,
          status: 'skipped',
          credentialId: bindingOf(instance.bindings, s.name),
          missingBinding: Object.hasOwn(instance.bindings, s.name) && bindingOf(instance.bindings, s.name) === null,
          output: null,
          error: null,
          startedAt: null,
          durationMs: null,
          logs: [],
        })),
        error: null,
        startedAt: clock.now().toISOString(),
        finishedAt: null,
      };
      await store.insertRun(run);
      const outputs = new Map<string, unknown>();
      const seen: StepHealth[] = [];
      for (const [index, step] of run.steps.entries()) {
        const health = await runStep(actor, run, step, integration.steps[index]?.inputs ?? {}, outputs);
        if (health) seen.push(health);
        if (step.status === 'failed') {
          run.error = `Step ${step.name} failed: ${step.error ?? ''}`;
          break;
        }
      }
      capRunOutputs(run.steps);
      run.status = run.error ? 'failed' : 'succeeded';
      run.finishedAt = clock.now().toISOString();
      await store.finishRun(runSkeleton(run), await sealRun(deps.keyring, run, instance.customerId));
      await observeHealth(actor.organizationId, seen);
      await audit.record(actor, actor.organizationId, { action: 'instance.run', customerId: instance.customerId, targetType: 'instance', targetId: instanceId, details: { runId: run.id, status: run.status } });
      return (await view.runs(actor, [run]))[0] ?? run;
    },

    async get(actor: Actor, instanceId: string, runId: string): Promise<Run> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      const instance = await store.findInstance(actor.organizationId, instanceId);
      if (!instance || (actor.role !== 'runtime' && !canSeeScope(actor, instance.customerId))) throw notFound('Run');
      const found = await store.findRun(actor.organizationId, instanceId, runId);
      if (!found) throw notFound('Run');
      const run = await openRun(deps.keyring, found.run, instance.customerId, found.sealed);
      return (await view.runs(actor, [run]))[0] ?? run;
    },

    async list(actor: Actor, instanceId: string, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<RunSummary>> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      const instance = await store.findInstance(actor.organizationId, instanceId);
      if (!instance || (actor.role !== 'runtime' && !canSeeScope(actor, instance.customerId))) throw notFound('Instance');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await store.listRuns(actor.organizationId, instanceId, { beforeId: decodeCursor(query.cursor), limit: limit + 1 });
      const runs = await Promise.all(rows.map(({ run, sealedErrors }) => openRunSummary(deps.keyring, run, instance.customerId, sealedErrors)));
      return toPage(await view.runs(actor, runs), limit);
    },
  };
};

export type RunService = ReturnType<typeof createRunService>;
