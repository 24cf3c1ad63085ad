import type { EventOutbox } from '../events/event-outbox.js';
import type { HealthCheckSpec, HealthCheckStore } from './health-checks.js';
import type { HealthChange, HealthState } from './health.js';
import type { HealthService } from './health-service.js';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { Redacted } from '../common/redacted.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Metrics, ResolveOutcome } from '../observability/metrics.js';
import type { Transact } from '../store/database.js';
import { canSeeScope, requireRole, type Actor } from '../tenants/actor.js';
import { EMAIL_PATTERN } from '../tenants/password.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { AUTH_METHODS, initialStatus, isAuthMethodKey, type AuthMethodKey, type CredentialStatus } from './auth-methods.js';
import { expiryKeyOf, type CredentialFilter, type CredentialRecord, type CredentialStore } from './credential-store.js';
import { openAllValues, sealFieldValues } from './field-sealing.js';
import type { CredentialView, CredentialViews } from './credential-view.js';
import { applyOAuthSettings, optionalFieldsFor, type OAuthSettings } from '../oauth/oauth-settings.js';
import type { OAuthGrant, OAuthStore } from '../oauth/oauth-store.js';
import type { IntegrationStore } from '../integrations/integration-store.js';
import type { StepCredential } from '../components/component.js';
import { rejectUnknownFields, validateFields } from './field-validation.js';
import { normalizeLabel } from './label.js';
import { normalizeDestinations } from '../net/destinations.js';
import { findPreset } from '../oauth/oauth-presets.js';

/** oauth2 fields whose change points the credential at another provider, app or account: the grant is dropped. */
const GRANT_DEFINING_FIELDS = ['auth_uri', 'token_uri', 'client_id'] as const;

/** The destinations a new credential gets when none are given: a provider's API origins, otherwise none. */
const defaultDestinations = (provider: string | null | undefined): string[] => [...((provider && findPreset(provider)?.apiOrigins) || [])];

const sameList = (a: readonly string[] | null, b: readonly string[]): boolean => a !== null && a.length === b.length && a.every((item, i) => item === b[i]);

export interface CreateCredentialInput {
  label: string;
  authMethod: string;
  customerId?: string | null | undefined;
  fields: Record<string, string>;
  /** oauth2 only: a provider preset that fills in URLs and scopes. */
  provider?: string | undefined;
  /** oauth2 only: `authorization_code` (default) or `client_credentials`. */
  grantType?: string | undefined;
  /** oauth2 only: the issuer whose `iss` authorization responses must carry. */
  issuer?: string | undefined;
  /** Origins the secret may be sent to; for oauth2 with a provider, the provider's API origins when absent. */
  destinations?: string[] | undefined;
  /** A check the worker runs every `everyMinutes` (at least 5) to keep the credential's health true. */
  healthCheck?: HealthCheckInput | null | undefined;
  /** When the credential itself stops working, if known: warnings go out before. */
  expiresAt?: string | null | undefined;
  /** oauth2 only: when the app's client secret expires. */
  clientSecretExpiresAt?: string | null | undefined;
  /** Who besides the organization's admins is emailed about the credential's trouble. */
  contactEmail?: string | null | undefined;
}

export interface HealthCheckInput {
  component: string;
  action?: string | undefined;
  inputs?: Record<string, unknown> | undefined;
  everyMinutes: number;
}

export interface UpdateCredentialInput {
  label?: string | undefined;
  /** New values; an empty string or null clears an optional field. */
  fields?: Record<string, string | null> | undefined;
  /** New destinations; changing them needs every secret field re-entered in `fields`. */
  destinations?: string[] | undefined;
  /** A new scheduled check, or null to stop checking. */
  healthCheck?: HealthCheckInput | null | undefined;
  expiresAt?: string | null | undefined;
  clientSecretExpiresAt?: string | null | undefined;
  contactEmail?: string | null | undefined;
}

