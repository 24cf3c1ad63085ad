import type { EventOutbox } from '../events/event-outbox.js';
import type { HealthObservation, HealthService } from '../credentials/health-service.js';
import { scopeOf } from '../crypto/sealed-json.js';
import { AppError } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { Redacted } from '../common/redacted.js';
import type { AuditService } from '../audit/audit-service.js';
import type { CipherContext, Keyring } from '../crypto/keyring.js';
import type { CredentialStatus } from '../credentials/auth-methods.js';
import type { AccessToken } from '../credentials/credential-service.js';
import type { CredentialRecord, CredentialStore } from '../credentials/credential-store.js';
import { openAllValues } from '../credentials/field-sealing.js';
import type { Metrics } from '../observability/metrics.js';
import { createBatcher } from '../store/batcher.js';
import type { Db, Transact } from '../store/database.js';
import { TokenRequestError, type OAuthClient, type ProviderEndpoint, type TokenSet } from './oauth-client.js';
import { expectedIssuer, scopeParameter } from './oauth-settings.js';
import type { OAuthGrant, OAuthStore } from './oauth-store.js';
import { nextRefreshAt, retryDelayMs, type RefreshPolicy } from './refresh-policy.js';

interface StoredTokens {
  access_token: string;
  refresh_token?: string | undefined;
  /** The provider account the grant is for, learned at the first authorization (sealed with the tokens). */
  account?: string | undefined;
}

/** A token response waiting to be stored for `grant`. */
interface PendingTokens {
  record: CredentialRecord;
  grant: OAuthGrant;
  tokens: TokenSet;
  /** Kept when the response brings no new refresh token. */
  previousRefreshToken: string | undefined;
  /** The provider account to keep with the tokens. */
  account: string | undefined;
  authorizedAt: string | undefined;
}

export interface TokenServiceOptions extends RefreshPolicy {
  /** This process's name in leases. */
  owner: string;
  /** How long a lease holds before another process may take over. */
  leaseMs: number;
  /** `resolve` hands out tokens valid for at least this long. */
  minValidityMs: number;
  /** How long an on-demand caller waits for another process's refresh. */
  waitForPeerMs: number;
}

