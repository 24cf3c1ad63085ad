import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { loggerOptions } from '../src/http/logging.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { parseArgs, type Args } from './support/args.js';
import { openBenchEnvironment, verifyAuditChains, type BenchEnvironment, type EngineName } from './support/environment.js';
import { load, type LoadResult } from './support/load.js';
import { fmt, progress, runIfMain, target, type BenchReport, type Target } from './support/report.js';

/**
 * Benchmark 1: `POST /api/v1/credentials/:id/resolve` through the whole API (bearer token,
 * authorization, one indexed read, decrypt, audit event, JSON) against a bare fastify route
 * returning a fixed JSON body of the same shape, same process, same run, on SQLite and
 * PostgreSQL.
 *
 * Flags: --engines sqlite,postgres  --duration <s> (10)  --connections <n,n> (10,50)
 *        --credentials <n> (100, resolved in turn)  --compare-token-cache (also run with
 *        the API token cache off, at the last connection count)
 */

/** The goals: req/s at the highest connection count, per engine; p99 and CPU per resolve on both. */
const GOALS = { sqlite: 12_000, postgres: 8_000, p99Ms: 10, cpuMicros: 120 } as const;

const listen = async (app: FastifyInstance): Promise<string> => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
};

const FIXED = {
  id: 'cred_0000000000000000000000000000',
  label: 'Billing API',
  authMethod: 'api_key_secret',
  level: 'customer',
  customerId: 'cus_0000000000000000000000000000',
  status: 'active',
  fields: { api_key: 'AKIAIOSFODNN7EXAMPLE', api_secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  token: null,
};

/** The bare baseline: fastify with no plugins, no logging, one route answering fixed JSON. */
const startBare = async (): Promise<{ app: FastifyInstance; url: string }> => {
  const app = Fastify({ logger: false });
  app.post('/bare/:id', async () => FIXED);
  return { app, url: await listen(app) };
};

const request = async (url: string, method: string, path: string, token: string, body?: unknown): Promise<any> => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
};

/** Credentials spread over the organization and ten customers, and a runtime token. */
const seed = async (url: string, bench: BenchEnvironment, count: number): Promise<{ ids: string[]; runtimeToken: string }> => {
  const admin = bench.adminToken;
  const customers: Array<string | null> = [null];
  for (let i = 0; i < 10; i += 1) customers.push((await request(url, 'POST', '/api/v1/customers', admin, { name: `Customer ${i}` })).id);
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const customerId = customers[i % customers.length] ?? null;
    const body = {
      label: `Billing API ${i}`,
      authMethod: 'api_key_secret',
      ...(customerId ? { customerId } : {}),
      fields: { api_key: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, api_secret: randomBytes(30).toString('base64') },
    };
    ids.push((await request(url, 'POST', '/api/v1/credentials', admin, body)).id);
  }
  const runtimeToken = (await request(url, 'POST', '/api/v1/api-tokens', admin, { name: 'bench runtime', role: 'runtime' })).token as string;
  return { ids, runtimeToken };
};

/** One connection count's measurements. */
interface Level {
  connections: number;
  bare: LoadResult;
  resolve: LoadResult;
}

interface EngineResult {
  engine: EngineName;
  levels: Level[];
  /** With --compare-token-cache: the same load with the API token cache off, at the last connection count. */
  uncached?: LoadResult;
  /** Every organization's audit chain checked after the load: events checked, and whether all verify. */
  chain: { ok: boolean; events: number };
}

/** Credence's HTTP app over `runtime`, listening on a loopback port, logging at info level to /dev/null. */
const startApp = async (runtime: Runtime, publicUrl: string): Promise<{ app: FastifyInstance; url: string }> => {
  const logger = pino(loggerOptions('info'), pino.destination({ dest: '/dev/null', sync: false }));
  const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: logger, publicUrl });
  return { app, url: await listen(app) };
};

