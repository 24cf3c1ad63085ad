import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { LOG_REDACT_PATHS } from '../../src/http/logging.js';

const SECRET = 'canary-redacted-0d9f';

describe('Redacted', () => {
  it('gives the value back only through reveal()', () => {
    expect(new Redacted({ password: SECRET }).reveal()).toEqual({ password: SECRET });
  });

  it('prints [redacted] through JSON, inspect, template strings and console formatting', () => {
    const held = new Redacted({ password: SECRET });
    expect(JSON.stringify({ held })).toBe('{"held":"[redacted]"}');
    expect(inspect(held)).toBe('[redacted]');
    expect(inspect({ nested: { held } }, { depth: 5 })).not.toContain(SECRET.slice(0, 8));
    expect(`${held}`).toBe('[redacted]');
    expect(String(held)).toBe('[redacted]');
  });

  it('prints [redacted] in a pino log line', () => {
    const lines: string[] = [];
    const log = pino({ redact: LOG_REDACT_PATHS }, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
    log.info({ values: new Redacted({ password: SECRET }) }, 'resolved');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.includes(SECRET)).toBe(false);
    expect(JSON.parse(lines[0] ?? '{}').values).toBe('[redacted]');
  });

  it('blanks secret-named fields that reach a log line as plain values', () => {
    const lines: string[] = [];
    const log = pino({ redact: LOG_REDACT_PATHS }, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
    log.info({ body: { password: SECRET, client_secret: SECRET, fields: { api_key: SECRET } }, req: { headers: { authorization: `Bearer ${SECRET}` } } });
    expect(lines[0]?.includes(SECRET)).toBe(false);
  });
});
