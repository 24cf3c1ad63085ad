import { createContext, useContext, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { Role, SessionUser } from '../api/types.js';

/** Who is signed in: fetched once on load (this also fetches the CSRF token). */
export const useSession = () => useQuery({ queryKey: keys.session, queryFn: api.session.current, staleTime: Infinity });

const UserContext = createContext<SessionUser | null>(null);

export function UserProvider({ user, children }: { user: SessionUser; children: ReactNode }) {
  return <UserContext.Provider value={user}>{children}</UserContext.Provider>;
}

/** The signed-in user; only inside the signed-in part of the app. */
export const useUser = (): SessionUser => {
  const user = useContext(UserContext);
  if (!user) throw new Error('useUser is only available to signed-in screens');
  return user;
};

export const ORG_ROLES: readonly Role[] = ['org_admin', 'org_member'];

/** Organization members see organization-level data; a customer user sees only its customer's. */
export const isOrgUser = (user: SessionUser): boolean => ORG_ROLES.includes(user.role);

/** Where to go after signing in: only a path of this app, never another origin. */
export const safeNext = (next: string | null): string => (next && next.startsWith('/') && !next.startsWith('//') ? next : '/credentials');
