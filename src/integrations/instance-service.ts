import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { AuditService } from '../audit/audit-service.js';
import type { ComponentRegistry } from '../components/registry.js';
import type { CredentialRecord, CredentialStore } from '../credentials/credential-store.js';
import { scopeList } from '../oauth/oauth-settings.js';
import type { OAuthStore } from '../oauth/oauth-store.js';
import type { Db, Transact } from '../store/database.js';
import { canSeeScope, requireRole, type Actor } from '../tenants/actor.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { bindingOf, type Instance, type Integration, type IntegrationStore } from './integration-store.js';
import { referencedSteps } from './step-inputs.js';
import { normalizeLabel } from '../credentials/label.js';
import { ORGANIZATION_CREDENTIAL, createBindingView } from './binding-view.js';
import { destinationAllows, originOf } from '../net/destinations.js';

/** What is wrong with a binding, in words that name the step, and the error code it answers with. */
interface BindingProblem {
  code: 'INVALID_BINDING' | 'DESTINATION_NOT_ALLOWED' | 'MISSING_SCOPES';
  message: string;
}

const invalid = (message: string): BindingProblem => ({ code: 'INVALID_BINDING', message });

/** One error listing every problem; DESTINATION_NOT_ALLOWED or MISSING_SCOPES when that is all that is wrong. */
const bindingError = (problems: BindingProblem[]): AppError => {
  const only = (code: BindingProblem['code']) => problems.every((p) => p.code === code);
  return new AppError(only('DESTINATION_NOT_ALLOWED') ? 'DESTINATION_NOT_ALLOWED' : only('MISSING_SCOPES') ? 'MISSING_SCOPES' : 'INVALID_BINDING', problems.map((p) => p.message).join('; '));
};

export interface InstanceInput {
  integrationId: string;
  customerId: string;
  name: string;
  bindings?: Record<string, string | null> | undefined;
}

/**
 * Instances: an integration deployed for one customer, with a credential bound to each
 * step that needs one. A binding must belong to that customer or to the organization,
 * and its auth method must be one the step accepts.
 */
