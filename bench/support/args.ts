/**
 * Command-line flags of the benchmarks: `--name value` or `--name=value`, and bare
 * `--flag` for booleans. Unknown flags are accepted, so `npm run bench` can pass one set
 * to every benchmark. `defaults` apply where the command line says nothing.
 */
export interface Args {
  number(name: string, fallback: number): number;
  string(name: string, fallback: string): string;
  list(name: string, fallback: string[]): string[];
  flag(name: string): boolean;
}

export const parseArgs = (argv: string[] = process.argv.slice(2), defaults: Record<string, string> = {}): Args => {
  const values = new Map<string, string>(Object.entries(defaults));
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1]?.startsWith('--')) values.set(arg.slice(2), argv[(i += 1)] ?? '');
    else values.set(arg.slice(2), 'true');
  }
  return {
    number(name, fallback) {
      const text = values.get(name);
      if (text === undefined) return fallback;
      const value = Number(text.replace(/_/g, ''));
      if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, not ${text}`);
      return value;
    },
    string: (name, fallback) => values.get(name) ?? fallback,
    list: (name, fallback) => values.get(name)?.split(',').map((s) => s.trim()).filter(Boolean) ?? fallback,
    flag: (name) => values.get(name) === 'true',
  };
};
