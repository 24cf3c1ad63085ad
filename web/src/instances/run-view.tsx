import type { Run } from '../api/types.js';
import { formatDateTime, formatDuration } from '../ui/format.js';
import { StepOutput } from './step-output.js';

const tone = (status: string): string => (status === 'succeeded' ? 'ok' : status === 'failed' ? 'error' : status === 'running' ? 'warn' : 'neutral');

export function RunStatus({ status }: { status: string }) {
  return <span className={`badge badge-${tone(status)}`}>{status}</span>;
}

/** One run: its status, and each step's status, error, output and logs. */
export function RunView({ run }: { run: Run }) {
  return (
    <section className="run" aria-labelledby={`run-${run.id}`}>
      <h3 id={`run-${run.id}`}>
        Run of {formatDateTime(run.startedAt)} <RunStatus status={run.status} />
      </h3>
      {run.error && <p className="alert alert-error">{run.error}</p>}
      <ol className="run-steps">
        {run.steps.map((step) => (
          <li key={step.name} className="run-step">
            <div className="run-step-header">
              <strong>{step.name}</strong> <span className="muted">{step.component}.{step.action}</span> <RunStatus status={step.status} />
              <span className="muted"> {formatDuration(step.durationMs)}</span>
            </div>
            {step.error && <p className="alert alert-error">{step.error}</p>}
            {step.status === 'succeeded' && <StepOutput output={step.output} label={`Output of ${step.name}`} />}
            {step.logs.length > 0 && (
              <details>
                <summary>Logs ({step.logs.length})</summary>
                <ul className="logs">
                  {step.logs.map((log, index) => (
                    <li key={index}>
                      <span className="muted">{formatDateTime(log.at)}</span> <span className={`log-${log.level}`}>{log.level}</span> {log.message}
                    </li>
                  ))}
                </ul>
              </details>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
