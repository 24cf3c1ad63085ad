import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Debian's OpenSSH server (`/usr/sbin/sshd -D -e`) on a free loopback port, for the SFTP
 * tests. It runs as root with a generated config, host key and authorized key, logs in one
 * Unix user (`credence-sftp-test`, created when missing, shell nologin, with a random password
 * kept root-only in /var/lib/credence-sftp-test) and offers nothing but `internal-sftp`. Each
 * start seeds a fresh directory under that user's home, removed on close, so parallel starts
 * do not disturb each other.
 *
 * @example
 * const sshd = await startSshd();
 * // … connect to sshd.host:sshd.port as sshd.username with sshd.password or sshd.privateKeyPem …
 * await sshd.close();
 */

export const SSHD_PATH = '/usr/sbin/sshd';
export const SFTP_TEST_USER = 'credence-sftp-test';
/** Files placed in `rootDir`, by name. */
export const SEEDED_FILES: Readonly<Record<string, string>> = {
  'hello.txt': 'Hello from sshd\n',
  'notes.md': '# Notes\n\nSeeded by the SFTP test server.\n',
};
/** Directories placed in `rootDir`. */
export const SEEDED_DIRECTORIES: readonly string[] = ['reports'];

export interface SshdOptions {
  /** How long to wait for sshd to accept connections; default 10 s. */
  startTimeoutMs?: number;
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  username: string;
  password: string;
  /** An ed25519 key in OpenSSH format whose public half is authorized. */
  privateKeyPem: string;
  /** An RSA key in PEM (PKCS#1) format that is NOT authorized. */
  otherPrivateKeyPem: string;
  /** The server's host key as `ssh-keygen -lf` prints it: `SHA256:<base64>`. */
  hostKeyFingerprint: string;
  /** An absolute directory, owned by the user, holding SEEDED_FILES and SEEDED_DIRECTORIES. */
  rootDir: string;
  /** What sshd logged (its stderr, the last 64 KB), for diagnosing a failing test. */
  log(): string;
  close(): Promise<void>;
}

const run = promisify(execFile);

