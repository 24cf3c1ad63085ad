import type { Keyring } from '../crypto/keyring.js';
import type { OAuthGrant } from '../oauth/oauth-store.js';
import { expectedIssuer, scopeList, type GrantType } from '../oauth/oauth-settings.js';
import { AUTH_METHODS, type AuthMethodKey, type CredentialStatus } from './auth-methods.js';
import type { CredentialRecord } from './credential-store.js';
import { openShownValues } from './field-sealing.js';
import type { HealthState } from './health.js';
import type { HealthCheckSpec, HealthCheckStore, ScheduledHealthCheck } from './health-checks.js';
import type { HealthService } from './health-service.js';
import { openLastTest } from './last-test.js';

export interface FieldState {
  set: boolean;
  /** Present only for values that may be shown back (oauth2 configuration). */
  value?: string;
}

/** What an oauth2 credential says about its authorization; never a token. */
export interface OAuth2State {
  grantType: GrantType;
  provider: string | null;
  /** The exact redirect URI to register with the provider. */
  redirectUri: string;
  issuer: string;
  authorizedAt: string | null;
  tokenExpiresAt: string | null;
  /** The scopes the authorization asks for (the credential's scopes, or the preset's). */
  requestedScopes: string[];
  grantedScopes: string | null;
  /** Requested scopes the provider did not grant (empty when it did not say what it granted). */
  missingScopes: string[];
  lastRefreshedAt: string | null;
  nextRefreshAt: string | null;
  lastError: string | null;
}

/** Requested scopes the grant lacks; none when the provider did not say what it granted. */
const missingScopes = (requested: string[], granted: string | null | undefined): string[] => {
  const given = scopeList(granted);
  return given.length === 0 ? [] : requested.filter((scope) => !given.includes(scope));
};

/** A credential as the API shows it: never a secret value. */
export interface CredentialView extends HealthState {
  id: string;
  label: string;
  authMethod: AuthMethodKey;
  level: 'organization' | 'customer';
  customerId: string | null;
  status: CredentialStatus;
  fields: Record<string, FieldState>;
  authorizedAt: string | null;
  oauth2: OAuth2State | null;
  /** The origins the secret may be sent to (for oauth2: where the access token may go). Empty: sent nowhere. */
  destinations: string[];
  /** The last credential test: did it work, what did the service say, when. */
  lastTest: { ok: boolean; message: string; at: string } | null;
  expiresAt: string | null;
  clientSecretExpiresAt: string | null;
  contactEmail: string | null;
  /** The check the worker runs on a schedule, if any. */
  healthCheck: (HealthCheckSpec & { nextCheckAt: string; lastCheckAt: string | null }) | null;
  createdAt: string;
  updatedAt: string;
}

/** Builds views; showing a credential decrypts only its shown (non-secret) values. */
export const createCredentialViews = (deps: {
  keyring: Pick<Keyring, 'open'>;
  grants: { findGrants(organizationId: string, credentialIds: string[]): Promise<OAuthGrant[]> };
  health: Pick<HealthService, 'states'>;
  checks: Pick<HealthCheckStore, 'find'>;
  redirectUri: string;
}) => {
  const build = async (record: CredentialRecord, grant: OAuthGrant | undefined, health: HealthState, check: ScheduledHealthCheck | undefined): Promise<CredentialView> => {
    const shown = await openShownValues(deps.keyring, record);
    const fields: Record<string, FieldState> = {};
    for (const spec of AUTH_METHODS[record.authMethod].fields) {
      const value = shown[spec.name];
      fields[spec.name] = !spec.secret && value !== undefined ? { set: true, value } : { set: record.setFields.includes(spec.name) };
    }
    const settings = record.oauthSettings;
    const oauth2: OAuth2State | null =
      settings && shown.token_uri
        ? {
            grantType: settings.grantType,
            provider: settings.provider,
            redirectUri: deps.redirectUri,
            issuer: expectedIssuer(settings, shown.auth_uri, shown.token_uri),
            authorizedAt: grant?.authorizedAt ?? null,
            tokenExpiresAt: grant?.expiresAt ?? null,
            requestedScopes: scopeList(shown.scopes),
            grantedScopes: grant?.grantedScopes ?? null,
            missingScopes: missingScopes(scopeList(shown.scopes), grant?.grantedScopes),
            lastRefreshedAt: grant?.lastRefreshedAt ?? null,
            nextRefreshAt: grant?.refreshDueAt ?? null,
            lastError: grant?.lastError ?? null,
          }
        : null;
    return {
      id: record.id,
      label: record.label,
      authMethod: record.authMethod,
      level: record.customerId === null ? 'organization' : 'customer',
      customerId: record.customerId,
      status: record.status,
      fields,
      authorizedAt: oauth2?.authorizedAt ?? null,
      oauth2,
      destinations: record.destinations ?? [],
      lastTest: await openLastTest(deps.keyring, record),
      expiresAt: record.expiresAt,
      clientSecretExpiresAt: record.clientSecretExpiresAt,
      contactEmail: record.contactEmail,
      healthCheck: check
        ? { component: check.component, action: check.action, inputs: check.inputs, everyMinutes: check.everyMinutes, nextCheckAt: check.nextCheckAt, lastCheckAt: check.lastCheckAt }
        : null,
      ...health,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  };

  /** Views of several credentials, with one query each for all their grants, health and checks. */
  const many = async (records: CredentialRecord[]): Promise<CredentialView[]> => {
    const first = records[0];
    const oauthIds = records.filter((r) => r.authMethod === 'oauth2').map((r) => r.id);
    const ids = records.map((r) => r.id);
    const [grants, health, checks] = await Promise.all([
      first ? deps.grants.findGrants(first.organizationId, oauthIds) : [],
      deps.health.states(records),
      first ? deps.checks.find(first.organizationId, ids) : [],
    ]);
    const byId = new Map(grants.map((g) => [g.credentialId, g]));
    const checkOf = new Map(checks.map((c) => [c.credentialId, c]));
    return Promise.all(records.map((record) => build(record, byId.get(record.id), health.get(record.id) as HealthState, checkOf.get(record.id))));
  };

  return {
    many,
    one: async (record: CredentialRecord): Promise<CredentialView> => (await many([record]))[0] as CredentialView,
  };
};

export type CredentialViews = ReturnType<typeof createCredentialViews>;
