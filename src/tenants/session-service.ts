import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { Redacted } from '../common/redacted.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Transact } from '../store/database.js';
import { ROLES, requireRole, type Actor, type Role } from './actor.js';
import type { OrganizationService } from './organization-service.js';
import { EMAIL_PATTERN, checkNewPassword, hashPassword, verifyPassword } from './password.js';
import type { TenantStore, User } from './tenant-store.js';

export const SESSION_LIFETIME_MS = 12 * 3600_000;
export const INVITE_LIFETIME_MS = 7 * 24 * 3600_000;
const LOCKOUT_AFTER = 5;
/** Wrong passwords older than this no longer count toward a lockout. */
const FAILURE_MEMORY_MS = 24 * 3600_000;
/** Accounts one email may sign in to (one per organization) that a sign-in checks. */
const MAX_ACCOUNTS_PER_EMAIL = 20;

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const newToken = (): string => randomBytes(32).toString('base64url');
// Compared against when the email is unknown, so a wrong email costs what a wrong password does.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export interface SessionUser {
  id: string;
  email: string;
  role: Role;
  customerId: string | null;
  organizationId: string;
  organizationName: string;
}

/**
 * People signing in to the web app: sessions behind an HttpOnly cookie, a CSRF token
 * derived from the session, first-run setup, invitations, and lockout with back-off
 * after repeated wrong passwords.
 */
