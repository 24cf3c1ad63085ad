import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { componentsBody, credential } from '../test/fixtures.js';
import { apiError, mockApi } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { TestTab } from './test-tab.js';

const API_KEY = credential({ id: 'cred_api', label: 'Globex API', authMethod: 'api_key', customerId: 'cus_globex' });
const PASSED = { ok: true, message: 'The service answered 200', durationMs: 42 };
const SCHEDULED = { component: 'http', action: 'test', inputs: { url: 'https://api.globex.example/ping' }, everyMinutes: 30, nextCheckAt: '2025-03-05T10:30:00.000Z', lastCheckAt: null };

const renderTab = (shown = API_KEY) => renderScreen(<TestTab />, { route: `/credentials/${shown.id}/test`, outletContext: shown });

const fillHttpTest = async (user: ReturnType<typeof userEvent.setup>) => {
  await user.selectOptions(await screen.findByLabelText('Component'), 'HTTP');
  await user.type(screen.getByLabelText(/^url/), 'https://api.globex.example/ping');
};

describe('TestTab: check this every N minutes', () => {
  it('runs the test and schedules the same component, action and inputs as the credential’s check', async () => {
    const { callsTo } = mockApi({
      'GET /components': componentsBody,
      'POST /credentials/cred_api/test': PASSED,
      'PATCH /credentials/cred_api': { ...API_KEY, healthCheck: SCHEDULED },
    });
    const user = userEvent.setup();
    renderTab();
    await fillHttpTest(user);

    const minutes = screen.getByRole('spinbutton', { name: 'Minutes between checks' });
    expect(minutes).toHaveValue(60);
    expect(minutes).toBeDisabled();
    await user.click(screen.getByRole('checkbox', { name: 'Check this every 60 minutes' }));
    await user.clear(minutes);
    await user.type(minutes, '30');
    await user.click(screen.getByRole('button', { name: 'Run test and schedule check' }));

    expect(await screen.findByText('Check scheduled: every 30 minutes.')).toBeInTheDocument();
    expect(await screen.findByText('Test passed.')).toBeInTheDocument();
    const test = { component: 'http', action: 'test', inputs: { url: 'https://api.globex.example/ping' } };
    expect(callsTo('POST', '/credentials/cred_api/test')[0]?.body).toEqual(test);
    expect(callsTo('PATCH', '/credentials/cred_api').map((call) => call.body)).toEqual([{ healthCheck: { ...test, everyMinutes: 30 } }]);
  });

  it('only runs the test while the box is not ticked', async () => {
    const { callsTo } = mockApi({ 'GET /components': componentsBody, 'POST /credentials/cred_api/test': PASSED });
    const user = userEvent.setup();
    renderTab();
    await fillHttpTest(user);

    await user.click(screen.getByRole('button', { name: 'Run test' }));

    expect(await screen.findByText('Test passed.')).toBeInTheDocument();
    expect(callsTo('PATCH', '/credentials/cred_api')).toHaveLength(0);
  });

  it('shows the server’s refusal of the check as it is', async () => {
    mockApi({
      'GET /components': componentsBody,
      'POST /credentials/cred_api/test': PASSED,
      'PATCH /credentials/cred_api': apiError(403, 'DESTINATION_NOT_ALLOWED', 'https://api.globex.example is not one of this credential’s destinations'),
    });
    const user = userEvent.setup();
    renderTab();
    await fillHttpTest(user);

    await user.click(screen.getByRole('checkbox', { name: /^Check this every/ }));
    await user.click(screen.getByRole('button', { name: 'Run test and schedule check' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The check was not scheduled: https://api.globex.example is not one of this credential’s destinations (DESTINATION_NOT_ALLOWED)',
    );
  });

  it('shows the credential’s current check and starts from its interval', async () => {
    mockApi({ 'GET /components': componentsBody });
    const user = userEvent.setup();
    renderTab({ ...API_KEY, healthCheck: SCHEDULED });
    await fillHttpTest(user);

    expect(screen.getByText(/^Checked every 30 minutes with/)).toHaveTextContent('Checked every 30 minutes with http.test; next check');
    expect(screen.getByRole('spinbutton', { name: 'Minutes between checks' })).toHaveValue(30);
    expect(screen.getByText(/It replaces the current check\./)).toBeInTheDocument();
  });
});
