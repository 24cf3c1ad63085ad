import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createAuditService } from './audit/audit-service.js';
import { createAuditStore } from './audit/audit-store.js';
import type { AuditWriter } from './audit/sqlite-audit-writer.js';
import type { Clock } from './common/clock.js';
import { createCredentialService } from './credentials/credential-service.js';
import { createAlertMailer } from './events/alert-mailer.js';
import { createAlertStore } from './events/alert-store.js';
import { createEventOutbox } from './events/event-outbox.js';
import { createWebhookService } from './events/webhook-service.js';
import { createWebhookStore } from './events/webhook-store.js';
import { createWebhookWorker } from './events/webhook-worker.js';
import { createExpiryWatch } from './credentials/expiry-watch.js';
import { createHealthCheckWorker } from './credentials/health-check-worker.js';
import { createHealthCheckStore, validateHealthCheck } from './credentials/health-checks.js';
import { createHealthService } from './credentials/health-service.js';
import { createHealthStore } from './credentials/health-store.js';
import { createCredentialStore } from './credentials/credential-store.js';
import { createCredentialCache } from './credentials/credential-cache.js';
import type { CredentialChangeFeed } from './store/credential-changes.js';
import { createCredentialViews } from './credentials/credential-view.js';
import { createDataKeyStore } from './crypto/data-key-store.js';
import type { KeyProvider } from './crypto/key-provider.js';
import { createKeyring } from './crypto/keyring.js';
import { createEncryptionCounter, DEFAULT_ROTATION_THRESHOLD } from './crypto/encryption-counter.js';
import { createKeyLifecycle } from './crypto/key-lifecycle.js';
import { createComponentFetch, createGuardedFetch, createOAuthFetch } from './net/guarded-fetch.js';
import { componentAddressRule } from './net/address-policy.js';
import { migrateDestinations } from './credentials/destination-migration.js';
import { sealClearCustomerData } from './integrations/clear-data-migration.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createAuthorizationService } from './oauth/authorization-service.js';
import { createAuthorizationEmailPolicy, type EmailLimits } from './oauth/email-policy.js';
import { createEmailStore } from './oauth/email-store.js';
import { createMailer, type Mailer } from './oauth/mailer.js';
import { createOAuthClient } from './oauth/oauth-client.js';
import { createOAuthStore } from './oauth/oauth-store.js';
import { createRefreshWorker } from './oauth/refresh-worker.js';
import { DEFAULT_REFRESH_POLICY } from './oauth/refresh-policy.js';
import { createTokenService } from './oauth/token-service.js';
import { createTransact, type Db, type Engine } from './store/database.js';
import { BUILT_IN_COMPONENTS } from './components/built-in.js';
import { createComponentRegistry } from './components/registry.js';
import type { Component } from './components/component.js';
import { createIntegrationStore } from './integrations/integration-store.js';
import { createIntegrationService } from './integrations/integration-service.js';
import { createInstanceService } from './integrations/instance-service.js';
import { createRunRetention } from './integrations/run-retention.js';
import { createRunService } from './integrations/run-service.js';
import { createCredentialTestService } from './credentials/credential-test-service.js';
import { createApiTokenService } from './tenants/api-token-service.js';
import { createApiTokenStore } from './tenants/api-token-store.js';
import { createCustomerService } from './tenants/customer-service.js';
import { createOrganizationService } from './tenants/organization-service.js';
import { createTenantStore } from './tenants/tenant-store.js';
import { createSessionService } from './tenants/session-service.js';

export interface ServiceOptions {
  db: Db;
  engine: Engine;
  /** SQLite: commits standalone audit batches on a thread of its own. */
  auditWriter?: AuditWriter | undefined;
  keyProvider: KeyProvider;
  clock: Clock;
  allowInsecureLoopback: boolean;
  /** Private networks (CIDRs) integration steps may reach; none unless given. */
  outboundAllowedNetworks?: readonly string[];
  /** Days before an expiry date that credential.expiring goes out (default 30, 7, 1). */
  expiryWarningDays?: readonly number[];
  publicUrl: string;
  mailer: Mailer;
  /**
   * Refresh worker settings; `leaseMs` is how long its claim on a due grant holds, `maxPerOrganization`
   * how many grants of one organization may be leased at once, `requestTimeoutMs` the bound on each token request.
   */
  refresh: { pollMs: number; defaultLifetimeSeconds: number; batchSize: number; concurrency: number; leaseMs: number; maxPerOrganization?: number; requestTimeoutMs?: number };
  /** Authorization email limits per credential, customer and organization (defaults: 5, 20 and 200 an hour). */
  emailLimits?: EmailLimits;
  /** Key lifecycle settings (defaults: rotate at 2^32 - 2^20 encryptions, 500 rows per re-encryption batch). */
  keys?: { rotationThreshold: number; reencryptBatchSize: number };
  /** Where this process's metrics go (a fresh registry unless given). */
  metrics?: Metrics;
  /** How long an authenticated API token is remembered (see createApiTokenService). */
  apiTokenCacheMs?: number;
  /** With `credentialCacheSize` above 0: credential rows are cached, and changes to them followed through this. */
  credentialChanges?: CredentialChangeFeed | undefined;
  credentialCacheSize?: number;
  /** Outbound HTTP for OAuth token requests and components, instead of the guarded fetch (tests inject one). */
  fetch?: typeof fetch;
  /** How long runs are kept, and how many per instance (defaults: 30 days, 1000). */
  runs?: { retentionDays: number; keepPerInstance: number };
  /** Components available to integrations (the built-in ones unless given). */
  components?: readonly Component[];
}

