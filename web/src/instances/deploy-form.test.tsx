import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Credential, Integration } from '../api/types.js';
import { componentsBody, credential, customer } from '../test/fixtures.js';
import { mockApi, reply, type ApiCall } from '../test/mock-api.js';
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

const setup = () =>
  mockApi({
    'GET /integrations': { items: [INTEGRATION], nextCursor: null },
    'GET /customers': { items: [customer('cus_globex', 'Globex'), customer('cus_initech', 'Initech')], nextCursor: null },
    'GET /components': componentsBody,
    'GET /credentials': listCredentials,
    'POST /instances': ({ body }: ApiCall) => reply(201, { id: 'ins_1', ...(body as object), createdAt: '', updatedAt: '' }),
  });

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
});
