import { AppError } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import type { AuditService } from '../audit/audit-service.js';
import { ComponentError } from '../components/component.js';
import type { ComponentRegistry } from '../components/registry.js';
import { scrub, secretsOf } from '../integrations/run-service.js';
import { stepContext, type StepNetwork } from '../integrations/step-context.js';
import type { Actor } from '../tenants/actor.js';
import { checkedAction } from './credential-action.js';
import type { CredentialService } from './credential-service.js';
import type { CredentialRecord, CredentialStore, LastTest } from './credential-store.js';
import type { HealthCheckSpec } from './health-checks.js';
import { sealLastTest } from './last-test.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Transact } from '../store/database.js';
import { healthOfFailure, type Health } from './health.js';
import type { HealthService } from './health-service.js';

export const TEST_TIMEOUT_MS = 30_000;

export interface CredentialTestResult {
  ok: boolean;
  message: string;
  durationMs: number;
}

const describeOutput = (output: unknown): string => {
  if (output && typeof output === 'object') {
    const record = output as Record<string, unknown>;
    for (const key of ['entries', 'buckets', 'objects']) {
      if (Array.isArray(record[key])) return `the service answered with ${(record[key] as unknown[]).length} ${key}`;
    }
    if (typeof record.status === 'number') return `the service answered ${record.status}`;
    if (typeof record.name === 'string') return `signed in as ${record.name}`;
  }
  return 'the service accepted the credential';
};

/**
 * Tests a credential with a real call: the component's test action (or a chosen one)
 * runs with the credential, and the answer is kept on the credential as `lastTest`.
 */
export const createCredentialTestService = (deps: {
  credentials: Pick<CredentialService, 'findManageable' | 'resolveForStep'>;
  store: Pick<CredentialStore, 'setLastTest'>;
  keyring: Pick<Keyring, 'seal'>;
  components: ComponentRegistry;
  audit: Pick<AuditService, 'record'>;
  health: Pick<HealthService, 'observeIn' | 'observe'>;
  transact: Transact;
  clock: Clock;
  network: StepNetwork;
}) => {
  const { credentials, store, components, audit, clock } = deps;

  /**
   * Runs a component action with a credential, as a test or a scheduled check does: targets
   * are checked against its destinations before it is even decrypted, and the answer (scrubbed
   * of its values) says what it shows of the credential's health.
   */
  const perform = async (
    actor: Actor,
    record: CredentialRecord,
    input: { component: string; action?: string | undefined; inputs?: Record<string, unknown> | undefined },
    purpose: 'test' | 'check',
  ): Promise<CredentialTestResult & { health: Health }> => {
    // A target the inputs name is checked before the credential is even decrypted.
    const { action, inputs } = checkedAction(components, record, input);

    const started = clock.now();
    let result: { ok: boolean; message: string; health: Health };
    let secrets: string[] = [];
    try {
      const credential = await credentials.resolveForStep(actor, record.id, { purpose, component: input.component, action: action.key });
      secrets = secretsOf(credential);
      const log = { info: () => undefined, warn: () => undefined };
      const context = stepContext(deps.network, action, inputs, { credential, log, signal: AbortSignal.timeout(TEST_TIMEOUT_MS), timeoutMs: TEST_TIMEOUT_MS });
      const output = await action.perform(context, inputs);
      result = { ok: true, message: `It works: ${describeOutput(output)}`, health: 'healthy' };
    } catch (error) {
      // A refused destination is the caller's request, not the credential's health: a 4xx, nothing recorded.
      if (error instanceof AppError && error.code === 'DESTINATION_NOT_ALLOWED') throw error;
      if (error instanceof ComponentError) result = { ok: false, message: error.message, health: healthOfFailure(error.kind) };
      else if (error instanceof AppError && error.expose) result = { ok: false, message: error.message, health: error.code === 'AUTHORIZATION_REQUIRED' ? 'needs_reauthorization' : 'degraded' };
      else if (error instanceof Error && error.name === 'TimeoutError') result = { ok: false, message: 'The service did not answer in time', health: 'degraded' };
      else throw error;
    }
    return { ok: result.ok, message: scrub(result.message, secrets) as string, health: result.health, durationMs: clock.now().getTime() - started.getTime() };
  };

  return {
    async test(actor: Actor, credentialId: string, input: { component: string; action?: string | undefined; inputs?: Record<string, unknown> | undefined }): Promise<CredentialTestResult> {
      const record = await credentials.findManageable(actor, credentialId);
      const { ok, message, health, durationMs } = await perform(actor, record, input, 'test');
      const lastTest: LastTest = { ok, message, at: clock.now().toISOString() };
      const sealed = await sealLastTest(deps.keyring, record, lastTest);
      const action = components.action(input.component, input.action).key;
      await deps.transact(async (trx) => {
        await store.setLastTest(record.organizationId, record.id, sealed, trx);
        await deps.health.observeIn(trx, [{ credential: record, health, source: 'test', message }]);
        await audit.record(actor, actor.organizationId, { action: 'credential.tested', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { component: input.component, action, ok } }, trx);
      });
      return { ok, message, durationMs };
    },

    /** Runs a credential's scheduled check as the worker `actor`; what it finds becomes the credential's health. */
    async check(actor: Actor, record: CredentialRecord, spec: HealthCheckSpec): Promise<CredentialTestResult> {
      let outcome: CredentialTestResult & { health: Health };
      try {
        outcome = await perform(actor, record, spec, 'check');
      } catch (error) {
        // The check no longer fits the credential (a destination removed, an action gone): say so on the credential.
        if (!(error instanceof AppError && error.expose)) throw error;
        outcome = { ok: false, message: `The scheduled check cannot run: ${error.message}`, health: 'degraded', durationMs: 0 };
      }
      await deps.health.observe([{ credential: record, health: outcome.health, source: 'check', message: outcome.message }]);
      return { ok: outcome.ok, message: outcome.message, durationMs: outcome.durationMs };
    },
  };
};

export type CredentialTestService = ReturnType<typeof createCredentialTestService>;
