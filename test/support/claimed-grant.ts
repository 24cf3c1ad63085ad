import type { OAuthGrant } from '../../src/oauth/oauth-store.js';

/** The time the refresh worker tests stand at. */
export const NOW = new Date('2030-01-01T12:00:00.000Z');

/** A grant as a worker has just claimed it, due `dueSecondsAgo` before NOW. */
export const claimedGrant = (credentialId: string, organizationId: string, dueSecondsAgo: number): OAuthGrant => ({
  credentialId,
  organizationId,
  tokensCiphertext: null,
  tokenType: null,
  grantedScopes: null,
  expiresAt: null,
  refreshDueAt: new Date(NOW.getTime() - dueSecondsAgo * 1000).toISOString(),
  authorizedAt: null,
  lastRefreshedAt: null,
  failureCount: 0,
  lastError: null,
  leaseOwner: 'worker-a',
  leaseExpiresAt: null,
  version: 1,
});
