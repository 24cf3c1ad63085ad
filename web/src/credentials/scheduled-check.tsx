import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId } from 'react';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { HealthCheck, HealthCheckChange } from '../api/types.js';
import { formatDateTime } from '../ui/format.js';

/** Sets (or, with null, stops) the credential's scheduled check; the page shows the answer at once. */
export const useHealthCheckChange = (credentialId: string) => {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (healthCheck: HealthCheckChange | null) => api.credentials.update(credentialId, { healthCheck }),
    onSuccess: (updated) => {
      queryClient.setQueryData(keys.credential(updated.id), updated);
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
    },
  });
};

/** "Checked every 60 minutes with http.test; next check …". */
export function HealthCheckSummary({ check }: { check: HealthCheck }) {
  return (
    <>
      Checked every {check.everyMinutes} minutes with <code>{check.component}.{check.action}</code>; next check{' '}
      <time dateTime={check.nextCheckAt}>{formatDateTime(check.nextCheckAt)}</time>.
    </>
  );
}

/** The default for "Check this every N minutes". */
export const DEFAULT_CHECK_MINUTES = 60;

/**
 * "☐ Check this every [60] minutes": the checkbox is named by the whole sentence (with
 * the number in it), the number on its own; `current` is the check a new one replaces.
 */
export function CheckEveryField({ checked, minutes, current, onChecked, onMinutes }: {
  checked: boolean;
  minutes: string;
  current: HealthCheck | null;
  onChecked: (checked: boolean) => void;
  onMinutes: (minutes: string) => void;
}) {
  const id = useId();
  return (
    <div className="field check-every">
      <div className="check-every-row">
        <input id={`${id}-on`} type="checkbox" checked={checked} onChange={(e) => onChecked(e.target.checked)} aria-label={`Check this every ${minutes || 'N'} minutes`} aria-describedby={`${id}-hint`} />
        <label htmlFor={`${id}-on`}>Check this every</label>
        {/* The number and its unit wrap together on a narrow screen. */}
        <span className="check-every-minutes">
          <label htmlFor={`${id}-minutes`} className="visually-hidden">Minutes between checks</label>
          <input id={`${id}-minutes`} type="number" min={5} max={10_080} step={1} required={checked} disabled={!checked} value={minutes} onChange={(e) => onMinutes(e.target.value)} />
          <span aria-hidden="true">minutes</span>
        </span>
      </div>
      <p className="hint" id={`${id}-hint`}>
        Credence then runs this test with these inputs on a schedule, and its result becomes the credential’s health.{current ? ' It replaces the current check.' : ''}
      </p>
    </div>
  );
}