export interface ListCredentialsQuery {
  level?: 'organization' | 'customer' | undefined;
  customerId?: string | undefined;
  search?: string | undefined;
  authMethod?: string | undefined;
  status?: string | undefined;
  health?: string | undefined;
  /** `expiresAt`: the earliest expiry first; the order of creation otherwise. */
  sort?: 'created' | 'expiresAt' | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** A usable OAuth 2.0 access token, valid for at least the next minute. */
export interface AccessToken {
  accessToken: Redacted<string>;
  tokenType: string;
  expiresAt: string | null;
  scopes: string | null;
  /** The grant as it stood when the token was handed out, so a view of the credential needs no second read. */
  grant?: OAuthGrant | undefined;
}

/** Who a resolved credential is: enough for a run to know what it holds, nothing a resolve would have to read again. */
export type ResolvedIdentity = Pick<CredentialView, 'id' | 'label' | 'authMethod' | 'level' | 'customerId' | 'status'>;

export interface ResolvedCredential {
  credential: ResolvedIdentity;
  /** Every field value, decrypted. Reveal only where the raw values are needed. */
  values: Redacted<Record<string, string>>;
  /** oauth2 only: a fresh access token. */
  token: AccessToken | undefined;
}

const MANAGING_ROLES = ['org_admin', 'org_member', 'customer_user'] as const;

/**
 * Credentials: create, read (never a secret), list and search, update, delete, and
 * resolve for the runtime. Access is decided here, for every call, from the actor.
 */
export type { CredentialView } from './credential-view.js';

export const createCredentialService = (deps: {
  store: CredentialStore;
  tenants: Pick<TenantStore, 'findCustomer'>;
  keyring: Pick<Keyring, 'seal' | 'open'>;
  views: CredentialViews;
  grants: Pick<OAuthStore, 'ensureGrant' | 'resetGrant'>;
  bindings: Pick<IntegrationStore, 'usesOf' | 'rebind'>;
  /** Gives a fresh access token for an oauth2 credential (set once the OAuth module is wired). */
  accessTokens?: { fresh(record: CredentialRecord): Promise<AccessToken> } | undefined;
  health: Pick<HealthService, 'observeIn' | 'history' | 'states'>;
  /** Tells webhook endpoints of deletions (in the same transaction). */
  events?: Pick<EventOutbox, 'emit' | 'credentialData'> | undefined;
  /** Scheduled checks: stored with the credential, each checked against it first. */
  healthChecks: { store: Pick<HealthCheckStore, 'set'>; validate(credential: Pick<CredentialRecord, 'authMethod' | 'destinations'>, input: HealthCheckInput): HealthCheckSpec };
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  allowInsecureLoopback: boolean;
  metrics?: Pick<Metrics, 'credentialResolved'> | undefined;
}) => {
  const { store, tenants, keyring, views, audit, transact, clock } = deps;
  const toView = views.one;
  const validation = { allowInsecureLoopback: deps.allowInsecureLoopback };

  /** The credential if the actor may see it; otherwise NOT_FOUND, exactly as if it did not exist. */
  const findVisible = async (actor: Actor, id: string): Promise<CredentialRecord> => {
    const record = await store.find(actor.organizationId, id);
    if (!record || !canSeeScope(actor, record.customerId)) throw notFound('Credential');
    return record;
  };

  const freshToken = (record: CredentialRecord): Promise<AccessToken> => {
    if (!deps.accessTokens) throw new AppError('AUTHORIZATION_REQUIRED', 'OAuth 2.0 tokens are not available in this process');
    return deps.accessTokens.fresh(record);
  };

  /** A fresh token, or none while nobody has authorized the credential (its status says so). */
  const tokenIfAuthorized = async (record: CredentialRecord): Promise<AccessToken | undefined> => {
    try {
      return await freshToken(record);
    } catch (error) {
      if (error instanceof AppError && error.code === 'AUTHORIZATION_REQUIRED') return undefined;
      throw error;
    }
  };

  /** Every read of decrypted material goes through here, and is audited. */
  const decrypt = async (
    actor: Actor,
    id: string,
    token: (record: CredentialRecord) => Promise<AccessToken | undefined>,
    details: Record<string, string>,
  ) => {
    const record = await store.find(actor.organizationId, id);
    if (!record) throw notFound('Credential');
    const accessToken = record.authMethod === 'oauth2' ? await token(record) : undefined;
    const values = await openAllValues(keyring, record);
    await audit.record(actor, actor.organizationId, { action: 'credential.resolved', customerId: record.customerId, targetType: 'credential', targetId: id, details });
    return { record, values, token: accessToken };
  };

  /** Counts how a resolve ended; failures are rethrown as they were. */
  const counted = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const result = await work();
      deps.metrics?.credentialResolved('resolved');
      return result;
    } catch (error) {
      deps.metrics?.credentialResolved(resolveOutcomeOf(error));
      throw error;
    }
  };

  /** Which scope a new credential goes to, checked against what the actor may reach. */
  const targetCustomer = async (actor: Actor, requested: string | null | undefined): Promise<string | null> => {
    if (actor.role === 'customer_user') {
      if (requested !== undefined && requested !== null && requested !== actor.customerId) throw notFound('Customer');
      return actor.customerId;
    }
    if (requested === undefined || requested === null) return null;
    if (!(await tenants.findCustomer(actor.organizationId, requested))) throw notFound('Customer');
    return requested;
  };

  return {
    async create(actor: Actor, input: CreateCredentialInput): Promise<CredentialView> {
      requireRole(actor, ...MANAGING_ROLES);
      if (!isAuthMethodKey(input.authMethod)) {
        throw new AppError('UNKNOWN_AUTH_METHOD', `Unknown auth method; use one of ${Object.keys(AUTH_METHODS).join(', ')}`);
      }
      const authMethod = input.authMethod;
      const label = normalizeLabel(input.label);
      let values = dropEmpty(input.fields);
      let oauthSettings: OAuthSettings | null = null;
      if (authMethod === 'oauth2') {
        ({ settings: oauthSettings, fields: values } = applyOAuthSettings(input, values));
      } else if (input.provider !== undefined || input.grantType !== undefined || input.issuer !== undefined) {
        throw new AppError('VALIDATION_FAILED', 'provider, grantType and issuer apply only to oauth2 credentials');
      }
      validateFields(authMethod, values, validation, oauthSettings ? optionalFieldsFor(oauthSettings) : []);
      const destinations = normalizeDestinations(input.destinations ?? defaultDestinations(oauthSettings?.provider));
      const customerId = await targetCustomer(actor, input.customerId);
      const healthCheck = input.healthCheck ? deps.healthChecks.validate({ authMethod, destinations }, input.healthCheck) : null;
      const lifecycle = { expiresAt: null, clientSecretExpiresAt: null, contactEmail: null, ...lifecycleChanges(authMethod, input) };
      const now = clock.now().toISOString();
      const base = { id: newId('cred'), organizationId: actor.organizationId, customerId, authMethod, destinations };

      const record = await transact(async (trx) => {
        const sealed = await sealFieldValues(keyring, base, values, trx);
        const created: CredentialRecord = {
          ...base,
          label,
          status: initialStatus(authMethod),
          ...sealed,
          oauthSettings,
          lastTestCiphertext: null,
          legacyLastTest: null,
          ...lifecycle,
          version: 1,
          createdAt: now,
          updatedAt: now,
        };
        await store.insert(created, trx);
        if (healthCheck) await deps.healthChecks.store.set(created.organizationId, created.id, healthCheck, now, trx);
        if (oauthSettings) {
          // A client-credentials token needs nobody's consent: the refresh worker fetches it at once.
          await deps.grants.ensureGrant(created.organizationId, created.id, { refreshDueAt: oauthSettings.grantType === 'client_credentials' ? now : null }, trx);
        }
        await audit.record(
          actor,
          actor.organizationId,
          {
            action: 'credential.created',
            customerId,
            targetType: 'credential',
            targetId: created.id,
            details: { label, authMethod, fields: sealed.setFields, destinations: destinations.join(' '), ...(healthCheck ? { healthCheck: describeCheck(healthCheck) } : {}) },
          },
          trx,
        );
        return created;
      });
      return toView(record);
    },

    async get(actor: Actor, id: string): Promise<CredentialView> {
      requireRole(actor, ...MANAGING_ROLES);
      return toView(await findVisible(actor, id));
    },

    async list(actor: Actor, query: ListCredentialsQuery): Promise<Page<CredentialView>> {
      requireRole(actor, ...MANAGING_ROLES);
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const filter: CredentialFilter = {
        level: query.level,
        customerId: query.customerId,
        search: query.search,
        authMethod: query.authMethod,
        status: query.status,
        health: query.health,
        limit: limit + 1,
      };
      const cursor = decodeCursor(query.cursor);
      if (query.sort === 'expiresAt') {
        // The cursor carries the last item's sort key with its id.
        const [afterKey, afterId] = cursor?.includes('|') ? cursor.split('|') : [undefined, undefined];
        if (cursor !== undefined && !afterId) throw new AppError('INVALID_CURSOR', 'The cursor is not valid');
        filter.byExpiry = { afterKey };
        filter.afterId = afterId;
      } else {
        filter.afterId = cursor;
      }
      if (actor.role === 'customer_user') {
        // A customer user sees its own customer's credentials and nothing else; asking
        // for anything beyond that finds nothing rather than an error that confirms it exists.
        if (query.level === 'organization' || (query.customerId !== undefined && query.customerId !== actor.customerId)) {
          return { items: [], nextCursor: null };
        }
        filter.customerId = actor.customerId;
      }
      const rows = await store.list(actor.organizationId, filter);
      const page = toPage(rows, limit);
      const last = page.items.at(-1);
      const nextCursor = page.nextCursor && last && query.sort === 'expiresAt' ? encodeCursor(`${expiryKeyOf(last)}|${last.id}`) : page.nextCursor;
      return { items: await views.many(page.items), nextCursor };
    },

    async update(actor: Actor, id: string, input: UpdateCredentialInput): Promise<CredentialView> {
      requireRole(actor, ...MANAGING_ROLES);
      const current = await findVisible(actor, id);
      const label = input.label === undefined ? undefined : normalizeLabel(input.label);
      const changedFields = Object.keys(input.fields ?? {});
      rejectUnknownFields(current.authMethod, changedFields);
      const destinations = input.destinations === undefined ? undefined : normalizeDestinations(input.destinations);
      const destinationsChange = destinations !== undefined && !sameList(current.destinations, destinations);
      const healthCheck = input.healthCheck ? deps.healthChecks.validate({ authMethod: current.authMethod, destinations: destinations ?? current.destinations }, input.healthCheck) : input.healthCheck;
      const lifecycle = lifecycleChanges(current.authMethod, input);
      if (label === undefined && changedFields.length === 0 && !destinationsChange && healthCheck === undefined && Object.keys(lifecycle).length === 0) return toView(current);

      const updated = await transact(async (trx) => {
        let sealed = {};
        let grantDropped = false;
        if (changedFields.length > 0 || destinationsChange) {
          const values = await openAllValues(keyring, current, trx);
          const before = values.reveal();
          const merged = dropEmpty({ ...before, ...(input.fields ?? {}) });
          // Where a secret may go is sealed with it: whoever redirects it must know it.
          const grantChange = GRANT_DEFINING_FIELDS.filter((name) => current.authMethod === 'oauth2' && (merged[name] ?? '') !== (before[name] ?? ''));
          validateFields(current.authMethod, merged, validation, current.oauthSettings ? optionalFieldsFor(current.oauthSettings) : []);
          if (destinationsChange || grantChange.length > 0) requireSecretsReentered(current.authMethod, input.fields ?? {}, destinationsChange ? ['destinations', ...grantChange] : grantChange);
          sealed = await sealFieldValues(keyring, { ...current, destinations: destinations ?? current.destinations }, merged, trx);
          if (destinations !== undefined) sealed = { ...sealed, destinations };
          if (grantChange.length > 0 && current.oauthSettings) {
            grantDropped = true;
            const clientCredentials = current.oauthSettings.grantType === 'client_credentials';
            await deps.grants.resetGrant(current.organizationId, id, clientCredentials ? clock.now().toISOString() : null, trx);
            sealed = { ...sealed, status: 'pending_authorization' satisfies CredentialStatus };
          }
        }
        const updatedAt = clock.now().toISOString();
        const changes = { ...sealed, ...lifecycle, ...(label !== undefined ? { label } : {}), updatedAt };
        if (!(await store.update(actor.organizationId, id, current.version, changes, trx))) {
          throw new AppError('CONFLICT', 'The credential changed while this update was being made; read it again and retry');
        }
        if (healthCheck !== undefined) await deps.healthChecks.store.set(current.organizationId, id, healthCheck, updatedAt, trx);
        // What was seen of the old secret says nothing of the new one.
        const secretChanged = AUTH_METHODS[current.authMethod].fields.some((spec) => spec.secret && input.fields?.[spec.name]);
        if (grantDropped) await deps.health.observeIn(trx, [{ credential: current, health: 'needs_reauthorization', source: 'change', message: 'The provider, app or client id changed: authorize again' }]);
        else if (secretChanged) await deps.health.observeIn(trx, [{ credential: current, health: 'unknown', source: 'change' }]);
        await audit.record(
          actor,
          actor.organizationId,
          {
            action: 'credential.updated',
            customerId: current.customerId,
            targetType: 'credential',
            targetId: id,
            details: {
              ...(label !== undefined ? { label } : {}),
              fieldsChanged: changedFields,
              ...(destinationsChange ? { destinations: (destinations ?? []).join(' ') } : {}),
              ...(healthCheck !== undefined ? { healthCheck: healthCheck ? describeCheck(healthCheck) : null } : {}),
              ...lifecycle,
            },
          },
          trx,
        );
        if (grantDropped) {
          await audit.record(
            actor,
            actor.organizationId,
            { action: 'credential.authorization_dropped', customerId: current.customerId, targetType: 'credential', targetId: id, details: { reason: 'provider, app or client id changed' } },
            trx,
          );
        }
        return { ...current, ...changes, version: current.version + 1 };
      });
      return toView(updated);
    },

    async delete(actor: Actor, id: string, input: { confirm: string; force?: boolean | undefined }): Promise<void> {
      requireRole(actor, ...MANAGING_ROLES);
      const current = await findVisible(actor, id);
      if (input.confirm !== current.label) {
        throw new AppError('CONFIRMATION_MISMATCH', 'Type the credential\'s label exactly to confirm deletion');
      }
      await transact(async (trx) => {
        const uses = await deps.bindings.usesOf(actor.organizationId, id, trx);
        if (uses.length > 0 && input.force !== true) {
          const names = [...new Set(uses.map((use) => use.instanceName))];
          throw new AppError('CREDENTIAL_IN_USE', `The credential is bound in ${names.map((n) => JSON.stringify(n)).join(', ')}; replace it there, or delete with force: true to leave those bindings missing`);
        }
        // With force, the instances keep their steps and show the binding as missing.
        const unbound = uses.length > 0 ? await deps.bindings.rebind(actor.organizationId, id, null, trx) : 0;
        if (!(await store.delete(actor.organizationId, id, trx))) throw notFound('Credential');
        await deps.events?.emit(trx, [{ organizationId: actor.organizationId, type: 'credential.deleted', data: deps.events.credentialData(current, { force: input.force === true }) }]);
        await audit.record(
          actor,
          actor.organizationId,
          { action: 'credential.deleted', customerId: current.customerId, targetType: 'credential', targetId: id, details: { label: current.label, force: input.force === true, bindingsLeftMissing: unbound } },
          trx,
        );
      });
    },

    /** A credential's health now and each change of it, newest first. */
    async health(actor: Actor, id: string): Promise<{ current: HealthState; history: HealthChange[] }> {
      requireRole(actor, ...MANAGING_ROLES);
      const record = await findVisible(actor, id);
      const [states, history] = await Promise.all([deps.health.states([record]), deps.health.history(record)]);
      return { current: states.get(record.id) as HealthState, history };
    },

    /** The instances and steps a credential is bound to. */
    async usage(actor: Actor, id: string) {
      requireRole(actor, ...MANAGING_ROLES);
      await findVisible(actor, id);
      return deps.bindings.usesOf(actor.organizationId, id);
    },

    /** The credential record if the actor may manage it (for services built on credentials). */
    async findManageable(actor: Actor, id: string): Promise<CredentialRecord> {
      requireRole(actor, ...MANAGING_ROLES);
      return findVisible(actor, id);
    },

    /**
     * Decrypts a credential for one step of a run (or a credential test): its values and,
     * for OAuth 2.0, a fresh access token. Audited with the run and step.
     */
    async resolveForStep(actor: Actor, id: string, context: Record<string, string>): Promise<StepCredential> {
      const { record, values, token } = await counted(() => decrypt(actor, id, freshToken, context));
      return { id, authMethod: record.authMethod, fields: values, accessToken: token?.accessToken, destinations: record.destinations ?? [] };
    },

    /** Decrypts a credential for a run. Only the runtime role may; every call is audited. */
    async resolve(actor: Actor, id: string): Promise<ResolvedCredential> {
      return counted(async () => {
        requireRole(actor, 'runtime');
        const { record, values, token } = await decrypt(actor, id, tokenIfAuthorized, {});
        const { label, authMethod, customerId, status } = record;
        return { credential: { id: record.id, label, authMethod, level: customerId === null ? 'organization' : 'customer', customerId, status }, values, token };
      });
    },
  };
};

