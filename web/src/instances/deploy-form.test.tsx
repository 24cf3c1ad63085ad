import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Credential, Integration } from '../api/types.js';
import { componentsBody, credential, customer, dropboxGrant } from '../test/fixtures.js';
import { apiError, mockApi, reply, type ApiCall } from '../test/mock-api.js';
import { customerUser, renderScreen } from '../test/render.js';
import { DeployForm } from './deploy-form.js';

const INTEGRATION: Integration = {
  id: 'itg_1',
  name: 'Dropbox to SFTP',
  description: null,
  steps: [
    { name: 'list', component: 'dropbox', action: 'listFolder', inputs: {} },
    { name: 'upload', component: 'sftp', action: 'writeFile', inputs: {} },
    { name: 'notify', component: 'http', action: 'request', inputs: {} },
    { name: 'pause', component: 'delay', action: 'wait', inputs: {} },
  ],
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
};

const CREDENTIALS: Credential[] = [
  credential({ id: 'cred_gdbx', label: 'Globex Dropbox', authMethod: 'oauth2', customerId: 'cus_globex', status: 'authorized' }),
  credential({ id: 'cred_gsftp', label: 'Globex SFTP', authMethod: 'basic', customerId: 'cus_globex' }),
  credential({ id: 'cred_gaws', label: 'Globex AWS', authMethod: 'api_key_secret', customerId: 'cus_globex' }),
  credential({ id: 'cred_sdbx', label: 'Shared Dropbox', authMethod: 'oauth2' }),
  credential({ id: 'cred_skey', label: 'Shared key', authMethod: 'api_key' }),
  credential({ id: 'cred_idbx', label: 'Initech Dropbox', authMethod: 'oauth2', customerId: 'cus_initech' }),
];

const listCredentials = ({ query }: ApiCall) => ({
  items: CREDENTIALS.filter((c) => (!query.get('level') || c.level === query.get('level')) && (!query.get('customerId') || c.customerId === query.get('customerId'))),
  nextCursor: null,
});

const setup = (routes: Record<string, unknown> = {}) =>
  mockApi({
    'GET /integrations': { items: [INTEGRATION], nextCursor: null },
    'GET /customers': { items: [customer('cus_globex', 'Globex'), customer('cus_initech', 'Initech')], nextCursor: null },
    'GET /components': componentsBody,
    'GET /credentials': listCredentials,
    'POST /instances': ({ body }: ApiCall) => reply(201, { id: 'ins_1', ...(body as object), createdAt: '', updatedAt: '' }),
    ...routes,
  });

/** Globex Dropbox as granted by a provider that left out the scope listFolder needs. */
const withoutListScope = (): Credential[] =>
  CREDENTIALS.map((c) => (c.id === 'cred_gdbx' ? { ...c, oauth2: dropboxGrant({ requestedScopes: ['account_info.read'], grantedScopes: 'account_info.read' }) } : c));

const MISSING_SCOPES_MESSAGE =
  'step list: dropbox.listFolder needs the scope files.metadata.read, which the credential was not granted; authorize it again asking for it (POST /credentials/:id/authorization-link with addScopes)';

const optionsOf = (stepName: string) =>
  within(screen.getByLabelText(`Credential for step ${stepName}`))
    .getAllByRole('option')
    .map((option) => option.textContent);

