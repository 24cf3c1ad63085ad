import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { MasterKeyError, loadMasterKey } from '../../src/crypto/master-key.js';

/** A log that records every warning. */
const recordingLog = () => {
  const warnings: string[] = [];
  return { warnings, log: { warn: (message: string) => void warnings.push(message) } };
};

const rejection = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );

describe('loadMasterKey', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the key of a value source without warning', async () => {
    const key = randomBytes(32);
    const { warnings, log } = recordingLog();
    const loaded = await loadMasterKey({ kind: 'value', key: new Redacted(key) }, log);
    expect(loaded.equals(key)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('reads a base64 key file', async () => {
    const key = randomBytes(32);
    const path = join(dir, 'root.key');
    await writeFile(path, `${key.toString('base64')}\n`, { mode: 0o600 });
    const { warnings, log } = recordingLog();
    const loaded = await loadMasterKey({ kind: 'file', path }, log);
    expect(loaded.equals(key)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('warns when a key file is readable by other users', async () => {
    const key = randomBytes(32);
    const path = join(dir, 'root.key');
    await writeFile(path, key.toString('base64'));
    await chmod(path, 0o644);
    const { warnings, log } = recordingLog();
    expect((await loadMasterKey({ kind: 'file', path }, log)).equals(key)).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('chmod 600');
    expect(warnings[0]).not.toContain(key.toString('base64'));
  });

  it('refuses a key file that does not hold exactly 32 bytes', async () => {
    for (const [name, content] of [
      ['short.key', randomBytes(31).toString('base64')],
      ['long.key', randomBytes(33).toString('base64')],
      ['empty.key', ''],
      ['text.key', 'not a key at all'],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, content, { mode: 0o600 });
      const error = await rejection(loadMasterKey({ kind: 'file', path }, recordingLog().log));
      expect(error, name).toBeInstanceOf(MasterKeyError);
      expect((error as Error).message, name).toContain('exactly 32 bytes');
      if (content) expect((error as Error).message, name).not.toContain(content);
    }
  });

  it('refuses an empty key file, saying it is empty, and leaves a generated-file path alone', async () => {
    for (const content of ['', '\n', '  \n']) {
      const path = join(dir, 'master.key');
      await writeFile(path, content, { mode: 0o600 });
      for (const kind of ['file', 'generated-file'] as const) {
        const error = await rejection(loadMasterKey({ kind, path }, recordingLog().log));
        expect(error, kind).toBeInstanceOf(MasterKeyError);
        expect((error as Error).message, kind).toBe(`The root key file ${path} is empty; it must hold the base64 encoding of exactly 32 bytes`);
      }
      expect(await readFile(path, 'utf8')).toBe(content);
    }
  });

  it('refuses a key file that does not exist', async () => {
    const path = join(dir, 'missing.key');
    const error = await rejection(loadMasterKey({ kind: 'file', path }, recordingLog().log));
    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).toContain('does not exist');
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('generates a key file with mode 0600 and warns to keep production keys in a secret store', async () => {
    const path = join(dir, 'data', 'master.key');
    const { warnings, log } = recordingLog();
    const key = await loadMasterKey({ kind: 'generated-file', path }, log);

    expect(key.length).toBe(32);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toBe(key.toString('base64'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('secret store');
    expect(warnings[0]).toContain(path);
    expect(warnings[0]).not.toContain(key.toString('base64'));
  });

  it('reads a generated key file back on the next start without warning again', async () => {
    const path = join(dir, 'master.key');
    const first = recordingLog();
    const key = await loadMasterKey({ kind: 'generated-file', path }, first.log);
    expect(first.warnings).toHaveLength(1);

    const second = recordingLog();
    const again = await loadMasterKey({ kind: 'generated-file', path }, second.log);
    expect(again.equals(key)).toBe(true);
    expect(second.warnings).toEqual([]);
  });

  it('refuses a generated-file path whose existing file is corrupt instead of replacing it', async () => {
    const path = join(dir, 'master.key');
    await writeFile(path, 'garbage', { mode: 0o600 });
    await expect(loadMasterKey({ kind: 'generated-file', path }, recordingLog().log)).rejects.toBeInstanceOf(MasterKeyError);
    expect(await readFile(path, 'utf8')).toBe('garbage');
  });
});
