import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { newId } from '../src/common/ids.js';
import { createLocalKeyProvider } from '../src/crypto/key-provider.js';
import { parseArgs, type Args } from './support/args.js';
import { openBenchEnvironment, verifyAuditChains, type EngineName } from './support/environment.js';
import { fmt, progress, runIfMain, target, type BenchReport } from './support/report.js';
import { createCustomers, randomSecret, seedCredentials } from './support/seed.js';

/**
 * Benchmark 4: key rotation, through the key lifecycle services (`credence keys …`).
 * - Root key rotation: every data key of `--scopes` customers (plus the organization's)
 *   unwrapped and wrapped again under a new root key, in batches of one transaction each.
 * - Scope rotation: a new data-key version for one customer holding `--values` sealed
 *   values, and the background job re-encrypting all of them (open, seal, write back).
 *
 * Flags: --scopes <n> (10,000)  --values <n> (1,000,000)  --engine postgres|sqlite
 *        (postgres)  --reencrypt-batch-size <n> (the CREDENCE_REENCRYPT_BATCH_SIZE default)
 */

const rewrapBench = async (engine: EngineName, scopes: number) => {
  const bench = await openBenchEnvironment(engine);
  try {
    progress(`rotation: creating ${fmt.int(scopes)} customers, each with its data key`);
    await createCustomers(bench, scopes);
    const target = createLocalKeyProvider(randomBytes(32));
    progress('rotation: re-wrapping every data key under a new root key');
    const started = performance.now();
    const result = await bench.runtime.services.rootKeyRotation.rewrapAll(target);
    const seconds = (performance.now() - started) / 1000;
    if (result.remaining !== 0) throw new Error(`${result.remaining} data keys were left under the old root key`);
    return { keys: result.rewrapped, seconds, chain: await verifyAuditChains(bench.runtime) };
  } finally {
    await bench.close();
  }
};

const reencryptBench = async (engine: EngineName, values: number, args: Args) => {
  const batch = args.string('reencrypt-batch-size', '');
  const bench = await openBenchEnvironment(engine, batch ? { CREDENCE_REENCRYPT_BATCH_SIZE: batch } : {});
  try {
    const [customerId] = await createCustomers(bench, 1);
    if (!customerId) throw new Error('no customer');
    // api_key credentials hold exactly one sealed value each.
    await seedCredentials(
      bench,
      values,
      (i, now) => ({ id: newId('cred', now), customerId, label: `Key ${i}`, authMethod: 'api_key', status: 'active', values: { api_key: randomSecret() } }),
      { label: 'rotation' },
    );
    const { keys } = bench.runtime.services;
    const job = await keys.rotate(bench.admin, { scope: customerId });
    progress(`rotation: re-encrypting ${fmt.int(values)} values of one customer`);
    const started = performance.now();
    let lastReport = started;
    const finished = await keys.runNextJob({
      onProgress: (running) => {
        if (performance.now() - lastReport < 10_000) return;
        lastReport = performance.now();
        progress(`rotation: ${fmt.int(running.done)} re-encrypted after ${fmt.s((lastReport - started) / 1000)}`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    if (!finished || finished.id !== job.id || finished.status !== 'done' || finished.failed > 0) {
      throw new Error(`the rotation job did not finish cleanly: ${JSON.stringify({ status: finished?.status, done: finished?.done, failed: finished?.failed })}`);
    }
    return { values: finished.done, seconds, chain: await verifyAuditChains(bench.runtime) };
  } finally {
    await bench.close();
  }
};

export const runRotationBench = async (args: Args = parseArgs()): Promise<BenchReport> => {
  const engine = args.string('engine', 'postgres') as EngineName;
  const rewrap = await rewrapBench(engine, args.number('scopes', 10_000));
  const reencrypt = await reencryptBench(engine, args.number('values', 1_000_000), args);
  const rate = reencrypt.values / reencrypt.seconds;
  return {
    title: `Key rotation (${engine})`,
    headers: ['', 'items', 'time', 'rate'],
    rows: [
      ['re-wrap every data key under a new root key (rotate-root)', `${fmt.int(rewrap.keys)} keys`, fmt.s(rewrap.seconds), `${fmt.int(rewrap.keys / rewrap.seconds)} keys/s`],
      ['re-encrypt one scope after a data-key rotation (rotate --scope)', `${fmt.int(reencrypt.values)} values`, fmt.s(reencrypt.seconds), `${fmt.int(rate)} values/s`],
    ],
    targets: [
      target(`re-wrap of ${fmt.int(rewrap.keys)} scopes ≤ 10 s`, rewrap.seconds <= 10, fmt.s(rewrap.seconds)),
      target('re-encryption ≥ 20,000 values/s', rate >= 20_000, `${fmt.int(rate)} values/s`),
      target('audit chains verify after re-wrap and after re-encryption', rewrap.chain.ok && reencrypt.chain.ok, `${fmt.int(rewrap.chain.events + reencrypt.chain.events)} events checked`),
    ],
    notes: [
      'through the services behind `credence keys rotate-root` and `credence keys rotate --scope`: root rotation in batches of 500 keys per transaction; re-encryption as the background job runs it (read a batch, open each value, seal under the new version, write back guarded by row version, save progress, all in one transaction per batch), ending with a check that nothing is left under the old version and retiring it',
      'timed from the call to its return: the seeding (customers, keys, bulk-inserted credentials) is not counted',
    ],
  };
};

runIfMain(import.meta.url, () => runRotationBench());
