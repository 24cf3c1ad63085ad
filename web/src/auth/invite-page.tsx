import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { ErrorMessage } from '../ui/feedback.js';
import { AuthLayout } from './auth-layout.js';
import { NewPasswordFields, passwordProblem } from './password-fields.js';

/** `/invite/:token`: an invited person chooses a password and is signed in. */
export function InvitePage() {
  const { token = '' } = useParams();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [password, setPassword] = useState('');
  const [repeated, setRepeated] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const accept = useMutation({
    mutationFn: () => api.users.acceptInvitation(token, password),
    onSuccess: (user) => {
      queryClient.clear();
      queryClient.setQueryData(keys.session, user);
      void navigate('/credentials', { replace: true });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = passwordProblem(password, repeated);
    setProblem(found);
    if (!found) accept.mutate();
  };

  return (
    <AuthLayout title="Accept your invitation" intro={<p>Choose a password to finish creating your Credence account.</p>}>
      <form onSubmit={submit} className="stack" noValidate>
        <ErrorMessage error={accept.error} />
        {problem && <div className="alert alert-error" role="alert">{problem}</div>}
        <NewPasswordFields password={password} repeated={repeated} onPassword={setPassword} onRepeated={setRepeated} />
        <button type="submit" className="button primary" disabled={accept.isPending}>
          {accept.isPending ? 'Signing in…' : 'Set password and sign in'}
        </button>
      </form>
    </AuthLayout>
  );
}
