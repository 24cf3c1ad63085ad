import type { ComponentAction, Credential } from '../api/types.js';

/**
 * The credentials a step may be bound to, as deployment checks them: the instance's
 * customer's or the organization's, of an auth method the step's action accepts.
 */
export const compatibleCredentials = (credentials: readonly Credential[], action: Pick<ComponentAction, 'authMethods'>, customerId: string): Credential[] =>
  credentials.filter((c) => (c.level === 'organization' || c.customerId === customerId) && action.authMethods.includes(c.authMethod));
