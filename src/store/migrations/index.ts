import type { Migration } from 'kysely';
import * as initial from './0001-initial.js';

/** Every migration, in order. Forward-only: a released migration is never edited. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
};
