import type { Command } from 'commander';
import { CliError, operatorActor, readStdin, withRuntime } from './context.js';

/** Commander's collector for a repeatable option: each use adds one value. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const print = (json: boolean | undefined, value: unknown, lines: () => string[]): void => {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${lines().join('\n')}\n`);
};

/** `credence tokens|customers|credentials …`: the same services the API calls, as an organization admin. */
export const registerAdminCommands = (program: Command): void => {
  const tokens = program.command('tokens').description('API tokens');
  tokens
    .command('create')
    .description('create an API token (shown once)')
    .requiredOption('--role <role>', 'org_admin, org_member, customer_user or runtime')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--customer <id>', 'the customer of a customer_user token')
    .option('--org <id>', 'organization (needed when there are several)')
    .option('--json', 'print JSON')
    .action((o: { role: string; name: string; customer?: string; org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const actor = await operatorActor(runtime, o.org);
        const { token, secret } = await runtime.services.tokens.create(actor, { role: o.role, name: o.name, customerId: o.customer });
        print(o.json, { ...token, token: secret.reveal() }, () => [`${token.id}  ${token.role}  ${token.name}`, `token: ${secret.reveal()}`]);
      }),
    );
  tokens
    .command('list')
    .option('--org <id>')
    .option('--json')
    .action((o: { org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const page = await runtime.services.tokens.list(await operatorActor(runtime, o.org), { limit: 200 });
        print(o.json, page.items, () => page.items.map((t) => `${t.id}  ${t.role}  ${t.revokedAt ? 'revoked' : 'active'}  ${t.name}`));
      }),
    );
  tokens
    .command('revoke <id>')
    .option('--org <id>')
    .action((id: string, o: { org?: string }) =>
      withRuntime(async (runtime) => {
        await runtime.services.tokens.revoke(await operatorActor(runtime, o.org), id);
        process.stdout.write(`revoked ${id}\n`);
      }),
    );

  const customers = program.command('customers').description('customers');
  customers
    .command('create')
    .requiredOption('--name <name>')
    .option('--external-id <id>')
    .option('--org <id>')
    .option('--json')
    .action((o: { name: string; externalId?: string; org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const customer = await runtime.services.customers.create(await operatorActor(runtime, o.org), { name: o.name, externalId: o.externalId });
        print(o.json, customer, () => [`${customer.id}  ${customer.name}`]);
      }),
    );
  customers
    .command('list')
    .option('--org <id>')
    .option('--json')
    .action((o: { org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const page = await runtime.services.customers.list(await operatorActor(runtime, o.org), { limit: 200 });
        print(o.json, page.items, () => page.items.map((c) => `${c.id}  ${c.name}`));
      }),
    );
  customers
    .command('delete <id>')
    .description('delete a customer with its credentials and destroy its data key')
    .requiredOption('--confirm <name>', "the customer's name")
    .option('--org <id>')
    .action((id: string, o: { confirm: string; org?: string }) =>
      withRuntime(async (runtime) => {
        await runtime.services.customers.delete(await operatorActor(runtime, o.org), id, { confirm: o.confirm });
        process.stdout.write(`deleted ${id}\n`);
      }),
    );

  const credentials = program.command('credentials').description('credentials');
  credentials
    .command('create')
    .description('store a credential; field values are read from stdin as a JSON object')
    .requiredOption('--label <label>')
    .requiredOption('--method <authMethod>', 'api_key_secret, basic, private_key, api_key or oauth2')
    .option('--customer <id>', 'store at customer level')
    .option(
      '--destination <origin>',
      'an origin the secret may be sent to: scheme://host[:port] (https, http or sftp), e.g. https://api.example.com; repeat for several (without any, it is sent nowhere)',
      collect,
    )
    .option('--org <id>')
    .option('--json')
    .action((o: { label: string; method: string; customer?: string; destination?: string[]; org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const text = await readStdin(10_000);
        if (!text) throw new CliError('Pipe the field values as a JSON object on stdin, e.g. echo \'{"api_key":"..."}\' | credence credentials create …');
        let fields: unknown;
        try {
          fields = JSON.parse(text);
        } catch {
          throw new CliError('stdin is not valid JSON');
        }
        if (!fields || typeof fields !== 'object' || Array.isArray(fields) || Object.values(fields).some((v) => typeof v !== 'string')) {
          throw new CliError('stdin must be a JSON object of string values');
        }
        const created = await runtime.services.credentials.create(await operatorActor(runtime, o.org), {
          label: o.label,
          authMethod: o.method,
          customerId: o.customer,
          fields: fields as Record<string, string>,
          destinations: o.destination,
        });
        print(o.json, created, () => [
          `${created.id}  ${created.authMethod}  ${created.level}  ${created.status}  ${created.label}`,
          created.destinations.length > 0 ? `destinations: ${created.destinations.join(' ')}` : 'destinations: none (it is sent nowhere until you add some)',
        ]);
      }),
    );
  credentials
    .command('list')
    .option('--customer <id>')
    .option('--search <text>', 'filter by label')
    .option('--org <id>')
    .option('--json')
    .action((o: { customer?: string; search?: string; org?: string; json?: boolean }) =>
      withRuntime(async (runtime) => {
        const page = await runtime.services.credentials.list(await operatorActor(runtime, o.org), { customerId: o.customer, search: o.search, limit: 200 });
        print(o.json, page.items, () => page.items.map((c) => `${c.id}  ${c.authMethod.padEnd(14)}  ${c.level.padEnd(12)}  ${c.status.padEnd(22)}  ${c.label}`));
      }),
    );
  credentials
    .command('delete <id>')
    .requiredOption('--confirm <label>', "the credential's label")
    .option('--org <id>')
    .action((id: string, o: { confirm: string; org?: string }) =>
      withRuntime(async (runtime) => {
        await runtime.services.credentials.delete(await operatorActor(runtime, o.org), id, { confirm: o.confirm });
        process.stdout.write(`deleted ${id}\n`);
      }),
    );
};
