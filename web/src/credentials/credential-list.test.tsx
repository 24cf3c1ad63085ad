import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { Credential } from '../api/types.js';
import { authMethodsBody, credential, customer } from '../test/fixtures.js';
import { mockApi, type ApiCall } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { CredentialList } from './credential-list.js';

const CREDENTIALS: Credential[] = [
  credential({ id: 'cred_1', label: 'Globex Dropbox', authMethod: 'oauth2', customerId: 'cus_globex', status: 'authorized', updatedAt: '2025-03-04T10:00:00.000Z', health: 'healthy', healthMessage: 'The token was refreshed' }),
  credential({
    id: 'cred_2',
    label: 'Globex SFTP',
    authMethod: 'basic',
    customerId: 'cus_globex',
    lastTest: { ok: false, message: 'Authentication failed', at: '2025-03-04T10:00:00.000Z' },
    health: 'failing',
    healthMessage: 'Authentication failed',
    since: '2025-03-04T10:00:00.000Z',
  }),
  credential({ id: 'cred_3', label: 'Shared Dropbox', authMethod: 'oauth2', status: 'reauthorization_required' }),
  credential({ id: 'cred_4', label: 'AWS', authMethod: 'api_key_secret', customerId: 'cus_initech', status: 'active' }),
  credential({ id: 'cred_5', label: 'Initech Box', authMethod: 'oauth2', customerId: 'cus_initech' }),
];

/** A fake list endpoint that filters as the real one does. */
const listCredentials = ({ query }: ApiCall) => {
  const search = query.get('search')?.toLowerCase();
  const items = CREDENTIALS.filter(
    (c) =>
      (!search || c.label.toLowerCase().includes(search)) &&
      (!query.get('level') || c.level === query.get('level')) &&
      (!query.get('customerId') || c.customerId === query.get('customerId')) &&
      (!query.get('health') || c.health === query.get('health')),
  );
  return { items, nextCursor: null };
};

const setup = () =>
  mockApi({
    'GET /auth-methods': authMethodsBody,
    'GET /customers': { items: [customer('cus_globex', 'Globex'), customer('cus_initech', 'Initech')], nextCursor: null },
    'GET /credentials': listCredentials,
  });

const rowOf = (label: string) => screen.getByRole('link', { name: label }).closest('tr') as HTMLElement;

