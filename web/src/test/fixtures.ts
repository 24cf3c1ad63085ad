import { AUTH_METHODS } from '../../../src/credentials/auth-methods.js';
import { OAUTH_PRESETS } from '../../../src/oauth/oauth-presets.js';
import type { Component, Credential, Customer, JsonSchema, ProviderPreset } from '../api/types.js';

/** The real auth methods and presets, as the API serves them. */
export const authMethodsBody = { items: Object.values(AUTH_METHODS) };
export const providersBody = {
  items: OAUTH_PRESETS.map(({ key, name, authUri, tokenUri, defaultScopes, extraAuthParams, clientAuth, docsUrl, apiOrigins }): ProviderPreset => ({ key, name, authUri, tokenUri, defaultScopes, extraAuthParams: { ...extraAuthParams }, clientAuth, docsUrl, apiOrigins: [...apiOrigins] })),
};
export const REDIRECT_URI = 'https://credence.example.com/oauth2/callback';

const at = '2025-01-02T03:04:05.000Z';

export const customer = (id: string, name: string): Customer => ({ id, name, externalId: null, createdAt: at, updatedAt: at });

export const credential = (overrides: Partial<Credential> & Pick<Credential, 'id' | 'label' | 'authMethod'>): Credential => ({
  level: overrides.customerId ? 'customer' : 'organization',
  customerId: null,
  status: overrides.authMethod === 'oauth2' ? 'pending_authorization' : 'active',
  fields: {},
  authorizedAt: null,
  oauth2: null,
  destinations: [],
  lastTest: null,
  healthCheck: null,
  expiresAt: null,
  clientSecretExpiresAt: null,
  contactEmail: null,
  health: 'unknown',
  healthMessage: 'Not checked yet',
  healthCheckedAt: null,
  since: at,
  createdAt: at,
  updatedAt: at,
  ...overrides,
});

/** An authorized Dropbox grant: its `oauth2` block, with `overrides`. */
export const dropboxGrant = (overrides: Partial<NonNullable<Credential['oauth2']>> = {}): NonNullable<Credential['oauth2']> => ({
  grantType: 'authorization_code',
  provider: 'dropbox',
  redirectUri: REDIRECT_URI,
  issuer: 'https://www.dropbox.com',
  authorizedAt: at,
  tokenExpiresAt: null,
  requestedScopes: [],
  grantedScopes: null,
  missingScopes: [],
  lastRefreshedAt: null,
  nextRefreshAt: null,
  lastError: null,
  ...overrides,
});

const schema = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({ type: 'object', properties, required });

/** A slice of the built-in components, enough for forms that filter by auth method. */
export const componentsBody: { items: Component[] } = {
  items: [
    {
      key: 'http',
      name: 'HTTP',
      description: 'HTTP requests',
      testAction: 'test',
      actions: [
        { key: 'request', name: 'Request', description: 'Any request', authMethods: ['basic', 'api_key', 'api_key_secret', 'oauth2'], credentialRequired: false, scopes: [], inputs: schema({ url: { type: 'string' } }, ['url']) },
        { key: 'test', name: 'Test', description: 'Must answer 2xx', authMethods: ['basic', 'api_key', 'api_key_secret', 'oauth2'], credentialRequired: false, scopes: [], inputs: schema({ url: { type: 'string' }, expectStatus: { type: 'integer' } }, ['url']) },
      ],
    },
    {
      key: 'sftp',
      name: 'SFTP',
      description: 'Files over SSH',
      testAction: 'listDirectory',
      actions: [
        { key: 'listDirectory', name: 'List directory', description: 'Lists a directory', authMethods: ['basic', 'private_key'], credentialRequired: true, scopes: [], inputs: schema({ host: { type: 'string' }, port: { type: 'integer', default: 22 } }, ['host']) },
        { key: 'writeFile', name: 'Write file', description: 'Writes a file', authMethods: ['basic', 'private_key'], credentialRequired: true, scopes: [], inputs: schema({ host: { type: 'string' }, path: { type: 'string' }, content: { type: 'string' } }, ['host', 'path', 'content']) },
      ],
    },
    {
      key: 'dropbox',
      name: 'Dropbox',
      description: 'Dropbox files',
      testAction: 'getCurrentAccount',
      actions: [
        { key: 'listFolder', name: 'List folder', description: 'Lists a folder', authMethods: ['oauth2'], credentialRequired: true, scopes: ['files.metadata.read'], inputs: schema({ path: { type: 'string', default: '' }, recursive: { type: 'boolean', default: false } }) },
        { key: 'getCurrentAccount', name: 'Current account', description: 'The signed-in account', authMethods: ['oauth2'], credentialRequired: true, scopes: ['account_info.read'], inputs: schema({}) },
      ],
    },
    {
      key: 'delay',
      name: 'Delay',
      description: 'Waits',
      testAction: 'wait',
      actions: [{ key: 'wait', name: 'Wait', description: 'Waits a while', authMethods: [], credentialRequired: false, scopes: [], inputs: schema({ ms: { type: 'integer' } }) }],
    },
  ],
};