export const createSessionService = (deps: {
  tenants: TenantStore;
  organizations: Pick<OrganizationService, 'setUp'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  publicUrl: string;
}) => {
  const { tenants, audit, clock } = deps;

  const actorOf = (user: User): Actor => ({ type: 'user', id: user.id, organizationId: user.organizationId, role: user.role, customerId: user.customerId });

  const describe = async (user: User): Promise<SessionUser> => ({
    id: user.id,
    email: user.email,
    role: user.role,
    customerId: user.customerId,
    organizationId: user.organizationId,
    organizationName: (await tenants.findOrganization(user.organizationId))?.name ?? '',
  });

  const startSession = async (user: User): Promise<{ token: Redacted<string>; user: SessionUser }> => {
    const token = newToken();
    const now = clock.now();
    await tenants.insertSession({
      id: newId('ses', now),
      tokenHash: hashToken(token),
      userId: user.id,
      organizationId: user.organizationId,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString(),
    });
    return { token: new Redacted(token), user: await describe(user) };
  };

  /** The CSRF token of a session: derived from it, so nothing more is stored. */
  const csrfTokenFor = (sessionToken: string): string => createHmac('sha256', sessionToken).update('credence csrf').digest('base64url');

  /** The accounts among `users` whose organization is called `name`. */
  const namedOrganization = async (users: User[], name: string): Promise<User[]> => {
    const found: User[] = [];
    for (const user of users) if ((await tenants.findOrganization(user.organizationId))?.name === name) found.push(user);
    return found;
  };

  const needsSetup = async (): Promise<boolean> => (await tenants.listOrganizations()).length === 0;

  return {
    csrfTokenFor,

    csrfMatches(sessionToken: string, given: string | undefined): boolean {
      if (!given) return false;
      const expected = Buffer.from(csrfTokenFor(sessionToken));
      const actual = Buffer.from(given);
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    },

    needsSetup,

    /** First run: the organization and its first admin, signed in. Only while no organization exists. */
    async setUp(input: { organizationName: string; email: string; password: string }) {
      if (!(await needsSetup())) throw new AppError('CONFLICT', 'Credence is already set up; sign in instead');
      checkNewPassword(input.password);
      const { admin } = await deps.organizations.setUp({ name: input.organizationName, adminEmail: input.email, adminPassword: new Redacted(input.password), firstRun: true });
      return startSession(admin);
    },

    /**
     * Signs in with email and password from a client address. Wrong passwords lock that
     * (email, address) pair with back-off, whether or not the email is known, and never any
     * other address. An email in several organizations needs `organization` (its id or name)
     * once the password is right for more than one of them.
     */
    async signIn(input: { email: string; password: string; address: string; organization?: string | undefined }) {
      const email = input.email.trim().toLowerCase();
      const emailHash = hashToken(email);
      const now = clock.now();
      const lockedUntil = await tenants.findSignInLockout(emailHash, input.address);
      if (lockedUntil && Date.parse(lockedUntil) > now.getTime()) {
        throw new AppError('ACCOUNT_LOCKED', `Too many wrong passwords from this address; try again after ${lockedUntil}`);
      }
      const candidates = await tenants.findSignInCandidates(email, MAX_ACCOUNTS_PER_EMAIL);
      const matches: User[] = [];
      // Every account is checked, even after a match, and an unknown email is checked against
      // a dummy hash, so the time taken says nothing about which account the password fits.
      for (const candidate of candidates) if (await verifyPassword(input.password, candidate.passwordHash)) matches.push(candidate);
      if (candidates.length === 0) await verifyPassword(input.password, DUMMY_HASH);

      if (matches.length === 0) {
        // Counted atomically: wrong passwords sent in parallel all count toward the lockout.
        const failures = await tenants.recordFailedSignIn(emailHash, input.address, now.toISOString(), new Date(now.getTime() - FAILURE_MEMORY_MS).toISOString());
        const lockMinutes = failures >= LOCKOUT_AFTER ? Math.min(2 ** (failures - LOCKOUT_AFTER), 60) : 0;
        if (lockMinutes) await tenants.lockSignIn(emailHash, input.address, new Date(now.getTime() + lockMinutes * 60_000).toISOString());
        for (const user of candidates) {
          await audit.record(null, user.organizationId, { action: 'user.sign_in_failed', customerId: user.customerId, targetType: 'user', targetId: user.id, details: { failures, address: input.address } });
        }
        throw new AppError('INVALID_CREDENTIALS', 'The email or password is not right');
      }

      const wanted = input.organization?.trim();
      const chosen = wanted ? matches.filter((user) => user.organizationId === wanted) : matches;
      const named = wanted && chosen.length === 0 ? await namedOrganization(matches, wanted) : chosen;
      if (named.length !== 1) {
        const names = await Promise.all(matches.map(async (user) => (await tenants.findOrganization(user.organizationId))?.name ?? user.organizationId));
        throw new AppError('ORGANIZATION_REQUIRED', `This email signs in to several organizations; say which: ${names.join(', ')}`);
      }
      const user = named[0] as User;
      await tenants.clearSignInLockouts(emailHash, input.address, new Date(now.getTime() - FAILURE_MEMORY_MS).toISOString());
      await audit.record(actorOf(user), user.organizationId, { action: 'user.signed_in', customerId: user.customerId, targetType: 'user', targetId: user.id });
      return startSession(user);
    },

    /** The person behind a session cookie, or undefined. */
    async authenticate(sessionToken: string): Promise<{ actor: Actor; user: SessionUser } | undefined> {
      if (sessionToken.length > 100) return undefined;
      const user = await tenants.findSessionUser(hashToken(sessionToken), clock.now().toISOString());
      return user && { actor: actorOf(user), user: await describe(user) };
    },

    async signOut(sessionToken: string): Promise<void> {
      await tenants.deleteSession(hashToken(sessionToken));
    },

    /** Invites a person: they choose their password through the link, which works once. */
    async invite(actor: Actor, input: { email: string; role: string; customerId?: string | null | undefined }) {
      requireRole(actor, 'org_admin');
      const email = input.email.trim().toLowerCase();
      const role = input.role as Role;
      if (!EMAIL_PATTERN.test(email)) throw new AppError('VALIDATION_FAILED', 'email is not a valid address');
      if (!ROLES.includes(role) || role === 'runtime') throw new AppError('VALIDATION_FAILED', 'role must be org_admin, org_member or customer_user');
      if (role === 'customer_user' && !input.customerId) throw new AppError('VALIDATION_FAILED', 'customerId is required for a customer user');
      if (role !== 'customer_user' && input.customerId) throw new AppError('VALIDATION_FAILED', 'customerId applies only to customer users');
      if (input.customerId && !(await tenants.findCustomer(actor.organizationId, input.customerId))) throw notFound('Customer');
      // Only this organization's people are looked at: whether the email has an account in
      // another organization is never told, and does not matter.
      if (await tenants.findUserByEmail(actor.organizationId, email)) throw new AppError('CONFLICT', 'A user of this organization already has this email address');
      const token = newToken();
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + INVITE_LIFETIME_MS).toISOString();
      const user: User = {
        id: newId('usr', now),
        organizationId: actor.organizationId,
        email,
        passwordHash: '',
        role,
        customerId: input.customerId ?? null,
        createdAt: now.toISOString(),
        inviteExpiresAt: expiresAt,
      };
      await deps.transact(async (trx) => {
        await tenants.insertUser(user, trx, { tokenHash: hashToken(token), expiresAt });
        await audit.record(actor, actor.organizationId, { action: 'user.invited', customerId: user.customerId, targetType: 'user', targetId: user.id, details: { email, role } }, trx);
      });
      return { user, inviteUrl: `${deps.publicUrl}/invite/${token}`, expiresAt };
    },

    async acceptInvite(inviteToken: string, password: string) {
      checkNewPassword(password);
      const user = inviteToken.length <= 100 ? await tenants.findUserByInvite(hashToken(inviteToken)) : undefined;
      if (!user || !user.inviteExpiresAt || Date.parse(user.inviteExpiresAt) <= clock.now().getTime()) {
        throw new AppError('NOT_FOUND', 'This invitation is not valid or has expired; ask for a new one');
      }
      await tenants.updateUser(user.id, { passwordHash: await hashPassword(password), inviteTokenHash: null, inviteExpiresAt: null });
      await audit.record(actorOf(user), user.organizationId, { action: 'user.joined', customerId: user.customerId, targetType: 'user', targetId: user.id });
      return startSession({ ...user, passwordHash: 'set' });
    },

    async listUsers(actor: Actor) {
      requireRole(actor, 'org_admin');
      return (await tenants.listUsers(actor.organizationId)).map((u) => ({
        id: u.id,
        email: u.email,
        role: u.role,
        customerId: u.customerId,
        createdAt: u.createdAt,
        status: u.passwordHash === '' ? ('invited' as const) : ('active' as const),
      }));
    },

    async deleteUser(actor: Actor, id: string): Promise<void> {
      requireRole(actor, 'org_admin');
      if (id === actor.id) throw new AppError('CONFLICT', 'You cannot remove yourself');
      const user = await tenants.findUser(actor.organizationId, id);
      if (!user) throw notFound('User');
      await deps.transact(async (trx) => {
        await tenants.deleteUser(actor.organizationId, id, trx);
        await audit.record(actor, actor.organizationId, { action: 'user.removed', customerId: user.customerId, targetType: 'user', targetId: id, details: { email: user.email } }, trx);
      });
    },
  };
};

export type SessionService = ReturnType<typeof createSessionService>;
