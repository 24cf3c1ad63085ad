import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { useAllCustomers, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Invitation, Role, User } from '../api/types.js';
import { useUser } from '../auth/session.js';
import { CopyButton } from '../ui/copy-button.js';
import { EmptyState, ErrorMessage, LiveRegion, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { ROLE_NAMES, formatDateTime } from '../ui/format.js';

const INVITABLE: Role[] = ['org_member', 'org_admin', 'customer_user'];

function InviteForm({ onInvited }: { onInvited: (invitation: Invitation) => void }) {
  const queryClient = useQueryClient();
  const customers = useAllCustomers();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('org_member');
  const [customerId, setCustomerId] = useState('');
  const invite = useMutation({
    mutationFn: api.users.invite,
    onSuccess: (invitation) => {
      void queryClient.invalidateQueries({ queryKey: keys.users });
      setEmail('');
      onInvited(invitation);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate({ email: email.trim(), role, ...(role === 'customer_user' ? { customerId } : {}) });
  };
  return (
    <form className="panel stack" onSubmit={submit} aria-labelledby="invite-heading">
      <h2 id="invite-heading">Invite someone</h2>
      <ErrorMessage error={invite.error} title="No invitation was made." />
      <div className="form-row">
        <Field label="Email">{(ids) => <input {...ids} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <Field label="Role" hint={role === 'customer_user' ? 'Sees only this customer’s credentials and instances.' : role === 'org_admin' ? 'Everything, including people and API tokens.' : 'Credentials, customers, integrations and instances.'}>
          {(ids) => (
            <select {...ids} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {INVITABLE.map((r) => <option key={r} value={r}>{ROLE_NAMES[r]}</option>)}
            </select>
          )}
        </Field>
        {role === 'customer_user' && (
          <Field label="Customer">
            {(ids) => (
              <select {...ids} required value={customerId} onChange={(e) => setCustomerId(e.target.value)}>
                <option value="">Choose a customer</option>
                {customers.data?.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select>
            )}
          </Field>
        )}
      </div>
      <div className="button-row">
        <button type="submit" className="button primary" disabled={invite.isPending}>{invite.isPending ? 'Inviting…' : 'Invite'}</button>
      </div>
    </form>
  );
}

function RemoveUser({ user }: { user: User }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({ mutationFn: () => api.users.remove(user.id), onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.users }) });
  if (!confirming) return <button type="button" className="button danger-outline small" onClick={() => setConfirming(true)}>Remove<span className="visually-hidden"> {user.email}</span></button>;
  return (
    <span className="inline-confirm">
      <button type="button" className="button danger small" onClick={() => remove.mutate()} disabled={remove.isPending}>Confirm removal<span className="visually-hidden"> of {user.email}</span></button>
      <button type="button" className="button secondary small" onClick={() => setConfirming(false)}>Cancel</button>
      <ErrorMessage error={remove.error} />
    </span>
  );
}

/** Settings → Users: the organization's people and invitations (organization admins only). */
export function UsersTab() {
  const me = useUser();
  const users = useQuery({ queryKey: keys.users, queryFn: api.users.list });
  const customerNames = useCustomerNames();
  const [invitation, setInvitation] = useState<Invitation | null>(null);
  const inviteUrl = invitation ? new URL(invitation.inviteUrl, window.location.origin).toString() : '';
  return (
    <div className="stack">
      <InviteForm onInvited={setInvitation} />
      <LiveRegion>
        {invitation && (
          <div className="alert alert-success stack">
            <p>Invitation for <strong>{invitation.user.email}</strong> created. Send them this link; it works once and expires {formatDateTime(invitation.expiresAt)}.</p>
            <div className="copy-row"><code>{inviteUrl}</code><CopyButton text={inviteUrl} label="Copy invitation link" /></div>
          </div>
        )}
      </LiveRegion>
      <ErrorMessage error={users.error} />
      {users.isPending ? (
        <Loading label="Loading people…" />
      ) : !users.data || users.data.items.length === 0 ? (
        <EmptyState title="Nobody here yet." />
      ) : (
        <table className="table responsive">
          <caption className="visually-hidden">People</caption>
          <thead>
            <tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Since</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {users.data.items.map((user) => (
              <tr key={user.id}>
                <td data-label="Email">{user.email}{user.id === me.id && <span className="muted"> (you)</span>}</td>
                <td data-label="Role">{ROLE_NAMES[user.role] ?? user.role}</td>
                <td data-label="Customer">{user.customerId ? (customerNames.get(user.customerId) ?? user.customerId) : '—'}</td>
                <td data-label="Status"><span className={user.status === 'active' ? 'badge badge-ok' : 'badge badge-warn'}>{user.status === 'active' ? 'Active' : 'Invited'}</span></td>
                <td data-label="Since">{formatDateTime(user.createdAt)}</td>
                <td data-label="Actions">{user.id !== me.id && <RemoveUser user={user} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