const measureEngine = async (engine: EngineName, bareUrl: string, args: Args): Promise<EngineResult> => {
  const connectionCounts = connectionsOf(args);
  const durationSeconds = args.number('duration', 10);
  progress(`resolve on ${engine}: seeding`);
  const bench = await openBenchEnvironment(engine);
  const started: Array<{ app: FastifyInstance; runtime?: Runtime }> = [];
  try {
    const { app, url } = await startApp(bench.runtime, bench.config.publicUrl);
    started.push({ app });
    const { ids, runtimeToken } = await seed(url, bench, args.number('credentials', 100));
    const resolvePaths = ids.map((id) => `/api/v1/credentials/${id}/resolve`);
    const barePaths = ids.map((id) => `/bare/${id}`);
    const headers = { authorization: `Bearer ${runtimeToken}` };
    const run = async (name: string, base: string, paths: string[], connections: number, seconds: number) => {
      const result = await load(base, { paths, method: 'POST', headers, connections, durationSeconds: seconds });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name} on ${engine}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
      return result;
    };
    const levels: Level[] = [];
    for (const connections of connectionCounts) {
      progress(`resolve on ${engine}, ${connections} connections: warming up`);
      await run('bare', bareUrl, barePaths, connections, 2);
      await run('resolve', url, resolvePaths, connections, 2);
      progress(`resolve on ${engine}, ${connections} connections: bare route for ${durationSeconds} s`);
      const bare = await run('bare', bareUrl, barePaths, connections, durationSeconds);
      progress(`resolve on ${engine}, ${connections} connections: resolve for ${durationSeconds} s`);
      const resolve = await run('resolve', url, resolvePaths, connections, durationSeconds);
      levels.push({ connections, bare, resolve });
    }
    if (!args.flag('compare-token-cache')) return { engine, levels, chain: await verifyAuditChains(bench.runtime) };
    // A second process-like runtime over the same database, with every request reading its token.
    const connections = connectionCounts[connectionCounts.length - 1] ?? 10;
    const runtime = await openRuntime(loadConfig({ ...bench.env, CREDENCE_API_TOKEN_CACHE_MS: '0' }), { warn: () => undefined });
    const uncachedApp = await startApp(runtime, bench.config.publicUrl);
    started.push({ app: uncachedApp.app, runtime });
    await run('resolve without token cache', uncachedApp.url, resolvePaths, connections, 2);
    progress(`resolve on ${engine}: resolve without the token cache for ${durationSeconds} s`);
    const uncached = await run('resolve without token cache', uncachedApp.url, resolvePaths, connections, durationSeconds);
    return { engine, levels, uncached, chain: await verifyAuditChains(bench.runtime) };
  } finally {
    for (const { app, runtime } of started.reverse()) {
      await app.close();
      await runtime?.close();
    }
    await bench.close();
  }
};

const connectionsOf = (args: Args): number[] =>
  args.list('connections', ['10', '50']).map((text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--connections takes positive whole numbers, not ${text}`);
    return value;
  });

export const runResolveBench = async (args: Args = parseArgs()): Promise<BenchReport> => {
  const engines = args.list('engines', ['sqlite', 'postgres']) as EngineName[];
  const bare = await startBare();
  const results: EngineResult[] = [];
  try {
    for (const engine of engines) results.push(await measureEngine(engine, bare.url, args));
  } finally {
    await bare.app.close();
  }
  const rows: string[][] = [];
  const targets: Target[] = [];
  const row = (name: string, r: LoadResult, bareRps?: number) => [
    name,
    fmt.int(r.requestsPerSecond),
    fmt.ms(r.p50),
    fmt.ms(r.p99),
    `${fmt.int(r.cpuMicrosPerRequest)} µs`,
    bareRps ? fmt.pct(r.requestsPerSecond / bareRps) : '',
  ];
  for (const { engine, levels, uncached, chain } of results) {
    for (const { connections, bare: b, resolve: r } of levels) {
      rows.push(row(`bare route, ${connections} connections (${engine} run)`, b));
      rows.push(row(`resolve, ${engine}, ${connections} connections`, r, b.requestsPerSecond));
    }
    const top = levels[levels.length - 1];
    if (uncached && top) rows.push(row(`resolve, ${engine}, ${top.connections} connections, API token cache off`, uncached, top.bare.requestsPerSecond));
    if (top) {
      const at = `at ${top.connections} connections`;
      targets.push(target(`resolve on ${engine} ≥ ${fmt.int(GOALS[engine])} req/s ${at}`, top.resolve.requestsPerSecond >= GOALS[engine], fmt.int(top.resolve.requestsPerSecond)));
      targets.push(target(`resolve on ${engine} p99 ≤ ${GOALS.p99Ms} ms ${at}`, top.resolve.p99 <= GOALS.p99Ms, fmt.ms(top.resolve.p99)));
      targets.push(target(`resolve on ${engine} CPU ≤ ${GOALS.cpuMicros} µs per request ${at}`, top.resolve.cpuMicrosPerRequest <= GOALS.cpuMicros, `${fmt.int(top.resolve.cpuMicrosPerRequest)} µs`));
    }
    targets.push(target(`audit chains on ${engine} verify after the run`, chain.ok, `${fmt.int(chain.events)} events checked`));
  }
  return {
    title: 'Resolve throughput and latency (full API vs bare fastify route)',
    headers: ['', 'req/s', 'p50', 'p99', 'CPU/req', 'vs bare'],
    rows,
    targets,
    notes: [
      `autocannon in a child process, ${connectionsOf(args).join(' and ')} connections, ${args.number('duration', 10)} s per run after a 2 s warm-up; ${args.number('credentials', 100)} api_key_secret credentials over the organization and 10 customers, resolved in turn`,
      'the load generator shares the machine\'s cores with the server, so neither the server nor the bare route has the whole machine',
      'CPU/req: CPU time of the server\'s process (all its threads, the SQLite audit writer included) over the run, divided by the requests answered',
      'each resolve: API token check (cached for 5 s), runtime-role check, one read by primary key, one AES-256-GCM open (data key cached), an audit event written and committed before the answer, request logged at info level (to /dev/null)',
      'latencies are autocannon\'s whole-millisecond figures',
    ],
  };
};

runIfMain(import.meta.url, () => runResolveBench());
