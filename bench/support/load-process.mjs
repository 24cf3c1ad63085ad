// The load generator of bench/support/load.ts, in a process of its own so that the CPU the
// benchmark's process uses is the server's alone. Reads its options as JSON from argv[2],
// drives the server with autocannon and prints autocannon's result as JSON on stdout.
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}');
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationSeconds,
  requests: options.paths.map((path) => ({ method: options.method ?? 'GET', path, ...(options.headers ? { headers: options.headers } : {}) })),
});
process.stdout.write(JSON.stringify(result));
