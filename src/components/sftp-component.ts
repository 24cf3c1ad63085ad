import { createHash } from 'node:crypto';
import type { Client as SshClient, ConnectConfig } from 'ssh2';
import ssh2 from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import sshpk from 'sshpk';
import { Type, type Static, type TObject } from 'typebox';
import { Value } from 'typebox/value';
import { REFUSED_ADDRESS_REASON, resolveCheckedAddress, systemResolve, type ResolveHost } from '../net/guarded-fetch.js';
import { ComponentError, createListingCollector, listingLimits, type ActionContext, type Component, type ComponentAction, type ListingLimits } from './component.js';

/**
 * SFTP over ssh2-sftp-client: list a directory, read and write a file, logging in with a
 * username and password (`basic`) or a username and private key (`private_key`, PEM or
 * OpenSSH, without passphrase). An optional expected host-key fingerprint, in the form
 * `ssh-keygen -lf` prints (`SHA256:<base64>`), pins the server: any other key is refused
 * before credentials are sent. Each action opens one connection and always closes it.
 *
 * The host is resolved once and every address it resolves to checked against
 * src/net/address-policy.ts; ssh2 then connects to the checked address, so a link-local or
 * cloud metadata address is never reached, whatever DNS answers in between. The handshake is
 * bounded by `timeoutMs`, everything else by the step's signal.
 *
 * @example
 * await sftpComponent.actions[0]!.perform(context, { host: 'sftp.example.com', path: '/outbox' });
 * // { entries: [{ name: 'report.csv', type: 'file', size: 1024, modifiedAt: '2024-05-01T10:00:00.000Z' }], truncated: false }
 */

const DEFAULT_PORT = 22;
const DEFAULT_MAX_BYTES = 1024 * 1024;
/** How long a polite close may take before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

const connectionInputs = {
  host: Type.String({ minLength: 1, description: 'Host name or address of the SFTP server' }),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: DEFAULT_PORT, description: 'SSH port' })),
  hostKeyFingerprint: Type.Optional(
    Type.String({
      pattern: '^SHA256:[A-Za-z0-9+/]{43}$',
      description: "Expected host key as `ssh-keygen -lf` prints it (SHA256:…); the connection is refused when the server's key differs",
    }),
  ),
};

const ListDirectoryInputs = Type.Object({
  ...connectionInputs,
  path: Type.Optional(Type.String({ minLength: 1, default: '.', description: 'Directory to list; relative paths start at the login directory' })),
});
const ReadFileInputs = Type.Object({
  ...connectionInputs,
  path: Type.String({ minLength: 1, description: 'File to read' }),
  maxBytes: Type.Optional(Type.Integer({ minimum: 1, default: DEFAULT_MAX_BYTES, description: 'Larger files are refused' })),
});
const WriteFileInputs = Type.Object({
  ...connectionInputs,
  path: Type.String({ minLength: 1, description: 'File to create or replace' }),
  content: Type.String({ description: 'Text to write, as UTF-8' }),
});

export type SftpEntryType = 'file' | 'directory' | 'link' | 'other';
export interface SftpEntry {
  name: string;
  type: SftpEntryType;
  size: number;
  modifiedAt: string;
}

/** Applies schema defaults and conversions ("22" → 22), then refuses inputs that do not fit, naming each problem (never a value). */
const parseInputs = <T extends TObject>(schema: T, inputs: Record<string, unknown>): Static<T> => {
  const value = Value.Convert(schema, Value.Default(schema, Value.Clone(inputs)));
  const problems = [...Value.Errors(schema, value)].map((error) => `${error.instancePath || '/'}: ${error.message}`);
  if (problems.length > 0) throw new ComponentError('bad_input', `Invalid inputs: ${problems.join('; ')}`);
  return value as Static<T>;
};

interface Login {
  config: Pick<ConnectConfig, 'username' | 'password' | 'privateKey'>;
  refusal: string;
  /** Values that must never appear in a message: the password, each line of the key. */
  secrets: string[];
}

const readLogin = (context: ActionContext): Login => {
  const credential = context.credential;
  if (!credential) throw new ComponentError('bad_input', 'SFTP needs a credential: a username with a password or a private key');
  const fields = credential.fields.reveal();
  const username = fields.username ?? '';
  if (username === '') throw new ComponentError('bad_input', 'The credential has no username');
  if (credential.authMethod === 'basic') {
    const password = fields.password ?? '';
    if (password === '') throw new ComponentError('bad_input', 'The credential has no password');
    return { config: { username, password }, refusal: 'The server refused the username and password', secrets: [password] };
  }
  if (credential.authMethod === 'private_key') {
    const key = fields.private_key ?? '';
    const secrets = key.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length >= 8);
    return { config: { username, privateKey: readPrivateKey(key) }, refusal: 'The server refused the username and private key', secrets };
  }
  throw new ComponentError('bad_input', `SFTP accepts basic or private_key credentials, not ${credential.authMethod}`);
};

