import type { ComponentRegistry } from '../components/registry.js';
import type { Keyring } from '../crypto/keyring.js';
import type { IntegrationStore } from '../integrations/integration-store.js';
import { referencedSteps } from '../integrations/step-inputs.js';
import { MAX_DESTINATIONS, normalizeDestinations, originOf } from '../net/destinations.js';
import { findPreset } from '../oauth/oauth-presets.js';
import type { Transact } from '../store/database.js';
import type { CredentialRecord, CredentialStore } from './credential-store.js';
import { openAllValues, sealFieldValues } from './field-sealing.js';

/**
 * Moves credentials sealed before destinations existed onto sealed destinations. Each one's
 * destinations are derived — for oauth2 from its provider preset's API origins (or, without a
 * preset, its token URL's origin), for every method from the literal targets of the steps it
 * is bound to — and its values are resealed with them in their associated data, in one
 * version-guarded write. Safe to run from several processes at once and again after a crash:
 * a row another process moved first is left alone. Answers one line per credential moved.
 */
export const migrateDestinations = async (deps: {
  transact: Transact;
  credentials: Pick<CredentialStore, 'update' | 'listWithoutDestinations'>;
  bindings: Pick<IntegrationStore, 'usesOf' | 'findInstance' | 'findIntegration'>;
  components: ComponentRegistry;
  keyring: Pick<Keyring, 'seal' | 'open'>;
  now: () => string;
}): Promise<string[]> => {
  const report: string[] = [];
  for (const record of await deps.credentials.listWithoutDestinations()) {
    let values: Awaited<ReturnType<typeof openAllValues>>;
    try {
      values = await openAllValues(deps.keyring, record);
    } catch {
      // Its scope's key is gone or the row was tampered with: it stays sent nowhere.
      report.push(`credential ${record.id} (${JSON.stringify(record.label)}): could not be opened, so it keeps no destinations`);
      continue;
    }
    const plain = values.reveal();
    // A credential bound to more origins than a credential may name keeps the first ones; the report says so.
    const derived = [...new Set([...(await stepOrigins(deps, record)), ...oauthOrigins(record, plain)])].sort();
    const destinations = normalizeDestinations(derived.slice(0, MAX_DESTINATIONS));
    const moved = await deps.transact(async (trx) => {
      const sealed = await sealFieldValues(deps.keyring, { ...record, destinations }, plain, trx);
      return deps.credentials.update(record.organizationId, record.id, record.version, { ...sealed, destinations, updatedAt: deps.now() }, trx);
    });
    const left = derived.length > destinations.length ? ` (${derived.length - destinations.length} more origins of its steps left out: at most ${MAX_DESTINATIONS})` : '';
    if (moved) report.push(`credential ${record.id} (${JSON.stringify(record.label)}): destinations ${destinations.length > 0 ? destinations.join(', ') : 'none (it is sent nowhere until some are set)'}${left}`);
  }
  return report;
};

const oauthOrigins = (record: CredentialRecord, values: Record<string, string>): string[] => {
  if (record.authMethod !== 'oauth2') return [];
  const preset = record.oauthSettings?.provider ? findPreset(record.oauthSettings.provider) : undefined;
  if (preset) return [...preset.apiOrigins];
  const origin = values.token_uri ? originOfText(values.token_uri) : undefined;
  return origin ? [origin] : [];
};

const originOfText = (text: string): string | undefined => {
  try {
    return originOf(new URL(text));
  } catch {
    return undefined;
  }
};

/** The origins the credential's bound steps name literally. */
const stepOrigins = async (deps: Parameters<typeof migrateDestinations>[0], record: CredentialRecord): Promise<string[]> => {
  const origins: string[] = [];
  for (const use of await deps.bindings.usesOf(record.organizationId, record.id)) {
    const instance = await deps.bindings.findInstance(record.organizationId, use.instanceId);
    const integration = instance && (await deps.bindings.findIntegration(record.organizationId, instance.integrationId));
    const step = integration?.steps.find((s) => s.name === use.step);
    if (!step || referencedSteps(step.inputs).length > 0) continue;
    try {
      const action = deps.components.action(step.component, step.action);
      for (const target of action.targets?.(step.inputs) ?? []) {
        const origin = originOf(target);
        if (origin) origins.push(origin);
      }
    } catch {
      // A step of a component this build does not have names no origin.
    }
  }
  return origins;
};