describe('CredentialList', () => {
  it('shows each credential with its auth method, level, customer, status and last update', async () => {
    setup();
    renderScreen(<CredentialList scope={{}} showCustomer />);

    await screen.findByRole('link', { name: 'Globex Dropbox' });
    const dropbox = within(rowOf('Globex Dropbox'));
    expect(await dropbox.findByText('OAuth 2.0')).toBeInTheDocument();
    expect(dropbox.getByText('Customer')).toBeInTheDocument();
    expect(await dropbox.findByRole('link', { name: 'Globex' })).toHaveAttribute('href', '/customers/cus_globex/credentials');
    expect(dropbox.getByText('Authorized')).toBeInTheDocument();
    expect(screen.getAllByRole('columnheader').map((th) => th.textContent)).toEqual(['Name', 'Auth method', 'Level', 'Customer', 'Status', 'Health', 'Expires', 'Last updated']);
    expect(rowOf('Globex Dropbox').querySelector('time')).toHaveAttribute('dateTime', '2025-03-04T10:00:00.000Z');

    expect(within(rowOf('Globex SFTP')).getByText('Last test failed')).toBeInTheDocument();
    expect(within(rowOf('Shared Dropbox')).getByText('Organization')).toBeInTheDocument();
    expect(within(rowOf('Shared Dropbox')).getByText('Needs reauthorization')).toBeInTheDocument();
    expect(within(rowOf('Initech Box')).getByText('Pending authorization')).toBeInTheDocument();
  });

  it('shows each credential’s health as a badge titled with its message and since when', async () => {
    setup();
    renderScreen(<CredentialList scope={{}} showCustomer />);
    await screen.findByRole('link', { name: 'Globex SFTP' });

    const failing = within(rowOf('Globex SFTP')).getByText('Failing');
    expect(failing).toHaveClass('badge', 'badge-error');
    expect(failing.closest('td')).toHaveAttribute('data-label', 'Health');
    expect(failing).toHaveAttribute('title', expect.stringMatching(/^Authentication failed · since .*2025/));
    expect(within(rowOf('Globex Dropbox')).getByText('Healthy')).toHaveClass('badge-ok');
    expect(within(rowOf('AWS')).getByText('Not checked')).toHaveClass('badge-neutral');
    expect(within(rowOf('AWS')).getByText('Not checked')).toHaveAttribute('title', expect.stringMatching(/^Not checked yet · since /));
  });

  it('filters by health, asking the API with health= and keeping it in the address', async () => {
    const { callsTo } = setup();
    const user = userEvent.setup();
    renderScreen(<CredentialList scope={{}} showCustomer />, { route: '/credentials' });
    await screen.findByRole('link', { name: 'AWS' });

    await user.selectOptions(screen.getByRole('combobox', { name: 'Health' }), 'Failing');

    await waitFor(() => expect(screen.queryByRole('link', { name: 'AWS' })).not.toBeInTheDocument());
    expect(screen.getAllByRole('row')).toHaveLength(2);
    expect(within(rowOf('Globex SFTP')).getByText('Failing')).toBeInTheDocument();
    expect(callsTo('GET', '/credentials').at(-1)?.query.get('health')).toBe('failing');
    expect(screen.getByTestId('location')).toHaveTextContent('/credentials?health=failing');

    await user.selectOptions(screen.getByRole('combobox', { name: 'Health' }), 'Degraded');
    expect(await screen.findByText('No credentials with health “Degraded”.')).toBeInTheDocument();
  });

  it('starts from the health in the address', async () => {
    const { callsTo } = setup();
    renderScreen(<CredentialList scope={{}} />, { route: '/credentials?health=healthy' });

    expect(await screen.findByRole('link', { name: 'Globex Dropbox' })).toBeInTheDocument();
    expect(screen.getByRole('combobox', { name: 'Health' })).toHaveValue('healthy');
    expect(screen.getAllByRole('row')).toHaveLength(2);
    expect(callsTo('GET', '/credentials')[0]?.query.get('health')).toBe('healthy');
  });

  it('filters by label with the search bar, asking the API with search=', async () => {
    const { callsTo } = setup();
    const user = userEvent.setup();
    renderScreen(<CredentialList scope={{}} showCustomer />);
    await screen.findByRole('link', { name: 'AWS' });

    await user.type(screen.getByRole('searchbox', { name: 'Search credentials by label' }), 'dropbox');

    await waitFor(() => expect(screen.queryByRole('link', { name: 'AWS' })).not.toBeInTheDocument());
    expect(screen.getByRole('link', { name: 'Globex Dropbox' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Shared Dropbox' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Globex SFTP' })).not.toBeInTheDocument();
    expect(callsTo('GET', '/credentials').at(-1)?.query.get('search')).toBe('dropbox');
  });

  it('says so when nothing matches the search', async () => {
    setup();
    const user = userEvent.setup();
    renderScreen(<CredentialList scope={{}} />, { route: '/credentials' });
    await screen.findByRole('link', { name: 'AWS' });

    await user.type(screen.getByRole('searchbox'), 'zzz');

    expect(await screen.findByText('No credential matches “zzz”.')).toBeInTheDocument();
    expect(screen.getByTestId('location')).toHaveTextContent('/credentials?search=zzz');
  });

  it('lists only organization-level credentials under Settings', async () => {
    const { callsTo } = setup();
    renderScreen(<CredentialList scope={{ level: 'organization' }} />);

    expect(await screen.findByRole('link', { name: 'Shared Dropbox' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Globex Dropbox' })).not.toBeInTheDocument();
    expect(callsTo('GET', '/credentials')[0]?.query.get('level')).toBe('organization');
  });

  it('lists one customer’s credentials under that customer', async () => {
    const { callsTo } = setup();
    renderScreen(<CredentialList scope={{ level: 'customer', customerId: 'cus_initech' }} />);

    expect(await screen.findByRole('link', { name: 'AWS' })).toBeInTheDocument();
    expect(screen.getAllByRole('row')).toHaveLength(3);
    expect(callsTo('GET', '/credentials')[0]?.query.get('customerId')).toBe('cus_initech');
  });

  it('shows each expiry as a countdown badge and sorts by the earliest with ?sort=expires', async () => {
    const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
    mockApi({
      'GET /auth-methods': authMethodsBody,
      'GET /customers': { items: [], nextCursor: null },
      'GET /credentials': {
        items: [
          credential({ id: 'cred_a', label: 'No date', authMethod: 'api_key' }),
          credential({ id: 'cred_b', label: 'Later', authMethod: 'api_key', expiresAt: inDays(20) }),
          credential({ id: 'cred_c', label: 'Azure app', authMethod: 'oauth2', expiresAt: inDays(90), clientSecretExpiresAt: inDays(5) }),
          credential({ id: 'cred_d', label: 'Gone', authMethod: 'basic', expiresAt: inDays(-3) }),
        ],
        nextCursor: null,
      },
    });
    const user = userEvent.setup();
    renderScreen(<CredentialList scope={{}} />, { route: '/credentials' });
    await screen.findByRole('link', { name: 'Later' });
    const names = () => screen.getAllByRole('link').map((link) => link.textContent);
    expect(names()).toEqual(['No date', 'Later', 'Azure app', 'Gone']);

    expect(within(rowOf('Later')).getByText('Expires in 20 days')).toHaveClass('badge', 'badge-warn');
    expect(within(rowOf('Later')).getByText('Expires in 20 days').closest('td')).toHaveAttribute('data-label', 'Expires');
    expect(within(rowOf('Azure app')).getByText('Expires in 90 days')).toHaveClass('badge-neutral');
    expect(within(rowOf('Azure app')).getByText('Client secret expires in 5 days')).toHaveClass('badge-error');
    expect(within(rowOf('Gone')).getByText('Expired 3 days ago')).toHaveClass('badge-error');
    expect(rowOf('No date').querySelector('td[data-label="Expires"]')).toHaveTextContent('—');

    await user.selectOptions(screen.getByRole('combobox', { name: 'Sort' }), 'Expires first');
    expect(names()).toEqual(['Gone', 'Azure app', 'Later', 'No date']);
    expect(screen.getByTestId('location')).toHaveTextContent('/credentials?sort=expires');
  });

  it('starts sorted by expiry when the address says so', async () => {
    mockApi({
      'GET /auth-methods': authMethodsBody,
      'GET /customers': { items: [], nextCursor: null },
      'GET /credentials': {
        items: [
          credential({ id: 'cred_a', label: 'Far', authMethod: 'api_key', expiresAt: '2031-01-01T00:00:00.000Z' }),
          credential({ id: 'cred_b', label: 'Near', authMethod: 'api_key', expiresAt: '2030-01-01T00:00:00.000Z' }),
        ],
        nextCursor: null,
      },
    });
    renderScreen(<CredentialList scope={{}} />, { route: '/credentials?sort=expires' });

    await screen.findByRole('link', { name: 'Near' });
    expect(screen.getByRole('combobox', { name: 'Sort' })).toHaveValue('expires');
    expect(screen.getAllByRole('link').map((link) => link.textContent)).toEqual(['Near', 'Far']);
  });
});
