import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Navigate, Outlet, useLocation } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { Role } from '../api/types.js';
import { AppShell } from '../layout/app-shell.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { PageHeader } from '../ui/page.js';
import { UserProvider, useSession, useUser } from './session.js';

/** The signed-in part of the app: sends visitors to first-run setup or sign-in. */
export function RequireSession() {
  const session = useSession();
  const location = useLocation();
  const signedOut = session.data === null;
  const setup = useQuery({ queryKey: keys.setup, queryFn: api.setup.status, enabled: signedOut, retry: false });

  if (session.isPending) return <main className="centered"><Loading label="Loading Credence…" /></main>;
  if (session.isError) {
    return (
      <main className="centered">
        <ErrorMessage error={session.error} title="Credence could not be reached." />
        <button type="button" className="button" onClick={() => void session.refetch()}>Try again</button>
      </main>
    );
  }
  if (!session.data) {
    if (setup.isPending) return <main className="centered"><Loading /></main>;
    if (setup.data?.needsSetup) return <Navigate to="/setup" replace />;
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return (
    <UserProvider user={session.data}>
      <AppShell>
        <Outlet />
      </AppShell>
    </UserProvider>
  );
}

/** A screen only some roles may use; others get an explanation rather than a broken page. */
export function RequireRole({ roles, children }: { roles: readonly Role[]; children: ReactNode }) {
  const user = useUser();
  if (roles.includes(user.role)) return <>{children}</>;
  return (
    <>
      <PageHeader title="Not available" />
      <p>Your role does not give access to this page.</p>
    </>
  );
}