const tokensContext = (record: Pick<CredentialRecord, 'id' | 'organizationId' | 'customerId'>): CipherContext => ({
  organizationId: record.organizationId,
  scopeId: scopeOf(record.organizationId, record.customerId),
  recordId: record.id,
  fieldSet: 'tokens',
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keeps OAuth 2.0 tokens alive. One refresh per credential at a time across every
 * process (a lease on the grant row plus a version check on write); the new refresh
 * token is committed before the new access token is handed to anyone.
 */
export const createTokenService = (deps: {
  store: OAuthStore;
  credentials: Pick<CredentialStore, 'findEach' | 'setStatus'>;
  keyring: Pick<Keyring, 'sealEach' | 'open'>;
  client: OAuthClient;
  audit: Pick<AuditService, 'record'>;
  health: Pick<HealthService, 'observeIn'>;
  /** Tells webhook endpoints of authorizations and failed refreshes (in the same transaction). */
  events?: Pick<EventOutbox, 'emit' | 'credentialData'> | undefined;
  transact: Transact;
  clock: Clock;
  random?: () => number;
  options: TokenServiceOptions;
  metrics?: Pick<Metrics, 'tokenRefreshed' | 'lease'> | undefined;
}) => {
  const { store, credentials, keyring, client, audit, transact, clock, options } = deps;
  const random = deps.random ?? Math.random;
  const inFlight = new Map<string, Promise<AccessToken>>();

  const providerOf = async (record: CredentialRecord): Promise<{ endpoint: ProviderEndpoint; scopes: string }> => {
    const values = (await openAllValues(keyring, record)).reveal();
    const settings = record.oauthSettings;
    if (!settings || !values.token_uri || !values.client_id || !values.client_secret) throw new AppError('NOT_OAUTH2', 'Not an OAuth 2.0 credential');
    return {
      endpoint: {
        issuer: expectedIssuer(settings, values.auth_uri, values.token_uri),
        requireIss: settings.requireIss === true,
        authUri: values.auth_uri,
        tokenUri: values.token_uri,
        clientId: values.client_id,
        clientSecret: new Redacted(values.client_secret),
        clientAuth: settings.clientAuth,
      },
      scopes: scopeParameter(settings, values.scopes),
    };
  };

  const openTokens = async (record: CredentialRecord, grant: OAuthGrant): Promise<StoredTokens | undefined> => {
    if (!grant.tokensCiphertext) return undefined;
    const plaintext = await keyring.open(tokensContext(record), grant.tokensCiphertext);
    try {
      return JSON.parse(plaintext.toString('utf8')) as StoredTokens;
    } finally {
      plaintext.fill(0);
    }
  };

  const toAccessToken = (tokens: StoredTokens, grant: OAuthGrant): AccessToken => ({
    accessToken: new Redacted(tokens.access_token),
    tokenType: grant.tokenType ?? 'bearer',
    expiresAt: grant.expiresAt,
    scopes: grant.grantedScopes,
    grant,
  });

  /**
   * Whether the stored token stays valid for `ms` more. A token that lives shorter than
   * twice that (a provider issuing 30-second tokens) only has to have half its life left,
   * or every call would refresh it.
   */
  const validFor = (grant: OAuthGrant, ms: number): boolean => {
    if (grant.tokensCiphertext === null) return false;
    if (grant.expiresAt === null) return true;
    const expiresAt = Date.parse(grant.expiresAt);
    const issuedAt = grant.lastRefreshedAt ? Date.parse(grant.lastRefreshedAt) : expiresAt - 2 * ms;
    return expiresAt - clock.now().getTime() >= Math.min(ms, (expiresAt - issuedAt) / 2);
  };

  /** Still accepted by the provider for at least another second. */
  const notExpired = (grant: OAuthGrant): boolean =>
    grant.tokensCiphertext !== null && (grant.expiresAt === null || Date.parse(grant.expiresAt) - clock.now().getTime() > 1000);

  const setStatus = async (record: CredentialRecord, status: CredentialStatus, trx?: Db) => {
    if (record.status !== status) await credentials.setStatus(record.organizationId, record.id, status, clock.now().toISOString(), trx);
  };

  /**
   * Writes token responses, each in the same transaction as its grant's new schedule and
   * guarded by the grant's version (undefined where another writer moved the grant on).
   * Values of one scope are sealed together under its current data key, looked up once.
   */
  const writeTokens = async (trx: Db, items: readonly PendingTokens[]): Promise<Array<OAuthGrant | undefined>> => {
    const now = clock.now();
    const plaintexts = items.map(({ tokens, previousRefreshToken, account }) =>
      Buffer.from(JSON.stringify({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken ?? previousRefreshToken, ...(account ? { account } : {}) } satisfies StoredTokens)),
    );
    try {
      const sealed = await keyring.sealEach(
        items.map(({ record }, i) => ({ ctx: tokensContext(record), plaintext: plaintexts[i] as Buffer })),
        trx,
      );
      const changes = items.map(({ record, grant, tokens, previousRefreshToken, authorizedAt }, i) => {
        const lifetimeMs = (tokens.expiresIn ?? options.defaultLifetimeSeconds) * 1000;
        return {
          tokensCiphertext: sealed[i] as string,
          tokenType: tokens.tokenType,
          grantedScopes: tokens.scope ?? grant.grantedScopes,
          expiresAt: new Date(now.getTime() + lifetimeMs).toISOString(),
          refreshDueAt:
            (tokens.refreshToken ?? previousRefreshToken) || record.oauthSettings?.grantType === 'client_credentials'
              ? nextRefreshAt(now, lifetimeMs, options, random)
              : null,
          lastRefreshedAt: now.toISOString(),
          failureCount: 0,
          lastError: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          ...(authorizedAt ? { authorizedAt } : {}),
        };
      });
      // One statement for the whole group, each grant guarded by its version.
      const written = await store.storeTokens(
        items.map(({ record, grant }, i) => {
          const c = changes[i] as (typeof changes)[number];
          return { organizationId: record.organizationId, credentialId: record.id, expectedVersion: grant.version, ...c, authorizedAt: c.authorizedAt ?? null };
        }),
        trx,
      );
      const results: Array<OAuthGrant | undefined> = [];
      const seen: HealthObservation[] = [];
      for (const [i, { record, grant, authorizedAt }] of items.entries()) {
        if (!written[i]) {
          results.push(undefined);
          continue;
        }
        await setStatus(record, 'authorized', trx);
        seen.push({ credential: record, health: 'healthy', source: authorizedAt ? 'authorization' : 'refresh' });
        results.push({ ...grant, ...(changes[i] as (typeof changes)[number]), version: grant.version + 1 });
      }
      const events = deps.events;
      const authorized = items.filter((item, i) => item.authorizedAt && written[i]);
      if (events) await events.emit(trx, authorized.map(({ record }) => ({ organizationId: record.organizationId, type: 'credential.authorized', data: events.credentialData(record) })));
      await deps.health.observeIn(trx, seen);
      return results;
    } finally {
      for (const plaintext of plaintexts) plaintext.fill(0);
    }
  };

  /** The provider account a grant is for, when it was learned (the tokens are opened only for it). */
  const accountOf = async (record: CredentialRecord, grant: OAuthGrant): Promise<string | undefined> => (await openTokens(record, grant))?.account;

  /** The worker's lookups of the credentials behind its grants, made close together, share one query. */
  const credentialLookups = createBatcher<{ organizationId: string; id: string }, CredentialRecord | undefined>((keys) => credentials.findEach(keys), { maxBatch: 500, maxConcurrent: 4 });

  /** Token responses stored close together share one transaction (group commit); a few such transactions run side by side. */
  const tokenWrites = createBatcher<PendingTokens, OAuthGrant | undefined>((items) => transact((trx) => writeTokens(trx, items)), { maxBatch: 200, maxConcurrent: 2 });

  /**
   * Stores a token response: the refresh token first (`previousRefreshToken` is kept if
   * none came back), then the new schedule, committed before this returns. Inside `trx`
   * when given; otherwise possibly together with other responses stored at the same time.
   */
  const storeTokens = async (
    record: CredentialRecord,
    grant: OAuthGrant,
    tokens: TokenSet,
    extra: { authorizedAt?: string; previousRefreshToken?: string | undefined; account?: string | undefined; trx?: Db } = {},
  ): Promise<OAuthGrant | undefined> => {
    const item: PendingTokens = { record, grant, tokens, previousRefreshToken: extra.previousRefreshToken, account: extra.account, authorizedAt: extra.authorizedAt };
    return extra.trx ? (await writeTokens(extra.trx, [item]))[0] : tokenWrites.add(item);
  };

  /** Records a failed refresh: when to try again, and what the status now says. */
  const recordFailure = async (record: CredentialRecord, grant: OAuthGrant, error: TokenRequestError): Promise<void> => {
    const now = clock.now();
    const failureCount = grant.failureCount + 1;
    const permanent = error.kind === 'invalid_grant';
    const status: CredentialStatus = permanent
      ? 'reauthorization_required'
      : failureCount >= options.maxFailures || error.kind === 'rejected'
        ? 'refresh_failed'
        : record.status;
    const refreshDueAt = permanent ? null : new Date(now.getTime() + retryDelayMs(failureCount, error.retryAfterMs, options, random)).toISOString();
    await transact(async (trx) => {
      const recorded = await store.updateGrant(
        record.organizationId,
        record.id,
        grant.version,
        { failureCount, lastError: error.oauthError ?? error.message, refreshDueAt, leaseOwner: null, leaseExpiresAt: null },
        trx,
      );
      // Another writer moved the grant on (a peer's refresh landed): its outcome stands, not this failure.
      if (!recorded) return;
      await setStatus(record, status, trx);
      if (status === 'refresh_failed' && record.status !== 'refresh_failed') {
        await deps.events?.emit(trx, [{ organizationId: record.organizationId, type: 'credential.refresh_failed', data: deps.events.credentialData(record, { failures: failureCount, error: error.oauthError ?? error.kind }) }]);
      }
      const health = permanent ? 'needs_reauthorization' : status === 'refresh_failed' ? 'failing' : 'degraded';
      const said = error.oauthError ?? error.message;
      await deps.health.observeIn(trx, [
        {
          credential: record,
          health,
          source: 'refresh',
          message: permanent ? `The provider refused the refresh token (${said}): authorize again` : `The token refresh failed (${said})${refreshDueAt ? `; trying again at ${refreshDueAt}` : ''}`,
        },
      ]);
      if (status !== record.status) {
        await audit.record(
          null,
          record.organizationId,
          {
            action: permanent ? 'oauth.reauthorization_required' : 'oauth.refresh_failed',
            customerId: record.customerId,
            targetType: 'credential',
            targetId: record.id,
            details: { error: error.oauthError ?? error.message, failures: failureCount },
          },
          trx,
        );
      }
    });
  };

  /** Asks the provider for new tokens. The caller holds the lease on `grant`. */
  const refreshLeased = async (record: CredentialRecord, grant: OAuthGrant): Promise<OAuthGrant | undefined> => {
    const { endpoint, scopes } = await providerOf(record);
    let tokens: TokenSet;
    let refreshToken: string | undefined;
    let account: string | undefined;
    try {
      if (record.oauthSettings?.grantType === 'client_credentials') {
        tokens = await client.clientCredentials(endpoint, scopes);
      } else {
        const stored = await openTokens(record, grant);
        refreshToken = stored?.refresh_token;
        account = stored?.account;
        if (!refreshToken) throw new TokenRequestError('invalid_grant', 'No refresh token was issued; authorize again', { oauthError: 'no_refresh_token' });
        tokens = await client.refresh(endpoint, refreshToken);
      }
    } catch (error) {
      deps.metrics?.tokenRefreshed(error instanceof TokenRequestError && error.kind === 'invalid_grant' ? 'invalid_grant' : 'failed');
      if (!(error instanceof TokenRequestError)) {
        await store.releaseLease(record.id, options.owner);
        throw error;
      }
      await recordFailure(record, grant, error);
      throw error;
    }
    const updated = await storeTokens(record, grant, tokens, { previousRefreshToken: refreshToken, account });
    // Another writer moved the grant on meanwhile: its tokens stand, these are dropped.
    deps.metrics?.tokenRefreshed(updated ? 'refreshed' : 'skipped');
    if (!updated) await store.releaseLease(record.id, options.owner);
    return updated;
  };

  const failureToAppError = (error: unknown): never => {
    if (error instanceof TokenRequestError) {
      if (error.kind === 'invalid_grant') throw new AppError('AUTHORIZATION_REQUIRED', 'The provider no longer accepts this authorization; authorize again');
      throw new AppError('TOKEN_REFRESH_FAILED', `The token could not be refreshed: ${error.message}`);
    }
    throw error;
  };

  /** Waits for a fresh token, refreshing it here when no other process is. */
  const obtainFresh = async (record: CredentialRecord): Promise<AccessToken> => {
    const deadline = clock.now().getTime() + options.waitForPeerMs;
    for (let attempt = 0; ; attempt += 1) {
      const grant = await store.findGrant(record.organizationId, record.id);
      if (!grant) throw new AppError('AUTHORIZATION_REQUIRED', 'This credential has not been authorized yet');
      const current = await openTokens(record, grant);
      if (current && validFor(grant, options.minValidityMs)) return toAccessToken(current, grant);
      if (record.oauthSettings?.grantType !== 'client_credentials' && (!current || record.status === 'reauthorization_required')) {
        throw new AppError('AUTHORIZATION_REQUIRED', 'This credential needs to be authorized');
      }
      const now = clock.now();
      // After a failure the provider gets its back-off (Retry-After included), even from on-demand callers.
      if (grant.failureCount > 0 && grant.refreshDueAt && Date.parse(grant.refreshDueAt) > now.getTime()) {
        if (current && notExpired(grant)) return toAccessToken(current, grant);
        throw new AppError('TOKEN_REFRESH_FAILED', `The token could not be refreshed (${grant.lastError ?? 'provider error'}); the next attempt is at ${grant.refreshDueAt}`);
      }
      const gotLease = await store.tryLease(record.organizationId, record.id, options.owner, now.toISOString(), new Date(now.getTime() + options.leaseMs).toISOString());
      deps.metrics?.lease(gotLease ? 'taken' : 'contended');
      if (gotLease) {
        const leased = (await store.findGrant(record.organizationId, record.id)) ?? grant;
        const leasedTokens = await openTokens(record, leased);
        if (leasedTokens && validFor(leased, options.minValidityMs)) {
          await store.releaseLease(record.id, options.owner);
          return toAccessToken(leasedTokens, leased);
        }
        try {
          const refreshed = await refreshLeased(record, leased);
          if (refreshed) return toAccessToken((await openTokens(record, refreshed)) as StoredTokens, refreshed);
        } catch (error) {
          // A token that is still valid, if only just, beats no token.
          if (leasedTokens && notExpired(leased)) return toAccessToken(leasedTokens, leased);
          failureToAppError(error);
        }
      }
      if (clock.now().getTime() > deadline) throw new AppError('TOKEN_UNAVAILABLE', 'Another process is refreshing this token; try again shortly');
      await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 500));
    }
  };

  return {
    storeTokens,
    providerOf,
    accountOf,

    /** An access token valid for at least `minValidityMs`; refreshes on demand. Concurrent callers share one refresh. */
    async fresh(record: CredentialRecord): Promise<AccessToken> {
      const running = inFlight.get(record.id);
      if (running) return running;
      const work = obtainFresh(record).finally(() => inFlight.delete(record.id));
      inFlight.set(record.id, work);
      return work;
    },

    /** Refreshes a grant the worker has claimed (and leased). Failures are recorded, not thrown. */
    async refreshClaimed(grant: OAuthGrant): Promise<'refreshed' | 'failed' | 'skipped'> {
      const record = await credentialLookups.add({ organizationId: grant.organizationId, id: grant.credentialId });
      if (!record || record.authMethod !== 'oauth2') {
        await store.releaseLease(grant.credentialId, options.owner);
        deps.metrics?.tokenRefreshed('skipped');
        return 'skipped';
      }
      try {
        return (await refreshLeased(record, grant)) ? 'refreshed' : 'skipped';
      } catch (error) {
        if (error instanceof TokenRequestError) return 'failed';
        throw error;
      }
    },
  };
};

export type TokenService = ReturnType<typeof createTokenService>;
