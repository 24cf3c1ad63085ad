import type { EventOutbox } from '../events/event-outbox.js';
import { normalizeLabel } from '../credentials/label.js';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { AuditService } from '../audit/audit-service.js';
import type { CredentialStore } from '../credentials/credential-store.js';
import type { IntegrationStore } from '../integrations/integration-store.js';
import type { DataKeyStore } from '../crypto/data-key-store.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Transact } from '../store/database.js';
import { canSeeScope, requireRole, type Actor } from './actor.js';
import type { ApiTokenStore } from './api-token-store.js';
import type { Customer, TenantStore } from './tenant-store.js';

export interface CustomerInput {
  name: string;
  externalId?: string | null | undefined;
}

const normalizeName = (name: string): string => normalizeLabel(name, 'name');

/**
 * Customers of an organization. Each customer is a tenant scope with its own data key;
 * deleting a customer destroys that key with its credentials (crypto-shredding).
 */
export const createCustomerService = (deps: {
  tenants: TenantStore;
  tokens: Pick<ApiTokenStore, 'deleteForCustomer'>;
  credentials: Pick<CredentialStore, 'deleteByCustomer' | 'list'>;
  /** Tells webhook endpoints of each credential that goes with the customer (in the same transaction). */
  events?: Pick<EventOutbox, 'emit' | 'credentialData'> | undefined;
  instances: Pick<IntegrationStore, 'deleteInstancesOfCustomer'>;
  dataKeys: Pick<DataKeyStore, 'deleteScope'>;
  keyring: Pick<Keyring, 'createScopeKey' | 'forgetScope'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
}) => {
  const { tenants, keyring, audit, transact, clock } = deps;

  const findVisible = async (actor: Actor, id: string): Promise<Customer> => {
    const customer = await tenants.findCustomer(actor.organizationId, id);
    if (!customer || !canSeeScope(actor, customer.id)) throw notFound('Customer');
    return customer;
  };

  return {
    async create(actor: Actor, input: CustomerInput): Promise<Customer> {
      requireRole(actor, 'org_admin', 'org_member');
      const now = clock.now();
      const customer: Customer = {
        id: newId('cus', now),
        organizationId: actor.organizationId,
        name: normalizeName(input.name),
        externalId: input.externalId ?? null,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      };
      await transact(async (trx) => {
        await tenants.insertCustomer(customer, trx);
        await keyring.createScopeKey(actor.organizationId, customer.id, trx);
        await audit.record(actor, actor.organizationId, { action: 'customer.created', customerId: customer.id, targetType: 'customer', targetId: customer.id, details: { name: customer.name } }, trx);
      });
      return customer;
    },

    async get(actor: Actor, id: string): Promise<Customer> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      return findVisible(actor, id);
    },

    async list(actor: Actor, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<Customer>> {
      requireRole(actor, 'org_admin', 'org_member', 'customer_user');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await tenants.listCustomers(actor.organizationId, {
        onlyId: actor.role === 'customer_user' ? (actor.customerId ?? '') : undefined,
        afterId: decodeCursor(query.cursor),
        limit: limit + 1,
      });
      return toPage(rows, limit);
    },

    async update(actor: Actor, id: string, input: Partial<CustomerInput>): Promise<Customer> {
      requireRole(actor, 'org_admin', 'org_member');
      const current = await findVisible(actor, id);
      const name = input.name === undefined ? undefined : normalizeName(input.name);
      const updatedAt = clock.now().toISOString();
      await transact(async (trx) => {
        await tenants.updateCustomer(actor.organizationId, id, { name, externalId: input.externalId, updatedAt }, trx);
        await audit.record(actor, actor.organizationId, { action: 'customer.updated', customerId: id, targetType: 'customer', targetId: id, details: { ...(name !== undefined ? { name } : {}) } }, trx);
      });
      return { ...current, ...(name !== undefined ? { name } : {}), ...(input.externalId !== undefined ? { externalId: input.externalId } : {}), updatedAt };
    },

    /** Deletes the customer, its instances, credentials, users and tokens, and destroys its data key. */
    async delete(actor: Actor, id: string, input: { confirm?: string | undefined }): Promise<void> {
      requireRole(actor, 'org_admin', 'org_member');
      const current = await findVisible(actor, id);
      if (input.confirm !== undefined && input.confirm !== current.name) {
        throw new AppError('CONFIRMATION_MISMATCH', 'Type the customer\'s name exactly to confirm deletion');
      }
      await transact(async (trx) => {
        await deps.instances.deleteInstancesOfCustomer(actor.organizationId, id, trx);
        if (deps.events) {
          const events = deps.events;
          for (let afterId: string | undefined, page = 0; page < 1000; page += 1) {
            const credentials = await deps.credentials.list(actor.organizationId, { customerId: id, afterId, limit: 500 }, trx);
            await events.emit(trx, credentials.map((c) => ({ organizationId: actor.organizationId, type: 'credential.deleted', data: events.credentialData(c, { reason: 'customer_deleted' }) })));
            if (credentials.length < 500) break;
            afterId = credentials.at(-1)?.id;
          }
        }
        const credentialsDeleted = await deps.credentials.deleteByCustomer(actor.organizationId, id, trx);
        await deps.tokens.deleteForCustomer(actor.organizationId, id, trx);
        await tenants.deleteUsersOfCustomer(actor.organizationId, id, trx);
        const keysDestroyed = await deps.dataKeys.deleteScope(actor.organizationId, id, trx);
        await tenants.deleteCustomer(actor.organizationId, id, trx);
        await audit.record(
          actor,
          actor.organizationId,
          { action: 'customer.deleted', customerId: id, targetType: 'customer', targetId: id, details: { name: current.name, credentialsDeleted, keysDestroyed } },
          trx,
        );
      });
      keyring.forgetScope(actor.organizationId, id);
    },
  };
};

export type CustomerService = ReturnType<typeof createCustomerService>;
