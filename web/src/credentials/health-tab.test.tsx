import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { CredentialHealth } from '../api/types.js';
import { credential } from '../test/fixtures.js';
import { apiError, mockApi } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { HealthTab } from './health-tab.js';

const CHECK = { component: 'http', action: 'test', inputs: { url: 'https://api.globex.example/ping' }, everyMinutes: 30, nextCheckAt: '2025-03-05T10:30:00.000Z', lastCheckAt: '2025-03-05T10:00:00.000Z' };
const FAILING = credential({
  id: 'cred_api',
  label: 'Globex API',
  authMethod: 'api_key',
  customerId: 'cus_globex',
  health: 'failing',
  healthMessage: 'The service answered 401 Unauthorized',
  healthCheckedAt: '2025-03-05T10:00:00.000Z',
  since: '2025-03-04T09:00:00.000Z',
  healthCheck: CHECK,
});

const HISTORY: CredentialHealth = {
  health: 'failing',
  healthMessage: 'The service answered 401 Unauthorized',
  healthCheckedAt: '2025-03-05T10:00:00.000Z',
  since: '2025-03-04T09:00:00.000Z',
  history: [
    { id: 'hch_2', from: 'healthy', to: 'failing', source: 'check', message: 'The service answered 401 Unauthorized', at: '2025-03-04T09:00:00.000Z' },
    { id: 'hch_1', from: 'unknown', to: 'healthy', source: 'test', message: null, at: '2025-03-01T08:00:00.000Z' },
  ],
};

const renderTab = (shown = FAILING) => renderScreen(<HealthTab />, { route: `/credentials/${shown.id}/health`, outletContext: shown });

describe('HealthTab', () => {
  it('shows the current health, its message, when it was checked and since when', async () => {
    mockApi({ 'GET /credentials/cred_api/health': HISTORY });
    renderTab();

    const now = within(screen.getByRole('region', { name: 'Health' }));
    expect(now.getByText('Failing')).toHaveClass('badge-error');
    expect(now.getByText('The service answered 401 Unauthorized')).toBeInTheDocument();
    const times = now.getAllByRole('definition').map((dd) => dd.querySelector('time')?.getAttribute('dateTime') ?? null);
    expect(times).toEqual([null, '2025-03-05T10:00:00.000Z', '2025-03-04T09:00:00.000Z']);
    expect(now.getAllByRole('term').map((dt) => dt.textContent)).toEqual(['Message', 'Checked', 'Since']);
  });

  it('lists each change of health with what showed it, its message and time, newest first', async () => {
    const { callsTo } = mockApi({ 'GET /credentials/cred_api/health': HISTORY });
    renderTab();

    const table = await screen.findByRole('table', { name: 'Changes of health, newest first' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((row) => within(row).getAllByRole('cell').slice(1).map((cell) => cell.textContent))).toEqual([
      ['Healthy→toFailing', 'A scheduled check', 'The service answered 401 Unauthorized'],
      ['Not checked→toHealthy', 'A credential test', '—'],
    ]);
    expect(rows[0]?.querySelector('time')).toHaveAttribute('dateTime', '2025-03-04T09:00:00.000Z');
    expect(callsTo('GET', '/credentials/cred_api/health')).toHaveLength(1);
  });

  it('says so in a sentence when the health has never changed', async () => {
    mockApi({ 'GET /credentials/cred_new/health': { ...HISTORY, health: 'unknown', history: [] } });
    renderTab(credential({ id: 'cred_new', label: 'New', authMethod: 'basic' }));

    expect(await screen.findByText('The health has not changed since this credential was created.')).toBeInTheDocument();
    expect(screen.getByText('Nothing checks this credential on a schedule.', { exact: false })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Set up a check on the Test tab' })).toHaveAttribute('href', '/credentials/cred_new/test');
  });

  it('shows the scheduled check and stops it with a PATCH of healthCheck: null', async () => {
    const { callsTo } = mockApi({
      'GET /credentials/cred_api/health': HISTORY,
      'PATCH /credentials/cred_api': { ...FAILING, healthCheck: null },
    });
    const user = userEvent.setup();
    renderTab();

    const schedule = within(screen.getByRole('region', { name: 'Scheduled check' }));
    expect(schedule.getByText(/^Checked every 30 minutes with/)).toHaveTextContent('Checked every 30 minutes with http.test; next check');
    await user.click(schedule.getByRole('button', { name: 'Stop checking' }));

    await waitFor(() => expect(callsTo('PATCH', '/credentials/cred_api')).toHaveLength(1));
    expect(callsTo('PATCH', '/credentials/cred_api')[0]?.body).toEqual({ healthCheck: null });
  });

  it('shows the server’s refusal to stop the check as it is', async () => {
    mockApi({
      'GET /credentials/cred_api/health': HISTORY,
      'PATCH /credentials/cred_api': apiError(403, 'FORBIDDEN', 'Only organization admins may change this credential'),
    });
    const user = userEvent.setup();
    renderTab();

    await user.click(screen.getByRole('button', { name: 'Stop checking' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Only organization admins may change this credential (FORBIDDEN)');
  });
});
