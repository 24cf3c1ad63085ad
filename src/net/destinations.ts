import { domainToASCII } from 'node:url';
import { AppError } from '../common/app-error.js';

/**
 * Destinations: the origins a credential's secret may be sent to, sealed with it.
 *
 * A destination is `scheme://host[:port]`: `https://api.example.com`,
 * `sftp://files.example.com:22`, `https://*.s3.amazonaws.com`. Rules this module enforces:
 *
 * - the scheme is one of https, http, sftp; the port defaults by scheme (443, 80, 22), so
 *   `https://a.example` and `https://a.example:443` are the same destination;
 * - no user name, password, path, query or fragment;
 * - host names are compared in their canonical ASCII form: lower case, IDN as punycode,
 *   percent-escapes decoded, one trailing dot dropped; IP addresses in their canonical form
 *   (`[::1]`, `127.0.0.1`);
 * - `*.` may only be the whole leading label, and matches one or more labels in front of
 *   the rest (`*.example.com` matches `a.example.com` and `a.b.example.com`, never
 *   `example.com` itself, nor `aexample.com`); it never applies to an IP address, and the
 *   rest must have at least two labels (`*.com` is refused).
 *
 * @example
 * const allowed = normalizeDestinations(['https://*.example.com']);
 * destinationAllows(allowed, new URL('https://api.example.com/v1'));  // true
 * destinationAllows(allowed, new URL('https://example.com.evil.net')); // false
 */

export const DESTINATION_SCHEMES = ['https', 'http', 'sftp'] as const;
export type DestinationScheme = (typeof DESTINATION_SCHEMES)[number];

const DEFAULT_PORTS: Record<DestinationScheme, number> = { https: 443, http: 80, sftp: 22 };

export const MAX_DESTINATIONS = 32;

/** Where a secret is about to go: a scheme, a host as written, and a port (the scheme's default when absent). */
export interface EgressTarget {
  scheme: string;
  host: string;
  port?: number | undefined;
}

interface Parsed {
  scheme: DestinationScheme;
  host: string;
  port: number;
  wildcard: boolean;
}

const invalid = (text: string, why: string): AppError =>
  new AppError('VALIDATION_FAILED', `destination ${JSON.stringify(text.slice(0, 200))} ${why}; write it as scheme://host[:port], e.g. https://api.example.com`);

/** The canonical form of a host name or IP address, or undefined when it is not one. */
export const canonicalHost = (host: string): string | undefined => {
  if (host === '' || /[\s/\\?#@]/.test(host)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(`http://${host}/`);
  } catch {
    return undefined;
  }
  // The URL parser must have taken the whole text as the host (no port, nothing after it).
  if (parsed.port !== '' || parsed.pathname !== '/' || parsed.username !== '' || parsed.password !== '') return undefined;
  let name = parsed.hostname;
  if (name.startsWith('[')) return name;
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.endsWith('.') || name.includes('..')) return undefined;
  // A second pass catches names that only became punycode in the first.
  const ascii = domainToASCII(name);
  return ascii === '' ? undefined : ascii;
};

const isIpHost = (host: string): boolean => host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host);

const parse = (text: string): Parsed => {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)\/?$/.exec(text.trim());
  if (!match) throw invalid(text, 'is not an origin');
  const scheme = (match[1] ?? '').toLowerCase();
  if (!(DESTINATION_SCHEMES as readonly string[]).includes(scheme)) throw invalid(text, `uses ${scheme}://, which is not one of ${DESTINATION_SCHEMES.join(', ')}`);
  const authority = match[2] ?? '';
  if (authority.includes('@')) throw invalid(text, 'must not carry a user name or password');
  const portMatch = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!portMatch) throw invalid(text, 'has a malformed host or port');
  const portText = portMatch[2];
  const port = portText === undefined || portText === '' ? DEFAULT_PORTS[scheme as DestinationScheme] : Number(portText);
  if (portText === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid(text, 'has a port outside 1–65535');
  let hostText = portMatch[1] ?? '';
  const wildcard = hostText.startsWith('*.');
  if (wildcard) hostText = hostText.slice(2);
  if (hostText.includes('*')) throw invalid(text, 'may use * only as the whole first label (*.example.com)');
  const host = canonicalHost(hostText);
  if (host === undefined) throw invalid(text, 'has no valid host');
  if (wildcard && (isIpHost(host) || !host.includes('.'))) throw invalid(text, 'may use *. only in front of a domain of two or more labels');
  return { scheme: scheme as DestinationScheme, host, port, wildcard };
};

