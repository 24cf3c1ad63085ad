import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sshpk from 'sshpk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { ComponentError, type ActionContext, type ComponentAction } from '../../src/components/component.js';
import { createSftpComponent, sftpComponent } from '../../src/components/sftp-component.js';
import type { AuthMethodKey } from '../../src/credentials/auth-methods.js';
import { SEEDED_DIRECTORIES, SEEDED_FILES, startSshd, type Sshd } from '../support/sshd.js';
import { openEgress } from '../support/open-egress.js';

let sshd: Sshd;

beforeAll(async () => {
  sshd = await startSshd();
});

// sshd's own account of a failed test: why it refused a login, what it logged about a key.
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => console.error(`sshd log:\n${sshd?.log() ?? '(not started)'}`));
});

afterAll(async () => {
  await sshd?.close();
});

const action = (key: string): ComponentAction => {
  const found = sftpComponent.actions.find((candidate) => candidate.key === key);
  if (!found) throw new Error(`no action ${key}`);
  return found;
};

const contextWith = (authMethod: AuthMethodKey, fields: Record<string, string>): ActionContext => ({
  credential: { destinations: [], id: 'cred_x', authMethod, fields: new Redacted(fields) },
  log: { info() {}, warn() {} },
  signal: AbortSignal.timeout(10_000),
  timeoutMs: 10_000,
  fetch,
  egress: openEgress(),
});
const passwordLogin = (password = sshd.password) => contextWith('basic', { username: sshd.username, password });
const keyLogin = (privateKey = sshd.privateKeyPem) => contextWith('private_key', { username: sshd.username, private_key: privateKey });

const server = () => ({ host: sshd.host, port: sshd.port });

/** Runs an action expected to fail and returns its ComponentError. */
const failureOf = async (promise: Promise<unknown>): Promise<ComponentError> => {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ComponentError);
  return error as ComponentError;
};

/** No message may contain the password or any line of either private key. */
const expectNoSecret = (message: string): void => {
  expect(message).not.toContain(sshd.password);
  for (const key of [sshd.privateKeyPem, sshd.otherPrivateKeyPem]) {
    for (const line of key.split('\n').filter((candidate) => candidate.trim().length > 0 && !candidate.startsWith('-----'))) {
      expect(message).not.toContain(line.trim());
    }
  }
};

const seededListing = () =>
  [
    ...Object.entries(SEEDED_FILES).map(([name, content]) => ({ name, type: 'file', size: Buffer.byteLength(content) })),
    ...SEEDED_DIRECTORIES.map((name) => ({ name, type: 'directory' })),
  ].sort((a, b) => (a.name < b.name ? -1 : 1));

const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** A TCP server that accepts connections and never says a word: no SSH banner, no handshake. */
const startSilentServer = async (): Promise<{ port: number; close(): Promise<void> }> => {
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  return {
    port: (silent.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        silent.close(() => resolve());
      }),
  };
};

