import { createAuditService } from './audit/audit-service.js';
import { createAuditStore } from './audit/audit-store.js';
import type { Clock } from './common/clock.js';
import { createCredentialService } from './credentials/credential-service.js';
import { createCredentialStore } from './credentials/credential-store.js';
import { createDataKeyStore } from './crypto/data-key-store.js';
import type { KeyProvider } from './crypto/key-provider.js';
import { createKeyring } from './crypto/keyring.js';
import { createTransact, type Db } from './store/database.js';
import { createApiTokenService } from './tenants/api-token-service.js';
import { createApiTokenStore } from './tenants/api-token-store.js';
import { createCustomerService } from './tenants/customer-service.js';
import { createOrganizationService } from './tenants/organization-service.js';
import { createTenantStore } from './tenants/tenant-store.js';

export interface ServiceOptions {
  db: Db;
  keyProvider: KeyProvider;
  clock: Clock;
  allowInsecureLoopback: boolean;
}

/** Wires every store and service by hand. The HTTP app and the CLI both use what this returns. */
export const createServices = ({ db, keyProvider, clock, allowInsecureLoopback }: ServiceOptions) => {
  const transact = createTransact(db);
  const dataKeyStore = createDataKeyStore(db);
  const keyring = createKeyring({ provider: keyProvider, store: dataKeyStore, clock });
  const tenantStore = createTenantStore(db);
  const tokenStore = createApiTokenStore(db);
  const credentialStore = createCredentialStore(db);
  const audit = createAuditService({ store: createAuditStore(db), clock });
  const tokens = createApiTokenService({ store: tokenStore, tenants: tenantStore, audit, transact, clock });
  const organizations = createOrganizationService({ tenants: tenantStore, keyring, tokens, audit, transact, clock });
  const customers = createCustomerService({
    tenants: tenantStore,
    tokens: tokenStore,
    credentials: credentialStore,
    dataKeys: dataKeyStore,
    keyring,
    audit,
    transact,
    clock,
  });
  const credentials = createCredentialService({
    store: credentialStore,
    tenants: tenantStore,
    keyring,
    audit,
    transact,
    clock,
    allowInsecureLoopback,
  });
  return { keyring, tenantStore, audit, tokens, organizations, customers, credentials };
};

export type Services = ReturnType<typeof createServices>;