export type CredentialService = ReturnType<typeof createCredentialService>;

const resolveOutcomeOf = (error: unknown): ResolveOutcome => {
  if (error instanceof AppError && error.code === 'NOT_FOUND') return 'not_found';
  if (error instanceof AppError && error.code === 'FORBIDDEN') return 'forbidden';
  return 'failed';
};

/** Throws SECRETS_REQUIRED, naming them, unless every secret field of the method is given a value. */
const requireSecretsReentered = (method: AuthMethodKey, given: Record<string, string | null>, because: string[]): void => {
  const missing = AUTH_METHODS[method].fields.filter((spec) => spec.secret && !given[spec.name]).map((spec) => spec.name);
  if (missing.length === 0) return;
  throw new AppError(
    'SECRETS_REQUIRED',
    `Changing ${because.join(', ')} needs every secret of the credential entered again in the same request: ${missing.join(', ')}`,
  );
};

/** The expiry dates and contact of a create or update, checked; only those given. */
const lifecycleChanges = (
  method: AuthMethodKey,
  input: { expiresAt?: string | null | undefined; clientSecretExpiresAt?: string | null | undefined; contactEmail?: string | null | undefined },
): Partial<Pick<CredentialRecord, 'expiresAt' | 'clientSecretExpiresAt' | 'contactEmail'>> => {
  const date = (name: string, value: string | null | undefined) => {
    if (value === undefined || value === null) return value;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new AppError('VALIDATION_FAILED', `${name} must be a date and time (ISO 8601)`);
    return new Date(ms).toISOString();
  };
  if (input.clientSecretExpiresAt !== undefined && input.clientSecretExpiresAt !== null && method !== 'oauth2') {
    throw new AppError('VALIDATION_FAILED', 'clientSecretExpiresAt applies only to oauth2 credentials');
  }
  const contact = input.contactEmail === undefined || input.contactEmail === null ? input.contactEmail : input.contactEmail.trim().toLowerCase();
  if (contact && (!EMAIL_PATTERN.test(contact) || contact.length > 320)) throw new AppError('VALIDATION_FAILED', 'contactEmail must be an email address');
  const changes: Partial<Pick<CredentialRecord, 'expiresAt' | 'clientSecretExpiresAt' | 'contactEmail'>> = {};
  const expiresAt = date('expiresAt', input.expiresAt);
  const clientSecretExpiresAt = date('clientSecretExpiresAt', input.clientSecretExpiresAt);
  if (expiresAt !== undefined) changes.expiresAt = expiresAt;
  if (clientSecretExpiresAt !== undefined) changes.clientSecretExpiresAt = clientSecretExpiresAt;
  if (contact !== undefined) changes.contactEmail = contact === '' ? null : contact;
  return changes;
};

/** A check as the audit log names it: what runs and how often, never its inputs. */
const describeCheck = (spec: HealthCheckSpec): string => `${spec.component}.${spec.action} every ${spec.everyMinutes} min`;

const dropEmpty = (values: Record<string, string | null>): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) if (value !== null && value !== '') result[name] = value;
  return result;
};
