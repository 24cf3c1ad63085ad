import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The built command, as users run it: `bin/credence.js` importing `dist/`. */
export const CLI = fileURLToPath(new URL('../../bin/credence.js', import.meta.url));
const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export const assertBuilt = (): void => {
  if (!existsSync(DIST_MAIN)) throw new Error('dist/ is missing: run `npm run build` before the command-line tests');
};

/** A loopback port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

/**
 * The whole environment of a child: nothing is inherited from the test process except
 * what finding `node` needs, so a developer's DATABASE_URL or key never leaks in.
 */
export const cliEnv = (settings: Record<string, string>): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  HOST: '127.0.0.1',
  CREDENCE_LOG_LEVEL: 'info',
  ...settings,
});

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Kills every child this file started that is still running. */
export const killChildren = (): void => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
};

const track = (child: ChildProcess) => {
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { exited, output: () => ({ stdout, stderr }) };
};

/**
 * Runs one command to completion. `input` is written to stdin and stdin closed; without
 * it stdin is /dev/null. A command that outlives `timeoutMs` is killed and reported.
 */
export const runCli = async (
  args: string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> => {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const { exited } = track(child);
  if (options.input !== undefined) child.stdin?.end(options.input);
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    const result = await exited;
    throw new Error(`credence ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${result.stderr.slice(0, 2000)}`);
  }
  return outcome;
};

export interface Server {
  child: ChildProcess;
  baseUrl: string;
  exited: Promise<CliResult>;
  output(): { stdout: string; stderr: string };
}

/** Starts `credence serve`; call `waitUntilHealthy` before using it. */
export const startServe = (env: Record<string, string>, args: readonly string[] = []): Server => {
  const port = env.PORT;
  if (!port) throw new Error('startServe needs PORT in the environment');
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, output } = track(child);
  return { child, baseUrl: `http://127.0.0.1:${port}`, exited, output };
};

/** Polls /healthz every 100 ms for at most `timeoutMs`; fails at once if the server exits. */
export const waitUntilHealthy = async (server: Server, timeoutMs = 15_000): Promise<void> => {
  let exit: CliResult | undefined;
  void server.exited.then((result) => (exit = result));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit) throw new Error(`credence serve exited with code ${String(exit.code)} before answering; stderr: ${exit.stderr.slice(0, 2000)}`);
    try {
      const response = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`credence serve did not answer /healthz within ${timeoutMs} ms; stderr: ${server.output().stderr.slice(0, 2000)}`);
};

/** Sends a signal and waits (bounded) for the process to end. */
export const stopServer = async (server: Server, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<CliResult> => {
  server.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const result = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (!result) {
    server.child.kill('SIGKILL');
    throw new Error(`credence serve did not stop within ${timeoutMs} ms of ${signal}`);
  }
  return result;
};

/** A JSON request against a running server. */
export const api = async (
  server: Pick<Server, 'baseUrl'>,
  method: string,
  path: string,
  options: { token?: string | undefined; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: any }> => {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
};

/** Lines of output without the trailing empty one. */
export const linesOf = (text: string): string[] => text.split('\n').filter((line) => line !== '');
