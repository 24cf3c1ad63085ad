import type { Credential } from '../api/types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Within this many days an expiry shows as a warning (the first warning email goes out then). */
export const WARN_DAYS = 30;
/** Within this many days, or once past, an expiry shows as an error. */
export const URGENT_DAYS = 7;

export type ExpiryTone = 'error' | 'warn' | 'neutral';

export interface Countdown {
  text: string;
  tone: ExpiryTone;
}

const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;

/**
 * "Expires in 5 days" or "Expired 2 days ago" for `iso` seen at `now`, with its tone:
 * error within 7 days or past, warn within 30, neutral beyond. Whole days round up
 * before the date and down after it, so a date set for 5 days from today reads 5 days
 * all day long. `subject` starts the sentence ("Expires", "Client secret expires").
 */
export const countdown = (iso: string, now: number, subject: 'credential' | 'client secret' = 'credential'): Countdown => {
  const left = Date.parse(iso) - now;
  const [expires, expired] = subject === 'credential' ? ['Expires', 'Expired'] : ['Client secret expires', 'Client secret expired'];
  if (left > 0) {
    const n = Math.ceil(left / DAY_MS);
    return { text: `${expires} in ${days(n)}`, tone: n <= URGENT_DAYS ? 'error' : n <= WARN_DAYS ? 'warn' : 'neutral' };
  }
  const n = Math.floor(-left / DAY_MS);
  return { text: n === 0 ? `${expired} today` : `${expired} ${days(n)} ago`, tone: 'error' };
};

/** The earlier of the credential's own expiry and its client secret's, as a timestamp; null for neither. */
export const earliestExpiry = (credential: Pick<Credential, 'expiresAt' | 'clientSecretExpiresAt'>): number | null => {
  const dates = [credential.expiresAt, credential.clientSecretExpiresAt].filter((iso): iso is string => iso !== null).map(Date.parse);
  return dates.length > 0 ? Math.min(...dates) : null;
};

/** The credentials ordered by their earliest expiry; those without one last, in the order given. */
export const sortByExpiry = <T extends Pick<Credential, 'expiresAt' | 'clientSecretExpiresAt'>>(items: readonly T[]): T[] =>
  items
    .map((item, index) => ({ item, index, at: earliestExpiry(item) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map(({ item }) => item);

/**
 * A stored expiry as a date input shows it (YYYY-MM-DD, the UTC day); '' for none.
 * Dates are kept as midnight UTC of the day chosen, so a date reads the same everywhere.
 */
export const dateInputOf = (iso: string | null): string => (iso ? new Date(iso).toISOString().slice(0, 10) : '');

/** What a date input sends: midnight UTC of the day, or null when it is empty. */
export const isoOfDateInput = (value: string): string | null => (value ? `${value}T00:00:00.000Z` : null);
