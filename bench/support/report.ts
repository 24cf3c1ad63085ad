import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What one benchmark found: a table, its targets (met or not) and notes on how it was measured. */
export interface BenchReport {
  title: string;
  headers: string[];
  rows: string[][];
  targets: Target[];
  notes: string[];
}

export interface Target {
  goal: string;
  met: boolean;
  /** The measured value the goal was checked against. */
  actual: string;
}

export const target = (goal: string, met: boolean, actual: string): Target => ({ goal, met, actual });

const pad = (text: string, width: number, right: boolean) => (right ? text.padStart(width) : text.padEnd(width));

/** A plain-text table; columns after the first are right-aligned. */
export const formatTable = (headers: string[], rows: string[][]): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => pad(c, widths[i] ?? 0, i > 0)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${i > 0 ? '-'.repeat(w + 1) : `-${'-'.repeat(w)}`}${i > 0 ? ':' : '-'}`).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
};

export const formatTargets = (targets: Target[]): string =>
  targets.map((t) => `${t.met ? 'MET    ' : 'NOT MET'}  ${t.goal} — ${t.actual}`).join('\n');

export const printReport = (report: BenchReport): void => {
  const parts = [`\n## ${report.title}\n`, formatTable(report.headers, report.rows), '', formatTargets(report.targets)];
  // Other work on the machine shows up in every latency tail: say how busy it was.
  const machine = `machine: ${cpus().length} CPUs, 1-minute load average ${loadavg()[0]?.toFixed(1)} as this finished`;
  parts.push('', ...[...report.notes, machine].map((n) => `- ${n}`));
  process.stdout.write(`${parts.join('\n')}\n`);
};

/** Progress on stderr, so stdout holds only the results. */
export const progress = (message: string): void => {
  process.stderr.write(`  … ${message}\n`);
};

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString('en-US'),
  ms: (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`,
  s: (n: number) => `${n.toFixed(1)} s`,
  pct: (n: number) => `${(n * 100).toFixed(0)}%`,
  x: (n: number) => `${n.toFixed(2)}×`,
};

/** The p-th percentile (0–100) of `values`, by nearest rank. */
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
};

/** Runs a benchmark's `main` when its file is the one node started, printing its report. */
export const runIfMain = (moduleUrl: string, main: () => Promise<BenchReport>): void => {
  const started = process.argv[1];
  if (!started || moduleUrl !== pathToFileURL(resolve(started)).href) return;
  main().then(printReport, (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
};
