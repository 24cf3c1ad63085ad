import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CREDENCE = fileURLToPath(new URL('./credence.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CredenceProcess {
  child: ChildProcess;
  /** Resolves when the process logs `readyLine`; rejects if it exits first. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderrTail(): string;
}

/**
 * Starts `credence <args>` from the sources in a child process whose environment is
 * exactly `env` (plus PATH and HOME), so nothing of the caller's own settings leaks in.
 */
export const startCredence = (args: string[], env: Record<string, string>, readyLine: RegExp): CredenceProcess => {
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=<dir>' profiles each process.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', CREDENCE, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  let markReady: () => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    fail = reject;
  });
  // BENCH_LOG_DIR=<dir> keeps each process's log lines, to look into a slow run.
  const logFile = process.env.BENCH_LOG_DIR ? join(process.env.BENCH_LOG_DIR, `credence-${child.pid ?? 'x'}.log`) : undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    if (logFile) appendFileSync(logFile, chunk);
    tail = (tail + chunk.toString()).slice(-4000);
    if (readyLine.test(tail)) markReady();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      fail(new Error(`credence ${args.join(' ')} exited with code ${String(code)} before it was ready: ${tail.slice(-1500)}`));
      resolve(code);
    });
  });
  return { child, ready, exited, stderrTail: () => tail };
};

/** SIGTERM, then SIGKILL if the process has not ended within `graceMs`. */
export const stopCredence = async (credence: CredenceProcess, graceMs = 15_000): Promise<void> => {
  if (credence.child.exitCode !== null || credence.child.signalCode !== null) return;
  credence.child.kill('SIGTERM');
  const timer = setTimeout(() => credence.child.kill('SIGKILL'), graceMs);
  await credence.exited;
  clearTimeout(timer);
};
