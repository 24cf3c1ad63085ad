import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { api, type LinkOptions } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { AuthorizationLink, Credential } from '../api/types.js';
import { ErrorMessage, LiveRegion } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { formatDateTime } from '../ui/format.js';
import { useCredentialOfPage } from './credential-page.js';
import { statusLabel } from './credential-status.js';
import { ScopeChips, ScopesBlock } from './oauth-scopes.js';
import { RedirectUri } from './redirect-uri.js';
import { parseScopes, unionOf } from './scopes.js';

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

/** What a link or an email asks for: another provider account only when ticked; scopes besides the credential's when there are any. */
const linkOptions = (allowAccountChange: boolean, addScopes: string[]): LinkOptions => ({
  ...(allowAccountChange ? { allowAccountChange: true } : {}),
  ...(addScopes.length > 0 ? { addScopes } : {}),
});

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

function SendEmailForm({ credential, options, onSent }: { credential: Credential; options: LinkOptions; onSent: () => void }) {
  const [email, setEmail] = useState('');
  const send = useMutation({
    mutationFn: ({ to, sent }: { to: string; sent: LinkOptions }) => api.credentials.sendAuthorizationEmail(credential.id, to, sent),
    onSuccess: onSent,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    send.mutate({ to: email.trim(), sent: options });
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
            {send.variables.sent.allowAccountChange ? ' and may connect a different account' : ''}.
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
  const [searchParams] = useSearchParams();
  const [allowAccountChange, setAllowAccountChange] = useState(false);
  // Another page (a refused deploy) may send the person here with the scopes to ask for.
  const [added, setAdded] = useState(() => parseScopes(searchParams.getAll('addScopes').join(' ')).join(' '));
  // A link was issued: its status changed, and the added scopes are now the credential's own.
  const onIssued = () => {
    void queryClient.invalidateQueries({ queryKey: keys.linkStatus(credential.id) });
    void queryClient.invalidateQueries({ queryKey: keys.credential(credential.id) });
    setAdded('');
  };
  const authorize = useMutation({
    mutationFn: (options: LinkOptions) => openInNewTab(() => api.credentials.createLink(credential.id, options)),
    onSuccess: onIssued,
  });
  const oauth2 = credential.oauth2;
  if (credential.authMethod !== 'oauth2' || !oauth2) return <p>This credential does not use OAuth 2.0.</p>;
  const authorized = credential.status === 'authorized';
  // Once authorized, the credential belongs to one provider account, even while it needs authorizing again.
  const connected = authorized || oauth2.authorizedAt !== null;
  const addScopes = unionOf(oauth2.missingScopes, parseScopes(added).filter((scope) => !oauth2.requestedScopes.includes(scope)));
  const options = linkOptions(connected && allowAccountChange, addScopes);

  return (
    <div className="stack">
      <section className="panel" aria-labelledby="oauth-status-heading">
        <h2 id="oauth-status-heading">Status</h2>
        {/* "Customer authorization complete" is announced once, by the banner on top of the page. */}
        <p className={authorized ? 'status-line ok' : 'status-line'}>{statusLabel(credential.status)}</p>
        <dl className="details">
          <dt>Authorized</dt><dd>{formatDateTime(oauth2.authorizedAt)}</dd>
          <dt>Access token expires</dt><dd>{formatDateTime(oauth2.tokenExpiresAt)}</dd>
          <dt>Next refresh</dt><dd>{formatDateTime(oauth2.nextRefreshAt)}</dd>
          {oauth2.lastError && (<><dt>Last error</dt><dd>{oauth2.lastError}</dd></>)}
        </dl>
      </section>
      {oauth2.grantType === 'client_credentials' ? (
        <>
          <ScopesBlock oauth2={oauth2} added="" />
          <p>This credential uses the client-credentials grant: Credence fetches its token without anyone’s consent.</p>
        </>
      ) : (
        <>
          <ScopesBlock oauth2={oauth2} added={added} onAddedChange={setAdded} />
          <section className="panel" aria-labelledby="oauth-authorize-heading">
            <h2 id="oauth-authorize-heading">Authorize</h2>
            <p>Sign in at the provider yourself, or email your customer a link so they authorize Credence to act on their behalf.</p>
            {connected && <AccountChangeOption checked={allowAccountChange} onChange={setAllowAccountChange} />}
            {addScopes.length > 0 && (
              <div className="alert alert-info scopes-to-ask">
                <strong>The next authorization also asks for:</strong> <ScopeChips scopes={addScopes} />
              </div>
            )}
            <div className="button-row">
              <button type="button" className="button primary" onClick={() => authorize.mutate(options)} disabled={authorize.isPending}>
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
            <SendEmailForm credential={credential} options={options} onSent={onIssued} />
            <LinkStatus credential={credential} />
          </section>
          <RedirectUri value={oauth2.redirectUri} />
        </>
      )}
    </div>
  );
}
