import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/events/event-types.js';
import { apiError, mockApi, reply } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { endpoint } from './fixtures.js';
import { WebhooksTab } from './webhooks-tab.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const renderTab = () => renderScreen(<WebhooksTab />, { route: '/settings/webhooks' });

describe('WebhooksTab', () => {
  it('lists each endpoint with its events as chips, its description, and until when its secret is rotating', async () => {
    mockApi({
      'GET /webhook-endpoints': {
        items: [
          endpoint(),
          endpoint({ id: 'whe_2', url: 'https://audit.acme.example/in', description: '', events: [...EVENT_TYPES], previousSecretExpiresAt: '2025-03-06T10:00:00.000Z' }),
        ],
      },
    });
    renderTab();

    const table = await screen.findByRole('table', { name: 'Webhook endpoints' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(within(rows[0]!).getByRole('link', { name: 'https://hooks.acme.example/credence' })).toHaveAttribute('href', '/settings/webhooks/whe_1');
    expect(rows[0]).toHaveTextContent('Ops alerts');
    expect(within(rows[0]!).getAllByText(/^(Deleted|Needs reauthorization)$/)).toHaveLength(2);
    expect(within(rows[1]!).getByText('All events')).toBeInTheDocument();
    expect(within(rows[1]!).getByText(/^Secret rotating until/).querySelector('time')).toHaveAttribute('dateTime', '2025-03-06T10:00:00.000Z');
  });

  it('adds an endpoint and shows its secret once, with how to verify, until Done', async () => {
    let listed = [] as ReturnType<typeof endpoint>[];
    const created = endpoint({ id: 'whe_new', url: 'https://hooks.acme.example/new', description: 'New hook', events: ['credential.reauthorization_required'] });
    const { callsTo } = mockApi({
      'GET /webhook-endpoints': () => ({ items: listed }),
      'POST /webhook-endpoints': () => {
        listed = [created];
        return reply(201, { ...created, secret: SECRET });
      },
    });
    const user = userEvent.setup();
    renderTab();

    await screen.findByText('No webhook endpoints yet.');
    await user.click(screen.getByRole('button', { name: '+ Endpoint' }));
    const form = screen.getByRole('form', { name: 'New endpoint' });
    await user.type(within(form).getByLabelText('URL'), 'https://hooks.acme.example/new');
    await user.type(within(form).getByLabelText('Description'), 'New hook');
    await user.click(within(form).getByRole('checkbox', { name: /^A credential needs reauthorization/ }));
    await user.click(within(form).getByRole('button', { name: 'Add endpoint' }));

    const shown = await screen.findByRole('region', { name: 'Endpoint added' });
    expect(within(shown).getByLabelText('Signing secret')).toHaveTextContent(SECRET);
    expect(shown).toHaveTextContent('https://hooks.acme.example/new');
    expect(shown).toHaveTextContent('you will not see it again');
    expect(shown).toHaveTextContent('webhook-id, webhook-timestamp and webhook-signature headers');
    expect(within(shown).getByRole('button', { name: 'Copy secret' })).toBeInTheDocument();
    expect(callsTo('POST', '/webhook-endpoints')[0]?.body).toEqual({ url: 'https://hooks.acme.example/new', events: ['credential.reauthorization_required'], description: 'New hook' });
    expect(screen.queryByRole('form', { name: 'New endpoint' })).not.toBeInTheDocument();
    const table = await screen.findByRole('table', { name: 'Webhook endpoints' });
    expect(table).not.toHaveTextContent(SECRET);

    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    expect(screen.queryByText(SECRET)).not.toBeInTheDocument();
    expect(document.body).not.toHaveTextContent(SECRET);
  });

  it('forgets the secret when the screen is left', async () => {
    mockApi({ 'GET /webhook-endpoints': { items: [] }, 'POST /webhook-endpoints': reply(201, { ...endpoint(), secret: SECRET }) });
    const user = userEvent.setup();
    const { unmount, client } = renderTab();
    await user.click(await screen.findByRole('button', { name: '+ Endpoint' }));
    await user.type(screen.getByLabelText('URL'), 'https://hooks.acme.example/credence');
    await user.click(screen.getByRole('checkbox', { name: 'All events' }));
    await user.click(screen.getByRole('button', { name: 'Add endpoint' }));
    await screen.findByLabelText('Signing secret');

    unmount();

    expect(JSON.stringify(client.getQueryCache().getAll().map((q) => q.state.data))).not.toContain(SECRET);
    await waitFor(() => expect(JSON.stringify(client.getMutationCache().getAll().map((m) => m.state.data))).not.toContain(SECRET));
  });

  it('ticks every event with All events, and asks for one before sending none', async () => {
    const { callsTo } = mockApi({ 'GET /webhook-endpoints': { items: [] } });
    const user = userEvent.setup();
    renderTab();
    await user.click(await screen.findByRole('button', { name: '+ Endpoint' }));
    const all = screen.getByRole('checkbox', { name: 'All events' });

    await user.click(all);
    expect(screen.getAllByRole('checkbox').filter((box) => (box as HTMLInputElement).checked)).toHaveLength(EVENT_TYPES.length + 1);
    await user.click(all);
    await user.type(screen.getByLabelText('URL'), 'https://hooks.acme.example/credence');
    await user.click(screen.getByRole('button', { name: 'Add endpoint' }));

    expect(screen.getByRole('alert')).toHaveTextContent('Choose at least one event.');
    expect(callsTo('POST', '/webhook-endpoints')).toHaveLength(0);
  });

  it('shows the server’s refusal of a URL as it is', async () => {
    mockApi({ 'GET /webhook-endpoints': { items: [] }, 'POST /webhook-endpoints': apiError(400, 'VALIDATION_FAILED', 'url must use https') });
    const user = userEvent.setup();
    renderTab();
    await user.click(await screen.findByRole('button', { name: '+ Endpoint' }));
    await user.type(screen.getByLabelText('URL'), 'http://hooks.acme.example/credence');
    await user.click(screen.getByRole('checkbox', { name: /^A credential was deleted/ }));
    await user.click(screen.getByRole('button', { name: 'Add endpoint' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Nothing was saved. url must use https (VALIDATION_FAILED)');
    expect(screen.queryByLabelText('Signing secret')).not.toBeInTheDocument();
  });
});