describe('DeployForm', () => {
  it('offers each step only the credentials of that customer or the organization that its action accepts', async () => {
    setup();
    const user = userEvent.setup();
    renderScreen(<DeployForm initialIntegrationId="itg_1" onDeployed={vi.fn()} />);

    await user.selectOptions(await screen.findByLabelText('Customer'), 'Globex');
    await screen.findByLabelText('Credential for step list');

    expect(optionsOf('list')).toEqual(['Choose a credential', 'Globex Dropbox (customer, oauth2)', 'Shared Dropbox (organization, oauth2)']);
    expect(optionsOf('upload')).toEqual(['Choose a credential', 'Globex SFTP (customer, basic)']);
    expect(optionsOf('notify')).toEqual([
      'No credential',
      'Globex Dropbox (customer, oauth2)',
      'Globex SFTP (customer, basic)',
      'Globex AWS (customer, api_key_secret)',
      'Shared Dropbox (organization, oauth2)',
      'Shared key (organization, api_key)',
    ]);
    expect(screen.queryByLabelText('Credential for step pause')).not.toBeInTheDocument();
    expect(screen.getByText(/needs no credential/)).toHaveTextContent('pause');
    expect(screen.queryByText(/Initech Dropbox/)).not.toBeInTheDocument();
  });

  it('deploys with the chosen bindings, leaving optional steps unbound', async () => {
    const { callsTo } = setup();
    const user = userEvent.setup();
    const onDeployed = vi.fn();
    renderScreen(<DeployForm initialIntegrationId="itg_1" initialCustomerId="cus_globex" onDeployed={onDeployed} />);

    await user.type(await screen.findByLabelText('Instance name'), 'Globex nightly');
    await user.selectOptions(await screen.findByLabelText('Credential for step list'), 'Globex Dropbox (customer, oauth2)');
    await user.selectOptions(screen.getByLabelText('Credential for step upload'), 'Globex SFTP (customer, basic)');
    expect(screen.getByLabelText('Credential for step notify')).not.toBeRequired();
    expect(screen.getByLabelText('Credential for step list')).toBeRequired();
    await user.click(screen.getByRole('button', { name: 'Deploy instance' }));

    await waitFor(() => expect(onDeployed).toHaveBeenCalled());
    expect(callsTo('POST', '/instances')[0]?.body).toEqual({
      integrationId: 'itg_1',
      customerId: 'cus_globex',
      name: 'Globex nightly',
      bindings: { list: 'cred_gdbx', upload: 'cred_gsftp' },
    });
  });

  it('lets a customer user deploy only for its own customer, without organization credentials', async () => {
    const { callsTo } = setup();
    renderScreen(<DeployForm initialIntegrationId="itg_1" onDeployed={vi.fn()} />, { user: customerUser('cus_globex') });

    expect(await screen.findByLabelText('Customer')).toBeDisabled();
    expect(screen.getByLabelText('Customer')).toHaveValue('cus_globex');
    await screen.findByLabelText('Credential for step list');
    expect(optionsOf('list')).toEqual(['Choose a credential', 'Globex Dropbox (customer, oauth2)']);
    expect(callsTo('GET', '/credentials').map((c) => c.query.get('level'))).not.toContain('organization');
  });

  it('shows the scopes a step\'s action needs beside its credential drop-down', async () => {
    setup();
    renderScreen(<DeployForm initialIntegrationId="itg_1" initialCustomerId="cus_globex" onDeployed={vi.fn()} />);

    expect(await screen.findByLabelText('Credential for step list')).toHaveAccessibleDescription(/Needs scopes: files\.metadata\.read\.$/);
    expect(screen.getByLabelText('Credential for step upload')).not.toHaveAccessibleDescription(/Needs scopes/);
  });

  it('shows a MISSING_SCOPES refusal as the server words it, with a link asking the credential for those scopes', async () => {
    setup({
      'GET /credentials': ({ query }: ApiCall) => ({ items: withoutListScope().filter((c) => (!query.get('level') || c.level === query.get('level')) && (!query.get('customerId') || c.customerId === query.get('customerId'))), nextCursor: null }),
      'POST /instances': apiError(409, 'MISSING_SCOPES', MISSING_SCOPES_MESSAGE),
    });
    const user = userEvent.setup();
    const onDeployed = vi.fn();
    renderScreen(<DeployForm initialIntegrationId="itg_1" initialCustomerId="cus_globex" onDeployed={onDeployed} />);

    await user.type(await screen.findByLabelText('Instance name'), 'Globex nightly');
    await user.selectOptions(await screen.findByLabelText('Credential for step list'), 'Globex Dropbox (customer, oauth2)');
    // Before deploying, the step already says what its credential lacks.
    expect(screen.getByText(/^Not granted to Globex Dropbox: files\.metadata\.read\./)).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Credential for step upload'), 'Globex SFTP (customer, basic)');
    await user.click(screen.getByRole('button', { name: 'Deploy instance' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(`The instance was not deployed. ${MISSING_SCOPES_MESSAGE} (MISSING_SCOPES)`);
    const [help] = screen.getAllByRole('listitem');
    const link = within(help as HTMLElement).getByRole('link', { name: 'Request files.metadata.read for Globex Dropbox' });
    expect(link).toHaveAttribute('href', '/credentials/cred_gdbx/oauth2?addScopes=files.metadata.read');
    expect(help).toHaveTextContent('(step list)');
    expect(onDeployed).not.toHaveBeenCalled();
  });

  it('reads the scopes from the refusal when the credential it had was not yet known to lack them', async () => {
    setup({ 'POST /instances': apiError(409, 'MISSING_SCOPES', MISSING_SCOPES_MESSAGE) });
    const user = userEvent.setup();
    renderScreen(<DeployForm initialIntegrationId="itg_1" initialCustomerId="cus_globex" onDeployed={vi.fn()} />);

    await user.type(await screen.findByLabelText('Instance name'), 'Globex nightly');
    await user.selectOptions(await screen.findByLabelText('Credential for step list'), 'Globex Dropbox (customer, oauth2)');
    await user.selectOptions(screen.getByLabelText('Credential for step upload'), 'Globex SFTP (customer, basic)');
    await user.click(screen.getByRole('button', { name: 'Deploy instance' }));

    expect(await screen.findByRole('link', { name: 'Request files.metadata.read for Globex Dropbox' })).toHaveAttribute('href', '/credentials/cred_gdbx/oauth2?addScopes=files.metadata.read');
  });
});
