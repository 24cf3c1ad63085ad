import type { Credential, Health, HealthChange } from '../api/types.js';
import { formatDateTime } from '../ui/format.js';

type Tone = 'ok' | 'warn' | 'error' | 'neutral';

const HEALTH: Record<Health, { label: string; tone: Tone }> = {
  healthy: { label: 'Healthy', tone: 'ok' },
  degraded: { label: 'Degraded', tone: 'warn' },
  failing: { label: 'Failing', tone: 'error' },
  needs_reauthorization: { label: 'Needs reauthorization', tone: 'error' },
  unknown: { label: 'Not checked', tone: 'neutral' },
};

/** Every health, in the order a person would filter by them. */
export const HEALTH_VALUES = Object.keys(HEALTH) as Health[];

export const isHealth = (value: string | null): value is Health => value !== null && value in HEALTH;

export const healthLabel = (health: Health): string => HEALTH[health]?.label ?? health;

/** What showed a change of health, in plain words. */
const SOURCE: Record<HealthChange['source'], string> = {
  authorization: 'an authorization',
  refresh: 'a token refresh',
  test: 'a credential test',
  check: 'a scheduled check',
  run: 'a run step',
  change: 'a change of the secret',
  expiry: 'its expiry date',
};

export const sourceWords = (source: HealthChange['source']): string => SOURCE[source] ?? source;

/** A health as a badge; with a credential, its message and "since" are the badge's title. */
export function HealthBadge({ health, credential }: { health?: Health; credential?: Pick<Credential, 'health' | 'healthMessage' | 'since'> }) {
  const value = health ?? credential?.health ?? 'unknown';
  const { label, tone } = HEALTH[value] ?? { label: value, tone: 'neutral' as const };
  const since = credential && formatDateTime(credential.since);
  const title = credential ? (credential.healthMessage ? `${credential.healthMessage} · since ${since}` : `Since ${since}`) : undefined;
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {label}
    </span>
  );
}
