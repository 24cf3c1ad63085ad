import { Outlet } from 'react-router';
import { useUser } from '../auth/session.js';
import { PageHeader } from '../ui/page.js';
import { TabNav } from '../ui/tab-nav.js';

/** Settings: the organization's own credentials, and (for admins) its people and webhooks. */
export function SettingsPage() {
  const user = useUser();
  return (
    <>
      <PageHeader title="Settings" subtitle={user.organizationName} />
      <TabNav
        label="Settings"
        items={[
          { to: '/settings/credentials', label: 'Credentials' },
          ...(user.role === 'org_admin'
            ? [
                { to: '/settings/users', label: 'Users' },
                { to: '/settings/webhooks', label: 'Webhooks' },
              ]
            : []),
        ]}
      />
      <div className="tab-panel">
        <Outlet />
      </div>
    </>
  );
}
