import { cpus, loadavg } from 'node:os';
import { parseArgs } from './support/args.js';
import { formatTargets, printReport, type BenchReport } from './support/report.js';
import { runRefreshBench } from './refresh.js';
import { runResolveBench } from './resolve.js';
import { runRotationBench } from './rotation.js';
import { runSearchBench } from './search.js';

/**
 * `npm run bench`: the four benchmarks one after another, then every target in one list.
 *
 * By default the data sets are a tenth of the sizes, so the whole run takes a few
 * minutes: 10,000 refreshes, 100,000 credentials to search, 1,000 scopes to re-wrap,
 * 100,000 values to re-encrypt. `--full` runs the sizes (100,000 / 1,000,000 /
 * 10,000 / 1,000,000; about a quarter of an hour), `--quick` a fiftieth (a smoke test),
 * `--scale <f>` any fraction. `--only resolve,search` picks benchmarks. Every flag of a
 * single benchmark (see each file) is passed on and wins over the scaled sizes.
 */
const BENCHMARKS = {
  resolve: runResolveBench,
  refresh: runRefreshBench,
  search: runSearchBench,
  rotation: runRotationBench,
} as const;

const main = async () => {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const scale = args.flag('full') ? 1 : args.flag('quick') ? 0.02 : args.number('scale', 0.1);
  const sized = (n: number, floor: number) => String(Math.max(floor, Math.round(n * scale)));
  const perBench: Record<keyof typeof BENCHMARKS, Record<string, string>> = {
    resolve: { duration: args.flag('quick') ? '3' : '10' },
    refresh: { count: sized(100_000, 500) },
    search: { count: sized(1_000_000, 5000), customers: sized(10_000, 50) },
    rotation: { scopes: sized(10_000, 100), values: sized(1_000_000, 5000) },
  };
  const only = args.list('only', Object.keys(BENCHMARKS)) as Array<keyof typeof BENCHMARKS>;
  process.stdout.write(`# Credence benchmarks (scale ${scale}; ${cpus().length} CPUs, load average ${loadavg()[0]?.toFixed(1)} at start)\n`);
  const reports: BenchReport[] = [];
  for (const name of only) {
    const run = BENCHMARKS[name];
    if (!run) throw new Error(`unknown benchmark ${name}; choose from ${Object.keys(BENCHMARKS).join(', ')}`);
    process.stderr.write(`\n${name}…\n`);
    const started = Date.now();
    const report = await run(parseArgs(argv, perBench[name]));
    report.notes.push(`took ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
    printReport(report);
    reports.push(report);
  }
  process.stdout.write(`\n## Targets\n\n${formatTargets(reports.flatMap((r) => r.targets))}\n`);
};

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
