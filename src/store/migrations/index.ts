import type { Migration } from 'kysely';
import * as initial from './0001-initial.js';
import * as oauth from './0002-oauth.js';
import * as integrations from './0003-integrations.js';
import * as sessions from './0004-sessions.js';
import * as keyRotation from './0005-key-rotation.js';
import * as auditChain from './0006-audit-chain.js';
import * as searchIndex from './0007-search-index.js';
import * as firstRun from './0008-first-run.js';
import * as destinations from './0009-destinations.js';
import * as authorizationEmailLimits from './0010-authorization-email-limits.js';
import * as signInLockouts from './0011-sign-in-lockouts.js';
import * as sealedCustomerData from './0012-sealed-customer-data.js';
import * as auditAppendFunction from './0013-audit-append-function.js';
import * as credentialChanges from './0014-credential-changes.js';
import * as refreshClaimIndexes from './0015-refresh-claim-indexes.js';
import * as credentialHealth from './0016-credential-health.js';
import * as webhooks from './0017-webhooks.js';
import * as credentialExpiry from './0018-credential-expiry.js';
import * as alertEmails from './0019-alert-emails.js';
import * as linkAccountChange from './0020-link-account-change.js';

/** Every migration, in order. Forward-only: a released migration is never edited. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-oauth': oauth,
  '0003-integrations': integrations,
  '0004-sessions': sessions,
  '0005-key-rotation': keyRotation,
  '0006-audit-chain': auditChain,
  '0007-search-index': searchIndex,
  '0008-first-run': firstRun,
  '0009-destinations': destinations,
  '0010-authorization-email-limits': authorizationEmailLimits,
  '0011-sign-in-lockouts': signInLockouts,
  '0012-sealed-customer-data': sealedCustomerData,
  '0013-audit-append-function': auditAppendFunction,
  '0014-credential-changes': credentialChanges,
  '0015-refresh-claim-indexes': refreshClaimIndexes,
  '0016-credential-health': credentialHealth,
  '0017-webhooks': webhooks,
  '0018-credential-expiry': credentialExpiry,
  '0019-alert-emails': alertEmails,
  '0020-link-account-change': linkAccountChange,
};
