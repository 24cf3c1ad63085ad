import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { newId } from '../src/common/ids.js';
import type { AuthMethodKey } from '../src/credentials/auth-methods.js';
import { parseArgs, type Args } from './support/args.js';
import { openBenchEnvironment, type BenchEnvironment, type EngineName } from './support/environment.js';
import { fmt, percentile, progress, runIfMain, target, type BenchReport, type Target } from './support/report.js';
import { createCustomers, customerName, OAUTH_SETTINGS, randomSecret, seedCredentials } from './support/seed.js';

/**
 * Benchmark 3: listing and searching credentials at scale, through the credential service
 * (authorization, query, views), as an org_admin: a label search across the organization
 * and one customer's list, first page of 50.
 *
 * Flags: --count <n> (1,000,000)  --customers <n> (10,000)  --samples <n> (200)
 *        --engine postgres|sqlite (postgres)  --without-index (also measure with the
 *        trigram index dropped, PostgreSQL)
 */

const SERVICES = ['Dropbox', 'Salesforce', 'HubSpot', 'Slack', 'GitHub', 'Google Drive', 'AWS S3', 'SFTP', 'Stripe', 'Zendesk'];
const PURPOSES = ['production', 'staging', 'backup', 'reporting', 'sync', 'archive', 'billing', 'exports', 'imports', 'alerts'];
const METHODS: AuthMethodKey[] = ['api_key', 'api_key', 'api_key', 'api_key', 'api_key', 'basic', 'basic', 'api_key_secret', 'api_key_secret', 'oauth2'];

const valuesFor = (method: AuthMethodKey): Record<string, string> => {
  switch (method) {
    case 'api_key':
      return { api_key: randomSecret() };
    case 'basic':
      return { username: 'integration', password: randomSecret() };
    case 'api_key_secret':
      return { api_key: randomSecret(8), api_secret: randomSecret() };
    default:
      return { client_id: 'client', client_secret: randomSecret(), scopes: 'files.read', auth_uri: 'https://example.com/authorize', token_uri: 'https://example.com/token' };
  }
};

/** `count` credentials spread evenly over `customers`, labelled like "Dropbox production – Belmora Freight 7". */
const seed = async (bench: BenchEnvironment, count: number, customerCount: number): Promise<string[]> => {
  progress(`search: creating ${fmt.int(customerCount)} customers with their data keys`);
  const customers = await createCustomers(bench, customerCount);
  await seedCredentials(
    bench,
    count,
    (i, now) => {
      const c = i % customerCount;
      const method = METHODS[Math.floor(i / customerCount) % METHODS.length] ?? 'api_key';
      return {
        id: newId('cred', now),
        customerId: customers[c] ?? null,
        label: `${SERVICES[i % SERVICES.length]} ${PURPOSES[Math.floor(i / 7) % PURPOSES.length]} – ${customerName(c)} ${Math.floor(i / customerCount)}`,
        authMethod: method,
        status: method === 'oauth2' ? 'pending_authorization' : 'active',
        values: valuesFor(method),
        ...(method === 'oauth2' ? { oauthSettings: OAUTH_SETTINGS } : {}),
      };
    },
    { label: 'search' },
  );
  return customers;
};

interface Timing {
  name: string;
  p50: number;
  p95: number;
  rows: number;
}

/** Times `samples` calls of `call(i)` one after another, after a short warm-up. */
const time = async (name: string, samples: number, call: (i: number) => Promise<number>): Promise<Timing> => {
  for (let i = 0; i < Math.min(20, samples); i += 1) await call(samples + i);
  const durations: number[] = [];
  let rows = 0;
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    rows += await call(i);
    durations.push(performance.now() - started);
  }
  return { name, p50: percentile(durations, 50), p95: percentile(durations, 95), rows: rows / samples };
};

const measure = async (bench: BenchEnvironment, customers: string[], samples: number, suffix = ''): Promise<Timing[]> => {
  const { credentials } = bench.runtime.services;
  const pick = (i: number) => (i * 7919) % customers.length;
  const search = async (term: string) => (await credentials.list(bench.admin, { search: term, limit: 50 })).items.length;
  return [
    await time(`search, a customer's name ("belmora freight")${suffix}`, samples, (i) => search(customerName(pick(i)).toLowerCase())),
    await time(`search, common word ("dropbox")${suffix}`, samples, (i) => search(['dropbox', 'stripe', 'zendesk', 'github'][i % 4] ?? 'dropbox')),
    await time(`search, no match ("nowhere-NNN")${suffix}`, samples, (i) => search(`nowhere-${i}`)),
    await time(`list one customer's credentials${suffix}`, samples, async (i) => (await credentials.list(bench.admin, { customerId: customers[pick(i)], limit: 50 })).items.length),
  ];
};

export const runSearchBench = async (args: Args = parseArgs()): Promise<BenchReport> => {
  const engine = args.string('engine', 'postgres') as EngineName;
  const count = args.number('count', 1_000_000);
  const customerCount = Math.min(args.number('customers', 10_000), count);
  const samples = args.number('samples', 200);
  const bench = await openBenchEnvironment(engine);
  const timings: Timing[] = [];
  let indexed = false;
  try {
    const started = Date.now();
    const customers = await seed(bench, count, customerCount);
    progress(`search: seeded in ${fmt.s((Date.now() - started) / 1000)}`);
    if (engine === 'postgres') {
      const found = await sql<{ present: boolean }>`select exists (select 1 from pg_indexes where indexname = 'credentials_label_search_trgm') as present`.execute(bench.runtime.store.db);
      indexed = found.rows[0]?.present === true;
    }
    timings.push(...(await measure(bench, customers, samples)));
    if (engine === 'postgres' && indexed && args.flag('without-index')) {
      await sql`drop index credentials_label_search_trgm`.execute(bench.runtime.store.db);
      timings.push(...(await measure(bench, customers, samples, ', without the trigram index')));
    }
  } finally {
    await bench.close();
  }
  const targets: Target[] = timings
    .filter((t) => t.name.startsWith('search') && !t.name.includes('without'))
    .map((t) => target(`${t.name.split(' (')[0]}: p95 ≤ 20 ms at ${fmt.int(count)}`, t.p95 <= 20, fmt.ms(t.p95)));
  return {
    title: `List and search: ${fmt.int(count)} credentials over ${fmt.int(customerCount)} customers (${engine})`,
    headers: ['', 'p50', 'p95', 'rows'],
    rows: timings.map((t) => [t.name, fmt.ms(t.p50), fmt.ms(t.p95), fmt.int(t.rows)]),
    targets,
    notes: [
      `through the credential service as an org_admin (authorization, query, views of the first page of 50), ${samples} calls each, one at a time, after a warm-up`,
      engine === 'postgres'
        ? `label search is a case-insensitive substring match; ${indexed ? 'served by the pg_trgm GIN index of migration 0007' : 'pg_trgm could not be installed, so search reads every row'}`
        : 'SQLite has no substring index: every search reads the organization\'s credentials',
      'labels like "Dropbox production – Belmora Freight 7": 10 services × 10 purposes × one company-like name per customer; the name search matches that customer\'s credentials',
      'seeded in bulk: values sealed by the real keyring (10% oauth2, whose shown values the views decrypt), rows inserted 1,000 at a time',
    ],
  };
};

runIfMain(import.meta.url, () => runSearchBench());
