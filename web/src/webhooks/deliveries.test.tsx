import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockApi, reply } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { Deliveries } from './deliveries.js';
import { delivery } from './fixtures.js';

const PATH = '/webhook-endpoints/whe_1/deliveries';
const FAILED = delivery({
  id: 'whd_2',
  eventType: 'credential.reauthorization_required',
  status: 'failed',
  attempts: 2,
  deliveredAt: null,
  attemptLog: [
    { at: '2025-03-05T10:00:00.000Z', ok: false, responseStatus: 500, latencyMs: 120, error: 'The endpoint answered 500' },
    { at: '2025-03-05T10:00:05.000Z', ok: false, responseStatus: null, latencyMs: 15000, error: 'The endpoint did not answer in time' },
  ],
});
const RETRYING = delivery({ id: 'whd_3', status: 'pending', attempts: 1, deliveredAt: null, nextAttemptAt: '2099-01-01T00:05:00.000Z', attemptLog: [] });

const renderDeliveries = () => renderScreen(<Deliveries endpointId="whe_1" />, { route: '/settings/webhooks/whe_1' });
const rowsOf = async () => within(await screen.findByRole('table', { name: 'Deliveries, newest first' })).getAllByRole('row').slice(1);

describe('Deliveries', () => {
  it('shows each delivery’s event, status, attempts and creation, and its attempts on request', async () => {
    mockApi({ [`GET ${PATH}`]: { items: [RETRYING, FAILED, delivery({ id: 'whd_1' })], nextCursor: null } });
    const user = userEvent.setup();
    renderDeliveries();

    const rows = await rowsOf();
    expect(rows.map((row) => within(row).getAllByRole('cell').slice(0, 3).map((cell) => cell.textContent))).toEqual([
      ['A credential was deletedcredential.deleted', expect.stringMatching(/^Retrying — next attempt ./), '1Show attempts'],
      ['A credential needs reauthorizationcredential.reauthorization_required', 'Failed', '2Show attempts'],
      ['A credential was deletedcredential.deleted', 'Delivered', '1Show attempts'],
    ]);
    expect(within(rows[0]!).getByText(/^Retrying/).querySelector('time')).toHaveAttribute('dateTime', '2099-01-01T00:05:00.000Z');
    expect(within(rows[1]!).getByText('Failed')).toHaveClass('badge-error');

    await user.click(within(rows[1]!).getByRole('button', { name: 'Show attempts' }));
    const attempts = within(screen.getByRole('list', { name: 'Attempts, oldest first' }));
    expect(attempts.getAllByRole('listitem').map((item) => item.textContent)).toEqual([
      expect.stringMatching(/Answered 500120 ms$/),
      expect.stringMatching(/The endpoint did not answer in time15000 ms$/),
    ]);
    expect(screen.getByText('msg_whd_2')).toBeInTheDocument();
    expect(within(rows[1]!).getByRole('button', { name: 'Hide attempts' })).toHaveAttribute('aria-expanded', 'true');
  });

  it('resends a delivery with a POST to its resend address, then reads the list again', async () => {
    let resent = false;
    const { callsTo } = mockApi({
      [`GET ${PATH}`]: () => ({ items: [resent ? { ...FAILED, status: 'delivered', attempts: 3 } : FAILED], nextCursor: null }),
      [`POST ${PATH}/whd_2/resend`]: () => {
        resent = true;
        return reply(202);
      },
    });
    const user = userEvent.setup();
    renderDeliveries();

    const [row] = await rowsOf();
    await user.click(within(row!).getByRole('button', { name: /^Resend/ }));

    await waitFor(() => expect(callsTo('POST', `${PATH}/whd_2/resend`)).toHaveLength(1));
    expect(await within(row!).findByText('Delivered')).toHaveClass('badge-ok');
    expect(callsTo('GET', PATH)).toHaveLength(2);
    expect(row).toHaveTextContent('Queued again');
  });

  it('loads older deliveries with the cursor of the last page', async () => {
    const { callsTo } = mockApi({
      [`GET ${PATH}`]: ({ query }: { query: URLSearchParams }) =>
        query.get('cursor') === 'cur_2' ? { items: [delivery({ id: 'whd_old' })], nextCursor: null } : { items: [FAILED], nextCursor: 'cur_2' },
    });
    const user = userEvent.setup();
    renderDeliveries();

    await rowsOf();
    await user.click(screen.getByRole('button', { name: 'Load more' }));

    await waitFor(async () => expect(await rowsOf()).toHaveLength(2));
    expect(callsTo('GET', PATH).map((call) => call.query.get('cursor'))).toEqual([null, 'cur_2']);
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it('says so when nothing was sent yet', async () => {
    mockApi({ [`GET ${PATH}`]: { items: [], nextCursor: null } });
    renderDeliveries();
    expect(await screen.findByText('Nothing sent yet.')).toBeInTheDocument();
  });
});
