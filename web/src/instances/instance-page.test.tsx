import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Credential, Instance, Integration } from '../api/types.js';
import { componentsBody, credential, customer, dropboxGrant } from '../test/fixtures.js';
import { mockApi } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { InstancePage } from './instance-page.js';

const at = '2025-01-01T00:00:00.000Z';
const INTEGRATION: Integration = {
  id: 'itg_1',
  name: 'Dropbox report',
  description: null,
  steps: [
    { name: 'list', component: 'dropbox', action: 'listFolder', inputs: {} },
    { name: 'whoami', component: 'dropbox', action: 'getCurrentAccount', inputs: {} },
  ],
  createdAt: at,
  updatedAt: at,
};
const INSTANCE: Instance = { id: 'ins_1', integrationId: 'itg_1', customerId: 'cus_globex', name: 'Globex nightly', bindings: { list: 'cred_gdbx', whoami: 'cred_gdbx' }, createdAt: at, updatedAt: at };
const DROPBOX: Credential = credential({
  id: 'cred_gdbx',
  label: 'Globex Dropbox',
  authMethod: 'oauth2',
  customerId: 'cus_globex',
  status: 'authorized',
  oauth2: dropboxGrant({ requestedScopes: ['account_info.read'], grantedScopes: 'account_info.read' }),
});

describe('InstancePage', () => {
  it('names the scopes a bound credential lacks for its step, with a link asking for them', async () => {
    mockApi({
      'GET /instances/ins_1': INSTANCE,
      'GET /integrations/itg_1': INTEGRATION,
      'GET /instances/ins_1/runs': { items: [], nextCursor: null },
      'GET /components': componentsBody,
      'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
      'GET /credentials/cred_gdbx': DROPBOX,
    });
    renderScreen(<InstancePage />, { route: '/instances/ins_1', path: '/instances/:id' });

    const list = (await screen.findByRole('cell', { name: 'list' })).closest('tr') as HTMLElement;
    expect(await within(list).findByText('Not granted: files.metadata.read')).toBeInTheDocument();
    expect(within(list).getByRole('link', { name: 'Request files.metadata.read for Globex Dropbox' })).toHaveAttribute('href', '/credentials/cred_gdbx/oauth2?addScopes=files.metadata.read');
    const whoami = screen.getByRole('cell', { name: 'whoami' }).closest('tr') as HTMLElement;
    expect(within(whoami).queryByText(/Not granted/)).not.toBeInTheDocument();
  });
});