/**
 * ssh2 reads OpenSSH and PKCS#1 keys but not PKCS#8 (`BEGIN PRIVATE KEY`): those are
 * converted to OpenSSH format with sshpk. Messages are fixed so no part of a key leaks.
 */
const readPrivateKey = (key: string): string => {
  const parsed = ssh2.utils.parseKey(key);
  if (!(parsed instanceof Error)) return key;
  if (/encrypted|passphrase/i.test(parsed.message)) throw passphraseRefusal();
  try {
    const converted = sshpk.parsePrivateKey(key, 'auto').toString('openssh');
    if (!(ssh2.utils.parseKey(converted) instanceof Error)) return converted;
  } catch (error) {
    if (error instanceof Error && error.name === 'KeyEncryptedError') throw passphraseRefusal();
  }
  throw new ComponentError('bad_input', 'The private key could not be read: expected an unencrypted key in PEM or OpenSSH format');
};

const passphraseRefusal = (): ComponentError =>
  new ComponentError('bad_input', 'The private key is protected by a passphrase, which SFTP credentials do not support');

/** The OpenSSH fingerprint of a host key blob: `SHA256:` and base64 of its SHA-256, unpadded. */
export const fingerprintOfHostKey = (keyBlob: Buffer): string =>
  `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;

interface Target {
  host: string;
  port: number;
  hostKeyFingerprint: string | undefined;
  /** The path the action works on, for messages. */
  path: string;
}

/** What the connection saw, for telling failures apart. */
interface Observed {
  sshError: (Error & { level?: string; code?: unknown }) | undefined;
  presentedFingerprint: string | undefined;
  hostKeyRejected: boolean;
  /** The login succeeded (ssh2 'ready'). */
  authenticated: boolean;
  /** The SFTP channel is open. */
  connected: boolean;
}

// ssh2-sftp-client does not type its ssh2 Client, and its end() does nothing before the SFTP
// channel is open; the raw client is needed to cut a connection that is still handshaking.
const sshClientOf = (client: SftpClient): SshClient => (client as unknown as { client: SshClient }).client;

/** Opens one SFTP connection to a checked address, runs `work` on it, and always closes it. */
const withSftp = async <T>(context: ActionContext, target: Target, resolve: ResolveHost, work: (client: SftpClient) => Promise<T>): Promise<T> => {
  // The password or key goes only to a host and port the credential was sealed with.
  context.egress.authorize({ scheme: 'sftp', host: target.host, port: target.port });
  const login = readLogin(context);
  const observed: Observed = { sshError: undefined, presentedFingerprint: undefined, hostKeyRejected: false, authenticated: false, connected: false };
  if (context.signal.aborted) throw describeFailure(context.signal.reason, context, target, login, observed);

  // The library's default listeners print to the console; failures are reported by throwing.
  const client = new SftpClient('credence', { error: () => undefined, end: () => undefined, close: () => undefined });
  const ssh = sshClientOf(client);
  client.on('error', (error: Observed['sshError']) => {
    observed.sshError ??= error;
  });
  client.on('ready', () => {
    observed.authenticated = true;
  });
  const abort = () => ssh.destroy();
  context.signal.addEventListener('abort', abort, { once: true });
  try {
    context.log.info('Connecting to the SFTP server', { host: target.host, port: target.port });
    const address = await resolveCheckedAddress(target.host, resolve, context.signal, context.egress.addressRule);
    await client.connect({
      host: address,
      port: target.port,
      readyTimeout: context.timeoutMs,
      ...login.config,
      hostVerifier: (key: Buffer) => {
        observed.presentedFingerprint = fingerprintOfHostKey(key);
        observed.hostKeyRejected = target.hostKeyFingerprint !== undefined && observed.presentedFingerprint !== target.hostKeyFingerprint;
        return !observed.hostKeyRejected;
      },
    });
    observed.connected = true;
    context.log.info('Connected to the SFTP server', { host: target.host, port: target.port, hostKeyFingerprint: observed.presentedFingerprint });
    return await work(client);
  } catch (error) {
    throw describeFailure(error, context, target, login, observed);
  } finally {
    context.signal.removeEventListener('abort', abort);
    await closeWithin(client, CLOSE_GRACE_MS);
    ssh.destroy();
  }
};

const closeWithin = async (client: SftpClient, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([client.end().catch(() => undefined), late]);
  clearTimeout(timer);
};

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  // From the address check (src/net/guarded-fetch.ts).
  CREDENCE_OUTBOUND_REFUSED: REFUSED_ADDRESS_REASON,
};

/** Turns any failure into a ComponentError a person can act on; no message carries a secret. */
const describeFailure = (error: unknown, context: ActionContext, target: Target, login: Login, observed: Observed): unknown => {
  const where = `${target.host}:${target.port}`;
  if (error instanceof ComponentError) return error;
  if (observed.hostKeyRejected) {
    return new ComponentError(
      'host_key_mismatch',
      `The server's host key ${observed.presentedFingerprint ?? 'unknown'} does not match the expected ${target.hostKeyFingerprint ?? 'unknown'}`,
    );
  }
  if (context.signal.aborted) {
    const reason: unknown = context.signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') {
      return new ComponentError('unreachable', `The SFTP server at ${where} did not finish within the time limit`);
    }
    return reason; // cancelled: the caller who aborted knows why
  }
  if (observed.sshError?.level === 'client-authentication') return new ComponentError('auth_refused', login.refusal);

  const code = errorCode(error) ?? observed.sshError?.code;
  const detail = typeof code === 'string' ? UNREACHABLE_CODES[code] : undefined;
  const message = scrub(observed.sshError?.message ?? messageOf(error), login.secrets);
  if (!observed.connected) {
    if (observed.authenticated) return new ComponentError('remote_error', `${where} accepted the login but did not open SFTP: ${message}`);
    if (observed.sshError?.level === 'client-timeout') {
      return new ComponentError('unreachable', `Could not connect to ${where}: no SSH handshake within ${context.timeoutMs} ms`);
    }
    return new ComponentError('unreachable', `Could not connect to ${where}: ${detail ?? message}`);
  }
  // SFTP status 2 is NO_SUCH_FILE; ssh2-sftp-client reports some of them as ENOENT.
  if (code === 2 || code === 'ENOENT') return new ComponentError('not_found', `${target.path} does not exist on ${where}`);
  if (code === 3 || code === 'EACCES') return new ComponentError('remote_error', `Permission denied for ${target.path} on ${where}`);
  if (detail) return new ComponentError('unreachable', `The connection to ${where} broke: ${detail}`);
  return new ComponentError('remote_error', `The SFTP server at ${where} answered: ${scrub(messageOf(error), login.secrets)}`);
};

