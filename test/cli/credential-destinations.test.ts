import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomMasterKey } from '../support/test-app.js';
import { assertBuilt, cliEnv, killChildren, linesOf, runCli } from './cli-harness.js';

describe('credence credentials create --destination', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const fields = () => JSON.stringify({ api_key: `key-${randomBytes(8).toString('hex')}` });

  beforeAll(async () => {
    assertBuilt();
    dataDir = await mkdtemp(join(tmpdir(), 'credence-cli-dest-'));
    env = cliEnv({ CREDENCE_DATA_DIR: dataDir, CREDENCE_MASTER_KEY: randomMasterKey() });
    const init = await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], env);
    expect(init.code).toBe(0);
  });

  afterAll(async () => {
    killChildren();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('collects every --destination into the credential, in canonical form', async () => {
    const result = await runCli(
      ['credentials', 'create', '--label', 'Two places', '--method', 'api_key', '--destination', 'https://API.example.com:443', '--destination', 'sftp://files.example.com:2222', '--json'],
      env,
      { input: fields() },
    );
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const created = JSON.parse(linesOf(result.stdout).at(-1) ?? 'null') as { destinations: string[] };
    expect(created.destinations).toEqual(['https://api.example.com', 'sftp://files.example.com:2222']);
  });

  it('creates a credential with no destinations without the flag, and says so', async () => {
    const result = await runCli(['credentials', 'create', '--label', 'Nowhere', '--method', 'api_key'], env, { input: fields() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('destinations: none');
  });

  it('refuses a destination that is not an origin, naming it', async () => {
    const result = await runCli(['credentials', 'create', '--label', 'Bad', '--method', 'api_key', '--destination', 'https://api.example.com/v1'], env, {
      input: fields(),
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('VALIDATION_FAILED');
    expect(result.stderr).toContain('https://api.example.com/v1');
  });
});
