import type { ReactNode } from 'react';
import { Link, Navigate, Route, Routes } from 'react-router';
import { AuditPage } from './audit/audit-page.js';
import { InvitePage } from './auth/invite-page.js';
import { RequireRole, RequireSession } from './auth/require-session.js';
import { ORG_ROLES } from './auth/session.js';
import { SetupPage } from './auth/setup-page.js';
import { SignInPage } from './auth/sign-in-page.js';
import { CredentialFieldsTab } from './credentials/credential-fields-tab.js';
import { CredentialPage } from './credentials/credential-page.js';
import { CredentialSettingsTab } from './credentials/credential-settings-tab.js';
import { AllCredentialsPage, CustomerCredentialsTab, NewCredentialPage, OrganizationCredentialsTab } from './credentials/credentials-pages.js';
import { HealthTab } from './credentials/health-tab.js';
import { OAuthTab } from './credentials/oauth-tab.js';
import { TestTab } from './credentials/test-tab.js';
import { UsageTab } from './credentials/usage-tab.js';
import { CustomerPage } from './customers/customer-page.js';
import { CustomerSettingsTab } from './customers/customer-settings-tab.js';
import { CustomersPage } from './customers/customers-page.js';
import { InstancePage } from './instances/instance-page.js';
import { CustomerInstancesTab, DeployPage, InstancesPage } from './instances/instances-pages.js';
import { IntegrationNewPage } from './integrations/integration-new-page.js';
import { IntegrationsPage } from './integrations/integrations-page.js';
import { SettingsPage } from './settings/settings-page.js';
import { PageHeader } from './ui/page.js';
import { UsersTab } from './users/users-page.js';
import { EndpointPage } from './webhooks/endpoint-page.js';
import { WebhooksTab } from './webhooks/webhooks-tab.js';

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>There is nothing at this address. <Link to="/credentials">Go to Credentials</Link>.</p>
    </>
  );
}

const orgOnly = (element: ReactNode) => <RequireRole roles={ORG_ROLES}>{element}</RequireRole>;
const adminOnly = (element: ReactNode) => <RequireRole roles={['org_admin']}>{element}</RequireRole>;

/** Every route of the web app. */
export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route path="/setup" element={<SetupPage />} />
      <Route path="/invite/:token" element={<InvitePage />} />
      <Route element={<RequireSession />}>
        <Route index element={<Navigate to="/credentials" replace />} />
        <Route path="credentials" element={<AllCredentialsPage />} />
        <Route path="credentials/new" element={<NewCredentialPage level="any" />} />
        <Route path="credentials/:id" element={<CredentialPage />}>
          <Route index element={<CredentialFieldsTab />} />
          <Route path="oauth2" element={<OAuthTab />} />
          <Route path="health" element={<HealthTab />} />
          <Route path="test" element={<TestTab />} />
          <Route path="usage" element={<UsageTab />} />
          <Route path="settings" element={<CredentialSettingsTab />} />
        </Route>
        <Route path="customers" element={orgOnly(<CustomersPage />)} />
        <Route path="customers/:customerId/credentials/new" element={orgOnly(<NewCredentialPage level="customer" />)} />
        <Route path="customers/:customerId" element={orgOnly(<CustomerPage />)}>
          <Route index element={<Navigate to="credentials" replace />} />
          <Route path="credentials" element={<CustomerCredentialsTab />} />
          <Route path="instances" element={<CustomerInstancesTab />} />
          <Route path="settings" element={<CustomerSettingsTab />} />
        </Route>
        <Route path="integrations" element={<IntegrationsPage />} />
        <Route path="integrations/new" element={orgOnly(<IntegrationNewPage />)} />
        <Route path="instances" element={<InstancesPage />} />
        <Route path="instances/new" element={<DeployPage />} />
        <Route path="instances/:id" element={<InstancePage />} />
        <Route path="audit" element={orgOnly(<AuditPage />)} />
        <Route path="settings/credentials/new" element={orgOnly(<NewCredentialPage level="organization" />)} />
        <Route path="settings" element={orgOnly(<SettingsPage />)}>
          <Route index element={<Navigate to="credentials" replace />} />
          <Route path="credentials" element={<OrganizationCredentialsTab />} />
          <Route path="users" element={adminOnly(<UsersTab />)} />
          <Route path="webhooks" element={adminOnly(<WebhooksTab />)} />
          <Route path="webhooks/:id" element={adminOnly(<EndpointPage />)} />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
