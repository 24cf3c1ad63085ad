import type { ActionContext, ComponentAction, StepCredential, StepLogger } from '../components/component.js';
import type { AddressRule } from '../net/address-policy.js';
import { createStepEgress, fetchThroughEgress } from '../net/egress.js';

/** What every step (a run step or a credential test) connects through. */
export interface StepNetwork {
  /** The guarded outbound fetch of components. */
  fetch: typeof fetch;
  /** Which addresses components may reach (loopback and private ranges as configured). */
  addressRule: AddressRule;
}

/**
 * The context a component action runs in: its credential, and a fetch and gate that let the
 * credential go only to its sealed destinations. Before anything runs, the targets the
 * inputs name are checked, so a step aimed elsewhere fails without connecting at all.
 */
export const stepContext = (
  network: StepNetwork,
  action: ComponentAction,
  inputs: Record<string, unknown>,
  step: { credential: StepCredential | undefined; log: StepLogger; signal: AbortSignal; timeoutMs: number },
): ActionContext => {
  const egress = createStepEgress(step.credential, network.addressRule);
  for (const target of action.targets?.(inputs) ?? []) egress.authorize(target);
  return { ...step, fetch: fetchThroughEgress(network.fetch, egress), egress };
};
