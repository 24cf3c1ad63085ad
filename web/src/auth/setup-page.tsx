import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { AuthLayout } from './auth-layout.js';
import { NewPasswordFields, passwordProblem } from './password-fields.js';

/** First run: create the organization and its first admin. */
export function SetupPage() {
  const status = useQuery({ queryKey: keys.setup, queryFn: api.setup.status });
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [organizationName, setOrganizationName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [repeated, setRepeated] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const setup = useMutation({
    mutationFn: api.setup.create,
    onSuccess: (user) => {
      queryClient.setQueryData(keys.session, user);
      queryClient.setQueryData(keys.setup, { needsSetup: false });
      void navigate('/customers', { replace: true });
    },
  });

  if (status.isPending) return <AuthLayout title="Set up Credence"><Loading /></AuthLayout>;
  if (status.data && !status.data.needsSetup) {
    return (
      <AuthLayout title="Credence is set up">
        <p>This Credence already has an organization.</p>
        <Link className="button primary" to="/sign-in">Sign in</Link>
      </AuthLayout>
    );
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = passwordProblem(password, repeated);
    setProblem(found);
    if (!found) setup.mutate({ organizationName: organizationName.trim(), email: email.trim(), password });
  };

  return (
    <AuthLayout title="Set up Credence" intro={<p>Create your organization and its first administrator. You can invite your team and your customers afterwards.</p>}>
      <form onSubmit={submit} className="stack" noValidate>
        <ErrorMessage error={status.error} />
        <ErrorMessage error={setup.error} />
        {problem && <div className="alert alert-error" role="alert">{problem}</div>}
        <Field label="Organization name">{(ids) => <input {...ids} required autoComplete="organization" value={organizationName} onChange={(e) => setOrganizationName(e.target.value)} />}</Field>
        <Field label="Admin email">{(ids) => <input {...ids} type="email" required autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <NewPasswordFields password={password} repeated={repeated} onPassword={setPassword} onRepeated={setRepeated} />
        <button type="submit" className="button primary" disabled={setup.isPending}>
          {setup.isPending ? 'Creating…' : 'Create organization'}
        </button>
      </form>
    </AuthLayout>
  );
}
