import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { Credential } from '../api/types.js';
import { authMethodsBody, credential, customer, dropboxGrant } from '../test/fixtures.js';
import { mockApi, reply, type ApiCall } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { AUTHORIZATION_POLL_MS, CredentialPage } from './credential-page.js';
import { OAuthTab } from './oauth-tab.js';

type OAuth2 = NonNullable<Credential['oauth2']>;

const oauth2 = (status: Credential['status'], scopes: Partial<Pick<OAuth2, 'requestedScopes' | 'grantedScopes' | 'missingScopes'>> = {}): Credential =>
  credential({
    id: 'cred_dbx',
    label: 'Globex Dropbox',
    authMethod: 'oauth2',
    customerId: 'cus_globex',
    status,
    oauth2: dropboxGrant({ authorizedAt: status === 'authorized' ? '2025-05-01T10:00:00.000Z' : null, ...scopes }),
  });

const LINK = { url: 'https://credence.example.com/oauth2/authorize/lnk_abc', expiresAt: '2025-05-08T10:00:00.000Z' };

const setup = (statuses: Credential['status'][]) => {
  let reads = 0;
  return mockApi({
    'GET /auth-methods': authMethodsBody,
    'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
    'GET /credentials/cred_dbx': () => oauth2(statuses[Math.min(reads++, statuses.length - 1)] ?? 'pending_authorization'),
    'GET /credentials/cred_dbx/authorization-link': { active: true, expiresAt: LINK.expiresAt, createdAt: '2025-05-01T10:00:00.000Z' },
    'POST /credentials/cred_dbx/authorization-link': reply(201, LINK),
    'POST /credentials/cred_dbx/authorization-emails': reply(202, { sentTo: 'it@globex.example', expiresAt: LINK.expiresAt, delivery: { via: 'smtp', messageId: 'm1' } }),
  });
};

const renderPage = (route = '/credentials/cred_dbx/oauth2') =>
  renderScreen(
    <Routes>
      <Route path="/credentials/:id" element={<CredentialPage />}>
        <Route path="oauth2" element={<OAuthTab />} />
      </Route>
    </Routes>,
    { route },
  );

