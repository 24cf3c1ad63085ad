import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockApi, reply } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { EndpointPage } from './endpoint-page.js';
import { endpoint } from './fixtures.js';

const NEW_SECRET = 'whsec_QmFzZTY0IHNlY3JldCBmb3IgdGVzdHM=';
const ROUTES = { 'GET /webhook-endpoints/whe_1': endpoint(), 'GET /webhook-endpoints/whe_1/deliveries': { items: [], nextCursor: null } };
const renderPage = () => renderScreen(<EndpointPage />, { route: '/settings/webhooks/whe_1', path: '/settings/webhooks/:id' });

describe('EndpointPage', () => {
  it('rotates the secret with the chosen overlap and shows the new one once', async () => {
    const rotatedUntil = '2025-03-12T10:00:00.000Z';
    const { callsTo } = mockApi({ ...ROUTES, 'POST /webhook-endpoints/whe_1/rotate-secret': { ...endpoint({ previousSecretExpiresAt: rotatedUntil }), secret: NEW_SECRET } });
    const user = userEvent.setup();
    renderPage();

    const form = await screen.findByRole('form', { name: 'Signing secret' });
    expect(within(form).getByLabelText('Keep the old secret signing for')).toHaveValue('86400');
    await user.selectOptions(within(form).getByLabelText('Keep the old secret signing for'), '7 days');
    await user.click(within(form).getByRole('button', { name: 'Rotate secret' }));

    const shown = await screen.findByRole('region', { name: 'New signing secret' });
    expect(within(shown).getByLabelText('Signing secret')).toHaveTextContent(NEW_SECRET);
    expect(shown).toHaveTextContent('you will not see it again');
    expect(callsTo('POST', '/webhook-endpoints/whe_1/rotate-secret')[0]?.body).toEqual({ overlapSeconds: 604800 });
    const summary = screen.getByRole('region', { name: 'https://hooks.acme.example/credence' });
    expect(within(summary).getByText(/^Secret rotating until/).querySelector('time')).toHaveAttribute('dateTime', rotatedUntil);

    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    expect(document.body).not.toHaveTextContent(NEW_SECRET);
    expect(screen.getByRole('form', { name: 'Signing secret' })).toBeInTheDocument();
  });

  it('rotates with no overlap when asked', async () => {
    const { callsTo } = mockApi({ ...ROUTES, 'POST /webhook-endpoints/whe_1/rotate-secret': { ...endpoint(), secret: NEW_SECRET } });
    const user = userEvent.setup();
    renderPage();
    await user.selectOptions(await screen.findByLabelText('Keep the old secret signing for'), 'No overlap: the old secret stops now');
    await user.click(screen.getByRole('button', { name: 'Rotate secret' }));
    await screen.findByRole('region', { name: 'New signing secret' });
    expect(callsTo('POST', '/webhook-endpoints/whe_1/rotate-secret')[0]?.body).toEqual({ overlapSeconds: 0 });
  });

  it('changes the URL, events and description with a PATCH', async () => {
    const saved = endpoint({ url: 'https://hooks.acme.example/v2', events: ['credential.deleted'], description: 'Ops' });
    const { callsTo } = mockApi({ ...ROUTES, 'PATCH /webhook-endpoints/whe_1': saved });
    const user = userEvent.setup();
    renderPage();

    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    const form = screen.getByRole('form', { name: 'Change endpoint' });
    await user.clear(within(form).getByLabelText('URL'));
    await user.type(within(form).getByLabelText('URL'), 'https://hooks.acme.example/v2');
    await user.clear(within(form).getByLabelText('Description'));
    await user.type(within(form).getByLabelText('Description'), 'Ops');
    await user.click(within(form).getByRole('checkbox', { name: /^A credential needs reauthorization/ }));
    await user.click(within(form).getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByText('Changes saved.')).toBeInTheDocument();
    expect(callsTo('PATCH', '/webhook-endpoints/whe_1')[0]?.body).toEqual({ url: 'https://hooks.acme.example/v2', events: ['credential.deleted'], description: 'Ops' });
    expect(screen.getByRole('region', { name: 'https://hooks.acme.example/v2' })).toBeInTheDocument();
  });

  it('deletes the endpoint only after a confirmation, then goes back to the list', async () => {
    const { callsTo } = mockApi({ ...ROUTES, 'DELETE /webhook-endpoints/whe_1': reply(204) });
    const user = userEvent.setup();
    renderPage();

    await user.click(await screen.findByRole('button', { name: 'Delete endpoint' }));
    expect(callsTo('DELETE', '/webhook-endpoints/whe_1')).toHaveLength(0);
    expect(screen.getByText(/and all its deliveries\?$/)).toHaveTextContent('Delete https://hooks.acme.example/credence and all its deliveries?');
    await user.click(screen.getByRole('button', { name: 'Delete for good' }));

    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/settings/webhooks'));
    expect(callsTo('DELETE', '/webhook-endpoints/whe_1')).toHaveLength(1);
  });
});
