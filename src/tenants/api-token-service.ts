import { createHash, randomBytes } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import { Redacted } from '../common/redacted.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Db, Transact } from '../store/database.js';
import { ROLES, requireRole, type Actor, type Role } from './actor.js';
import type { ApiToken, ApiTokenStore } from './api-token-store.js';
import type { TenantStore } from './tenant-store.js';

const TOKEN_PREFIX = 'crd_';

/** Tokens carry 256 random bits, so a fast hash is enough to store them safely. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface CreateTokenInput {
  name: string;
  role: string;
  customerId?: string | null | undefined;
}

/** How long a token, once looked up, is trusted without reading the database again. */
export const DEFAULT_TOKEN_CACHE_MS = 5000;
const TOKEN_CACHE_SIZE = 10_000;

/**
 * API tokens for machines. A token is shown once, at creation; only its hash is kept.
 * Managing tokens is for organization admins only.
 *
 * Tokens that authenticated recently are remembered (hash → actor) for `cacheTtlMs`, so a
 * busy runtime does not cost a database read per request. Revocation therefore takes effect
 * at once in the process that revoked the token or deleted its customer, and within
 * `cacheTtlMs` in every other process. Unknown tokens are never remembered.
 */
export const createApiTokenService = (deps: {
  store: ApiTokenStore;
  tenants: Pick<TenantStore, 'findCustomer'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  /** 0 turns the cache off. */
  cacheTtlMs?: number | undefined;
}) => {
  const { store, tenants, audit, transact, clock } = deps;
  const cacheTtlMs = deps.cacheTtlMs ?? DEFAULT_TOKEN_CACHE_MS;
  const recent = new Map<string, { actor: Actor; until: number }>();
  const forget = (matches: (actor: Actor) => boolean): void => {
    for (const [hash, entry] of recent) if (matches(entry.actor)) recent.delete(hash);
  };

  /** Creates a token without a permission check; for `create` and for first-run setup. */
  const issue = async (
    createdBy: Actor | null,
    organizationId: string,
    input: { name: string; role: Role; customerId: string | null },
    trx: Db,
  ): Promise<{ token: ApiToken; secret: Redacted<string> }> => {
    const now = clock.now();
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const token: ApiToken = {
      id: newId('tok', now),
      organizationId,
      name: input.name,
      role: input.role,
      customerId: input.customerId,
      createdBy: createdBy?.id ?? null,
      createdAt: now.toISOString(),
      revokedAt: null,
    };
    await store.insert(token, hashToken(secret), trx);
    await audit.record(createdBy, organizationId, { action: 'api_token.created', customerId: token.customerId, targetType: 'api_token', targetId: token.id, details: { name: token.name, role: token.role } }, trx);
    return { token, secret: new Redacted(secret) };
  };

  return {
    issue,

    async create(actor: Actor, input: CreateTokenInput): Promise<{ token: ApiToken; secret: Redacted<string> }> {
      requireRole(actor, 'org_admin');
      const role = input.role as Role;
      if (!ROLES.includes(role)) throw new AppError('VALIDATION_FAILED', `role must be one of ${ROLES.join(', ')}`);
      const name = input.name.trim();
      if (name === '' || name.length > 200) throw new AppError('VALIDATION_FAILED', 'name must be 1 to 200 characters');
      let customerId: string | null = null;
      if (role === 'customer_user') {
        if (!input.customerId) throw new AppError('VALIDATION_FAILED', 'customerId is required for the customer_user role');
        if (!(await tenants.findCustomer(actor.organizationId, input.customerId))) throw notFound('Customer');
        customerId = input.customerId;
      } else if (input.customerId) {
        throw new AppError('VALIDATION_FAILED', 'customerId applies only to the customer_user role');
      }
      return transact((trx) => issue(actor, actor.organizationId, { name, role, customerId }, trx));
    },

    async list(actor: Actor, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<ApiToken>> {
      requireRole(actor, 'org_admin');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      return toPage(await store.list(actor.organizationId, { afterId: decodeCursor(query.cursor), limit: limit + 1 }), limit);
    },

    async revoke(actor: Actor, id: string): Promise<void> {
      requireRole(actor, 'org_admin');
      await transact(async (trx) => {
        const token = await store.find(actor.organizationId, id, trx);
        if (!token) throw notFound('API token');
        if (token.revokedAt) return;
        await store.revoke(actor.organizationId, id, clock.now().toISOString(), trx);
        await audit.record(actor, actor.organizationId, { action: 'api_token.revoked', customerId: token.customerId, targetType: 'api_token', targetId: id, details: { name: token.name } }, trx);
      });
      forget((cached) => cached.id === id);
    },

    /** Drops a deleted customer's tokens from the cache. */
    forgetCustomer(organizationId: string, customerId: string): void {
      forget((cached) => cached.organizationId === organizationId && cached.customerId === customerId);
    },

    /** The actor a bearer token stands for, or undefined for an unknown or revoked token. */
    async authenticate(bearer: string): Promise<Actor | undefined> {
      if (!bearer.startsWith(TOKEN_PREFIX) || bearer.length > 200) return undefined;
      const hash = hashToken(bearer);
      const now = clock.now().getTime();
      const cached = recent.get(hash);
      if (cached && cached.until > now) return { ...cached.actor };
      const token = await store.findActiveByHash(hash);
      if (!token) {
        recent.delete(hash);
        return undefined;
      }
      const actor: Actor = { type: 'api_token', id: token.id, organizationId: token.organizationId, role: token.role, customerId: token.customerId };
      if (cacheTtlMs > 0) {
        recent.delete(hash);
        if (recent.size >= TOKEN_CACHE_SIZE) recent.delete(recent.keys().next().value as string);
        recent.set(hash, { actor, until: now + cacheTtlMs });
      }
      return { ...actor };
    },
  };
};

export type ApiTokenService = ReturnType<typeof createApiTokenService>;
