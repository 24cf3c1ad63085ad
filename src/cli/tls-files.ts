import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { checkTlsPair, type TlsFiles } from '../http/tls.js';
import { CliError } from './context.js';

/** Reads `CREDENCE_TLS_CERT`/`CREDENCE_TLS_KEY` when set, refusing to start on an unreadable or mismatched pair. */
export const readTlsFiles = (config: Pick<Config, 'tls'>): TlsFiles | undefined => {
  if (!config.tls) return undefined;
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CliError(`${name}: cannot read ${path} (${code})`);
    }
  };
  const files = { cert: read('CREDENCE_TLS_CERT', config.tls.certFile), key: read('CREDENCE_TLS_KEY', config.tls.keyFile) };
  const problem = checkTlsPair(files);
  if (problem) throw new CliError(problem);
  return files;
};
