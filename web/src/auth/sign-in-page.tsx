import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { api, isApiError } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { ErrorMessage } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { AuthLayout } from './auth-layout.js';
import { safeNext, useSession } from './session.js';

export function SignInPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const session = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [organization, setOrganization] = useState('');
  const signIn = useMutation({
    mutationFn: api.session.signIn,
    onSuccess: (user) => {
      queryClient.setQueryData(keys.session, user);
      void navigate(next, { replace: true });
    },
  });

  if (session.data) return <Navigate to={next} replace />;
  // An email with accounts in several organizations: the server names them once the password is right.
  const choosing = organization !== '' || isApiError(signIn.error, 'ORGANIZATION_REQUIRED');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate({ email: email.trim(), password, ...(organization.trim() ? { organization: organization.trim() } : {}) });
  };

  return (
    <AuthLayout title="Sign in">
      <form onSubmit={submit} className="stack">
        <ErrorMessage error={signIn.error} />
        <Field label="Email">{(ids) => <input {...ids} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <Field label="Password">
          {(ids) => <input {...ids} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        {choosing && (
          <Field label="Organization" hint="The name of the organization to sign in to, as listed above">
            {(ids) => <input {...ids} autoComplete="organization" required value={organization} onChange={(e) => setOrganization(e.target.value)} />}
          </Field>
        )}
        <button type="submit" className="button primary" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </AuthLayout>
  );
}
