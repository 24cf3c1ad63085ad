import type { AddressRule } from './address-policy.js';
import { assertDestination, type EgressTarget } from './destinations.js';

/**
 * The egress gate of one step (a run step or a credential test). Every connection a
 * component makes goes through it: `authorize` before a byte of the credential is sent
 * (DESTINATION_NOT_ALLOWED when the target is not among the credential's sealed
 * destinations), and `addressRule` for the addresses its host resolves to.
 *
 * @example
 * const egress = createStepEgress({ destinations: ['https://api.example.com'] }, rule);
 * egress.authorize(new URL('https://api.example.com/v1/me')); // passes
 * egress.authorize({ scheme: 'sftp', host: 'evil.example', port: 22 }); // throws DESTINATION_NOT_ALLOWED
 */
export interface StepEgress {
  /** Throws DESTINATION_NOT_ALLOWED unless the step's credential may go to `target`; a step without a credential sends no secret, so anything passes. */
  authorize(target: EgressTarget | URL): void;
  /** Which addresses the step's connections may reach. */
  addressRule: AddressRule;
}

/** Where a credential may be sent, as the egress gate needs it. */
export interface SealedDestinations {
  destinations: readonly string[];
}

export const createStepEgress = (credential: SealedDestinations | undefined, addressRule: AddressRule): StepEgress => ({
  authorize(target) {
    if (credential) assertDestination(credential.destinations, target);
  },
  addressRule,
});

/** A fetch that asks the gate before every request: redirects are never followed, so the URL asked for is the only one called. */
export const fetchThroughEgress = (base: typeof fetch, egress: StepEgress): typeof fetch =>
  ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    egress.authorize(url);
    return base(input, init);
  }) as typeof fetch;
