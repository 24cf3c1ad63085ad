import { AppError } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { Redacted } from '../common/redacted.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Transact } from '../store/database.js';
import type { Actor } from './actor.js';
import type { ApiTokenService } from './api-token-service.js';
import { EMAIL_PATTERN, checkNewPassword, hashPassword } from './password.js';
import type { Organization, TenantStore, User } from './tenant-store.js';

/**
 * Setting up an organization: the tenant, its data key, its first admin and an
 * `org_admin` API token, all in one transaction.
 */
export const createOrganizationService = (deps: {
  tenants: TenantStore;
  keyring: Pick<Keyring, 'createScopeKey'>;
  tokens: Pick<ApiTokenService, 'issue'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
}) => {
  const { tenants, keyring, tokens, audit, transact, clock } = deps;

  return {
    /** With `firstRun`, only succeeds for the very first organization, even when two setups race. */
    async setUp(input: { name: string; adminEmail: string; adminPassword: Redacted<string>; firstRun?: boolean }): Promise<{
      organization: Organization;
      admin: User;
      apiToken: Redacted<string>;
    }> {
      const name = input.name.trim();
      const email = input.adminEmail.trim().toLowerCase();
      if (name === '' || name.length > 200) throw new AppError('VALIDATION_FAILED', 'The organization name must be 1 to 200 characters');
      if (!EMAIL_PATTERN.test(email)) throw new AppError('VALIDATION_FAILED', 'The admin email address is not valid');
      checkNewPassword(input.adminPassword.reveal(), 'The admin password');
      // Only the operator (the CLI, or first-run setup) creates organizations, so saying that the
      // email is taken tells nobody anything they could not read in the database.
      if ((await tenants.findSignInCandidates(email, 1)).length > 0) throw new AppError('CONFLICT', 'A user with this email address already exists');

      const now = clock.now();
      const organization: Organization = { id: newId('org', now), name, createdAt: now.toISOString() };
      const admin: User = {
        id: newId('usr', now),
        organizationId: organization.id,
        email,
        passwordHash: await hashPassword(input.adminPassword.reveal()),
        role: 'org_admin',
        customerId: null,
        createdAt: now.toISOString(),
        inviteExpiresAt: null,
      };
      const adminActor: Actor = { type: 'user', id: admin.id, organizationId: organization.id, role: 'org_admin', customerId: null };

      const apiToken = await transact(async (trx) => {
        if (input.firstRun) await tenants.markFirstRun(now.toISOString(), trx);
        await tenants.insertOrganization(organization, trx);
        await keyring.createScopeKey(organization.id, organization.id, trx);
        await tenants.insertUser(admin, trx);
        await audit.record(adminActor, organization.id, { action: 'organization.created', targetType: 'organization', targetId: organization.id, details: { name, adminEmail: email } }, trx);
        const issued = await tokens.issue(adminActor, organization.id, { name: 'Initial admin token', role: 'org_admin', customerId: null }, trx);
        return issued.secret;
      });
      return { organization, admin, apiToken };
    },
  };
};

export type OrganizationService = ReturnType<typeof createOrganizationService>;
