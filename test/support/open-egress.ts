import { baseAddressRule } from '../../src/net/address-policy.js';
import { createStepEgress, type StepEgress } from '../../src/net/egress.js';

/**
 * For component tests that call an action directly: a gate that checks only the base address
 * rule. Destination checks are proven through the API (test/security/destination-attacks.test.ts).
 */
export const openEgress = (): StepEgress => createStepEgress(undefined, baseAddressRule);
