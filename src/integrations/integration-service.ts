import { normalizeLabel } from '../credentials/label.js';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { AuditService } from '../audit/audit-service.js';
import type { ComponentRegistry } from '../components/registry.js';
import type { Transact } from '../store/database.js';
import { requireRole, type Actor } from '../tenants/actor.js';
import type { Integration, IntegrationStep, IntegrationStore } from './integration-store.js';
import { referencedSteps } from './step-inputs.js';

const STEP_NAME = /^[A-Za-z][\w-]{0,63}$/;
export const MAX_STEPS = 50;

export interface IntegrationInput {
  name: string;
  description?: string | null | undefined;
  steps: Array<{ name: string; component: string; action: string; inputs?: Record<string, unknown> | undefined }>;
}

const normalizeName = (name: string): string => normalizeLabel(name, 'name');

/**
 * Integrations: ordered steps, each a component action with inputs. Steps are checked
 * when saved: known component and action, unique names, and references only to
 * earlier steps.
 */
export const createIntegrationService = (deps: {
  store: IntegrationStore;
  components: ComponentRegistry;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
}) => {
  const { store, components, audit, transact, clock } = deps;

  const checkSteps = (steps: IntegrationInput['steps']): IntegrationStep[] => {
    if (steps.length === 0 || steps.length > MAX_STEPS) throw new AppError('VALIDATION_FAILED', `An integration has 1 to ${MAX_STEPS} steps`);
    const seen = new Set<string>();
    return steps.map((step, index) => {
      const where = `step ${index + 1}${STEP_NAME.test(step.name) ? ` (${step.name})` : ''}`;
      if (!STEP_NAME.test(step.name)) throw new AppError('VALIDATION_FAILED', `${where}: a step name starts with a letter and has only letters, digits, _ and -`);
      if (seen.has(step.name)) throw new AppError('VALIDATION_FAILED', `${where}: another step already has this name`);
      try {
        components.action(step.component, step.action);
      } catch (error) {
        throw new AppError('VALIDATION_FAILED', `${where}: ${(error as Error).message}`);
      }
      for (const referenced of referencedSteps(step.inputs ?? {})) {
        if (!seen.has(referenced)) throw new AppError('VALIDATION_FAILED', `${where}: its inputs refer to step ${referenced}, which does not run before it`);
      }
      seen.add(step.name);
      return { name: step.name, component: step.component, action: step.action, inputs: step.inputs ?? {} };
    });
  };

  const findVisible = async (actor: Actor, id: string): Promise<Integration> => {
    const integration = await store.findIntegration(actor.organizationId, id);
    if (!integration) throw notFound('Integration');
    return integration;
  };

  return {
    async create(actor: Actor, input: IntegrationInput): Promise<Integration> {
      requireRole(actor, 'org_admin', 'org_member');
      const now = clock.now().toISOString();
      const integration: Integration = {
        id: newId('int'),
        organizationId: actor.organizationId,
        name: normalizeName(input.name),
        description: input.description ?? null,
        steps: checkSteps(input.steps),
        createdAt: now,
        updatedAt: now,
      };
      await transact(async (trx) => {
        await store.insertIntegration(integration, trx);
        await audit.record(actor, actor.organizationId, { action: 'integration.created', targetType: 'integration', targetId: integration.id, details: { name: integration.name, steps: integration.steps.length } }, trx);
      });
      return integration;
    },

    async get(actor: Actor, id: string): Promise<Integration> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      return findVisible(actor, id);
    },

    async list(actor: Actor, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<Integration>> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      return toPage(await store.listIntegrations(actor.organizationId, { afterId: decodeCursor(query.cursor), limit: limit + 1 }), limit);
    },

    async update(actor: Actor, id: string, input: Partial<IntegrationInput>): Promise<Integration> {
      requireRole(actor, 'org_admin', 'org_member');
      const current = await findVisible(actor, id);
      const changes = {
        name: input.name === undefined ? undefined : normalizeName(input.name),
        description: input.description,
        steps: input.steps === undefined ? undefined : checkSteps(input.steps),
        updatedAt: clock.now().toISOString(),
      };
      await transact(async (trx) => {
        await store.updateIntegration(actor.organizationId, id, changes, trx);
        await audit.record(actor, actor.organizationId, { action: 'integration.updated', targetType: 'integration', targetId: id }, trx);
      });
      return {
        ...current,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.steps !== undefined ? { steps: changes.steps } : {}),
        updatedAt: changes.updatedAt,
      };
    },

    async delete(actor: Actor, id: string): Promise<void> {
      requireRole(actor, 'org_admin', 'org_member');
      await findVisible(actor, id);
      await transact(async (trx) => {
        const instances = await store.countInstancesOf(actor.organizationId, id, trx);
        if (instances > 0) throw new AppError('CONFLICT', `The integration is deployed in ${instances} instance(s); delete them first`);
        await store.deleteIntegration(actor.organizationId, id, trx);
        await audit.record(actor, actor.organizationId, { action: 'integration.deleted', targetType: 'integration', targetId: id }, trx);
      });
    },
  };
};

export type IntegrationService = ReturnType<typeof createIntegrationService>;
