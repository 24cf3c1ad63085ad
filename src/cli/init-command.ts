import { Redacted } from '../common/redacted.js';
import { generatePassword } from '../tenants/password.js';
import { readStdin, withRuntime } from './context.js';

/**
 * `credence init`: creates an organization, its first admin and an `org_admin` API
 * token. The admin password is read from stdin when piped, or generated and printed once.
 */
export const init = async (options: { org: string; adminEmail: string; json?: boolean }): Promise<void> => {
  const piped = (await readStdin())?.replace(/\r?\n$/, '');
  const generated = piped === undefined;
  const password = new Redacted(piped ?? generatePassword());
  await withRuntime(async ({ services }) => {
    const { organization, admin, apiToken } = await services.organizations.setUp({
      name: options.org,
      adminEmail: options.adminEmail,
      adminPassword: password,
    });
    if (options.json) {
      const line = {
        organizationId: organization.id,
        apiToken: apiToken.reveal(),
        ...(generated ? { adminPassword: password.reveal() } : {}),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    process.stdout.write(
      [
        `Created organization "${organization.name}" (${organization.id})`,
        `Admin: ${admin.email}${generated ? `  password: ${password.reveal()}` : ''}`,
        `API token (org_admin): ${apiToken.reveal()}`,
        'These are shown once. Keep them somewhere safe.',
        '',
      ].join('\n'),
    );
  });
};