describe('sftp component', () => {
  it('declares listDirectory, readFile and writeFile for basic and private_key credentials, testing with listDirectory', () => {
    expect(sftpComponent.key).toBe('sftp');
    expect(sftpComponent.testAction).toBe('listDirectory');
    expect(sftpComponent.actions.map((candidate) => candidate.key)).toEqual(['listDirectory', 'readFile', 'writeFile']);
    for (const candidate of sftpComponent.actions) {
      expect(candidate.authMethods).toEqual(['basic', 'private_key']);
      expect(candidate.credentialRequired).toBe(true);
    }
  });

  it('lists the seeded directory after a password login', async () => {
    const output = (await action('listDirectory').perform(passwordLogin(), { ...server(), path: sshd.rootDir })) as {
      entries: Array<{ name: string; type: string; size: number; modifiedAt: string }>;
    };
    expect(output.entries.map(({ name, type }) => ({ name, type }))).toEqual(seededListing().map(({ name, type }) => ({ name, type })));
    const hello = output.entries.find((entry) => entry.name === 'hello.txt');
    expect(hello?.size).toBe(Buffer.byteLength(SEEDED_FILES['hello.txt'] ?? ''));
    expect(Date.parse(hello?.modifiedAt ?? '')).toBeGreaterThan(Date.parse('2020-01-01T00:00:00Z'));
  });

  it('lists at most the entry cap of a larger directory, first by name, and says it is truncated', async () => {
    const capped = createSftpComponent({ listing: { maxEntries: 2 } }).actions.find((a) => a.key === 'listDirectory');
    const output = (await capped?.perform(passwordLogin(), { ...server(), path: sshd.rootDir })) as { entries: Array<{ name: string }>; truncated: boolean };
    expect(output.entries.map((entry) => entry.name)).toEqual(seededListing().slice(0, 2).map((entry) => entry.name));
    expect(output.truncated).toBe(true);
    const whole = (await action('listDirectory').perform(passwordLogin(), { ...server(), path: sshd.rootDir })) as { truncated: boolean };
    expect(whole.truncated).toBe(false);
  });

  it('lists the seeded directory after a private key login', async () => {
    const output = (await action('listDirectory').perform(keyLogin(), { ...server(), path: sshd.rootDir })) as { entries: Array<{ name: string }> };
    expect(output.entries.map((entry) => entry.name)).toEqual(seededListing().map((entry) => entry.name));
  });

  it('logs in with the same key given as PKCS#8 PEM', async () => {
    const pkcs8 = sshpk.parsePrivateKey(sshd.privateKeyPem, 'openssh').toString('pkcs8');
    expect(pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const output = (await action('listDirectory').perform(keyLogin(pkcs8), { ...server(), path: sshd.rootDir })) as { entries: Array<{ name: string }> };
    expect(output.entries.map((entry) => entry.name)).toContain('hello.txt');
  });

  it('lists the login directory when no path is given', async () => {
    const output = (await action('listDirectory').perform(passwordLogin(), server())) as { entries: Array<{ name: string; type: string }> };
    const seededDirName = sshd.rootDir.split('/').at(-1);
    expect(output.entries).toContainEqual(expect.objectContaining({ name: seededDirName, type: 'directory' }));
  });

  it('reads back a file it wrote, and the file is on the server', async () => {
    const path = join(sshd.rootDir, `written-${randomBytes(4).toString('hex')}.txt`);
    const content = 'Grüße from Credence\nline two\n';
    const written = await action('writeFile').perform(keyLogin(), { ...server(), path, content });
    expect(written).toEqual({ path, size: Buffer.byteLength(content) });
    const read = await action('readFile').perform(passwordLogin(), { ...server(), path });
    expect(read).toEqual({ path, size: Buffer.byteLength(content), content });
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('reads a seeded file', async () => {
    const path = join(sshd.rootDir, 'hello.txt');
    expect(await action('readFile').perform(passwordLogin(), { ...server(), path })).toEqual({
      path,
      size: Buffer.byteLength(SEEDED_FILES['hello.txt'] ?? ''),
      content: SEEDED_FILES['hello.txt'],
    });
  });

  it('refuses to read a file larger than maxBytes', async () => {
    const error = await failureOf(action('readFile').perform(passwordLogin(), { ...server(), path: join(sshd.rootDir, 'notes.md'), maxBytes: 10 }));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toContain('maxBytes');
  });

  it('refuses a wrong password as auth_refused', async () => {
    const wrong = `${sshd.password}-wrong`;
    const error = await failureOf(action('listDirectory').perform(passwordLogin(wrong), { ...server(), path: sshd.rootDir }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the username and password');
    expect(error.message).not.toContain(wrong);
    expectNoSecret(error.message);
  });

  it('refuses a key that is not authorized as auth_refused', async () => {
    const error = await failureOf(action('listDirectory').perform(keyLogin(sshd.otherPrivateKeyPem), { ...server(), path: sshd.rootDir }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the username and private key');
    expectNoSecret(error.message);
  });

  it('refuses a private key that does not parse as bad_input, without echoing it', async () => {
    const broken = sshd.privateKeyPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!');
    const error = await failureOf(action('listDirectory').perform(keyLogin(broken), { ...server(), path: sshd.rootDir }));
    expect(error.kind).toBe('bad_input');
    expectNoSecret(error.message);
  });

  it('refuses a server whose host key differs from the expected fingerprint, naming both', async () => {
    const expected = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
    const error = await failureOf(
      action('listDirectory').perform(passwordLogin(), { ...server(), path: sshd.rootDir, hostKeyFingerprint: expected }),
    );
    expect(error.kind).toBe('host_key_mismatch');
    expect(error.message).toBe(`The server's host key ${sshd.hostKeyFingerprint} does not match the expected ${expected}`);
  });

  it('connects when the expected fingerprint is the one ssh-keygen prints for the host key', async () => {
    const output = (await action('listDirectory').perform(keyLogin(), {
      ...server(),
      path: sshd.rootDir,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
    })) as { entries: Array<{ name: string }> };
    expect(output.entries.map((entry) => entry.name)).toContain('hello.txt');
  });

  it('reports a closed port as unreachable, naming host and port', async () => {
    const port = await closedPort();
    const error = await failureOf(action('listDirectory').perform(passwordLogin(), { host: '127.0.0.1', port, path: '.' }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe(`Could not connect to 127.0.0.1:${port}: the connection was refused`);
  });

  it('reports a host name that does not resolve as unreachable', async () => {
    const error = await failureOf(action('listDirectory').perform(passwordLogin(), { host: 'credence-test.invalid', path: '.' }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toMatch(/^Could not connect to credence-test\.invalid:22: the host name (does not resolve|could not be resolved)$/);
  });

  it('reports a missing directory and a missing file as not_found', async () => {
    const missing = join(sshd.rootDir, 'no-such-dir');
    const listing = await failureOf(action('listDirectory').perform(passwordLogin(), { ...server(), path: missing }));
    expect(listing.kind).toBe('not_found');
    expect(listing.message).toBe(`${missing} does not exist on 127.0.0.1:${sshd.port}`);

    const reading = await failureOf(action('readFile').perform(keyLogin(), { ...server(), path: join(sshd.rootDir, 'missing.txt') }));
    expect(reading.kind).toBe('not_found');

    const writing = await failureOf(
      action('writeFile').perform(passwordLogin(), { ...server(), path: join(sshd.rootDir, 'no-such-dir', 'x.txt'), content: 'x' }),
    );
    expect(writing.kind).toBe('not_found');
  });

  it('refuses inputs that do not fit the schema as bad_input', async () => {
    const error = await failureOf(action('listDirectory').perform(passwordLogin(), { ...server(), hostKeyFingerprint: 'MD5:aa:bb' }));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toContain('/hostKeyFingerprint');
  });

  it('refuses to list a regular file as bad_input', async () => {
    const path = join(sshd.rootDir, 'hello.txt');
    const error = await failureOf(action('listDirectory').perform(passwordLogin(), { ...server(), path }));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toBe(`${path} is a file, not a directory`);
  });

  it('logs where it connects and what it did, but no secret', async () => {
    const lines: string[] = [];
    const log = {
      info: (message: string, details?: Record<string, unknown>) => void lines.push(`${message} ${JSON.stringify(details)}`),
      warn: (message: string, details?: Record<string, unknown>) => void lines.push(`${message} ${JSON.stringify(details)}`),
    };
    await action('listDirectory').perform({ ...passwordLogin(), log }, { ...server(), path: sshd.rootDir });
    await action('readFile').perform({ ...keyLogin(), log }, { ...server(), path: join(sshd.rootDir, 'hello.txt') });
    await failureOf(action('listDirectory').perform({ ...passwordLogin('not-it'), log }, { ...server(), path: sshd.rootDir }));
    expect(lines.some((line) => line.includes(sshd.hostKeyFingerprint))).toBe(true);
    expect(lines.some((line) => line.startsWith('Listed directory'))).toBe(true);
    for (const line of lines) expectNoSecret(line);
  });

  describe('against a server that never answers', () => {
    let silent: Awaited<ReturnType<typeof startSilentServer>>;
    beforeAll(async () => {
      silent = await startSilentServer();
    });
    afterAll(async () => {
      await silent?.close();
    });

    it('gives up after timeoutMs and reports the host as unreachable', async () => {
      const started = Date.now();
      const context = { ...passwordLogin(), timeoutMs: 300 };
      const error = await failureOf(action('listDirectory').perform(context, { host: '127.0.0.1', port: silent.port }));
      expect(error.kind).toBe('unreachable');
      expect(error.message).toBe(`Could not connect to 127.0.0.1:${silent.port}: no SSH handshake within 300 ms`);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('ends the connection when the run is cancelled and rethrows the reason', async () => {
      const controller = new AbortController();
      const cancelled = new Error('run cancelled');
      const context = { ...passwordLogin(), signal: controller.signal };
      const pending = action('listDirectory').perform(context, { host: '127.0.0.1', port: silent.port });
      setTimeout(() => controller.abort(cancelled), 100);
      await expect(pending).rejects.toBe(cancelled);
    });

    it('reports a step timeout during the handshake as unreachable', async () => {
      const context = { ...passwordLogin(), signal: AbortSignal.timeout(200) };
      const error = await failureOf(action('listDirectory').perform(context, { host: '127.0.0.1', port: silent.port }));
      expect(error.kind).toBe('unreachable');
      expect(error.message).toBe(`The SFTP server at 127.0.0.1:${silent.port} did not finish within the time limit`);
    });
  });

  it('stops at once when the signal is already aborted', async () => {
    const context = { ...passwordLogin(), signal: AbortSignal.abort(new DOMException('too slow', 'TimeoutError')) };
    const error = await failureOf(action('listDirectory').perform(context, { ...server(), path: sshd.rootDir }));
    expect(error.kind).toBe('unreachable');
  });
});
