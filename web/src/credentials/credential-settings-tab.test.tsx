import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { credential } from '../test/fixtures.js';
import { apiError, mockApi, reply } from '../test/mock-api.js';
import { renderScreen } from '../test/render.js';
import { CredentialSettingsTab } from './credential-settings-tab.js';

const SFTP = credential({ id: 'cred_sftp', label: 'Globex SFTP', authMethod: 'basic', customerId: 'cus_globex' });

const renderTab = () => renderScreen(<CredentialSettingsTab />, { route: '/credentials/cred_sftp/settings', outletContext: SFTP });

describe('Delete Credential', () => {
  it('keeps REMOVE CREDENTIAL disabled until the credential’s name is typed exactly', async () => {
    const { callsTo } = mockApi({ 'DELETE /credentials/cred_sftp': reply(204) });
    const user = userEvent.setup();
    renderTab();
    const button = screen.getByRole('button', { name: 'REMOVE CREDENTIAL' });
    const input = screen.getByLabelText("Type the credential's name to confirm");
    expect(button).toBeDisabled();

    await user.type(input, 'Globex SFT');
    expect(button).toBeDisabled();
    await user.type(input, 'p');
    expect(button).toBeDisabled();
    await user.clear(input);
    await user.type(input, 'Globex SFTP');
    expect(button).toBeEnabled();

    await user.click(button);
    await waitFor(() => expect(callsTo('DELETE', '/credentials/cred_sftp')).toHaveLength(1));
    expect(callsTo('DELETE', '/credentials/cred_sftp')[0]?.body).toEqual({ confirm: 'Globex SFTP' });
    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/customers/cus_globex/credentials'));
  });

  it('does not submit on Enter while the name does not match', async () => {
    const { callsTo } = mockApi({ 'DELETE /credentials/cred_sftp': reply(204) });
    const user = userEvent.setup();
    renderTab();

    await user.type(screen.getByLabelText("Type the credential's name to confirm"), 'globex sftp{Enter}');

    expect(screen.getByRole('button', { name: 'REMOVE CREDENTIAL' })).toBeDisabled();
    expect(callsTo('DELETE', '/credentials/cred_sftp')).toHaveLength(0);
  });

  it('shows the API’s refusal of a credential in use, and offers to delete it anyway', async () => {
    const { callsTo } = mockApi({
      'DELETE /credentials/cred_sftp': ({ body }: { body: { force?: boolean } }) =>
        body.force ? reply(204) : apiError(409, 'CREDENTIAL_IN_USE', 'The credential is bound to instance Nightly sync; unbind it or delete with force'),
    });
    const user = userEvent.setup();
    renderTab();

    await user.type(screen.getByLabelText("Type the credential's name to confirm"), 'Globex SFTP');
    await user.click(screen.getByRole('button', { name: 'REMOVE CREDENTIAL' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('The credential is bound to instance Nightly sync');
    expect(screen.getByTestId('location')).toHaveTextContent('/credentials/cred_sftp/settings');

    await user.click(screen.getByRole('checkbox', { name: /Delete it anyway/ }));
    await user.click(screen.getByRole('button', { name: 'REMOVE CREDENTIAL' }));
    await waitFor(() => expect(callsTo('DELETE', '/credentials/cred_sftp')).toHaveLength(2));
    expect(callsTo('DELETE', '/credentials/cred_sftp')[1]?.body).toEqual({ confirm: 'Globex SFTP', force: true });
  });
});
