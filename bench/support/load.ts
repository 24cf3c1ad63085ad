import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Result } from 'autocannon';

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU time this process (the server under load: every thread) spent per answered request, in µs. */
  cpuMicrosPerRequest: number;
}

const LOAD_PROCESS = fileURLToPath(new URL('./load-process.mjs', import.meta.url));

/**
 * Drives `url` with autocannon for `durationSeconds` over `connections` keep-alive
 * connections, cycling through `paths`. The load comes from a child process, so this
 * process's CPU time over the run is the server's; the two still share the machine's cores.
 */
export const load = async (
  url: string,
  options: { paths: string[]; method?: string; headers?: Record<string, string>; connections: number; durationSeconds: number },
): Promise<LoadResult> => {
  const cpuBefore = process.cpuUsage();
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [LOAD_PROCESS, JSON.stringify({ url, ...options })], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
  const cpu = process.cpuUsage(cpuBefore);
  const result = JSON.parse(output) as Result;
  const requests = result.requests.total;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuMicrosPerRequest: requests > 0 ? (cpu.user + cpu.system) / requests : Number.NaN,
  };
};
