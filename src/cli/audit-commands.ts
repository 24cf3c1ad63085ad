import type { Command } from 'commander';
import type { ChainReport } from '../audit/audit-chain.js';
import { CliError, operatorActor, withRuntime } from './context.js';

const describe = (report: ChainReport, name: string): string[] => {
  const legacy = report.legacyEvents > 0 ? `, ${report.legacyEvents} older events before the chain began` : '';
  const head = report.head ? `head #${report.head.seq} ${report.head.hash}` : 'no events chained yet';
  if (report.ok) return [`ok      ${report.organizationId}  ${name}: ${report.events} events chained${legacy}; ${head}`];
  const found = report.break;
  return [
    `BROKEN  ${report.organizationId}  ${name}: ${found?.message ?? 'the chain is broken'}`,
    `        first bad link at #${found?.seq ?? '?'}${found?.eventId ? ` (${found.eventId})` : ''}; reason: ${found?.reason ?? 'unknown'}`,
  ];
};

/**
 * `credence audit verify [--org ID] [--json]`: walks the hash chain of every organization
 * (or one) and reports the first broken link of each. Exits with 1 when any chain is broken.
 */
export const registerAuditCommands = (program: Command): void => {
  const audit = program.command('audit').description('the audit trail');
  audit
    .command('verify')
    .description("check every organization's audit hash chain; exit code 1 when an event was edited, removed, inserted or reordered")
    .option('--org <id>', 'check only this organization')
    .option('--json', 'print one JSON object: {"ok", "chains": [...]}')
    .action((o: { org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const organizations = await runtime.services.tenantStore.listOrganizations();
        const chosen = o.org ? organizations.filter((org) => org.id === o.org) : organizations;
        if (o.org && chosen.length === 0) throw new CliError(`No organization ${o.org}`);
        const chains: Array<ChainReport & { name: string }> = [];
        for (const organization of chosen) {
          const report = await runtime.services.audit.verify(await operatorActor(runtime, organization.id));
          chains.push({ ...report, name: organization.name });
        }
        const ok = chains.every((chain) => chain.ok);
        if (o.json) process.stdout.write(`${JSON.stringify({ ok, chains })}\n`);
        else process.stdout.write(`${chains.flatMap((chain) => describe(chain, chain.name)).join('\n') || 'No organizations yet'}\n`);
        if (!ok) process.exitCode = 1;
      }),
    );
};
