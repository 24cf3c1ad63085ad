import type { ComponentFailureKind } from '../components/component.js';

/**
 * A credential's health: whether the service it is for accepts it, as far as Credence last
 * saw. `degraded`: the last attempt failed for a reason that may pass (the service could not
 * be reached, a refresh will be retried); `failing`: the service refuses the credential;
 * `needs_reauthorization`: an OAuth 2.0 grant is gone and only a person can bring it back;
 * `unknown`: nothing has used or checked it since it was created or its secret was changed.
 */
export const HEALTH_VALUES = ['healthy', 'degraded', 'failing', 'needs_reauthorization', 'unknown'] as const;
export type Health = (typeof HEALTH_VALUES)[number];

/** What told Credence about a credential's health. */
export const HEALTH_SOURCES = ['authorization', 'refresh', 'test', 'check', 'run', 'change', 'expiry'] as const;
export type HealthSource = (typeof HEALTH_SOURCES)[number];

/** A credential's health as the API shows it. */
export interface HealthState {
  health: Health;
  /** What the last observation said (in Credence's words, or the service's answer to a test). */
  healthMessage: string | null;
  /** When the health was last observed, whether or not it changed. */
  healthCheckedAt: string | null;
  /** Since when the health has been what it is. */
  since: string;
}

/** One change of health, as the credential's history shows it. */
export interface HealthChange {
  id: string;
  from: Health;
  to: Health;
  source: HealthSource;
  message: string | null;
  at: string;
}

/** Failures that mean the service refused the credential itself, rather than something in the way. */
const CREDENTIAL_REFUSED: ReadonlySet<ComponentFailureKind> = new Set(['auth_refused', 'token_expired']);

/** What a component's failure says of the credential it used: refused, or maybe only in the way of it. */
export const healthOfFailure = (kind: ComponentFailureKind): Health => (CREDENTIAL_REFUSED.has(kind) ? 'failing' : 'degraded');

/** Whether a run step's failure is the credential's (a run's other failures say nothing of it). */
export const isCredentialFailure = (kind: ComponentFailureKind): boolean => CREDENTIAL_REFUSED.has(kind);
