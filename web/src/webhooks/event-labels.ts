import { EVENT_TYPES, type EventType } from '../../../src/events/event-types.js';

export { EVENT_TYPES };

/** Each event in plain words: `long` beside its checkbox, `short` on a chip. */
const LABELS: Record<EventType, { long: string; short: string }> = {
  'credential.authorized': { long: 'A credential is authorized', short: 'Authorized' },
  'credential.reauthorization_required': { long: 'A credential needs reauthorization', short: 'Needs reauthorization' },
  'credential.refresh_failed': { long: 'A token refresh failed', short: 'Refresh failed' },
  'credential.health_changed': { long: 'A credential’s health changed', short: 'Health changed' },
  'credential.recovered': { long: 'A credential works again', short: 'Recovered' },
  'credential.expiring': { long: 'A credential expires soon', short: 'Expiring' },
  'credential.expired': { long: 'A credential expired', short: 'Expired' },
  'credential.deleted': { long: 'A credential was deleted', short: 'Deleted' },
  'authorization_link.opened': { long: 'Someone opened an authorization link', short: 'Link opened' },
  'authorization_link.expired': { long: 'An authorization link expired', short: 'Link expired' },
};

export const eventLabel = (event: EventType): string => LABELS[event]?.long ?? event;
export const eventShortLabel = (event: EventType): string => LABELS[event]?.short ?? event;

export const hearsEverything = (events: readonly EventType[]): boolean => EVENT_TYPES.every((event) => events.includes(event));
