import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { AuthorizationLink, Credential } from '../api/types.js';
import { ErrorMessage, LiveRegion } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { formatDateTime } from '../ui/format.js';
import { useCredentialOfPage } from './credential-page.js';
import { statusLabel } from './credential-status.js';
import { RedirectUri } from './redirect-uri.js';

/**
 * Opens the link in a new tab. The tab is opened before the request (inside the click)
 * so that popup blockers allow it; it is pointed at the link once the link exists.
 */
const openInNewTab = async (create: () => Promise<AuthorizationLink>): Promise<{ link: AuthorizationLink; opened: boolean }> => {
  const tab = window.open('', '_blank');
  try {
    const link = await create();
    if (tab) {
      tab.opener = null;
      tab.location.href = link.url;
    }
    return { link, opened: tab !== null };
  } catch (error) {
    tab?.close();
    throw error;
  }
};

function LinkStatus({ credential }: { credential: Credential }) {
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: keys.linkStatus(credential.id), queryFn: () => api.credentials.linkStatus(credential.id), refetchInterval: 15_000 });
  // Completing authorization uses the link up: read its state again when the status changes.
  const { refetch } = status;
  useEffect(() => {
    void refetch();
  }, [credential.status, credential.authorizedAt, refetch]);
  const revoke = useMutation({
    mutationFn: () => api.credentials.revokeLink(credential.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.linkStatus(credential.id) }),
  });
  if (!status.data) return <ErrorMessage error={status.error} />;
  return (
    <div className="link-status">
      {status.data.active ? (
        <p>
          An authorization link is open until <strong><time dateTime={status.data.expiresAt ?? ''}>{formatDateTime(status.data.expiresAt)}</time></strong>.{' '}
          <button type="button" className="button secondary small" onClick={() => revoke.mutate()} disabled={revoke.isPending}>Revoke link</button>
        </p>
      ) : (
        <p>No authorization link is open. Issuing a new link revokes the previous one.</p>
      )}
      <ErrorMessage error={revoke.error} />
    </div>
  );
}

/** What a link or an email asks for: another provider account may be attached only when ticked. */
const linkOptions = (allowAccountChange: boolean) => (allowAccountChange ? { allowAccountChange: true } : {});

/** Shown once the credential belongs to a provider account: a reconnect must come back for it unless this is ticked. */
function AccountChangeOption({ checked, onChange }: { checked: boolean; onChange: (checked: boolean) => void }) {
  const hintId = useId();
  return (
    <div className="field checkbox account-change">
      <label>
        <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} aria-describedby={hintId} /> Allow connecting a different account
      </label>
      <p className="hint" id={hintId}>Without this, the customer must sign in as the account this connection belongs to.</p>
    </div>
  );
}

function SendEmailForm({ credential, allowAccountChange }: { credential: Credential; allowAccountChange: boolean }) {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const send = useMutation({
    mutationFn: ({ to, allow }: { to: string; allow: boolean }) => api.credentials.sendAuthorizationEmail(credential.id, to, linkOptions(allow)),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.linkStatus(credential.id) }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    send.mutate({ to: email.trim(), allow: allowAccountChange });
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <Field label="Customer email" hint="We recommend this: your customer signs in at the provider themselves, and never sends you a password.">
        {(ids) => <input {...ids} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />}
      </Field>
      <button type="submit" className="button primary" disabled={send.isPending}>{send.isPending ? 'Sending…' : 'Send email'}</button>
      <LiveRegion>
        <ErrorMessage error={send.error} />
        {send.data && (
          <p className="alert alert-success">
            Email sent to {send.data.sentTo}
            {send.data.delivery.via === 'outbox' ? ' (written to the server’s outbox: no SMTP server is configured)' : ''}. The link expires {formatDateTime(send.data.expiresAt)}
            {send.variables.allow ? ' and may connect a different account' : ''}.
          </p>
        )}
      </LiveRegion>
    </form>
  );
}

/** The OAuth2 Authorization tab: authorize now, or email the customer a link; the status updates by itself. */
export function OAuthTab() {
  const credential = useCredentialOfPage();
  const queryClient = useQueryClient();
  const [allowAccountChange, setAllowAccountChange] = useState(false);
  const authorize = useMutation({
    mutationFn: (allow: boolean) => openInNewTab(() => api.credentials.createLink(credential.id, linkOptions(allow))),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.linkStatus(credential.id) }),
  });
  const oauth2 = credential.oauth2;
  if (credential.authMethod !== 'oauth2' || !oauth2) return <p>This credential does not use OAuth 2.0.</p>;
  const authorized = credential.status === 'authorized';
  // Once authorized, the credential belongs to one provider account, even while it needs authorizing again.
  const connected = authorized || oauth2.authorizedAt !== null;

  return (
    <div className="stack">
      <section className="panel" aria-labelledby="oauth-status-heading">
        <h2 id="oauth-status-heading">Status</h2>
        {/* "Customer authorization complete" is announced once, by the banner on top of the page. */}
        <p className={authorized ? 'status-line ok' : 'status-line'}>{statusLabel(credential.status)}</p>
        <dl className="details">
          <dt>Authorized</dt><dd>{formatDateTime(oauth2.authorizedAt)}</dd>
          <dt>Granted scopes</dt><dd>{oauth2.grantedScopes || '—'}</dd>
          <dt>Access token expires</dt><dd>{formatDateTime(oauth2.tokenExpiresAt)}</dd>
          <dt>Next refresh</dt><dd>{formatDateTime(oauth2.nextRefreshAt)}</dd>
          {oauth2.lastError && (<><dt>Last error</dt><dd>{oauth2.lastError}</dd></>)}
        </dl>
      </section>
      {oauth2.grantType === 'client_credentials' ? (
        <p>This credential uses the client-credentials grant: Credence fetches its token without anyone’s consent.</p>
      ) : (
        <>
          <section className="panel" aria-labelledby="oauth-authorize-heading">
            <h2 id="oauth-authorize-heading">Authorize</h2>
            <p>Sign in at the provider yourself, or email your customer a link so they authorize Credence to act on their behalf.</p>
            {connected && <AccountChangeOption checked={allowAccountChange} onChange={setAllowAccountChange} />}
            <div className="button-row">
              <button type="button" className="button primary" onClick={() => authorize.mutate(connected && allowAccountChange)} disabled={authorize.isPending}>
                {authorize.isPending ? 'Opening…' : 'Authorize now'}
              </button>
            </div>
            <LiveRegion>
              <ErrorMessage error={authorize.error} />
              {authorize.data && !authorize.data.opened && (
                <p className="alert alert-info">
                  Your browser blocked the new tab. <a href={authorize.data.link.url} target="_blank" rel="noopener noreferrer">Open the authorization page</a>.
                </p>
              )}
            </LiveRegion>
            <SendEmailForm credential={credential} allowAccountChange={connected && allowAccountChange} />
            <LinkStatus credential={credential} />
          </section>
          <RedirectUri value={oauth2.redirectUri} />
        </>
      )}
    </div>
  );
}
