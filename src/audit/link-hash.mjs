// @ts-check
/**
 * One link of an organization's audit chain: SHA-256(previous hash ‖ position as 8 bytes
 * big-endian ‖ content hash), hex. Plain JavaScript so the SQLite audit writer thread
 * (sqlite-audit-worker.mjs) links events with the very function the process uses
 * (audit-chain.ts); migration 0013 spells the same bytes in SQL for PostgreSQL.
 */
import { createHash } from 'node:crypto';

/** @param {string} prevHash @param {number} seq @param {string} content @returns {string} */
export const linkHash = (prevHash, seq, content) => {
  const position = Buffer.alloc(8);
  position.writeBigInt64BE(BigInt(seq));
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(position).update(Buffer.from(content, 'hex')).digest('hex');
};
