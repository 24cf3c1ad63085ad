import type { Credential } from '../api/types.js';
import { formatUtcDate } from '../ui/format.js';
import { countdown } from './expiry.js';

function ExpiryBadge({ iso, subject, now }: { iso: string; subject: 'credential' | 'client secret'; now: number }) {
  const { text, tone } = countdown(iso, now, subject);
  return (
    <span className={`badge badge-${tone}`} title={`${subject === 'credential' ? 'Expiry date' : 'Client secret expiry date'}: ${formatUtcDate(iso)}`}>
      {text}
    </span>
  );
}

/**
 * "Expires in N days" and "Client secret expires in N days" as badges, for the dates the
 * credential has; nothing when it has neither.
 */
export function ExpiryBadges({ credential, now = Date.now() }: { credential: Pick<Credential, 'expiresAt' | 'clientSecretExpiresAt'>; now?: number }) {
  const { expiresAt, clientSecretExpiresAt } = credential;
  if (!expiresAt && !clientSecretExpiresAt) return null;
  return (
    <span className="badges">
      {expiresAt && <ExpiryBadge iso={expiresAt} subject="credential" now={now} />}
      {clientSecretExpiresAt && <ExpiryBadge iso={clientSecretExpiresAt} subject="client secret" now={now} />}
    </span>
  );
}