const errorCode = (error: unknown): unknown => (error instanceof Error ? (error as { code?: unknown }).code : undefined);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const scrub = (message: string, secrets: readonly string[]): string =>
  secrets.reduce((text, secret) => (secret === '' ? text : text.split(secret).join('[redacted]')), message);

/** What every action's inputs say about where to connect (connectionInputs). */
interface Connection {
  host: string;
  port?: number | undefined;
  hostKeyFingerprint?: string | undefined;
}

/** One SFTP action: its inputs, the path they name, and its work on an open connection. */
interface SftpActionDefinition<T extends TObject> {
  key: string;
  name: string;
  description: string;
  inputs: T;
  /** The connection and the path the action works on (named in messages), from the parsed inputs. */
  locate(inputs: Static<T>): Connection & { path: string };
  work(client: SftpClient, inputs: Static<T>, path: string, context: ActionContext): Promise<unknown>;
}

/**
 * Every SFTP action does the same around its work: take basic or private_key credentials, parse
 * the inputs, connect to a checked address, work, close.
 */
const sftpAction = <T extends TObject>(definition: SftpActionDefinition<T>, resolve: ResolveHost): ComponentAction => ({
  key: definition.key,
  name: definition.name,
  description: definition.description,
  inputs: definition.inputs,
  authMethods: ['basic', 'private_key'],
  credentialRequired: true,
  targets(rawInputs) {
    const { host, port } = rawInputs as { host?: unknown; port?: unknown };
    return typeof host === 'string' ? [{ scheme: 'sftp', host, port: typeof port === 'number' ? port : DEFAULT_PORT }] : [];
  },
  async perform(context, rawInputs) {
    const inputs = parseInputs(definition.inputs, rawInputs);
    const { host, port, hostKeyFingerprint, path } = definition.locate(inputs);
    const target: Target = { host, port: port ?? DEFAULT_PORT, hostKeyFingerprint, path };
    return withSftp(context, target, resolve, (client) => definition.work(client, inputs, path, context));
  },
});

