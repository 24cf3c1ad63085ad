import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeMasterKey, type MasterKeySource } from '../config/config.js';

export interface MasterKeyLog {
  warn(message: string): void;
}

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

/**
 * Loads the root key from where the configuration says. With no key configured (SQLite
 * only) the first start writes a fresh key file, mode 0600, and warns that production
 * keys belong in a secret store.
 */
export const loadMasterKey = async (source: MasterKeySource, log: MasterKeyLog): Promise<Buffer> => {
  if (source.kind === 'value') return Buffer.from(source.key.reveal());
  if (source.kind === 'file') {
    try {
      return await readKeyFile(source.path, log);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MasterKeyError(`The root key file ${source.path} does not exist`);
      throw error;
    }
  }
  try {
    return await readKeyFile(source.path, log);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await mkdir(dirname(source.path), { recursive: true, mode: 0o700 });
  const handle = await open(source.path, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  log.warn(
    `Generated a new root key at ${source.path}. Anyone with this file and the database can read every credential: ` +
      'in production keep the key in a secret store and pass it as CREDENCE_MASTER_KEY or CREDENCE_MASTER_KEY_FILE.',
  );
  return key;
};

const readKeyFile = async (path: string, log: MasterKeyLog): Promise<Buffer> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    throw new MasterKeyError(`Cannot read the root key file ${path}`);
  }
  const key = decodeMasterKey(text);
  // An empty file is refused like any other bad key, never replaced by a fresh one.
  if (!key) throw new MasterKeyError(`The root key file ${path} ${text.trim() === '' ? 'is empty; it ' : ''}must hold the base64 encoding of exactly 32 bytes`);
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) log.warn(`The root key file ${path} is readable by other users; chmod 600 it`);
  return key;
};
