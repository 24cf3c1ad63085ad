import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cliEnv, linesOf, runCli } from './cli-harness.js';

describe('credence audit verify', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const orgs: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    dataDir = await mkdtemp(join(tmpdir(), 'credence-audit-'));
    env = cliEnv({ CREDENCE_DATA_DIR: dataDir, CREDENCE_MASTER_KEY: randomBytes(32).toString('base64') });
    for (const name of ['Acme', 'Globex']) {
      const init = await runCli(['init', '--org', name, '--admin-email', `admin@${name.toLowerCase()}.test`, '--json'], env);
      expect(init.code).toBe(0);
      const { organizationId } = JSON.parse(init.stdout) as { organizationId: string };
      orgs.push(organizationId);
      const customer = await runCli(['customers', 'create', '--name', `${name} customer`, '--org', organizationId], env);
      expect(customer.code).toBe(0);
    }
  });
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('reports every chain intact and exits 0', async () => {
    const result = await runCli(['audit', 'verify'], env);
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(lines).toHaveLength(2);
    for (const [i, org] of orgs.entries()) expect(lines[i]).toMatch(new RegExp(`^ok +${org} +\\w+: 3 events chained; head #3 [0-9a-f]{64}$`));
  });

  it('prints one JSON object with --json, and checks one organization with --org', async () => {
    const result = await runCli(['audit', 'verify', '--org', orgs[1] ?? '', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; chains: Array<{ organizationId: string; events: number; head: { seq: number } }> };
    expect(report.ok).toBe(true);
    expect(report.chains).toHaveLength(1);
    expect(report.chains[0]).toMatchObject({ organizationId: orgs[1], events: 3, head: { seq: 3 }, break: null });
  });

  it('reports the first broken link of an edited chain and exits 1', async () => {
    const sqlite = new SqliteDatabase(join(dataDir, 'credence.sqlite'));
    try {
      sqlite.prepare("update audit_events set details = '{\"name\":\"Edited\"}' where organization_id = ? and seq = 3").run(orgs[0]);
    } finally {
      sqlite.close();
    }
    const result = await runCli(['audit', 'verify'], env);
    expect(result.code).toBe(1);
    const lines = linesOf(result.stdout);
    expect(lines[0]).toMatch(new RegExp(`^BROKEN +${orgs[0]} +Acme: Event #3 was changed after it was recorded$`));
    expect(lines[1]).toMatch(/first bad link at #3 \(evt_[0-9a-f]+\); reason: altered$/);
    expect(lines[2]).toMatch(new RegExp(`^ok +${orgs[1]} `));

    const json = await runCli(['audit', 'verify', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, chains: [{ ok: false, break: { reason: 'altered', seq: 3 } }, { ok: true }] });
  });

  it('refuses an unknown organization', async () => {
    const result = await runCli(['audit', 'verify', '--org', 'org_unknown'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No organization org_unknown');
  });
});