const entryType = (type: string): SftpEntryType => {
  if (type === '-') return 'file';
  if (type === 'd') return 'directory';
  if (type === 'l') return 'link';
  return 'other';
};

const createListDirectory = (limits: ListingLimits): SftpActionDefinition<typeof ListDirectoryInputs> => ({
  key: 'listDirectory',
  name: 'List directory',
  description: 'Lists the entries of a directory: name, type, size and last modification time; a directory past the listing limits answers the first entries by name and truncated: true.',
  inputs: ListDirectoryInputs,
  locate: (inputs) => ({ ...inputs, path: inputs.path ?? '.' }),
  async work(client, _inputs, path, context) {
    const listing = await client.list(path).catch(async (error: unknown) => {
      // OpenSSH answers "no such file" for a regular file too: tell the two apart.
      if ((await client.exists(path).catch(() => false)) === '-') {
        throw new ComponentError('bad_input', `${path} is a file, not a directory`);
      }
      throw error;
    });
    const entries = createListingCollector<SftpEntry>(limits);
    const sorted = listing.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const item of sorted) {
      if (!entries.add({ name: item.name, type: entryType(item.type), size: item.size, modifiedAt: new Date(item.modifyTime).toISOString() })) break;
    }
    context.log.info('Listed directory', { path, entries: entries.items.length, truncated: entries.truncated });
    return { entries: entries.items, truncated: entries.truncated };
  },
});

const readFile: SftpActionDefinition<typeof ReadFileInputs> = {
  key: 'readFile',
  name: 'Read file',
  description: 'Reads a text file (UTF-8), refusing files larger than maxBytes.',
  inputs: ReadFileInputs,
  locate: (inputs) => inputs,
  async work(client, inputs, path, context) {
    const maxBytes = inputs.maxBytes ?? DEFAULT_MAX_BYTES;
    const stats = await client.stat(path);
    if (stats.isDirectory) throw new ComponentError('bad_input', `${path} is a directory, not a file`);
    if (stats.size > maxBytes) throw tooLarge(path, maxBytes);
    const content = await readAtMost(client, path, maxBytes);
    context.log.info('Read file', { path, size: content.length });
    return { path, size: content.length, content: content.toString('utf8') };
  },
};

const tooLarge = (path: string, maxBytes: number): ComponentError =>
  new ComponentError('bad_input', `${path} is larger than maxBytes (${maxBytes} bytes)`);

/**
 * Reads at most maxBytes + 1 bytes, so a file that grew after stat is still refused, not
 * truncated. Settles on 'close', once the remote handle is closed: nothing may still be in
 * flight when the connection ends, or its late error would go unheard.
 */
const readAtMost = (client: SftpClient, path: string, maxBytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    // `end` is inclusive.
    const stream = client.createReadStream(path, { start: 0, end: maxBytes });
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
    });
    stream.on('error', reject);
    stream.on('close', () => (total > maxBytes ? reject(tooLarge(path, maxBytes)) : resolve(Buffer.concat(chunks, total))));
  });

const writeFile: SftpActionDefinition<typeof WriteFileInputs> = {
  key: 'writeFile',
  name: 'Write file',
  description: 'Creates or replaces a file with the given text (UTF-8).',
  inputs: WriteFileInputs,
  locate: (inputs) => inputs,
  async work(client, inputs, path, context) {
    const data = Buffer.from(inputs.content, 'utf8');
    await client.put(data, path);
    context.log.info('Wrote file', { path, size: data.length });
    return { path, size: data.length };
  },
};

export interface SftpComponentOptions {
  /** DNS resolution of the host (tests replace it); node:dns lookup by default. */
  resolve?: ResolveHost;
  /** Caps on what listDirectory returns (tests lower them); DEFAULT_LISTING_LIMITS otherwise. */
  listing?: Partial<ListingLimits>;
}

/** Builds the SFTP component; `sftpComponent` is the one Credence registers. */
export const createSftpComponent = (options: SftpComponentOptions = {}): Component => {
  const resolve = options.resolve ?? systemResolve;
  return {
    key: 'sftp',
    name: 'SFTP',
    description: 'Lists directories and reads and writes files on an SFTP server, with a password or a private key.',
    actions: [sftpAction(createListDirectory(listingLimits(options.listing)), resolve), sftpAction(readFile, resolve), sftpAction(writeFile, resolve)],
    testAction: 'listDirectory',
  };
};

export const sftpComponent: Component = createSftpComponent();
