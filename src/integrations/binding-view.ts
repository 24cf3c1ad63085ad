import type { CredentialStore } from '../credentials/credential-store.js';
import type { Actor } from '../tenants/actor.js';

/**
 * What a customer user sees instead of the id of an organization credential bound to one of
 * its steps: that there is one, never which. Sent back unchanged in a binding, it keeps the
 * credential bound.
 */
export const ORGANIZATION_CREDENTIAL = 'organization-credential';

/**
 * Hides from a customer user the ids of credentials that are not its own customer's, in
 * bindings and runs. Everyone else sees them as they are.
 */
export const createBindingView = (credentials: Pick<CredentialStore, 'findEach'>) => {
  /** For each id, what a customer user may be shown: the id itself, or ORGANIZATION_CREDENTIAL. */
  const shownIds = async (actor: Actor, ids: Iterable<string | null>): Promise<Map<string, string>> => {
    const unique = [...new Set([...ids].filter((id): id is string => id !== null))];
    const records = await credentials.findEach(unique.map((id) => ({ organizationId: actor.organizationId, id })));
    return new Map(unique.map((id, index) => [id, records[index]?.customerId === actor.customerId && actor.customerId !== null ? id : ORGANIZATION_CREDENTIAL]));
  };

  const shown = (ids: Map<string, string>, id: string | null): string | null => (id === null ? null : (ids.get(id) ?? ORGANIZATION_CREDENTIAL));

  return {
    /** Instances (or anything with bindings) as `actor` may see them. */
    async instances<T extends { bindings: Record<string, string | null> }>(actor: Actor, items: T[]): Promise<T[]> {
      if (actor.role !== 'customer_user') return items;
      const ids = await shownIds(actor, items.flatMap((item) => Object.values(item.bindings)));
      return items.map((item) => ({ ...item, bindings: Object.fromEntries(Object.entries(item.bindings).map(([step, id]) => [step, shown(ids, id)])) }));
    },

    /** Runs (or run summaries) as `actor` may see them. */
    async runs<T extends { steps: Array<{ credentialId: string | null }> }>(actor: Actor, items: T[]): Promise<T[]> {
      if (actor.role !== 'customer_user') return items;
      const ids = await shownIds(actor, items.flatMap((item) => item.steps.map((step) => step.credentialId)));
      return items.map((item) => ({ ...item, steps: item.steps.map((step) => ({ ...step, credentialId: shown(ids, step.credentialId) })) }));
    },
  };
};
