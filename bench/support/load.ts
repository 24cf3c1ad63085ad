import autocannon from 'autocannon';

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/**
 * Drives `url` with autocannon for `durationSeconds` over `connections` keep-alive
 * connections, cycling through `paths`. The load runs in a worker thread, so it does not
 * share the event loop of a server running in this process.
 */
export const load = async (
  url: string,
  options: { paths: string[]; method?: string; headers?: Record<string, string>; connections: number; durationSeconds: number },
): Promise<LoadResult> => {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.durationSeconds,
    workers: 1,
    requests: options.paths.map((path) => ({ method: options.method ?? 'GET', path, ...(options.headers ? { headers: options.headers } : {}) })),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
};
