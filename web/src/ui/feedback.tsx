import type { ReactNode } from 'react';
import { isApiError } from '../api/client.js';

/** A polite, announced "working on it". */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** An API (or other) error, shown as the API phrased it, announced at once. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string | undefined }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = isApiError(error) ? error.code : undefined;
  return (
    <div className="alert alert-error" role="alert">
      {title && <strong>{title} </strong>}
      {message}
      {code && code !== 'NETWORK_ERROR' && <span className="error-code"> ({code})</span>}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** A region whose changes screen readers announce (results of actions). */
export function LiveRegion({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <div aria-live="polite" className={className}>
      {children}
    </div>
  );
}
