import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * Which network addresses Credence's outbound calls may reach.
 *
 * Rule: never link-local or cloud metadata addresses, whatever the URL or DNS says — an OAuth
 * provider or an integration step must not be able to make Credence read instance credentials
 * from 169.254.169.254 (AWS, GCP, Azure, OCI), fd00:ec2::254 (AWS over IPv6) or 100.100.100.200
 * (Alibaba). "This network" (0.0.0.0/8, ::) reaches the host itself on Linux; multicast and
 * broadcast are never HTTP peers. IPv4 addresses embedded in IPv6 (::ffff:a.b.c.d, the NAT64
 * prefix 64:ff9b::/96) are judged as the IPv4 address they carry.
 */

const BLOCKED = new BlockList();
BLOCKED.addSubnet('0.0.0.0', 8, 'ipv4');
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4');
BLOCKED.addAddress('100.100.100.200', 'ipv4');
BLOCKED.addSubnet('224.0.0.0', 4, 'ipv4');
BLOCKED.addAddress('255.255.255.255', 'ipv4');
BLOCKED.addAddress('::', 'ipv6');
BLOCKED.addSubnet('fe80::', 10, 'ipv6');
BLOCKED.addAddress('fd00:ec2::254', 'ipv6');
BLOCKED.addSubnet('ff00::', 8, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
const ipv6Groups = (address: string): number[] | undefined => {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase().replace(/%.*$/, '');
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => parseInt(group, 16));
};

/** The IPv4 address an IPv6 address carries (IPv4-mapped, or NAT64 when asked), if it carries one. */
const embeddedIPv4 = (address: string, nat64Too: boolean): string | undefined => {
  const groups = ipv6Groups(address);
  if (!groups || groups.length !== 8) return undefined;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  const mapped = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff;
  const nat64 = g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0;
  if (!mapped && !(nat64 && nat64Too)) return undefined;
  return [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff].join('.');
};

const check = (list: BlockList, address: string, nat64Too: boolean): boolean => {
  const plain = address.replace(/^\[|\]$/g, '');
  if (isIP(plain) === 0) return false;
  const v4 = isIPv4(plain) ? plain : embeddedIPv4(plain, nat64Too);
  if (v4) return list.check(v4, 'ipv4');
  return list.check(plain.replace(/%.*$/, ''), 'ipv6');
};

/** True for an address no outbound call may reach (link-local, metadata, "this network", multicast). */
export const isForbiddenAddress = (address: string): boolean => check(BLOCKED, address, true);

/** True for 127.0.0.0/8 and ::1 (also as IPv4-mapped; a NAT64 address leaves the host, so not it). */
export const isLoopbackAddress = (address: string): boolean => check(LOOPBACK, address, false);

/** True when `hostname` (as in a URL, IPv6 in brackets) is an IP address rather than a name. */
export const isIpLiteral = (hostname: string): boolean => isIP(hostname.replace(/^\[|\]$/g, '')) !== 0;

/** Host names that mean this machine without asking DNS. */
export const LOOPBACK_HOST_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** True for private ranges: RFC 1918, shared address space (100.64.0.0/10) and IPv6 unique-local (fc00::/7). */
export const isPrivateAddress = (address: string): boolean => check(PRIVATE, address, true);

/** Says why an address may not be reached, or undefined when it may. */
export type AddressRule = (address: string) => string | undefined;

/** The rule every outbound call has had: never link-local, metadata, "this network" or multicast. */
export const baseAddressRule: AddressRule = (address) => (isForbiddenAddress(address) ? 'is a link-local or cloud metadata address' : undefined);

/** Parses `a.b.c.d/n` or `x::/n` into a block list; throws naming the bad entry. */
export const parseNetworks = (cidrs: readonly string[]): BlockList => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits = ''] = cidr.trim().split('/');
    const family = isIP(address);
    const prefix = Number(bits);
    if (family === 0 || !/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`${cidr} is not a network in CIDR form (10.0.0.0/8, fd00::/8)`);
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
};

/**
 * The address rule of the calls integration steps and credential tests make (components).
 * Rule: besides the base rule, this machine (loopback) is refused unless Credence runs with
 * CREDENCE_ALLOW_INSECURE_LOOPBACK (development), and private ranges only where
 * CREDENCE_OUTBOUND_ALLOWED_NETWORKS lists them — a step must not read Credence's own
 * /metrics or scan the vendor's internal network.
 */
export const componentAddressRule = (options: { allowLoopback: boolean; allowedNetworks: readonly string[] }): AddressRule => {
  const allowed = parseNetworks(options.allowedNetworks);
  const inAllowed = (address: string): boolean => {
    const plain = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const v4 = isIPv4(plain) ? plain : embeddedIPv4(plain, true);
    return v4 ? allowed.check(v4, 'ipv4') : isIP(plain) === 6 && allowed.check(plain, 'ipv6');
  };
  return (address) => {
    const base = baseAddressRule(address);
    if (base) return base;
    if (isLoopbackAddress(address)) {
      return options.allowLoopback ? undefined : 'is this machine (loopback), which steps may reach only with CREDENCE_ALLOW_INSECURE_LOOPBACK=true';
    }
    if (isPrivateAddress(address) && !inAllowed(address)) return 'is in a private network that CREDENCE_OUTBOUND_ALLOWED_NETWORKS does not list';
    return undefined;
  };
};
