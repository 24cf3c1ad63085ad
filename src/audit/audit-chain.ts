import { createHash } from 'node:crypto';
import { linkHash } from './link-hash.mjs';

/**
 * The audit trail of each organization is a hash chain. Event n stores `prev_hash` (the
 * hash of event n-1, or GENESIS_HASH for the first) and `hash` = SHA-256 over a canonical
 * encoding of everything it says, `prev_hash` and its position included. Editing an event
 * changes its hash; removing, inserting or reordering events breaks a `prev_hash` link or
 * the numbering; removing events at the end disagrees with the chain's head row.
 *
 * Rule: the chain proves integrity against anyone who changes rows without recomputing every
 * later hash and the head. Someone with write access who recomputes them all is caught only by
 * comparing the head with a copy kept elsewhere (`credence audit verify --json` prints it).
 */

export const GENESIS_HASH = '0'.repeat(64);
const ENCODING_VERSION = 'credence-audit-v1';

/** One event exactly as stored: `details` is the stored JSON text, hashed byte for byte. */
export interface ChainedRow {
  seq: number;
  prevHash: string;
  hash: string;
  id: string;
  organizationId: string;
  customerId: string | null;
  actorType: string;
  actorId: string | null;
  actorRole: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: string;
  occurredAt: string;
}

export type EventContent = Omit<ChainedRow, 'seq' | 'prevHash' | 'hash'>;

const sha256 = (...parts: Buffer[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/**
 * SHA-256 (hex) of what an event says: a JSON array of its fields in a fixed order. JSON
 * string escaping makes the encoding unambiguous: no choice of values encodes like another.
 */
export const contentHash = (event: EventContent): string =>
  sha256(
    Buffer.from(
      JSON.stringify([
        ENCODING_VERSION,
        event.id,
        event.organizationId,
        event.customerId,
        event.actorType,
        event.actorId,
        event.actorRole,
        event.action,
        event.targetType,
        event.targetId,
        event.details,
        event.occurredAt,
      ]),
      'utf8',
    ),
  ).toString('hex');

/**
 * One link: SHA-256 over prev_hash (32 bytes), the position (8 bytes, big-endian) and the
 * content hash (32 bytes) — fixed widths, so the encoding is canonical. PostgreSQL computes
 * the same bytes in SQL (audit-store.ts): `sha256(decode(prev,'hex') || int8send(seq) ||
 * decode(content,'hex'))`.
 */
export { linkHash };

/** The hash an event must carry, given its position and the hash before it. */
export const hashEvent = (row: Omit<ChainedRow, 'hash'>): string => linkHash(row.prevHash, row.seq, contentHash(row));

export type ChainBreakReason =
  /** The event's content no longer matches its hash: it was edited. */
  | 'altered'
  /** The event does not point at the one before it: an event was removed, inserted or moved. */
  | 'unlinked'
  /** A position in the chain is empty: the event there was removed. */
  | 'missing'
  /** Two events claim the same position. */
  | 'duplicate'
  /** The chain ends before its head says it does: events at the end were removed. */
  | 'truncated'
  /** An event without a hash was recorded after the chain began. */
  | 'unchained';

export interface ChainBreak {
  reason: ChainBreakReason;
  /** The position where the chain first fails. */
  seq: number;
  eventId: string | null;
  message: string;
}

export interface ChainReport {
  organizationId: string;
  ok: boolean;
  /** Events checked in the chain. */
  events: number;
  /** Events older than the chain (recorded before it existed); they carry no hash. */
  legacyEvents: number;
  /** The last link: keep a copy elsewhere to detect a chain rewritten from scratch. */
  head: { seq: number; hash: string } | null;
  break: ChainBreak | null;
}

/** What the verifier reads; the audit store provides it. */
export interface ChainSource {
  head(organizationId: string): Promise<{ seq: number; hash: string } | undefined>;
  /** Chained events with afterSeq < seq <= uptoSeq, by seq ascending. */
  chainPage(organizationId: string, afterSeq: number, uptoSeq: number, limit: number): Promise<ChainedRow[]>;
  /** Events without a hash: how many, and the newest id among them. */
  unchained(organizationId: string): Promise<{ count: number; newestId: string | null }>;
  /** The id of the event at seq 1, if any. */
  firstChainedId(organizationId: string): Promise<string | null>;
}

const PAGE = 500;

const breakAt = (reason: ChainBreakReason, seq: number, eventId: string | null, message: string): ChainBreak => ({ reason, seq, eventId, message });

/** Checks one row against the position and previous hash the walk expects. */
const checkRow = (row: ChainedRow, expectedSeq: number, prevHash: string): ChainBreak | undefined => {
  if (row.seq < expectedSeq) return breakAt('duplicate', row.seq, row.id, `Event #${row.seq} appears more than once`);
  if (row.seq > expectedSeq) return breakAt('missing', expectedSeq, null, `Event #${expectedSeq} is missing: it was removed`);
  if (row.prevHash !== prevHash) {
    return breakAt('unlinked', row.seq, row.id, `Event #${row.seq} does not follow event #${row.seq - 1}: an event was removed, inserted or moved`);
  }
  if (hashEvent(row) !== row.hash) return breakAt('altered', row.seq, row.id, `Event #${row.seq} was changed after it was recorded`);
  return undefined;
};

/**
 * Walks one organization's chain from the first link to the head read at the start, so
 * events recorded during the walk neither disturb nor extend it. Reports the first break.
 */
export const verifyChain = async (source: ChainSource, organizationId: string): Promise<ChainReport> => {
  const head = await source.head(organizationId);
  const unchained = await source.unchained(organizationId);
  const report = (events: number, found: ChainBreak | null): ChainReport => ({
    organizationId,
    ok: found === null,
    events,
    legacyEvents: unchained.count,
    head: head ? { seq: head.seq, hash: head.hash } : null,
    break: found,
  });

  const upto = head?.seq ?? Number.MAX_SAFE_INTEGER;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for (;;) {
    const rows = await source.chainPage(organizationId, expectedSeq - 1, upto, PAGE);
    for (const row of rows) {
      const found = checkRow(row, expectedSeq, prevHash);
      if (found) return report(expectedSeq - 1, found);
      expectedSeq += 1;
      prevHash = row.hash;
    }
    if (rows.length < PAGE) break;
  }
  const events = expectedSeq - 1;

  if (!head && events > 0) return report(events, breakAt('truncated', events, null, 'The chain has events but no head: its head row was removed'));
  if (head && (head.seq !== events || head.hash !== prevHash)) {
    const message =
      head.seq > events
        ? `The chain ends at event #${events} but its head is event #${head.seq}: events at the end were removed`
        : `The last event, #${events}, does not match the chain's head`;
    return report(events, breakAt('truncated', events + 1, null, message));
  }
  if (unchained.newestId !== null && events > 0) {
    const first = await source.firstChainedId(organizationId);
    // Ids sort by creation time: an unhashed event newer than the chain's start was slipped in.
    if (first !== null && unchained.newestId > first) {
      return report(events, breakAt('unchained', events + 1, unchained.newestId, `Event ${unchained.newestId} has no hash but was recorded after the chain began`));
    }
  }
  return report(events, null);
};
