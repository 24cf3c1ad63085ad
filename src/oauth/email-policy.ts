import { AppError, forbidden } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { AuditService } from '../audit/audit-service.js';
import type { CredentialRecord } from '../credentials/credential-store.js';
import type { Transact } from '../store/database.js';
import { requireRole, type Actor } from '../tenants/actor.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { EmailStore, SendCounts } from './email-store.js';

/** How many authorization emails may go out per window, per credential, per customer and per organization. */
export interface EmailLimits {
  perCredential: number;
  perCustomer: number;
  perOrganization: number;
  windowMs: number;
}

export const DEFAULT_EMAIL_LIMITS: EmailLimits = { perCredential: 5, perCustomer: 20, perOrganization: 200, windowMs: 3_600_000 };

/** At most this many allowed domains per organization. */
export const MAX_ALLOWED_DOMAINS = 100;

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

const domainOf = (email: string): string => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/**
 * Who may be sent an authorization email, and how often. The email goes out from
 * Credence's own address, so it is guarded as Credence's own: a customer user may send it
 * only to people of its own customer, or to a domain its organization allows; and every
 * organization, customer and credential has an hourly budget of sends, counted in the
 * database so that every process shares it.
 */
export const createAuthorizationEmailPolicy = (deps: {
  store: EmailStore;
  tenants: Pick<TenantStore, 'findUserByEmail'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  limits?: EmailLimits | undefined;
}) => {
  const { store, audit, transact, clock } = deps;
  const limits = deps.limits ?? DEFAULT_EMAIL_LIMITS;

  const retryAfterSeconds = (oldest: string | null, now: number): number =>
    Math.max(1, Math.ceil(((oldest ? Date.parse(oldest) : now) + limits.windowMs - now) / 1000));

  const refuseOverLimit = (counts: SendCounts, record: CredentialRecord, now: number): void => {
    const checks = [
      { what: 'this credential', count: counts.credential, max: limits.perCredential },
      { what: 'this customer', count: counts.customer, max: record.customerId === null ? Infinity : limits.perCustomer },
      { what: 'this organization', count: counts.organization, max: limits.perOrganization },
    ];
    const over = checks.filter((check) => check.count.count >= check.max);
    if (over.length === 0) return;
    const wait = Math.max(...over.map((check) => retryAfterSeconds(check.count.oldest, now)));
    throw new AppError('RATE_LIMITED', `Too many authorization emails for ${over[0]?.what ?? 'this organization'}; try again in ${wait} s`, { retryAfterSeconds: wait });
  };

  return {
    limits,

    /** Throws FORBIDDEN unless the actor may send an authorization email to `email`. */
    async checkRecipient(actor: Actor, email: string): Promise<void> {
      // Org roles speak for the organization; only customer users are held to their own people.
      if (actor.role !== 'customer_user') return;
      const user = await deps.tenants.findUserByEmail(actor.organizationId, email);
      if (user && user.customerId !== null && user.customerId === actor.customerId) return;
      const allowed = await store.findAllowedDomains(actor.organizationId);
      if (allowed.includes(domainOf(email))) return;
      throw forbidden('A customer user may send authorization emails only to users of its own customer, or to a domain the organization allows');
    },

    /**
     * Counts one send against every limit, or throws RATE_LIMITED (with the seconds until a
     * send is allowed again) when any of them is used up. Sends of one organization are
     * counted one at a time, across processes.
     */
    async reserve(record: CredentialRecord): Promise<void> {
      const now = clock.now();
      const since = new Date(now.getTime() - limits.windowMs).toISOString();
      await transact(async (trx) => {
        await store.lockOrganization(record.organizationId, trx);
        await store.deleteSendsBefore(record.organizationId, since, trx);
        refuseOverLimit(await store.countSends(record.organizationId, record.id, record.customerId, since, trx), record, now.getTime());
        await store.insertSend({ id: newId('eml', now), organizationId: record.organizationId, customerId: record.customerId, credentialId: record.id, sentAt: now.toISOString() }, trx);
      });
    },

    async allowedDomains(actor: Actor): Promise<string[]> {
      requireRole(actor, 'org_admin', 'org_member');
      return store.findAllowedDomains(actor.organizationId);
    },

    /** Sets the domains customer users may send authorization emails to (org_admin only). */
    async setAllowedDomains(actor: Actor, domains: readonly string[]): Promise<string[]> {
      requireRole(actor, 'org_admin');
      const normalized = [...new Set(domains.map((domain) => domain.trim().toLowerCase().replace(/\.$/, '')))].sort();
      const invalid = normalized.filter((domain) => !DOMAIN.test(domain));
      if (invalid.length > 0) throw new AppError('VALIDATION_FAILED', `Not a domain name: ${invalid.slice(0, 5).join(', ')}`);
      if (normalized.length > MAX_ALLOWED_DOMAINS) throw new AppError('VALIDATION_FAILED', `At most ${MAX_ALLOWED_DOMAINS} domains`);
      await transact(async (trx) => {
        await store.setAllowedDomains(actor.organizationId, normalized, clock.now().toISOString(), trx);
        await audit.record(actor, actor.organizationId, { action: 'oauth.email_domains_set', customerId: null, targetType: 'organization', targetId: actor.organizationId, details: { domains: normalized } }, trx);
      });
      return normalized;
    },
  };
};

export type AuthorizationEmailPolicy = ReturnType<typeof createAuthorizationEmailPolicy>;
