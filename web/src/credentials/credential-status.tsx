import type { Credential, CredentialStatus } from '../api/types.js';
import { formatDateTime } from '../ui/format.js';

const STATUS: Record<CredentialStatus, { label: string; tone: 'ok' | 'warn' | 'error' | 'neutral' }> = {
  active: { label: 'Active', tone: 'neutral' },
  pending_authorization: { label: 'Pending authorization', tone: 'warn' },
  authorized: { label: 'Authorized', tone: 'ok' },
  refresh_failed: { label: 'Refresh failed', tone: 'error' },
  reauthorization_required: { label: 'Needs reauthorization', tone: 'error' },
};

export const statusLabel = (status: CredentialStatus): string => STATUS[status]?.label ?? status;

/** The credential's status, and "Last test failed" when its last test did. */
export function CredentialStatusBadges({ credential }: { credential: Pick<Credential, 'status' | 'lastTest'> }) {
  const status = STATUS[credential.status] ?? { label: credential.status, tone: 'neutral' as const };
  const failed = credential.lastTest && !credential.lastTest.ok ? credential.lastTest : null;
  return (
    <span className="badges">
      <span className={`badge badge-${status.tone}`}>{status.label}</span>
      {failed && (
        <span className="badge badge-error" title={`${formatDateTime(failed.at)}: ${failed.message}`}>
          Last test failed
        </span>
      )}
    </span>
  );
}
