import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { Credential, HealthChange } from '../api/types.js';
import { ErrorMessage, LiveRegion, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { useCredentialOfPage } from './credential-page.js';
import { HealthBadge, sourceWords } from './health-badge.js';
import { HealthCheckSummary, useHealthCheckChange } from './scheduled-check.js';

const When = ({ at }: { at: string }) => <time dateTime={at}>{formatDateTime(at)}</time>;

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The scheduled check, with a button that stops it; or a pointer to the Test tab. */
function ScheduledCheck({ credential }: { credential: Credential }) {
  const stop = useHealthCheckChange(credential.id);
  const check = credential.healthCheck;
  return (
    <section className="panel stack" aria-labelledby="health-check-heading">
      <h2 id="health-check-heading">Scheduled check</h2>
      {check ? (
        <>
          <p><HealthCheckSummary check={check} /></p>
          <div className="button-row">
            <button type="button" className="button secondary" disabled={stop.isPending} onClick={() => stop.mutate(null)}>
              {stop.isPending ? 'Stopping…' : 'Stop checking'}
            </button>
          </div>
        </>
      ) : (
        <p>
          Nothing checks this credential on a schedule. <Link to={`/credentials/${credential.id}/test`}>Set up a check on the Test tab</Link>.
        </p>
      )}
      <LiveRegion>
        <ErrorMessage error={stop.error} />
        {stop.isSuccess && !check && <p className="alert alert-success">Scheduled checks stopped.</p>}
      </LiveRegion>
    </section>
  );
}

function HealthHistory({ history }: { history: HealthChange[] }) {
  if (history.length === 0) return <p>The health has not changed since this credential was created.</p>;
  return (
    <table className="table responsive health-history">
      <caption className="visually-hidden">Changes of health, newest first</caption>
      <thead>
        <tr><th scope="col">When</th><th scope="col">Change</th><th scope="col">Shown by</th><th scope="col">Message</th></tr>
      </thead>
      <tbody>
        {history.map((change) => (
          <tr key={change.id}>
            <td data-label="When"><When at={change.at} /></td>
            <td data-label="Change">
              <span className="badges">
                <HealthBadge health={change.from} />
                <span aria-hidden="true">→</span>
                <span className="visually-hidden">to</span>
                <HealthBadge health={change.to} />
              </span>
            </td>
            <td data-label="Shown by">{capitalized(sourceWords(change.source))}</td>
            <td data-label="Message">{change.message ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Health tab: whether the service accepts this credential, what checks it, and each change. */
export function HealthTab() {
  const credential = useCredentialOfPage();
  const health = useQuery({ queryKey: keys.credentialHealth(credential.id), queryFn: () => api.credentials.health(credential.id) });
  return (
    <div className="stack">
      <section className="panel" aria-labelledby="health-now-heading">
        <h2 id="health-now-heading">Health</h2>
        <p className="health-now"><HealthBadge credential={credential} /></p>
        <dl className="details">
          <dt>Message</dt><dd>{credential.healthMessage ?? '—'}</dd>
          <dt>Checked</dt><dd>{credential.healthCheckedAt ? <When at={credential.healthCheckedAt} /> : 'Not checked yet'}</dd>
          <dt>Since</dt><dd><When at={credential.since} /></dd>
        </dl>
      </section>
      <ScheduledCheck credential={credential} />
      <section className="stack" aria-labelledby="health-history-heading">
        <h2 id="health-history-heading">History</h2>
        {health.isPending ? <Loading label="Loading history…" /> : health.isError ? <ErrorMessage error={health.error} /> : <HealthHistory history={health.data.history} />}
      </section>
    </div>
  );
}
