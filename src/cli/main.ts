import { Command } from 'commander';
import { describeSettings } from '../config/config.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { reportFailure } from './context.js';
import { init } from './init-command.js';
import { registerKeyCommands } from './key-commands.js';
import { serve } from './serve-command.js';

const settingsHelp = (): string =>
  `\nConfiguration (environment variables):\n${describeSettings()
    .map((s) => `  ${s.name.padEnd(34)} ${s.description}${s.default !== undefined ? ` (default ${String(s.default)})` : ''}`)
    .join('\n')}\n`;

/** The `credence` command. */
export const main = async (argv: string[]): Promise<void> => {
  const program = new Command('credence')
    .description('Credence: a credential manager for integration platforms')
    .addHelpText('after', settingsHelp)
    .showHelpAfterError();

  program
    .command('serve')
    .description('serve the API on HOST:PORT and run the token refresh worker')
    .option('--role <role>', 'all (default), api (HTTP only) or worker (token refresh and key rotation jobs, no HTTP)', 'all')
    .action(serve);

  program
    .command('init')
    .description('create an organization, its first admin and an org_admin API token')
    .requiredOption('--org <name>', 'organization name')
    .requiredOption('--admin-email <email>', 'email of the first admin')
    .option('--json', 'print one JSON line: {"organizationId","apiToken"}')
    .action(init);

  registerAdminCommands(program);
  registerKeyCommands(program);
  registerAuditCommands(program);

  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportFailure(error);
  }
};
