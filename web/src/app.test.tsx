import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';
import { App } from './app.js';
import { createQueryClient } from './query-client.js';
import { authMethodsBody, credential, customer } from './test/fixtures.js';
import { apiError, mockApi, reply, type ApiCall } from './test/mock-api.js';
import { ORG_ADMIN, customerUser } from './test/render.js';

const renderApp = (route: string) =>
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[route]}>
        <App />
      </MemoryRouter>
    </QueryClientProvider>,
  );

const CREDENTIALS = [
  credential({ id: 'cred_org', label: 'Shared Dropbox', authMethod: 'oauth2' }),
  credential({ id: 'cred_gx', label: 'Globex SFTP', authMethod: 'basic', customerId: 'cus_globex' }),
];
const listCredentials = ({ query }: ApiCall) => ({ items: CREDENTIALS.filter((c) => !query.get('level') || c.level === query.get('level')), nextCursor: null });
const common = {
  'GET /auth-methods': authMethodsBody,
  'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
  'GET /credentials': listCredentials,
};

describe('the app', () => {
  it('offers first-run setup on a fresh install and signs the new admin in', async () => {
    let signedIn = false;
    const { callsTo } = mockApi({
      ...common,
      'GET /session': () => (signedIn ? { user: ORG_ADMIN, csrfToken: 't' } : apiError(401, 'UNAUTHENTICATED', 'Not signed in')),
      'GET /setup': { needsSetup: true },
      'POST /setup': () => {
        signedIn = true;
        return reply(201, { user: ORG_ADMIN, csrfToken: 't' });
      },
    });
    const user = userEvent.setup();
    renderApp('/credentials');

    expect(await screen.findByRole('heading', { name: 'Set up Credence' })).toBeInTheDocument();
    await user.type(screen.getByLabelText('Organization name'), 'Acme Integrations');
    await user.type(screen.getByLabelText('Admin email'), 'admin@acme.example');
    await user.type(screen.getByLabelText('Password'), 'short');
    await user.type(screen.getByLabelText('Repeat password'), 'short');
    await user.click(screen.getByRole('button', { name: 'Create organization' }));
    expect(screen.getByRole('alert')).toHaveTextContent('at least 12 characters');

    await user.clear(screen.getByLabelText('Password'));
    await user.clear(screen.getByLabelText('Repeat password'));
    await user.type(screen.getByLabelText('Password'), 'a long enough password');
    await user.type(screen.getByLabelText('Repeat password'), 'a long enough password');
    await user.click(screen.getByRole('button', { name: 'Create organization' }));

    expect(await screen.findByRole('heading', { name: 'Customers' })).toBeInTheDocument();
    expect(callsTo('POST', '/setup')[0]?.body).toEqual({ organizationName: 'Acme Integrations', email: 'admin@acme.example', password: 'a long enough password' });
  });

  it('sends a signed-out visitor to sign in, shows a wrong password, then returns to the page asked for', async () => {
    mockApi({
      ...common,
      'GET /session': apiError(401, 'UNAUTHENTICATED', 'Not signed in'),
      'GET /setup': { needsSetup: false },
      'POST /sessions': ({ body }: ApiCall) =>
        (body as { password: string }).password === 'right password!' ? { user: ORG_ADMIN, csrfToken: 't' } : apiError(401, 'INVALID_CREDENTIALS', 'The email or password is not right'),
    });
    const user = userEvent.setup();
    renderApp('/settings/credentials');

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    await user.type(screen.getByLabelText('Email'), 'admin@acme.example');
    await user.type(screen.getByLabelText('Password'), 'wrong password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The email or password is not right');

    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'right password!');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Settings' })).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: 'Shared Dropbox' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Globex SFTP' })).not.toBeInTheDocument();
  });

  it('asks which organization when an email signs in to several, and signs in to the one named', async () => {
    const { callsTo } = mockApi({
      ...common,
      'GET /session': apiError(401, 'UNAUTHENTICATED', 'Not signed in'),
      'GET /setup': { needsSetup: false },
      'POST /sessions': ({ body }: ApiCall) =>
        (body as { organization?: string }).organization === 'Acme'
          ? { user: ORG_ADMIN, csrfToken: 't' }
          : apiError(409, 'ORGANIZATION_REQUIRED', 'This email signs in to several organizations; say which: Acme, Globex'),
    });
    const user = userEvent.setup();
    renderApp('/settings/credentials');

    await user.type(await screen.findByLabelText('Email'), 'admin@acme.example');
    await user.type(screen.getByLabelText('Password'), 'right password!');
    expect(screen.queryByLabelText('Organization')).not.toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('say which: Acme, Globex');
    await user.type(screen.getByLabelText('Organization'), 'Acme');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Settings' })).toBeInTheDocument();
    expect(callsTo('POST', '/sessions').map((c) => (c.body as { organization?: string }).organization)).toEqual([undefined, 'Acme']);
  });

  it('shows a customer user only its customer’s screens, and no organization credentials', async () => {
    const { callsTo } = mockApi({ ...common, 'GET /session': { user: customerUser('cus_globex'), csrfToken: 't' } });
    renderApp('/settings/credentials');

    const nav = await screen.findByRole('navigation', { name: 'Main' });
    expect(within(nav).getAllByRole('link').map((a) => a.textContent)).toEqual(['Credentials', 'Integrations', 'Instances']);
    expect(screen.getByRole('heading', { name: 'Not available' })).toBeInTheDocument();
    await waitFor(() => expect(callsTo('GET', '/session')).toHaveLength(1));
    expect(callsTo('GET', '/credentials').filter((c) => c.query.get('level') === 'organization')).toHaveLength(0);
  });

  it('offers Settings → Webhooks to organization admins only', async () => {
    const { callsTo } = mockApi({ ...common, 'GET /session': { user: { ...ORG_ADMIN, role: 'org_member' }, csrfToken: 't' } });
    renderApp('/settings/webhooks');

    expect(await screen.findByRole('heading', { name: 'Not available' })).toBeInTheDocument();
    expect(within(screen.getByRole('navigation', { name: 'Settings' })).getAllByRole('link').map((a) => a.textContent)).toEqual(['Credentials']);
    expect(callsTo('GET', '/webhook-endpoints')).toHaveLength(0);
  });

  it('shows an organization admin the Webhooks tab and its endpoints', async () => {
    mockApi({ ...common, 'GET /session': { user: ORG_ADMIN, csrfToken: 't' }, 'GET /webhook-endpoints': { items: [] } });
    renderApp('/settings/webhooks');

    expect(await screen.findByText('No webhook endpoints yet.')).toBeInTheDocument();
    const tabs = within(screen.getByRole('navigation', { name: 'Settings' }));
    expect(tabs.getAllByRole('link').map((a) => a.textContent)).toEqual(['Credentials', 'Users', 'Webhooks']);
    expect(tabs.getByRole('link', { name: 'Webhooks' })).toHaveAttribute('aria-current', 'page');
  });

  it('signs out', async () => {
    let signedIn = true;
    mockApi({
      ...common,
      'GET /session': () => (signedIn ? { user: ORG_ADMIN, csrfToken: 't' } : apiError(401, 'UNAUTHENTICATED', 'Not signed in')),
      'GET /setup': { needsSetup: false },
      'DELETE /session': () => {
        signedIn = false;
        return reply(204);
      },
    });
    const user = userEvent.setup();
    renderApp('/credentials');

    await user.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });
});
