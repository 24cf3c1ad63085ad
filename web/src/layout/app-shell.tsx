import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { NavLink, useLocation, useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { ROLE_NAMES } from '../ui/format.js';

interface NavItem {
  to: string;
  label: string;
}

/** The left-hand sidebar of the brief; a customer user sees only its customer's screens. */
const navFor = (orgUser: boolean): NavItem[] =>
  orgUser
    ? [
        { to: '/credentials', label: 'Credentials' },
        { to: '/customers', label: 'Customers' },
        { to: '/integrations', label: 'Integrations' },
        { to: '/instances', label: 'Instances' },
        { to: '/audit', label: 'Audit log' },
        { to: '/settings', label: 'Settings' },
      ]
    : [
        { to: '/credentials', label: 'Credentials' },
        { to: '/integrations', label: 'Integrations' },
        { to: '/instances', label: 'Instances' },
      ];

export function AppShell({ children }: { children: ReactNode }) {
  const user = useUser();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);

  const signOut = useMutation({
    mutationFn: api.session.signOut,
    onSettled: () => {
      queryClient.clear();
      queryClient.setQueryData(keys.session, null);
      void navigate('/sign-in', { replace: true });
    },
  });

  return (
    <div className="shell">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="sidebar" onClick={() => setMenuOpen((open) => !open)}>
          Menu
        </button>
        <span className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Credence
        </span>
        <span className="org-name">{user.organizationName}</span>
        <div className="user-box">
          <span className="user-email" title={ROLE_NAMES[user.role] ?? user.role}>
            {user.email}
            <span className="user-role"> · {ROLE_NAMES[user.role] ?? user.role}</span>
          </span>
          <button type="button" className="button secondary small" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="sidebar" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
        <ul>
          {navFor(isOrgUser(user)).map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} className={({ isActive }) => (isActive ? 'nav-link active' : 'nav-link')}>
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
