import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { REDIRECT_URI, authMethodsBody, credential, customer, providersBody } from '../test/fixtures.js';
import { apiError, mockApi, reply } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { CredentialForm } from './credential-form.js';

const dropbox = providersBody.items.find((p) => p.key === 'dropbox');

const api = (extra: Record<string, unknown> = {}) =>
  mockApi({
    'GET /auth-methods': authMethodsBody,
    'GET /oauth2/providers': providersBody,
    'GET /oauth2/redirect-uri': { redirectUri: REDIRECT_URI },
    'GET /customers': { items: [customer('cus_globex', 'Globex')], nextCursor: null },
    'POST /credentials': ({ body }: { body: { label: string; authMethod: 'basic' } }) => reply(201, credential({ id: 'cred_new', label: body.label, authMethod: body.authMethod })),
    ...extra,
  });

const chooseMethod = async (user: ReturnType<typeof userEvent.setup>, name: string) =>
  user.selectOptions(await screen.findByLabelText(/Authorization method/), name);

/** The labels of the inputs shown for the chosen method. */
const fieldNames = () => {
  const group = screen.getByRole('group', { name: /fields$/ });
  return [...group.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input, textarea')].map((el) => el.labels?.[0]?.textContent?.replace('*', '').trim());
};

describe('CredentialForm', () => {
  it('asks for exactly the fields of the chosen auth method, and changes them with it', async () => {
    api();
    const user = userEvent.setup();
    renderScreen(<CredentialForm scope={{ kind: 'organization' }} onCreated={vi.fn()} />);

    await chooseMethod(user, 'Basic Auth');
    expect(screen.getByLabelText(/^Username/)).toBeInTheDocument();
    expect(screen.getByLabelText(/^Password/)).toHaveAttribute('type', 'password');
    expect(screen.queryByLabelText(/^API Key/)).not.toBeInTheDocument();
    expect(fieldNames().sort()).toEqual(['Password', 'Username']);

    await chooseMethod(user, 'API Key / Secret');
    expect(fieldNames().sort()).toEqual(['API Key', 'API Secret']);
    expect(screen.queryByLabelText(/^Username/)).not.toBeInTheDocument();

    await chooseMethod(user, 'Private Key');
    expect(screen.getByLabelText(/^Private Key/).tagName).toBe('TEXTAREA');

    await chooseMethod(user, 'OAuth 2.0');
    expect(fieldNames().sort()).toEqual(['Access Token URL', 'Authorization URL', 'Client ID', 'Client Secret', 'Scopes']);
  });

  it('fills the URLs and scopes from the OAuth 2.0 provider preset and shows the redirect URI to copy', async () => {
    const { callsTo } = api();
    const user = userEvent.setup();
    const onCreated = vi.fn();
    renderScreen(<CredentialForm scope={{ kind: 'customer', customerId: 'cus_globex' }} onCreated={onCreated} />);

    await chooseMethod(user, 'OAuth 2.0');
    await user.selectOptions(await screen.findByLabelText('Provider preset'), 'Dropbox');
    expect(screen.getByLabelText(/^Authorization URL/)).toHaveValue(dropbox?.authUri);
    expect(screen.getByLabelText(/^Access Token URL/)).toHaveValue(dropbox?.tokenUri);
    expect(screen.getByLabelText(/^Scopes/)).toHaveValue(dropbox?.defaultScopes);
    expect(await screen.findByText(REDIRECT_URI)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Copy redirect URI' })).toBeInTheDocument();

    await user.type(screen.getByLabelText(/^Name/), 'Globex Dropbox');
    await user.type(screen.getByLabelText(/^Client ID/), 'app-key');
    await user.type(screen.getByLabelText(/^Client Secret/), 'app-secret');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));

    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(callsTo('POST', '/credentials')[0]?.body).toEqual({
      label: 'Globex Dropbox',
      authMethod: 'oauth2',
      customerId: 'cus_globex',
      provider: 'dropbox',
      grantType: 'authorization_code',
      fields: { client_id: 'app-key', client_secret: 'app-secret', auth_uri: dropbox?.authUri, token_uri: dropbox?.tokenUri, ...(dropbox?.defaultScopes ? { scopes: dropbox.defaultScopes } : {}) },
      destinations: ['https://api.dropboxapi.com', 'https://content.dropboxapi.com'],
    });
  });

  it('sends only the fields of the method finally chosen', async () => {
    const { callsTo } = api();
    const user = userEvent.setup();
    renderScreen(<CredentialForm scope={{ kind: 'organization' }} onCreated={vi.fn()} />);

    await chooseMethod(user, 'Basic Auth');
    await user.type(screen.getByLabelText(/^Username/), 'globex');
    await user.type(screen.getByLabelText(/^Password/), 'hunter2hunter2');
    await chooseMethod(user, 'API Key');
    expect(screen.getByLabelText(/^API Key/)).toHaveValue('');
    await user.type(screen.getByLabelText(/^API Key/), 'key-123');
    await user.type(screen.getByLabelText(/^Name/), 'Shared key');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));

    await waitFor(() => expect(callsTo('POST', '/credentials')).toHaveLength(1));
    expect(callsTo('POST', '/credentials')[0]?.body).toEqual({ label: 'Shared key', authMethod: 'api_key', fields: { api_key: 'key-123' } });
  });

  it('shows the API error message when the credential is refused', async () => {
    api({ 'POST /credentials': apiError(400, 'INVALID_FIELD', 'auth_uri must be an absolute https URL') });
    const user = userEvent.setup();
    renderScreen(<CredentialForm scope={{ kind: 'organization' }} onCreated={vi.fn()} />);

    await chooseMethod(user, 'API Key');
    await user.type(screen.getByLabelText(/^Name/), 'Key');
    await user.type(screen.getByLabelText(/^API Key/), 'k');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('auth_uri must be an absolute https URL');
  });

  it('sends the expiry dates and the extra alert address it was given', async () => {
    const { callsTo } = api();
    const user = userEvent.setup();
    renderScreen(<CredentialForm scope={{ kind: 'organization' }} onCreated={vi.fn()} />);

    await chooseMethod(user, 'OAuth 2.0');
    await user.selectOptions(await screen.findByLabelText('Provider preset'), 'Dropbox');
    await user.type(screen.getByLabelText(/^Name/), 'Azure app');
    await user.type(screen.getByLabelText(/^Client ID/), 'app-id');
    await user.type(screen.getByLabelText(/^Client Secret/), 'app-secret');
    expect(screen.getByLabelText('Client secret expires on')).toHaveAccessibleDescription(/Azure client secrets last at most 24 months/);
    expect(screen.getByLabelText('Also alert')).toHaveAccessibleDescription(/admins are always emailed/);
    await user.type(screen.getByLabelText('Expires on'), '2026-03-31');
    await user.type(screen.getByLabelText('Client secret expires on'), '2027-01-15');
    await user.type(screen.getByLabelText('Also alert'), ' it@globex.example ');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));

    await waitFor(() => expect(callsTo('POST', '/credentials')).toHaveLength(1));
    expect(callsTo('POST', '/credentials')[0]?.body).toMatchObject({
      label: 'Azure app',
      expiresAt: '2026-03-31T00:00:00.000Z',
      clientSecretExpiresAt: '2027-01-15T00:00:00.000Z',
      contactEmail: 'it@globex.example',
    });
  });

  it('asks for a client secret date only for OAuth 2.0', async () => {
    const { callsTo } = api();
    const user = userEvent.setup();
    renderScreen(<CredentialForm scope={{ kind: 'organization' }} onCreated={vi.fn()} />);

    await chooseMethod(user, 'API Key');
    expect(screen.queryByLabelText('Client secret expires on')).not.toBeInTheDocument();
    await user.type(screen.getByLabelText(/^Name/), 'Key');
    await user.type(screen.getByLabelText(/^API Key/), 'k');
    await user.type(screen.getByLabelText('Expires on'), '2026-03-31');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));

    await waitFor(() => expect(callsTo('POST', '/credentials')).toHaveLength(1));
    expect(callsTo('POST', '/credentials')[0]?.body).toEqual({ label: 'Key', authMethod: 'api_key', fields: { api_key: 'k' }, expiresAt: '2026-03-31T00:00:00.000Z' });
  });
});
