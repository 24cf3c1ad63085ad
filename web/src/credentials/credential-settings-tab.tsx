import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, isApiError } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { ErrorMessage, LiveRegion } from '../ui/feedback.js';
import { TypedConfirmation } from '../ui/typed-confirmation.js';
import { useCredentialOfPage } from './credential-page.js';

/** The Settings tab: Delete Credential, confirmed by typing the credential's name. */
export function CredentialSettingsTab() {
  const credential = useCredentialOfPage();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const orgUser = isOrgUser(useUser());
  const listPath = !credential.customerId ? '/settings/credentials' : orgUser ? `/customers/${credential.customerId}/credentials` : '/credentials';
  const [force, setForce] = useState(false);
  const remove = useMutation({
    mutationFn: (confirm: string) => api.credentials.remove(credential.id, { confirm, ...(force ? { force: true } : {}) }),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: keys.credential(credential.id) });
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
      void queryClient.invalidateQueries({ queryKey: keys.instances });
      void navigate(listPath, { replace: true });
    },
  });
  const inUse = isApiError(remove.error, 'CREDENTIAL_IN_USE') || force;

  return (
    <section className="panel danger-zone" aria-labelledby="delete-credential-heading">
      <h2 id="delete-credential-heading">Delete Credential</h2>
      <p>Deleting a credential destroys its stored values. This cannot be undone.</p>
      <TypedConfirmation name={credential.label} noun="credential" buttonText="REMOVE CREDENTIAL" pending={remove.isPending} onConfirm={(typed) => remove.mutate(typed)}>
        {inUse && (
          <div className="field checkbox">
            <label>
              <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Delete it anyway: its instance steps lose their credential and fail until another is bound
            </label>
          </div>
        )}
      </TypedConfirmation>
      <LiveRegion>
        <ErrorMessage error={remove.error} title="The credential was not deleted." />
      </LiveRegion>
    </section>
  );
}