/** Wires every store and service by hand. The HTTP app, the refresh worker and the CLI all use what this returns. */
export const createServices = (options: ServiceOptions) => {
  const { db, keyProvider, clock, allowInsecureLoopback } = options;
  const transact = createTransact(db);
  const dataKeyStore = createDataKeyStore(db);
  const metrics = options.metrics ?? createMetrics();
  const rotationThreshold = options.keys?.rotationThreshold ?? DEFAULT_ROTATION_THRESHOLD;
  // Worn keys found when counts are written down are rotated by the key lifecycle wired below.
  const encryptionCounter = createEncryptionCounter({ store: dataKeyStore, clock, threshold: rotationThreshold, onWorn: (key) => keyLifecycle.keys.rotateWorn(key) });
  const keyring = createKeyring({ provider: keyProvider, store: dataKeyStore, clock, metrics, tally: encryptionCounter.tally });
  const tenantStore = createTenantStore(db);
  const tokenStore = createApiTokenStore(db);
  const credentialCache = options.credentialChanges
    ? createCredentialCache({ changes: options.credentialChanges, maxEntries: options.credentialCacheSize ?? 10_000, onLookup: (result) => metrics.credentialLookup(result) })
    : undefined;
  const credentialStore = createCredentialStore(db, credentialCache);
  const integrationStore = createIntegrationStore(db);
  const oauthStore = createOAuthStore(db, options.engine);
  const components = createComponentRegistry(options.components ?? BUILT_IN_COMPONENTS);
  // Outbound calls go through the guarded fetch (src/net/guarded-fetch.ts) unless a test injects one.
  const oauthFetch = options.fetch ?? createOAuthFetch(allowInsecureLoopback);
  const addressRule = componentAddressRule({ allowLoopback: allowInsecureLoopback, allowedNetworks: options.outboundAllowedNetworks ?? [] });
  const network = { fetch: options.fetch ?? createComponentFetch({ addressRule }), addressRule };
  const auditStore = createAuditStore(db, options.engine, options.auditWriter);
  const audit = createAuditService({ store: auditStore, clock });
  const webhookStore = createWebhookStore(db, options.engine);
  const alertStore = createAlertStore(db, options.engine);
  const events = createEventOutbox({ store: webhookStore, alerts: alertStore, customers: tenantStore, clock, publicUrl: options.publicUrl });
  const health = createHealthService({ store: createHealthStore(db, options.engine), keyring, audit, events, transact, clock });
  const healthCheckStore = createHealthCheckStore(db, options.engine);
  const tokens = createApiTokenService({ store: tokenStore, tenants: tenantStore, audit, transact, clock, cacheTtlMs: options.apiTokenCacheMs });
  const organizations = createOrganizationService({ tenants: tenantStore, keyring, tokens, audit, transact, clock });
  const customers = createCustomerService({
    tenants: tenantStore,
    tokens: {
      // The customer's tokens go with it, from the database and from the token cache.
      async deleteForCustomer(organizationId, customerId, trx) {
        await tokenStore.deleteForCustomer(organizationId, customerId, trx);
        tokens.forgetCustomer(organizationId, customerId);
      },
    },
    credentials: credentialStore,
    events,
    instances: integrationStore,
    dataKeys: dataKeyStore,
    keyring,
    audit,
    transact,
    clock,
  });

  const sessions = createSessionService({ tenants: tenantStore, organizations, audit, transact, clock, publicUrl: options.publicUrl });

  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const requestTimeoutMs = options.refresh.requestTimeoutMs ?? 15_000;
  const oauthClient = createOAuthClient({ fetch: oauthFetch, allowInsecureLoopback, timeoutMs: requestTimeoutMs });
  const accessTokens = createTokenService({
    store: oauthStore,
    credentials: credentialStore,
    keyring,
    client: oauthClient,
    audit,
    health,
    events,
    transact,
    clock,
    metrics,
    options: {
      ...DEFAULT_REFRESH_POLICY,
      defaultLifetimeSeconds: options.refresh.defaultLifetimeSeconds,
      owner,
      // An on-demand refresh holds its lease past the token request's timeout.
      leaseMs: Math.max(30_000, 2 * requestTimeoutMs),
      minValidityMs: 60_000,
      waitForPeerMs: 20_000,
    },
  });
  const emailPolicy = createAuthorizationEmailPolicy({ store: createEmailStore(db, options.engine), tenants: tenantStore, audit, transact, clock, limits: options.emailLimits });
  const authorization = createAuthorizationService({
    store: oauthStore,
    credentials: credentialStore,
    tenants: tenantStore,
    keyring,
    client: oauthClient,
    tokens: accessTokens,
    mailer: options.mailer,
    emailPolicy,
    audit,
    history: auditStore,
    events,
    transact,
    clock,
    publicUrl: options.publicUrl,
  });
  const views = createCredentialViews({ keyring, grants: oauthStore, health, checks: healthCheckStore, redirectUri: authorization.redirectUri });
  const credentials = createCredentialService({
    store: credentialStore,
    tenants: tenantStore,
    keyring,
    views,
    grants: oauthStore,
    bindings: integrationStore,
    accessTokens,
    health,
    events,
    healthChecks: { store: healthCheckStore, validate: (credential, input) => validateHealthCheck(components, credential, input) },
    audit,
    transact,
    clock,
    allowInsecureLoopback,
    metrics,
  });
  const integrations = createIntegrationService({ store: integrationStore, components, audit, transact, clock });
  const instances = createInstanceService({ store: integrationStore, credentials: credentialStore, grants: oauthStore, tenants: tenantStore, components, audit, transact, clock });
  const runs = createRunService({ store: integrationStore, components, credentials, credentialRecords: credentialStore, keyring, audit, health, clock, network });
  const runRetention = createRunRetention({ store: integrationStore, clock, retentionDays: options.runs?.retentionDays ?? 30, keepPerInstance: options.runs?.keepPerInstance ?? 1000 });
  const credentialTests = createCredentialTestService({ credentials, store: credentialStore, keyring, components, audit, health, transact, clock, network });
  const { pollMs, batchSize, concurrency, leaseMs, maxPerOrganization } = options.refresh;
  const webhooks = createWebhookService({ store: webhookStore, keyring, audit, transact, clock, allowInsecureLoopback });
  const webhookFetch =
    options.fetch ?? createGuardedFetch({ plainHttp: allowInsecureLoopback ? 'loopback' : 'never', maxResponseBytes: 64 * 1024, timeoutMs: 15_000, bufferResponses: true, addressRule });
  const webhookWorker = createWebhookWorker({ store: webhookStore, keyring, fetch: webhookFetch, clock, owner, pollMs: Math.max(pollMs, 1000) });
  const alertMailer = createAlertMailer({
    store: alertStore,
    tenants: tenantStore,
    credentials: credentialStore,
    reconnectLink: (record) => authorization.reconnectLink(record),
    mailer: options.mailer,
    clock,
    owner,
    pollMs: Math.max(pollMs, 1000),
    publicUrl: options.publicUrl,
  });
  const expiryWatch = createExpiryWatch({ db, transact, events, health, clock, warningDays: options.expiryWarningDays ?? [30, 7, 1] });
  const healthCheckWorker = createHealthCheckWorker({ store: healthCheckStore, credentials: credentialStore, checks: credentialTests, clock, owner, pollMs: Math.max(pollMs, 1000) });
  const refreshWorker = createRefreshWorker({ store: oauthStore, tokens: accessTokens, clock, owner, pollMs, batchSize, concurrency, leaseMs, maxPerOrganization, metrics });
  const keyLifecycle = createKeyLifecycle({
    db,
    engine: options.engine,
    ...(credentialCache ? { changingCredential: (id: string) => credentialCache.changing(id) } : {}),
    keyring,
    dataKeys: dataKeyStore,
    tenants: tenantStore,
    audit,
    transact,
    clock,
    owner,
    options: { rotationThreshold, reencryptBatchSize: options.keys?.reencryptBatchSize ?? 500, pollMs },
  });
  return {
    metrics,
    keyring,
    keys: keyLifecycle.keys,
    rootKeyRotation: keyLifecycle.rootRotation,
    keyRotationWorker: keyLifecycle.worker,
    runRetention,
    encryptionCounter,
    tenantStore,
    audit,
    tokens,
    organizations,
    sessions,
    customers,
    credentials,
    authorization,
    emailPolicy,
    accessTokens,
    refreshWorker,
    components,
    integrations,
    instances,
    runs,
    credentialTests,
    health,
    healthCheckWorker,
    webhooks,
    webhookWorker,
    expiryWatch,
    alertMailer,
    alertStore,
    /** Reseals credentials stored before destinations existed (see destination-migration.ts); one line per credential moved. */
    migrateDestinations: () =>
      migrateDestinations({ transact, credentials: credentialStore, bindings: integrationStore, components, keyring, now: () => clock.now().toISOString() }),
    /** Seals run outputs and credential tests kept in clear before they were sealed (see clear-data-migration.ts). */
    sealClearCustomerData: () => sealClearCustomerData({ credentials: credentialStore, runs: integrationStore, keyring }),
  };
};

export type Services = ReturnType<typeof createServices>;

export { createMailer };
