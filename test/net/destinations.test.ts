import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/common/app-error.js';
import { assertDestination, destinationAllows, normalizeDestination, normalizeDestinations, originOf } from '../../src/net/destinations.js';

const allows = (patterns: string[], url: string): boolean => destinationAllows(normalizeDestinations(patterns), new URL(url));

describe('destination origins', () => {
  it.each([
    ['HTTPS://API.Example.COM', 'https://api.example.com'],
    ['https://api.example.com:443', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['sftp://Files.Example.com', 'sftp://files.example.com'],
    ['sftp://files.example.com:2222', 'sftp://files.example.com:2222'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
    ['https://api.example.com.', 'https://api.example.com'],
    ['https://[0:0:0:0:0:0:0:1]:8443', 'https://[::1]:8443'],
    ['https://*.S3.amazonaws.com', 'https://*.s3.amazonaws.com'],
  ])('writes %s canonically as %s', (text, canonical) => {
    expect(normalizeDestination(text)).toBe(canonical);
  });

  it.each([
    ['a path', 'https://api.example.com/v1'],
    ['a query', 'https://api.example.com?x=1'],
    ['a fragment', 'https://api.example.com#x'],
    ['a user name', 'https://user@api.example.com'],
    ['a password', 'https://user:pw@api.example.com'],
    ['an unknown scheme', 'ftp://files.example.com'],
    ['no scheme', 'api.example.com'],
    ['a wildcard inside a label', 'https://a*.example.com'],
    ['a wildcard not in front', 'https://api.*.example.com'],
    ['a bare wildcard', 'https://*'],
    ['a wildcard over a top-level domain', 'https://*.com'],
    ['a wildcard over an IP address', 'https://*.127.0.0.1'],
    ['port 0', 'https://api.example.com:0'],
    ['a port past 65535', 'https://api.example.com:65536'],
    ['an empty port', 'https://api.example.com:'],
    ['an empty host', 'https://'],
  ])('refuses a destination with %s as VALIDATION_FAILED', (_what, text) => {
    expect(() => normalizeDestination(text)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('sorts and de-duplicates, and refuses more than 32', () => {
    expect(normalizeDestinations(['https://b.example', 'https://a.example', 'https://B.example:443'])).toEqual(['https://a.example', 'https://b.example']);
    expect(() => normalizeDestinations(Array.from({ length: 33 }, (_, i) => `https://h${i}.example`))).toThrow(AppError);
  });
});

describe('destination matching', () => {
  it.each([
    [['https://api.example.com'], 'https://api.example.com/v1/me?x=1', true],
    [['https://api.example.com'], 'https://API.example.com./v1', true],
    [['https://api.example.com'], 'https://api.example.com:443/', true],
    [['https://api.example.com'], 'https://api.example.com:8443/', false],
    [['https://api.example.com'], 'http://api.example.com/', false],
    [['https://api.example.com'], 'https://api.example.com.evil.test/', false],
    [['https://api.example.com'], 'https://evilapi.example.com/', false],
    [['https://api.example.com'], 'https://api.example.com@evil.test/', false],
    [['https://*.example.com'], 'https://a.example.com/', true],
    [['https://*.example.com'], 'https://a.b.example.com/', true],
    [['https://*.example.com'], 'https://example.com/', false],
    [['https://*.example.com'], 'https://aexample.com/', false],
    [['https://*.example.com'], 'https://example.com.evil.test/', false],
    [['http://127.0.0.1:4000'], 'http://127.0.0.1:4000/metrics', true],
    [['http://127.0.0.1:4000'], 'http://localhost:4000/', false],
    [['http://127.0.0.1:4000'], 'http://0x7f.0.0.1:4000/', true],
    [['http://127.0.0.1:4000'], 'http://0.0.0.0:4000/', false],
    [['https://[::1]'], 'https://[0::1]/', true],
    [[], 'https://api.example.com/', false],
  ])('%j allows %s: %s', (patterns, url, expected) => {
    expect(allows(patterns, url)).toBe(expected);
  });

  it('matches sftp hosts by host and port', () => {
    const list = normalizeDestinations(['sftp://files.example.com']);
    expect(destinationAllows(list, { scheme: 'sftp', host: 'FILES.example.com', port: 22 })).toBe(true);
    expect(destinationAllows(list, { scheme: 'sftp', host: 'files.example.com', port: 2222 })).toBe(false);
    expect(destinationAllows(list, { scheme: 'sftp', host: 'files.example.com.evil.test' })).toBe(false);
    expect(destinationAllows(list, { scheme: 'sftp', host: 'files.example.com/../x' })).toBe(false);
  });

  it('refuses with DESTINATION_NOT_ALLOWED naming the origin and how to allow it', () => {
    const refusal = (() => {
      try {
        assertDestination(['https://api.example.com'], new URL('https://evil.test/steal'));
      } catch (error) {
        return error as AppError;
      }
      return undefined;
    })();
    expect(refusal?.code).toBe('DESTINATION_NOT_ALLOWED');
    expect(refusal?.status).toBe(403);
    expect(refusal?.message).toContain('https://evil.test');
    expect(refusal?.message).toContain("destinations");
    expect(refusal?.message).not.toContain('/steal');
    // Run records carry it, and a customer user may read them: no other destination is named.
    expect(refusal?.message).not.toContain('api.example.com');
  });
});

// Host names made of labels from a small alphabet, so random pairs often share suffixes.
const label = fc.stringMatching(/^[a-c0-9]{1,3}$/);
const hostName = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
const port = fc.oneof(fc.constant(undefined), fc.constantFrom(22, 80, 443, 8443), fc.integer({ min: 1, max: 65535 }));
const scheme = fc.constantFrom('https', 'http', 'sftp');
/** Decorations an attacker adds to a host that must never widen what matches. */
const decoration = fc.constantFrom('', '.', 'x', '-x', '.evil', 'evil.', '@evil', '%2e', ':1');

const labelsOf = (host: string) => host.split('.');

describe('destination matching, property-based', () => {
  it('allows a host only when the pattern names it exactly, or as a subdomain of a wildcard', () => {
    fc.assert(
      fc.property(scheme, hostName, port, fc.boolean(), scheme, hostName, port, (pScheme, pHost, pPort, wildcard, tScheme, tHost, tPort) => {
        if (wildcard && labelsOf(pHost).length < 2) return;
        const pattern = `${pScheme}://${wildcard ? '*.' : ''}${pHost}${pPort === undefined ? '' : `:${pPort}`}`;
        let list: string[];
        try {
          list = normalizeDestinations([pattern]);
        } catch {
          return; // e.g. an all-digit host read as an IP address under a wildcard
        }
        const allowed = destinationAllows(list, { scheme: tScheme, host: tHost, port: tPort });
        const defaults: Record<string, number> = { https: 443, http: 80, sftp: 22 };
        const samePort = (pPort ?? defaults[pScheme]) === (tPort ?? defaults[tScheme]);
        const canonicalP = originOf({ scheme: pScheme, host: pHost })?.replace(/^\w+:\/\//, '').replace(/:\d+$/, '');
        const canonicalT = originOf({ scheme: tScheme, host: tHost })?.replace(/^\w+:\/\//, '').replace(/:\d+$/, '');
        const hostMatches = wildcard ? canonicalT !== undefined && canonicalT.endsWith(`.${canonicalP}`) && !/^[\d.]+$/.test(canonicalT) : canonicalT === canonicalP;
        expect(allowed).toBe(pScheme === tScheme && samePort && hostMatches);
      }),
      { numRuns: 2000 },
    );
  });

  it('never allows a decorated host (userinfo, suffix, trailing junk) that the pattern does not name', () => {
    fc.assert(
      fc.property(hostName, decoration, decoration, (host, before, after) => {
        if (before === '' && (after === '' || after === '.')) return;
        let list: string[];
        try {
          list = normalizeDestinations([`https://${host}`]);
        } catch {
          return; // not a host name at all (256.0)
        }
        const target = `${before.replace(/^\./, '')}${before ? '.' : ''}${host}${after}`;
        const allowed = destinationAllows(list, { scheme: 'https', host: target });
        // Only a percent-escaped dot or a trailing root dot could still be the same name.
        if (allowed) expect(originOf({ scheme: 'https', host: target })).toBe(`https://${originOf({ scheme: 'https', host })?.slice(8)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('treats IDN and punycode spellings of a name as the same destination', () => {
    const list = normalizeDestinations(['https://xn--bcher-kva.example']);
    expect(destinationAllows(list, new URL('https://bücher.example/'))).toBe(true);
    expect(destinationAllows(list, new URL('https://bucher.example/'))).toBe(false);
    expect(destinationAllows(normalizeDestinations(['https://bücher.example']), new URL('https://xn--bcher-kva.example/'))).toBe(true);
  });
});
