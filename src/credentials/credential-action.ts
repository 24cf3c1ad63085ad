import { AppError } from '../common/app-error.js';
import type { ComponentAction } from '../components/component.js';
import type { ComponentRegistry } from '../components/registry.js';
import { checkInputs } from '../integrations/step-inputs.js';
import { assertDestination } from '../net/destinations.js';
import type { CredentialRecord } from './credential-store.js';

/**
 * The action a credential test or scheduled check would run, checked against the credential
 * before anything is decrypted: it exists and accepts the credential's method, the inputs fit
 * it, and every target they name is one of the credential's destinations. `what` prefixes the
 * messages (e.g. `healthCheck: `).
 */
export const checkedAction = (
  components: ComponentRegistry,
  credential: Pick<CredentialRecord, 'authMethod' | 'destinations'>,
  input: { component: string; action?: string | undefined; inputs?: Record<string, unknown> | undefined },
  what = '',
): { action: ComponentAction; inputs: Record<string, unknown> } => {
  const action = components.action(input.component, input.action);
  if (!action.authMethods.includes(credential.authMethod)) {
    throw new AppError('VALIDATION_FAILED', `${what}${input.component}.${action.key} accepts ${action.authMethods.join(', ')}, not ${credential.authMethod}`);
  }
  const checked = checkInputs(action.inputs, input.inputs ?? {});
  if (!checked.ok) throw new AppError('VALIDATION_FAILED', `${what}inputs do not fit ${input.component}.${action.key}: ${checked.message}`);
  for (const target of action.targets?.(checked.value) ?? []) assertDestination(credential.destinations ?? [], target);
  return { action, inputs: checked.value };
};
