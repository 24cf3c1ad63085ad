import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { describe, expect, it } from 'vitest';
import type { Credential } from '../api/types.js';
import { authMethodsBody, credential, customer } from '../test/fixtures.js';
import { apiError, mockApi } from '../test/mock-api.js';
import { customerUser, renderScreen } from '../test/render.js';
import { CredentialFieldsTab } from './credential-fields-tab.js';
import { CredentialPage } from './credential-page.js';

const SFTP = credential({
  id: 'cred_sftp',
  label: 'Globex SFTP',
  authMethod: 'basic',
  customerId: 'cus_globex',
  fields: { username: { set: true }, password: { set: true } },
  destinations: ['sftp://files.globex.example'],
});

type Changes = { label?: string; fields?: Record<string, string>; destinations?: string[] };

/** The API with one credential that a PATCH changes as the server would. */
const setup = (patch?: (body: Changes) => unknown) => {
  let stored: Credential = SFTP;
  return mockApi({
    'GET /auth-methods': authMethodsBody,
    'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
    'GET /credentials/cred_sftp': () => stored,
    'PATCH /credentials/cred_sftp': ({ body }: { body: Changes }) => {
      if (patch) return patch(body);
      stored = { ...stored, ...(body.label ? { label: body.label } : {}), ...(body.destinations ? { destinations: [...body.destinations].sort() } : {}) };
      return stored;
    },
  });
};

const renderPage = (options: { user?: ReturnType<typeof customerUser>; id?: string } = {}) =>
  renderScreen(
    <Routes>
      <Route path="/credentials/:id" element={<CredentialPage />}>
        <Route index element={<CredentialFieldsTab />} />
      </Route>
    </Routes>,
    { route: `/credentials/${options.id ?? 'cred_sftp'}`, ...(options.user ? { user: options.user } : {}) },
  );

const notice = /Changing where this secret may be sent needs every secret value again/;
const shownDestinations = () => within(screen.getByRole('list', { name: 'May be sent to' })).getAllByRole('listitem').map((item) => item.textContent);

describe('the Credentials tab’s destinations', () => {
  it('sends changed destinations together with every secret, re-entered, and shows the new list', async () => {
    const { callsTo } = setup();
    const user = userEvent.setup();
    renderPage();

    const editor = await screen.findByLabelText('Destinations');
    expect(editor).toHaveValue('sftp://files.globex.example');
    expect(shownDestinations()).toEqual(['sftp://files.globex.example']);

    await user.clear(editor);
    await user.type(editor, 'sftp://files.globex.example{Enter}sftp://backup.globex.example:2222');
    expect(screen.getByText(notice)).toHaveTextContent('needs every secret value again: Username, Password.');
    expect(screen.getByLabelText(/^Enter Username again/)).toBeRequired();
    expect(screen.getByLabelText(/^Enter Password again/)).toBeRequired();

    await user.type(screen.getByLabelText(/^Enter Username again/), 'globex');
    await user.type(screen.getByLabelText(/^Enter Password again/), 'hunter2hunter2');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    await waitFor(() => expect(callsTo('PATCH', '/credentials/cred_sftp')).toHaveLength(1));
    expect(callsTo('PATCH', '/credentials/cred_sftp')[0]?.body).toEqual({
      fields: { username: 'globex', password: 'hunter2hunter2' },
      destinations: ['sftp://files.globex.example', 'sftp://backup.globex.example:2222'],
    });
    expect(await screen.findByText('Saved.')).toBeInTheDocument();
    expect(shownDestinations()).toEqual(['sftp://backup.globex.example:2222', 'sftp://files.globex.example']);
    expect(screen.queryByText(notice)).not.toBeInTheDocument();
    expect(screen.getByLabelText(/^Replace Password/)).not.toBeRequired();
  });

  it('asks for the secrets only while the destinations differ from the stored ones', async () => {
    const { callsTo } = setup();
    const user = userEvent.setup();
    renderPage();

    const editor = await screen.findByLabelText('Destinations');
    expect(screen.queryByText(notice)).not.toBeInTheDocument();
    // The same origin, written another way, is no change.
    await user.clear(editor);
    await user.type(editor, '  SFTP://files.globex.example:22/ ');
    expect(screen.queryByText(notice)).not.toBeInTheDocument();
    expect(screen.getByLabelText(/^Replace Password/)).not.toBeRequired();

    await user.type(editor, '{Enter}https://api.globex.example');
    expect(screen.getByText(notice)).toBeInTheDocument();
    await user.clear(editor);
    await user.type(editor, 'sftp://files.globex.example');
    expect(screen.queryByText(notice)).not.toBeInTheDocument();

    // A new name alone saves without destinations or secrets.
    const name = screen.getByLabelText('Name');
    await user.clear(name);
    await user.type(name, 'Globex files');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(callsTo('PATCH', '/credentials/cred_sftp')).toHaveLength(1));
    expect(callsTo('PATCH', '/credentials/cred_sftp')[0]?.body).toEqual({ label: 'Globex files' });
  });

  it('warns in words that a credential with no destinations is sent nowhere', async () => {
    setup();
    const user = userEvent.setup();
    renderPage();

    await user.clear(await screen.findByLabelText('Destinations'));

    expect(screen.getByText(/With no destinations this secret is sent nowhere/)).toBeInTheDocument();
    expect(screen.getByText(notice)).toBeInTheDocument();
  });

  it('shows the server’s message when it still asks for the secrets', async () => {
    setup(() => apiError(409, 'SECRETS_REQUIRED', 'Changing destinations needs every secret of the credential entered again in the same request: password'));
    const user = userEvent.setup();
    renderPage();

    const editor = await screen.findByLabelText('Destinations');
    await user.type(editor, '{Enter}https://api.globex.example');
    await user.type(screen.getByLabelText(/^Enter Username again/), 'globex');
    await user.type(screen.getByLabelText(/^Enter Password again/), 'hunter2hunter2');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The changes were not saved.');
    expect(alert).toHaveTextContent('needs every secret of the credential entered again in the same request: password');
    expect(alert).toHaveTextContent('SECRETS_REQUIRED');
    expect(shownDestinations()).toEqual(['sftp://files.globex.example']);
  });

  it('lists the destinations for a customer user too', async () => {
    setup();
    renderPage({ user: customerUser('cus_globex') });

    await screen.findByRole('heading', { name: 'Globex SFTP' });
    expect(shownDestinations()).toEqual(['sftp://files.globex.example']);
  });
});

