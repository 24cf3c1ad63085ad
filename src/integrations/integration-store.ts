import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { InstancesTable, IntegrationsTable, RunsTable } from '../store/schema.js';
import type { SealedRunParts } from './run-sealing.js';

export interface IntegrationStep {
  name: string;
  component: string;
  action: string;
  /** Values, or `{{steps.<name>.<path>}}` references to an earlier step's output. */
  inputs: Record<string, unknown>;
}

export interface Integration {
  id: string;
  organizationId: string;
  name: string;
  description: string | null;
  steps: IntegrationStep[];
  createdAt: string;
  updatedAt: string;
}

export interface Instance {
  id: string;
  organizationId: string;
  integrationId: string;
  customerId: string;
  name: string;
  /** Step name → credential id; null where a bound credential was deleted with force. */
  bindings: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
}

export interface StepRecord {
  name: string;
  component: string;
  action: string;
  status: 'succeeded' | 'failed' | 'skipped';
  credentialId: string | null;
  /** The step had a credential whose deletion (with force) left the binding missing. */
  missingBinding?: boolean;
  output: unknown;
  error: string | null;
  startedAt: string | null;
  durationMs: number | null;
  logs: Array<{ level: string; message: string; at: string }>;
}

export interface Run {
  id: string;
  organizationId: string;
  instanceId: string;
  status: 'running' | 'succeeded' | 'failed';
  steps: StepRecord[];
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** The credential bound to a step: own properties only, so a step named `constructor` has none unless bound. */
export const bindingOf = (bindings: Readonly<Record<string, string | null>>, step: string): string | null =>
  Object.hasOwn(bindings, step) ? (bindings[step] ?? null) : null;

/** A step as the run list shows it: no output and no logs (fetch the run for those). */
export type StepSummary = Omit<StepRecord, 'output' | 'logs'>;
export type RunSummary = Omit<Run, 'steps'> & { steps: StepSummary[] };

const summarizeStep = ({ output: _output, logs: _logs, ...rest }: StepRecord): StepSummary => rest;

const toIntegration = (row: IntegrationsTable): Integration => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  description: row.description,
  steps: JSON.parse(row.steps) as IntegrationStep[],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toRun = (row: RunsTable): Run => ({
  id: row.id,
  organizationId: row.organization_id,
  instanceId: row.instance_id,
  status: row.status as Run['status'],
  steps: JSON.parse(row.steps) as StepRecord[],
  error: row.error,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
});

/** Integrations, instances with their bindings, and runs. Every query is scoped by organization. */
export const createIntegrationStore = (db: Db) => {
  const bindingsOf = async (organizationId: string, instanceIds: string[], trx: Db): Promise<Map<string, Record<string, string | null>>> => {
    const result = new Map<string, Record<string, string | null>>();
    if (instanceIds.length === 0) return result;
    const rows = await trx
      .selectFrom('instance_bindings')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('instance_id', 'in', instanceIds)
      .execute();
    for (const row of rows) {
      const bindings = result.get(row.instance_id) ?? (Object.create(null) as Record<string, string | null>);
      bindings[row.step_name] = row.credential_id;
      result.set(row.instance_id, bindings);
    }
    return result;
  };

  const withBindings = async (organizationId: string, rows: InstancesTable[], trx: Db): Promise<Instance[]> => {
    const bindings = await bindingsOf(organizationId, rows.map((r) => r.id), trx);
    return rows.map((row) => ({
      id: row.id,
      organizationId: row.organization_id,
      integrationId: row.integration_id,
      customerId: row.customer_id,
      name: row.name,
      bindings: bindings.get(row.id) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  };

  const replaceBindings = async (organizationId: string, instanceId: string, bindings: Record<string, string | null>, trx: Db = db): Promise<void> => {
    await trx.deleteFrom('instance_bindings').where('organization_id', '=', organizationId).where('instance_id', '=', instanceId).execute();
    const rows = Object.entries(bindings).map(([step, credentialId]) => ({
      instance_id: instanceId,
      step_name: step,
      organization_id: organizationId,
      credential_id: credentialId,
    }));
    if (rows.length > 0) await trx.insertInto('instance_bindings').values(rows).execute();
  };

  return {
    async insertIntegration(integration: Integration, trx: Db = db): Promise<void> {
      await trx
        .insertInto('integrations')
        .values({
          id: integration.id,
          organization_id: integration.organizationId,
          name: integration.name,
          description: integration.description,
          steps: JSON.stringify(integration.steps),
          created_at: integration.createdAt,
          updated_at: integration.updatedAt,
        })
        .execute();
    },

    async findIntegration(organizationId: string, id: string, trx: Db = db): Promise<Integration | undefined> {
      const row = await trx.selectFrom('integrations').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
      return row && toIntegration(row);
    },

    async listIntegrations(organizationId: string, filter: { afterId?: string | undefined; limit: number }, trx: Db = db): Promise<Integration[]> {
      let query = trx.selectFrom('integrations').selectAll().where('organization_id', '=', organizationId);
      if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
      return (await query.orderBy('id').limit(filter.limit).execute()).map(toIntegration);
    },

    async updateIntegration(
      organizationId: string,
      id: string,
      changes: { name?: string | undefined; description?: string | null | undefined; steps?: IntegrationStep[] | undefined; updatedAt: string },
      trx: Db = db,
    ): Promise<void> {
      await trx
        .updateTable('integrations')
        .set({
          updated_at: changes.updatedAt,
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          ...(changes.steps !== undefined ? { steps: JSON.stringify(changes.steps) } : {}),
        })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },

    async deleteIntegration(organizationId: string, id: string, trx: Db = db): Promise<void> {
      await trx.deleteFrom('integrations').where('organization_id', '=', organizationId).where('id', '=', id).execute();
    },

    async countInstancesOf(organizationId: string, integrationId: string, trx: Db = db): Promise<number> {
      const row = await trx
        .selectFrom('instances')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('organization_id', '=', organizationId)
        .where('integration_id', '=', integrationId)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async insertInstance(instance: Instance, trx: Db = db): Promise<void> {
      await trx
        .insertInto('instances')
        .values({
          id: instance.id,
          organization_id: instance.organizationId,
          integration_id: instance.integrationId,
          customer_id: instance.customerId,
          name: instance.name,
          created_at: instance.createdAt,
          updated_at: instance.updatedAt,
        })
        .execute();
      await replaceBindings(instance.organizationId, instance.id, instance.bindings, trx);
    },

    replaceBindings,

    async findInstance(organizationId: string, id: string, trx: Db = db): Promise<Instance | undefined> {
      const rows = await trx.selectFrom('instances').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).execute();
      return (await withBindings(organizationId, rows, trx))[0];
    },

    async listInstances(
      organizationId: string,
      filter: { customerId?: string | undefined; afterId?: string | undefined; limit: number },
      trx: Db = db,
    ): Promise<Instance[]> {
      let query = trx.selectFrom('instances').selectAll().where('organization_id', '=', organizationId);
      if (filter.customerId !== undefined) query = query.where('customer_id', '=', filter.customerId);
      if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
      return withBindings(organizationId, await query.orderBy('id').limit(filter.limit).execute(), trx);
    },

    async touchInstance(organizationId: string, id: string, changes: { name?: string | undefined; updatedAt: string }, trx: Db = db): Promise<void> {
      await trx
        .updateTable('instances')
        .set({ updated_at: changes.updatedAt, ...(changes.name !== undefined ? { name: changes.name } : {}) })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },

    async deleteInstance(organizationId: string, id: string, trx: Db = db): Promise<void> {
      await trx.deleteFrom('instances').where('organization_id', '=', organizationId).where('id', '=', id).execute();
    },

    /** Instances with a step bound to the credential: `{instanceId, name, step}`. */
    async usesOf(organizationId: string, credentialId: string, trx: Db = db): Promise<Array<{ instanceId: string; instanceName: string; step: string }>> {
      const rows = await trx
        .selectFrom('instance_bindings')
        .innerJoin('instances', 'instances.id', 'instance_bindings.instance_id')
        .select(['instances.id as instanceId', 'instances.name as instanceName', 'instance_bindings.step_name as step'])
        .where('instance_bindings.organization_id', '=', organizationId)
        .where('instance_bindings.credential_id', '=', credentialId)
        .orderBy('instances.id')
        .execute();
      return rows;
    },

    /** Points every binding of one credential at another (null: mark them missing). */
    async rebind(organizationId: string, from: string, to: string | null, trx: Db = db): Promise<number> {
      const result = await trx
        .updateTable('instance_bindings')
        .set({ credential_id: to })
        .where('organization_id', '=', organizationId)
        .where('credential_id', '=', from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async deleteInstancesOfCustomer(organizationId: string, customerId: string, trx: Db = db): Promise<void> {
      await trx.deleteFrom('instances').where('organization_id', '=', organizationId).where('customer_id', '=', customerId).execute();
    },

    async insertRun(run: Run, trx: Db = db): Promise<void> {
      await trx
        .insertInto('runs')
        .values({
          id: run.id,
          organization_id: run.organizationId,
          instance_id: run.instanceId,
          status: run.status,
          steps: JSON.stringify(run.steps),
          error: run.error,
          started_at: run.startedAt,
          finished_at: run.finishedAt,
        })
        .execute();
    },

    /**
     * Writes a finished run: `run` as it may be kept in clear (see run-sealing.ts), and its
     * sealed parts. With `unsealedOnly`, only if the row holds no sealed parts yet (the start-up
     * migration, where another process may be sealing it too). Answers whether it wrote.
     */
    async finishRun(run: Run, sealed: SealedRunParts, options: { unsealedOnly?: boolean } = {}, trx: Db = db): Promise<boolean> {
      let query = trx
        .updateTable('runs')
        .set({ status: run.status, steps: JSON.stringify(run.steps), error: run.error, finished_at: run.finishedAt, errors_ciphertext: sealed.errors, outputs_ciphertext: sealed.outputs })
        .where('organization_id', '=', run.organizationId)
        .where('id', '=', run.id);
      if (options.unsealedOnly) query = query.where('errors_ciphertext', 'is', null);
      return Number((await query.executeTakeFirst()).numUpdatedRows) === 1;
    },

    async findRun(organizationId: string, instanceId: string, id: string, trx: Db = db): Promise<{ run: Run; sealed: SealedRunParts } | undefined> {
      const row = await trx
        .selectFrom('runs')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('instance_id', '=', instanceId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && { run: toRun(row), sealed: { errors: row.errors_ciphertext, outputs: row.outputs_ciphertext } };
    },

    /** Newest first, each step without its output and logs; the sealed outputs are not even read. */
    async listRuns(
      organizationId: string,
      instanceId: string,
      filter: { beforeId?: string | undefined; limit: number },
      trx: Db = db,
    ): Promise<Array<{ run: RunSummary; sealedErrors: string | null }>> {
      let query = trx
        .selectFrom('runs')
        .select(['id', 'organization_id', 'instance_id', 'status', 'steps', 'error', 'started_at', 'finished_at', 'errors_ciphertext'])
        .where('organization_id', '=', organizationId)
        .where('instance_id', '=', instanceId);
      if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
      return (await query.orderBy('id', 'desc').limit(filter.limit).execute()).map((row) => {
        const run = toRun({ ...row, outputs_ciphertext: null });
        return { run: { ...run, steps: run.steps.map(summarizeStep) }, sealedErrors: row.errors_ciphertext };
      });
    },

    /** Runs of any organization whose outputs or errors are still kept in clear (before migration 0012), with their customer. */
    async listClearRuns(afterId: string | null, limit: number, trx: Db = db): Promise<Array<{ run: Run; customerId: string }>> {
      let query = trx
        .selectFrom('runs')
        .innerJoin('instances', 'instances.id', 'runs.instance_id')
        .selectAll('runs')
        .select('instances.customer_id')
        .where('runs.finished_at', 'is not', null)
        .where('runs.errors_ciphertext', 'is', null);
      if (afterId !== null) query = query.where('runs.id', '>', afterId);
      const rows = await query.orderBy('runs.id').limit(limit).execute();
      return rows.map((row) => ({ run: toRun(row), customerId: row.customer_id }));
    },

    /**
     * Retention, across every organization: deletes the runs started before `startedBefore`,
     * and those beyond the newest `keepPerInstance` of each instance. Answers how many went.
     */
    async pruneRuns(policy: { startedBefore: string; keepPerInstance: number }, trx: Db = db): Promise<number> {
      const old = await trx.deleteFrom('runs').where('started_at', '<', policy.startedBefore).executeTakeFirst();
      const surplus = await trx
        .deleteFrom('runs')
        .where(
          'id',
          'in',
          trx
            .selectFrom(
              trx
                .selectFrom('runs')
                .select(['id', sql<number>`row_number() over (partition by organization_id, instance_id order by id desc)`.as('newness')])
                .as('ranked'),
            )
            .select('ranked.id')
            .where('ranked.newness', '>', policy.keepPerInstance),
        )
        .executeTakeFirst();
      return Number(old.numDeletedRows) + Number(surplus.numDeletedRows);
    },
  };
};

export type IntegrationStore = ReturnType<typeof createIntegrationStore>;