export const createInstanceService = (deps: {
  store: IntegrationStore;
  credentials: Pick<CredentialStore, 'find' | 'findEach'>;
  /** The scopes an OAuth 2.0 credential's grant says it was given (null: not said, or not authorized). */
  grants: Pick<OAuthStore, 'findGrant'>;
  tenants: Pick<TenantStore, 'findCustomer'>;
  components: ComponentRegistry;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
}) => {
  const { store, credentials, components, audit, transact, clock } = deps;
  const view = createBindingView(credentials);
  const shown = async (actor: Actor, instance: Instance): Promise<Instance> => (await view.instances(actor, [instance]))[0] ?? instance;

  const findVisible = async (actor: Actor, id: string): Promise<Instance> => {
    const instance = await store.findInstance(actor.organizationId, id);
    const visible = instance && (actor.role === 'runtime' || canSeeScope(actor, instance.customerId));
    if (!instance || !visible) throw notFound('Instance');
    return instance;
  };

  /** The problem with one binding; undefined when it fits. */
  const bindingProblem = async (step: Integration['steps'][number], customerId: string, credential: CredentialRecord | undefined): Promise<BindingProblem | undefined> => {
    const action = components.action(step.component, step.action);
    const accepts = action.authMethods.join(', ');
    if (!credential) return invalid(`step ${step.name}: the credential does not exist`);
    if (credential.customerId !== null && credential.customerId !== customerId) {
      return invalid(`step ${step.name}: the credential belongs to another customer; bind one of this customer's or the organization's`);
    }
    if (!action.authMethods.includes(credential.authMethod)) {
      return invalid(`step ${step.name}: ${step.component}.${step.action} accepts ${accepts || 'no credential'}, not ${credential.authMethod}`);
    }
    // A target the step names literally is checked now; one built from an earlier step's output, when it runs.
    if (referencedSteps(step.inputs).length === 0) {
      for (const target of action.targets?.(step.inputs) ?? []) {
        if (!destinationAllows(credential.destinations ?? [], target)) {
          return {
            code: 'DESTINATION_NOT_ALLOWED',
            message: `step ${step.name}: sends the credential to ${originOf(target) ?? 'an address'}, which is not among its destinations; add it to the credential's destinations first`,
          };
        }
      }
    }
    // Scopes are checked when the provider said what it granted; a grant still to come is checked by the provider.
    if (action.scopes && action.scopes.length > 0 && credential.authMethod === 'oauth2') {
      const granted = scopeList((await deps.grants.findGrant(credential.organizationId, credential.id))?.grantedScopes);
      const missing = granted.length > 0 ? action.scopes.filter((scope) => !granted.includes(scope)) : [];
      if (missing.length > 0) {
        return {
          code: 'MISSING_SCOPES',
          message: `step ${step.name}: ${step.component}.${step.action} needs the scope${missing.length === 1 ? '' : 's'} ${missing.join(' ')}, which the credential was not granted; authorize it again asking for ${missing.length === 1 ? 'it' : 'them'} (POST /credentials/:id/authorization-link with addScopes)`,
        };
      }
    }
    return undefined;
  };

  /** Checks every binding; throws INVALID_BINDING listing each problem by step. */
  const checkBindings = async (
    actor: Actor,
    integration: Integration,
    customerId: string,
    bindings: Record<string, string | null>,
    current: Record<string, string | null> = {},
  ): Promise<Record<string, string | null>> => {
    const problems: BindingProblem[] = [];
    const checked: Record<string, string | null> = {};
    for (const name of Object.keys(bindings)) {
      if (!integration.steps.some((s) => s.name === name)) problems.push(invalid(`step ${name}: the integration has no such step`));
    }
    for (const step of integration.steps) {
      const given = bindingOf(bindings, step.name);
      // A customer user sends back what it was shown: the organization credential stays bound.
      const credentialId = given === ORGANIZATION_CREDENTIAL && actor.role === 'customer_user' ? bindingOf(current, step.name) : given;
      if (given === ORGANIZATION_CREDENTIAL && credentialId === null) {
        problems.push(invalid(`step ${step.name}: the credential does not exist`));
        continue;
      }
      const action = components.action(step.component, step.action);
      if (credentialId === null) {
        if (action.credentialRequired) problems.push(invalid(`step ${step.name}: ${step.component}.${step.action} needs a credential (${action.authMethods.join(', ')})`));
        continue;
      }
      const credential = await credentials.find(actor.organizationId, credentialId);
      // A customer user cannot learn that an organization credential exists by binding it,
      // but may keep one an admin bound.
      const kept = bindingOf(current, step.name) === credentialId;
      const reachable = credential && (kept || actor.role !== 'customer_user' || credential.customerId === actor.customerId) ? credential : undefined;
      const problem = await bindingProblem(step, customerId, reachable);
      if (problem) problems.push(problem);
      else checked[step.name] = credentialId;
    }
    if (problems.length > 0) throw bindingError(problems);
    return checked;
  };

  const integrationOf = async (actor: Actor, integrationId: string): Promise<Integration> => {
    const integration = await store.findIntegration(actor.organizationId, integrationId);
    if (!integration) throw notFound('Integration');
    return integration;
  };

  return {
    async create(actor: Actor, input: InstanceInput): Promise<Instance> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      if (!canSeeScope(actor, input.customerId) || !(await deps.tenants.findCustomer(actor.organizationId, input.customerId))) throw notFound('Customer');
      const integration = await integrationOf(actor, input.integrationId);
      const name = normalizeLabel(input.name, 'name');
      const bindings = await checkBindings(actor, integration, input.customerId, input.bindings ?? {});
      const now = clock.now().toISOString();
      const instance: Instance = {
        id: newId('ins'),
        organizationId: actor.organizationId,
        integrationId: integration.id,
        customerId: input.customerId,
        name,
        bindings,
        createdAt: now,
        updatedAt: now,
      };
      await transact(async (trx) => {
        await store.insertInstance(instance, trx);
        await audit.record(actor, actor.organizationId, { action: 'instance.created', customerId: instance.customerId, targetType: 'instance', targetId: instance.id, details: { name, integrationId: integration.id, bindings } }, trx);
      });
      return shown(actor, instance);
    },

    async get(actor: Actor, id: string): Promise<Instance> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      return shown(actor, await findVisible(actor, id));
    },

    async list(actor: Actor, query: { customerId?: string | undefined; limit?: number | undefined; cursor?: string | undefined }): Promise<Page<Instance>> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user', 'runtime');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      let customerId = query.customerId;
      if (actor.role === 'customer_user') {
        if (customerId !== undefined && customerId !== actor.customerId) return { items: [], nextCursor: null };
        customerId = actor.customerId ?? '';
      }
      return toPage(await view.instances(actor, await store.listInstances(actor.organizationId, { customerId, afterId: decodeCursor(query.cursor), limit: limit + 1 })), limit);
    },

    /** Renames an instance and/or replaces its bindings (checked like at deployment). */
    async update(actor: Actor, id: string, input: { name?: string | undefined; bindings?: Record<string, string | null> | undefined }): Promise<Instance> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      const current = await findVisible(actor, id);
      const integration = await integrationOf(actor, current.integrationId);
      const bindings = input.bindings === undefined ? undefined : await checkBindings(actor, integration, current.customerId, { ...current.bindings, ...input.bindings }, current.bindings);
      const name = input.name === undefined ? undefined : normalizeLabel(input.name, 'name');
      const updatedAt = clock.now().toISOString();
      await transact(async (trx) => {
        if (bindings) await store.replaceBindings(actor.organizationId, id, bindings, trx);
        await store.touchInstance(actor.organizationId, id, { name, updatedAt }, trx);
        await audit.record(actor, actor.organizationId, { action: 'instance.updated', customerId: current.customerId, targetType: 'instance', targetId: id, details: { ...(bindings ? { bindings } : {}), ...(name ? { name } : {}) } }, trx);
      });
      return shown(actor, { ...current, ...(name ? { name } : {}), ...(bindings ? { bindings } : {}), updatedAt });
    },

    async delete(actor: Actor, id: string): Promise<void> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      const current = await findVisible(actor, id);
      await transact(async (trx) => {
        await store.deleteInstance(actor.organizationId, id, trx);
        await audit.record(actor, actor.organizationId, { action: 'instance.deleted', customerId: current.customerId, targetType: 'instance', targetId: id, details: { name: current.name } }, trx);
      });
    },

    /** Moves every binding of one credential to another, checking each against its step. */
    async replaceCredential(actor: Actor, fromId: string, toId: string, trx?: Db): Promise<{ moved: number }> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      const from = await credentials.find(actor.organizationId, fromId);
      const to = await credentials.find(actor.organizationId, toId);
      if (!from || !canSeeScope(actor, from.customerId)) throw notFound('Credential');
      if (!to || !canSeeScope(actor, to.customerId)) throw notFound('Replacement credential');
      const uses = await store.usesOf(actor.organizationId, fromId);
      const problems: BindingProblem[] = [];
      for (const use of uses) {
        const instance = await store.findInstance(actor.organizationId, use.instanceId);
        const integration = instance && (await store.findIntegration(actor.organizationId, instance.integrationId));
        const step = integration?.steps.find((s) => s.name === use.step);
        if (!instance || !step) continue;
        const problem = await bindingProblem(step, instance.customerId, to);
        if (problem) problems.push({ ...problem, message: `${use.instanceName}: ${problem.message}` });
      }
      if (problems.length > 0) throw bindingError(problems);
      const work = async (t: Db) => {
        const moved = await store.rebind(actor.organizationId, fromId, toId, t);
        await audit.record(actor, actor.organizationId, { action: 'credential.replaced', customerId: from.customerId, targetType: 'credential', targetId: fromId, details: { with: toId, bindings: moved } }, t);
        return { moved };
      };
      return trx ? work(trx) : transact(work);
    },
  };
};

export type InstanceService = ReturnType<typeof createInstanceService>;