describe('the Credentials tab’s OAuth app fields', () => {
  it('asks for the client secret again, and says the authorization is dropped, when the token URL changes', async () => {
    const dropbox = credential({
      id: 'cred_dropbox',
      label: 'Northwind Dropbox',
      authMethod: 'oauth2',
      customerId: 'cus_globex',
      status: 'active',
      fields: {
        client_id: { set: true, value: 'dropbox-app' },
        client_secret: { set: true },
        auth_uri: { set: true, value: 'https://www.dropbox.com/oauth2/authorize' },
        token_uri: { set: true, value: 'https://api.dropboxapi.com/oauth2/token' },
      },
      destinations: ['https://api.dropboxapi.com'],
    });
    const { callsTo } = mockApi({
      'GET /auth-methods': authMethodsBody,
      'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
      'GET /credentials/cred_dropbox': dropbox,
      'PATCH /credentials/cred_dropbox': { ...dropbox, status: 'pending_authorization' },
    });
    const user = userEvent.setup();
    renderPage({ id: 'cred_dropbox' });

    const tokenUrl = await screen.findByLabelText('Access Token URL');
    expect(screen.queryByText(/drops the authorization/)).not.toBeInTheDocument();
    await user.clear(tokenUrl);
    await user.type(tokenUrl, 'https://api.dropboxapi.com/oauth2/token2');
    expect(screen.getByText(/drops the authorization/)).toHaveTextContent('needs every secret value again (Client Secret)');
    const secret = screen.getByLabelText(/^Enter Client Secret again/);
    expect(secret).toBeRequired();
    await user.type(secret, 'a-new-app-secret');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(callsTo('PATCH', '/credentials/cred_dropbox')).toHaveLength(1));
    expect(callsTo('PATCH', '/credentials/cred_dropbox')[0]?.body).toEqual({ fields: { client_secret: 'a-new-app-secret', token_uri: 'https://api.dropboxapi.com/oauth2/token2' } });
  });
});

describe('the Credentials tab’s expiry and alerts', () => {
  const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();

  const withExpiry = (patch: (body: Record<string, unknown>) => unknown) => {
    const stored = { ...SFTP, expiresAt: inDays(5), contactEmail: 'ops@globex.example' };
    return mockApi({
      'GET /auth-methods': authMethodsBody,
      'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
      'GET /credentials/cred_sftp': stored,
      'PATCH /credentials/cred_sftp': ({ body }: { body: Record<string, unknown> }) => patch(body) ?? { ...stored, ...body },
    });
  };

  it('shows the countdown in the header and sends only what changed, null for a cleared value', async () => {
    const { callsTo } = withExpiry(() => undefined);
    const user = userEvent.setup();
    renderPage();

    const badge = await screen.findByText('Expires in 5 days');
    expect(badge).toHaveClass('badge', 'badge-error');
    expect(badge.closest('.subtitle')).not.toBeNull();
    const date = screen.getByLabelText('Expires on');
    expect(date).toHaveValue(new Date(Date.parse(inDays(5))).toISOString().slice(0, 10));
    expect(screen.getByLabelText('Also alert')).toHaveValue('ops@globex.example');
    expect(screen.queryByLabelText('Client secret expires on')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Save changes' })).toBeDisabled();

    await user.clear(date);
    await user.clear(screen.getByLabelText('Also alert'));
    await user.type(screen.getByLabelText('Also alert'), 'it@globex.example');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    await waitFor(() => expect(callsTo('PATCH', '/credentials/cred_sftp')).toHaveLength(1));
    expect(callsTo('PATCH', '/credentials/cred_sftp')[0]?.body).toEqual({ expiresAt: null, contactEmail: 'it@globex.example' });
    expect(await screen.findByText('Saved.')).toBeInTheDocument();
  });

  it('shows the server’s message when it refuses the alert address', async () => {
    withExpiry(() => apiError(400, 'VALIDATION_FAILED', 'contactEmail must be an email address'));
    const user = userEvent.setup();
    renderPage();

    // The browser takes an address without a dot in its domain; the server does not.
    const email = await screen.findByLabelText('Also alert');
    await user.clear(email);
    await user.type(email, 'it@globex');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The changes were not saved.');
    expect(alert).toHaveTextContent('contactEmail must be an email address');
  });
});
