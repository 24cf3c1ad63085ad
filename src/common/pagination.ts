import { AppError } from './app-error.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

/** Cursors are opaque to callers: the id of the last item, encoded. */
export const encodeCursor = (lastId: string): string => Buffer.from(`c1:${lastId}`).toString('base64url');

export const decodeCursor = (cursor: string | undefined): string | undefined => {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!text.startsWith('c1:') || text.length > 64) throw new AppError('INVALID_CURSOR', 'The cursor is not valid');
  return text.slice(3);
};

/** Turns `limit + 1` fetched rows into a page, so the store needs one query per page. */
export const toPage = <T extends { id: string }>(rows: T[], limit: number): Page<T> => {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
};