export const startSshd = async (options: SshdOptions = {}): Promise<Sshd> => {
  if (!existsSync(SSHD_PATH)) {
    throw new Error("Debian's openssh-server is not installed; `npm test` installs it (scripts/ensure-sshd.sh)");
  }
  if (process.getuid?.() !== 0) throw new Error('startSshd: the SFTP tests start sshd as root, and this process is not root');
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), 'credence-sshd-'));
  let rootDir: string | undefined;
  try {
    // The user reads the authorized keys file as itself, so the directory must be traversable.
    await chmod(dir, 0o755);
    const hostKey = join(dir, 'host_ed25519');
    const userKey = join(dir, 'user_ed25519');
    const otherKey = join(dir, 'other_rsa');
    await Promise.all([
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'credence-test-host', '-f', hostKey]),
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'credence-test-user', '-f', userKey]),
      run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-C', 'credence-test-other', '-f', otherKey]),
    ]);
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${userKey}.pub`), { mode: 0o644 });
    const hostKeyFingerprint = await fingerprintOf(`${hostKey}.pub`);

    const account = await ensureUser();
    rootDir = await seedRootDir(account);

    const configFile = join(dir, 'sshd_config');
    const { port, sshd, log } = await listen(configFile, { dir, hostKey, authorizedKeys }, options.startTimeoutMs ?? 10_000);

    const [privateKeyPem, otherPrivateKeyPem] = await Promise.all([readFile(userKey, 'utf8'), readFile(otherKey, 'utf8')]);
    const seededRoot = rootDir;
    return {
      host: '127.0.0.1',
      port,
      username: SFTP_TEST_USER,
      password: account.password,
      privateKeyPem,
      otherPrivateKeyPem,
      hostKeyFingerprint,
      rootDir: seededRoot,
      log,
      async close() {
        await stopProcess(sshd);
        await rm(seededRoot, { recursive: true, force: true });
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
};

interface Account {
  uid: number;
  gid: number;
  home: string;
}

const STATE_DIR = '/var/lib/credence-sftp-test';
const PASSWORD_FILE = join(STATE_DIR, 'password.json');
const LOCK_DIR = join(STATE_DIR, 'lock');

/**
 * The test user and its password. Test files may start sshd in parallel (and several test
 * runs may share a machine), so the password is not reset on every start: it is generated
 * once, kept root-only in STATE_DIR next to the shadow hash it produced, and set again only
 * when the account is missing or its hash changed. With `UsePAM no`, sshd checks the
 * password against /etc/shadow.
 */
const ensureUser = async (): Promise<Account & { password: string }> =>
  withLock(async () => {
    let entry = await passwdEntry();
    if (!entry) {
      // nologin: the account can use nothing but internal-sftp, which needs no shell.
      await run('useradd', ['-m', '-s', '/usr/sbin/nologin', SFTP_TEST_USER]);
      entry = await passwdEntry();
      if (!entry) throw new Error(`startSshd: useradd did not create ${SFTP_TEST_USER}`);
    }
    let state = await readState();
    if (!state || state.hash !== (await shadowHash())) {
      const password = randomBytes(18).toString('base64url');
      await setPassword(password);
      state = { password, hash: await shadowHash() };
      await writeFile(PASSWORD_FILE, JSON.stringify(state), { mode: 0o600 });
    }
    await mkdir(entry.home, { recursive: true });
    await chown(entry.home, entry.uid, entry.gid);
    return { ...entry, password: state.password };
  });

interface PasswordState {
  password: string;
  hash: string;
}

const readState = async (): Promise<PasswordState | undefined> => {
  try {
    const parsed = JSON.parse(await readFile(PASSWORD_FILE, 'utf8')) as Partial<PasswordState>;
    return typeof parsed.password === 'string' && typeof parsed.hash === 'string' ? { password: parsed.password, hash: parsed.hash } : undefined;
  } catch {
    return undefined;
  }
};

const shadowHash = async (): Promise<string> => {
  const { stdout } = await run('getent', ['shadow', SFTP_TEST_USER]);
  return stdout.split(':')[1] ?? '';
};

const setPassword = (password: string): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`startSshd: chpasswd failed (${code}): ${stderr.trim()}`))));
    child.stdin.end(`${SFTP_TEST_USER}:${password}\n`);
  });

/** A lock across processes: mkdir is atomic. A lock older than a minute is left over from a crash. */
const withLock = async <T>(work: () => Promise<T>): Promise<T> => {
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(LOCK_DIR).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > 60_000) await rm(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`startSshd: ${LOCK_DIR} stayed locked for 30 s`);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
};

const passwdEntry = async (): Promise<Account | undefined> => {
  try {
    const { stdout } = await run('getent', ['passwd', SFTP_TEST_USER]);
    const [, , uid, gid, , home] = stdout.trim().split(':');
    if (uid === undefined || gid === undefined || !home) return undefined;
    return { uid: Number(uid), gid: Number(gid), home };
  } catch {
    return undefined; // getent exits 2 for an unknown user
  }
};

const seedRootDir = async (account: Account): Promise<string> => {
  const rootDir = await mkdtemp(join(account.home, 'sftp-'));
  await chmod(rootDir, 0o755);
  await chown(rootDir, account.uid, account.gid);
  for (const [name, content] of Object.entries(SEEDED_FILES)) {
    const file = join(rootDir, name);
    await writeFile(file, content, { mode: 0o644 });
    await chown(file, account.uid, account.gid);
  }
  for (const name of SEEDED_DIRECTORIES) {
    const directory = join(rootDir, name);
    await mkdir(directory, { mode: 0o755 });
    await chown(directory, account.uid, account.gid);
  }
  return rootDir;
};

/** The fingerprint by OpenSSH's own tool, so the component's computation is checked against it. */
const fingerprintOf = async (publicKeyFile: string): Promise<string> => {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyFile]);
  const match = /SHA256:[A-Za-z0-9+/]+/.exec(stdout);
  if (!match) throw new Error(`startSshd: unexpected ssh-keygen -l output: ${stdout.trim()}`);
  return match[0];
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** Another process may take the free port before sshd binds it: then try another one. */
const listen = async (configFile: string, paths: ConfigPaths, timeoutMs: number): Promise<{ port: number } & Started> => {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    await writeConfig(configFile, { ...paths, port });
    try {
      return { port, ...(await startProcess(configFile, port, timeoutMs)) };
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
};

interface ConfigPaths {
  dir: string;
  hostKey: string;
  authorizedKeys: string;
}

const writeConfig = async (file: string, paths: ConfigPaths & { port: number }): Promise<void> => {
  const lines = [
    `Port ${paths.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${paths.hostKey}`,
    `PidFile ${join(paths.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${paths.authorizedKeys}`,
    'PasswordAuthentication yes',
    'PubkeyAuthentication yes',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'PermitRootLogin no',
    `AllowUsers ${SFTP_TEST_USER}`,
    'Subsystem sftp internal-sftp',
    'ForceCommand internal-sftp',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PrintMotd no',
    'MaxStartups 100:30:200',
    'LoginGraceTime 30',
    'LogLevel VERBOSE',
    // OpenSSH 9.8+ penalises a source address after failed logins, and the tests fail logins
    // on purpose from 127.0.0.1. Older versions do not know the option: dropped below.
    'PerSourcePenalties no',
  ];
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o644 });
  const problem = await checkConfig(file);
  if (problem === undefined) return;
  if (/PerSourcePenalties/.test(problem)) {
    await writeFile(file, `${lines.filter((line) => !line.startsWith('PerSourcePenalties')).join('\n')}\n`, { mode: 0o644 });
    const again = await checkConfig(file);
    if (again === undefined) return;
    throw new Error(`startSshd: sshd -t rejects the generated config: ${again}`);
  }
  throw new Error(`startSshd: sshd -t rejects the generated config: ${problem}`);
};

/** `sshd -t`: undefined when the config is valid, else what sshd said. */
const checkConfig = async (file: string): Promise<string | undefined> => {
  try {
    await run(SSHD_PATH, ['-t', '-f', file]);
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    return stderr.trim() || String(error);
  }
};

interface Started {
  sshd: ChildProcess;
  log(): string;
}

const startProcess = async (configFile: string, port: number, timeoutMs: number): Promise<Started> => {
  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-64_000);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `sshd exited (${signal ?? code})`));
  child.once('error', (error) => (exited = `sshd could not start: ${error.message}`));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`startSshd: ${exited}: ${stderr.trim()}`);
    if (await accepts(port)) return { sshd: child, log: () => stderr };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopProcess(child);
  throw new Error(`startSshd: sshd did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms: ${stderr.trim()}`);
};

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/** SIGTERM, then SIGKILL if sshd has not exited within 5 s. */
const stopProcess = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 5000)));
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
};
