import { forbidden } from '../common/app-error.js';

export const ROLES = ['org_admin', 'org_member', 'customer_user', 'runtime'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: a person, an API token, or an operator at the command line. */
export interface Actor {
  type: 'user' | 'api_token' | 'cli' | 'worker';
  id: string;
  organizationId: string;
  role: Role;
  /** Set only for `customer_user`: the one customer this actor belongs to. */
  customerId: string | null;
}

/** Throws FORBIDDEN unless the actor holds one of the roles. */
export const requireRole = (actor: Actor, ...roles: Role[]): void => {
  if (!roles.includes(actor.role)) throw forbidden();
};

/**
 * Whether the actor may see data of a scope: the organization (`customerId` null) or
 * one customer. Org roles see every scope of their organization; a customer user sees
 * only its own customer; the runtime role sees nothing through management routes.
 */
export const canSeeScope = (actor: Actor, customerId: string | null): boolean => {
  if (actor.role === 'org_admin' || actor.role === 'org_member') return true;
  if (actor.role === 'customer_user') return customerId !== null && customerId === actor.customerId;
  return false;
};
