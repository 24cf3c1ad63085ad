import { AppError } from '../common/app-error.js';
import type { ComponentRegistry } from '../components/registry.js';
import type { Db } from '../store/database.js';
import { claimLeased } from '../store/leases.js';
import type { CredentialHealthChecksTable } from '../store/schema.js';
import type { AuthMethodKey } from './auth-methods.js';
import { checkedAction } from './credential-action.js';

/** The shortest interval between two scheduled checks of one credential. */
export const MIN_CHECK_MINUTES = 5;
export const MAX_CHECK_MINUTES = 7 * 24 * 60;

/** A check as a credential carries it: a component action run with the credential every `everyMinutes`. */
export interface HealthCheckSpec {
  component: string;
  action: string;
  inputs: Record<string, unknown>;
  everyMinutes: number;
}

/** A scheduled check with when it runs next (and last ran). */
export interface ScheduledHealthCheck extends HealthCheckSpec {
  credentialId: string;
  organizationId: string;
  nextCheckAt: string;
  lastCheckAt: string | null;
}

/**
 * Checks a health check against the credential it is for, before anything is stored: the
 * action exists and accepts the credential's method, the inputs fit it, and every target they
 * name is one of the credential's destinations (the egress gate checks again at every run).
 */
export const validateHealthCheck = (
  components: ComponentRegistry,
  credential: { authMethod: AuthMethodKey; destinations: string[] | null },
  input: { component: string; action?: string | undefined; inputs?: Record<string, unknown> | undefined; everyMinutes: number },
): HealthCheckSpec => {
  if (!Number.isInteger(input.everyMinutes) || input.everyMinutes < MIN_CHECK_MINUTES || input.everyMinutes > MAX_CHECK_MINUTES) {
    throw new AppError('VALIDATION_FAILED', `healthCheck.everyMinutes must be a whole number from ${MIN_CHECK_MINUTES} to ${MAX_CHECK_MINUTES}`);
  }
  const { action } = checkedAction(components, credential, input, 'healthCheck: ');
  return { component: input.component, action: action.key, inputs: input.inputs ?? {}, everyMinutes: input.everyMinutes };
};

const toScheduled = (row: CredentialHealthChecksTable): ScheduledHealthCheck => ({
  credentialId: row.credential_id,
  organizationId: row.organization_id,
  component: row.component,
  action: row.action,
  inputs: JSON.parse(row.inputs) as Record<string, unknown>,
  everyMinutes: Number(row.every_minutes),
  nextCheckAt: row.due_at,
  lastCheckAt: row.last_run_at,
});

/** Scheduled health checks. Every query but the worker's claim is scoped by organization id. */
export const createHealthCheckStore = (db: Db, engine: 'sqlite' | 'postgres') => ({
  /** Sets (or with null removes) a credential's check; a new or changed check is due at `dueAt`, and any lease on the old one is dropped. */
  async set(organizationId: string, credentialId: string, spec: HealthCheckSpec | null, dueAt: string, trx: Db = db): Promise<void> {
    if (spec === null) {
      await trx.deleteFrom('credential_health_checks').where('organization_id', '=', organizationId).where('credential_id', '=', credentialId).execute();
      return;
    }
    const row = { component: spec.component, action: spec.action, inputs: JSON.stringify(spec.inputs), every_minutes: spec.everyMinutes, due_at: dueAt, lease_owner: null, lease_expires_at: null };
    await trx
      .insertInto('credential_health_checks')
      .values({ credential_id: credentialId, organization_id: organizationId, ...row, last_run_at: null })
      .onConflict((oc) => oc.column('credential_id').doUpdateSet(row))
      .execute();
  },

  async find(organizationId: string, credentialIds: readonly string[], trx: Db = db): Promise<ScheduledHealthCheck[]> {
    if (credentialIds.length === 0) return [];
    const rows = await trx.selectFrom('credential_health_checks').selectAll().where('organization_id', '=', organizationId).where('credential_id', 'in', [...credentialIds]).execute();
    return rows.map(toScheduled);
  },

  /** Leases up to `limit` due checks to `owner` until `until` (see claimLeased). */
  async claimDue(owner: string, now: string, until: string, limit: number, perOrganization: number): Promise<ScheduledHealthCheck[]> {
    return db.transaction().execute(async (trx) => {
      const ids = await claimLeased(trx, engine, { table: 'credential_health_checks', key: 'credential_id', due: 'due_at' }, { owner, now, until, limit, perOrganization });
      if (ids.length === 0) return [];
      const rows = await trx.selectFrom('credential_health_checks').selectAll().where('credential_id', 'in', ids).execute();
      return rows.map(toScheduled).sort((a, b) => a.nextCheckAt.localeCompare(b.nextCheckAt) || a.credentialId.localeCompare(b.credentialId));
    });
  },

  /** Schedules the next run of a check this worker ran; nothing if the check changed or passed to another worker meanwhile. */
  async reschedule(credentialId: string, owner: string, ranAt: string, dueAt: string): Promise<boolean> {
    const result = await db
      .updateTable('credential_health_checks')
      .set({ due_at: dueAt, last_run_at: ranAt, lease_owner: null, lease_expires_at: null })
      .where('credential_id', '=', credentialId)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },
});

export type HealthCheckStore = ReturnType<typeof createHealthCheckStore>;