const format = ({ scheme, host, port, wildcard }: Parsed): string =>
  `${scheme}://${wildcard ? '*.' : ''}${host}${port === DEFAULT_PORTS[scheme] ? '' : `:${port}`}`;

/** The canonical form of one destination; throws VALIDATION_FAILED naming what is wrong. */
export const normalizeDestination = (text: string): string => format(parse(text));

/** The canonical, sorted, de-duplicated form of a list of destinations. */
export const normalizeDestinations = (list: readonly string[]): string[] => {
  if (list.length > MAX_DESTINATIONS) throw new AppError('VALIDATION_FAILED', `at most ${MAX_DESTINATIONS} destinations`);
  return [...new Set(list.map(normalizeDestination))].sort();
};

/** The canonical origin of a target, or undefined when it has no valid host or a scheme no destination names. */
export const originOf = (target: EgressTarget | URL): string | undefined => {
  const scheme = (target instanceof URL ? target.protocol.replace(/:$/, '') : target.scheme).toLowerCase();
  if (!(DESTINATION_SCHEMES as readonly string[]).includes(scheme)) return undefined;
  const hostText = target instanceof URL ? target.hostname : target.host;
  const host = canonicalHost(hostText.includes(':') && !hostText.startsWith('[') ? `[${hostText}]` : hostText);
  if (host === undefined) return undefined;
  const portValue = target instanceof URL ? (target.port === '' ? undefined : Number(target.port)) : target.port;
  const port = portValue ?? DEFAULT_PORTS[scheme as DestinationScheme];
  return format({ scheme: scheme as DestinationScheme, host, port, wildcard: false });
};

/** True when one of `destinations` (canonical, as stored) names the target's origin. */
export const destinationAllows = (destinations: readonly string[], target: EgressTarget | URL): boolean => {
  const origin = originOf(target);
  if (origin === undefined) return false;
  const wanted = parse(origin);
  return destinations.some((text) => {
    let allowed: Parsed;
    try {
      allowed = parse(text);
    } catch {
      return false;
    }
    if (allowed.scheme !== wanted.scheme || allowed.port !== wanted.port) return false;
    if (!allowed.wildcard) return allowed.host === wanted.host;
    return !isIpHost(wanted.host) && wanted.host.endsWith(`.${allowed.host}`);
  });
};

/**
 * The one check before a credential's secret leaves: throws DESTINATION_NOT_ALLOWED, naming
 * the origin and how to allow it, unless `destinations` names where it is going. The message
 * names neither the credential nor its other destinations: it lands in run records, which
 * a customer user may read for a step bound to an organization credential.
 */
export const assertDestination = (destinations: readonly string[], target: EgressTarget | URL): void => {
  if (destinationAllows(destinations, target)) return;
  const origin = originOf(target) ?? (target instanceof URL ? target.origin : `${target.scheme}://${target.host}`);
  throw new AppError(
    'DESTINATION_NOT_ALLOWED',
    destinations.length === 0
      ? `The credential has no destinations, so it is sent nowhere; add ${origin} to its destinations (re-entering its secrets) to use it there`
      : `${origin} is not among the destinations of the credential; add it to the credential's destinations, re-entering its secrets, to allow it`,
  );
};
