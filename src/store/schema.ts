import type { Generated } from 'kysely';

/**
 * Row shapes of every table. They stay inside the store modules; the rest of the code
 * sees domain types. Times are ISO-8601 UTC strings (they sort as text on both
 * engines); booleans are 0/1 integers; ciphertexts are text.
 */
export interface OAuthEmailSendsTable {
  id: string;
  organization_id: string;
  customer_id: string | null;
  credential_id: string;
  sent_at: string;
}

export interface OAuthEmailSettingsTable {
  organization_id: string;
  /** JSON array of lower-case domain names. */
  allowed_domains: string;
  updated_at: string;
}

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface CustomersTable {
  id: string;
  organization_id: string;
  name: string;
  external_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  organization_id: string;
  email: string;
  password_hash: string;
  role: string;
  customer_id: string | null;
  created_at: string;
  invite_token_hash: string | null;
  invite_expires_at: string | null;
}

/** Wrong passwords counted per (email, client address); see migration 0011. */
export interface SignInLockoutsTable {
  /** SHA-256 of the lower-cased email, known to Credence or not. */
  email_hash: string;
  address: string;
  failures: number;
  locked_until: string | null;
  updated_at: string;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  organization_id: string;
  created_at: string;
  expires_at: string;
}

export interface ApiTokensTable {
  id: string;
  organization_id: string;
  name: string;
  role: string;
  customer_id: string | null;
  token_hash: string;
  created_by: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface DataKeysTable {
  id: string;
  organization_id: string;
  scope_id: string;
  version: number;
  wrapped_key: string;
  root_key_id: string;
  created_at: string;
  retired_at: string | null;
  /** Values sealed under this key so far (a bigint: PostgreSQL returns it as a string). */
  encryption_count: Generated<number | string>;
}

export interface KeyRotationJobsTable {
  id: string;
  organization_id: string;
  scope_id: string;
  target_version: number;
  reason: string;
  status: string;
  phase: string;
  cursor: string | null;
  pass: number;
  done: number;
  total: number;
  failed: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface CredentialsTable {
  id: string;
  organization_id: string;
  customer_id: string | null;
  label: string;
  label_search: string;
  auth_method: string;
  status: string;
  set_fields: string;
  config_ciphertext: string | null;
  secret_ciphertext: string;
  /** JSON of OAuth 2.0 settings that are not secret (grant type, provider, issuer); null otherwise. */
  oauth_settings: string | null;
  /** JSON `{ok, message, at}` of the last credential test, in clear: only rows tested before migration 0012 until the start-up migration seals them. */
  last_test: string | null;
  /** The last credential test, sealed with the credential's scope key (field set `last-test`). */
  last_test_ciphertext: string | null;
  /** JSON array of the canonical origins the secret may be sent to (sealed into the ciphertexts' associated data); null before migration 0009 resealed the row. */
  destinations: string | null;
  /** When the credential itself stops working, if known (migration 0018). */
  expires_at: string | null;
  /** oauth2: when the app's client secret expires, if known. */
  client_secret_expires_at: string | null;
  /** Who besides the organization's admins hears of the credential's trouble. */
  contact_email: string | null;
  row_version: number;
  created_at: string;
  updated_at: string;
}

/** An alert email about a credential in trouble, queued with its event (migration 0019). */
export interface AlertEmailsTable {
  id: string;
  organization_id: string;
  credential_id: string;
  reason: string;
  /** JSON: what the email says (days left, the date, the health's source). */
  details: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  sent_at: string | null;
  error: string | null;
}

/** Each expiry warning sent, once per credential, kind, date and lead time. */
export interface CredentialExpiryNoticesTable {
  credential_id: string;
  organization_id: string;
  kind: string;
  expires_at: string;
  days_before: number;
  sent_at: string;
}

export interface AuditEventsTable {
  id: string;
  organization_id: string;
  customer_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string;
  occurred_at: string;
  /** Position in the organization's hash chain (1, 2, …); null for events older than the chain. */
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
}

/** The last link of each organization's audit chain; its row lock orders concurrent inserts. */
export interface AuditHeadsTable {
  organization_id: string;
  seq: number;
  /** The link before the last: handed to the event that takes the head. */
  prev_hash: string;
  hash: string;
}

export interface OAuthGrantsTable {
  credential_id: string;
  organization_id: string;
  tokens_ciphertext: string | null;
  token_type: string | null;
  granted_scopes: string | null;
  expires_at: string | null;
  refresh_due_at: string | null;
  authorized_at: string | null;
  last_refreshed_at: string | null;
  failure_count: number;
  last_error: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  version: number;
}

/** A credential's current health (migration 0016); no row: never checked. */
export interface CredentialHealthTable {
  credential_id: string;
  organization_id: string;
  health: string;
  since: string;
  checked_at: string;
  source: string;
  message_ciphertext: string | null;
}

/** A credential's scheduled health check (migration 0016). */
export interface CredentialHealthChecksTable {
  credential_id: string;
  organization_id: string;
  component: string;
  action: string;
  /** JSON object: the action's inputs. */
  inputs: string;
  every_minutes: number;
  due_at: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_run_at: string | null;
}

/** Each change of a credential's health. */
export interface CredentialHealthHistoryTable {
  id: string;
  organization_id: string;
  credential_id: string;
  from_health: string;
  to_health: string;
  source: string;
  at: string;
  message_ciphertext: string | null;
}

export interface WebhookEndpointsTable {
  id: string;
  organization_id: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  description: string;
  secret_ciphertext: string;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One event for one endpoint: the outbox row the worker delivers. */
export interface WebhookDeliveriesTable {
  id: string;
  organization_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** The JSON body, exactly as sent. */
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  organization_id: string;
  at: string;
  ok: number;
  response_status: number | null;
  latency_ms: number;
  error: string | null;
}

export interface OAuthLinksTable {
  id: string;
  organization_id: string;
  credential_id: string;
  token_hash: string;
  created_by: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
  /** 1: the link may attach another provider account than the one the credential had. */
  allow_account_change: number;
  /** When authorization_link.expired went out for it, if it expired unused. */
  expiry_notified_at: string | null;
}

export interface OAuthStatesTable {
  id: string;
  state_hash: string;
  organization_id: string;
  credential_id: string;
  link_id: string;
  browser_hash: string;
  verifier_ciphertext: string;
  redirect_uri: string;
  issuer: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface IntegrationsTable {
  id: string;
  organization_id: string;
  name: string;
  description: string | null;
  steps: string;
  created_at: string;
  updated_at: string;
}

export interface InstancesTable {
  id: string;
  organization_id: string;
  integration_id: string;
  customer_id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface InstanceBindingsTable {
  instance_id: string;
  step_name: string;
  organization_id: string;
  /** Null when the bound credential was deleted with force: the binding shows as missing. */
  credential_id: string | null;
}

export interface RunsTable {
  id: string;
  organization_id: string;
  instance_id: string;
  status: string;
  /** JSON of the steps: name, status, timing, credential. Outputs, logs and errors are in the ciphertexts (clear only in rows older than migration 0012 until sealed). */
  steps: string;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  /** The run's error and each step's error, sealed with the customer's key (field set `run-errors`). */
  errors_ciphertext: string | null;
  /** Each step's output and logs, sealed with the customer's key (field set `run-outputs`). */
  outputs_ciphertext: string | null;
}

export interface SetupMarksTable {
  name: string;
  done_at: string;
}

export interface Database {
  organizations: OrganizationsTable;
  customers: CustomersTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  data_keys: DataKeysTable;
  key_rotation_jobs: KeyRotationJobsTable;
  credentials: CredentialsTable;
  credential_health: CredentialHealthTable;
  credential_health_history: CredentialHealthHistoryTable;
  credential_health_checks: CredentialHealthChecksTable;
  credential_expiry_notices: CredentialExpiryNoticesTable;
  alert_emails: AlertEmailsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  audit_events: AuditEventsTable;
  audit_heads: AuditHeadsTable;
  oauth_grants: OAuthGrantsTable;
  oauth_links: OAuthLinksTable;
  oauth_states: OAuthStatesTable;
  oauth_email_sends: OAuthEmailSendsTable;
  oauth_email_settings: OAuthEmailSettingsTable;
  integrations: IntegrationsTable;
  instances: InstancesTable;
  instance_bindings: InstanceBindingsTable;
  runs: RunsTable;
  sessions: SessionsTable;
  sign_in_lockouts: SignInLockoutsTable;
  setup_marks: SetupMarksTable;
}
