import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Outlet, Route, Routes, useLocation } from 'react-router';
import type { SessionUser } from '../api/types.js';
import { UserProvider } from '../auth/session.js';

export const ORG_ADMIN: SessionUser = {
  id: 'usr_admin',
  email: 'admin@acme.example',
  role: 'org_admin',
  customerId: null,
  organizationId: 'org_1',
  organizationName: 'Acme Integrations',
};

export const customerUser = (customerId: string): SessionUser => ({ ...ORG_ADMIN, id: 'usr_customer', email: 'it@globex.example', role: 'customer_user', customerId });

/** Where the router is now, for assertions about navigation. */
function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{`${location.pathname}${location.search}`}</output>;
}

/**
 * Renders `ui` as a signed-in screen at `route` (matched by `path`), with a fresh query
 * client; `outletContext` is what the screen's parent route would hand it.
 */
export const renderScreen = (ui: ReactElement, options: { route?: string; path?: string; user?: SessionUser; outletContext?: unknown } = {}) => {
  const { route = '/', path = '*', user = ORG_ADMIN, outletContext } = options;
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[route]}>
        <UserProvider user={user}>
          <Routes>
            <Route element={<Outlet context={outletContext} />}>
              <Route path={path} element={ui} />
            </Route>
            <Route path="*" element={null} />
          </Routes>
          <LocationProbe />
        </UserProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...result, client };
};