describe('the OAuth2 Authorization tab', () => {
  it('shows "Customer authorization complete" by itself once the customer has authorized', async () => {
    setup(['pending_authorization', 'authorized']);
    renderPage();

    expect(await screen.findByText(/Waiting for authorization/)).toBeInTheDocument();
    expect(screen.queryByText('Customer authorization complete')).not.toBeInTheDocument();

    expect(await screen.findByText('Customer authorization complete', {}, { timeout: AUTHORIZATION_POLL_MS + 2000 })).toBeInTheDocument();
    expect(screen.getByText('Customer authorization complete').closest('[aria-live]')).not.toBeNull();
  }, 10_000);

  it('emails the customer a link and shows when the open link expires', async () => {
    const { callsTo } = setup(['pending_authorization']);
    const user = userEvent.setup();
    renderPage();

    expect(await screen.findByText(/An authorization link is open until/)).toBeInTheDocument();
    await user.type(screen.getByLabelText('Customer email'), 'it@globex.example');
    await user.click(screen.getByRole('button', { name: 'Send email' }));

    expect(await screen.findByText(/Email sent to it@globex.example/)).toBeInTheDocument();
    expect(callsTo('POST', '/credentials/cred_dbx/authorization-emails')[0]?.body).toEqual({ email: 'it@globex.example' });
  });

  it('"Authorize now" issues a link and opens it in a new tab', async () => {
    const { callsTo } = setup(['pending_authorization']);
    const tab = { opener: {}, location: { href: 'about:blank' }, close: vi.fn() };
    const open = vi.spyOn(window, 'open').mockReturnValue(tab as unknown as Window);
    const user = userEvent.setup();
    renderPage();

    await user.click(await screen.findByRole('button', { name: 'Authorize now' }));

    await waitFor(() => expect(tab.location.href).toBe(LINK.url));
    expect(open).toHaveBeenCalledWith('', '_blank');
    expect(tab.opener).toBeNull();
    expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')).toHaveLength(1);
  });

  it('offers no account change before the first authorization', async () => {
    setup(['pending_authorization']);
    renderPage();

    await screen.findByRole('button', { name: 'Authorize now' });
    expect(screen.queryByRole('checkbox', { name: 'Allow connecting a different account' })).not.toBeInTheDocument();
  });

  it('once authorized, asks for the same account unless "Allow connecting a different account" is ticked', async () => {
    const { callsTo } = setup(['authorized']);
    const tab = { opener: {}, location: { href: 'about:blank' }, close: vi.fn() };
    vi.spyOn(window, 'open').mockReturnValue(tab as unknown as Window);
    const user = userEvent.setup();
    renderPage();

    const allow = await screen.findByRole('checkbox', { name: 'Allow connecting a different account' });
    expect(allow).not.toBeChecked();
    expect(allow).toHaveAccessibleDescription('Without this, the customer must sign in as the account this connection belongs to.');

    await user.click(screen.getByRole('button', { name: 'Authorize now' }));
    await waitFor(() => expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')).toHaveLength(1));
    expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')[0]?.body).toEqual({});

    await user.click(allow);
    await user.click(screen.getByRole('button', { name: 'Authorize now' }));
    await waitFor(() => expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')).toHaveLength(2));
    expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')[1]?.body).toEqual({ allowAccountChange: true });

    await user.type(screen.getByLabelText('Customer email'), 'it@globex.example');
    await user.click(screen.getByRole('button', { name: 'Send email' }));
    await waitFor(() => expect(callsTo('POST', '/credentials/cred_dbx/authorization-emails')).toHaveLength(1));
    expect(callsTo('POST', '/credentials/cred_dbx/authorization-emails')[0]?.body).toEqual({ email: 'it@globex.example', allowAccountChange: true });
    expect(await screen.findByText(/Email sent to it@globex.example/)).toHaveTextContent(/and may connect a different account\.$/);
  });

  describe('Scopes', () => {
    const PARTLY_GRANTED = { requestedScopes: ['files.metadata.read', 'account_info.read'], grantedScopes: 'account_info.read', missingScopes: ['files.metadata.read'] };

    /** The credential as the server shows it; once a link asked for more, its scopes are the union. */
    const setupScopes = () => {
      let requested = PARTLY_GRANTED.requestedScopes;
      const api = mockApi({
        'GET /auth-methods': authMethodsBody,
        'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
        'GET /credentials/cred_dbx': () => oauth2('authorized', { ...PARTLY_GRANTED, requestedScopes: requested }),
        'GET /credentials/cred_dbx/authorization-link': { active: false, expiresAt: null, createdAt: null },
        'POST /credentials/cred_dbx/authorization-link': ({ body }: ApiCall) => {
          requested = [...new Set([...requested, ...((body as { addScopes?: string[] }).addScopes ?? [])])];
          return reply(201, LINK);
        },
        'POST /credentials/cred_dbx/authorization-emails': reply(202, { sentTo: 'it@globex.example', expiresAt: LINK.expiresAt, delivery: { via: 'smtp', messageId: 'm1' } }),
      });
      vi.spyOn(window, 'open').mockReturnValue({ opener: {}, location: { href: 'about:blank' }, close: vi.fn() } as unknown as Window);
      return api;
    };

    const chipsIn = (term: string) => {
      const region = screen.getByRole('region', { name: 'Scopes' });
      const definition = within(region).getByText(term, { selector: 'dt' }).nextElementSibling as HTMLElement;
      return within(definition).getAllByRole('listitem');
    };

    it('shows the requested and the granted scopes, the ones not granted highlighted', async () => {
      setupScopes();
      renderPage();

      const region = await screen.findByRole('region', { name: 'Scopes' });
      expect(chipsIn('Requested').map((chip) => chip.textContent)).toEqual(['files.metadata.read (not granted)', 'account_info.read']);
      expect(chipsIn('Requested')[0]).toHaveClass('badge-error');
      expect(chipsIn('Requested')[1]).not.toHaveClass('badge-error');
      expect(chipsIn('Granted').map((chip) => chip.textContent)).toEqual(['account_info.read']);
      expect(within(region).getByText('Not granted:').parentElement).toHaveTextContent(/^Not granted: files\.metadata\.read/);
      expect(screen.getByText('The next authorization also asks for:').parentElement).toHaveTextContent('files.metadata.read');
    });

    it('asks for the missing and the added scopes with "Authorize now", then shows the union as requested', async () => {
      const { callsTo } = setupScopes();
      const user = userEvent.setup();
      renderPage();

      await user.type(await screen.findByLabelText('Add scopes'), 'files.content.read  sharing.read account_info.read');
      await user.click(screen.getByRole('button', { name: 'Authorize now' }));

      await waitFor(() => expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')).toHaveLength(1));
      expect(callsTo('POST', '/credentials/cred_dbx/authorization-link')[0]?.body).toEqual({ addScopes: ['files.metadata.read', 'files.content.read', 'sharing.read'] });
      await waitFor(() => expect(chipsIn('Requested')).toHaveLength(4));
      expect(chipsIn('Requested').map((chip) => chip.textContent)).toEqual(['files.metadata.read (not granted)', 'account_info.read', 'files.content.read', 'sharing.read']);
      expect(screen.getByLabelText('Add scopes')).toHaveValue('');
    });

    it('sends the added scopes with the email, filled in from the address', async () => {
      const { callsTo } = setupScopes();
      const user = userEvent.setup();
      renderPage('/credentials/cred_dbx/oauth2?addScopes=files.content.read');

      expect(await screen.findByLabelText('Add scopes')).toHaveValue('files.content.read');
      await user.type(screen.getByLabelText('Customer email'), 'it@globex.example');
      await user.click(screen.getByRole('button', { name: 'Send email' }));

      await waitFor(() => expect(callsTo('POST', '/credentials/cred_dbx/authorization-emails')).toHaveLength(1));
      expect(callsTo('POST', '/credentials/cred_dbx/authorization-emails')[0]?.body).toEqual({ email: 'it@globex.example', addScopes: ['files.metadata.read', 'files.content.read'] });
    });
  });
});
