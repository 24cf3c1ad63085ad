/**
 * The shapes the web app receives from `/api/v1`. Where the backend exports a schema or
 * type, it is derived from it (so a contract change breaks the web build, not the
 * browser); the rest mirror the route schemas in `src/http/*-routes.ts`, which do not
 * export theirs yet.
 */
import type { Static } from 'typebox';
import type { Credential as CredentialSchema, CredentialHealth as CredentialHealthSchema, Customer as CustomerSchema, ErrorBody, HealthCheckBody } from '../../../src/http/schemas.js';
import type { AuthMethod as AuthMethodSpec, AuthMethodKey, CredentialStatus, FieldSpec } from '../../../src/credentials/auth-methods.js';
import type { Role } from '../../../src/tenants/actor.js';
import type { Instance as InstanceSchema, Integration as IntegrationSchema, Run as RunSchema, RunSummary as RunSummarySchema } from '../../../src/http/integration-routes.js';
import type { OAuthPreset } from '../../../src/oauth/oauth-presets.js';
import type { EventType } from '../../../src/events/event-types.js';
import type { WebhookEndpointView } from '../../../src/events/webhook-service.js';
import type { WebhookAttempt as WebhookAttemptRecord, WebhookDelivery as WebhookDeliveryRecord } from '../../../src/events/webhook-store.js';

export type { AuthMethodKey, CredentialStatus, EventType, FieldSpec, Role };

export type Credential = Static<typeof CredentialSchema>;
export type Customer = Static<typeof CustomerSchema>;
export type ErrorResponse = Static<typeof ErrorBody>;
export type AuthMethod = AuthMethodSpec;
export type ProviderPreset = Pick<OAuthPreset, 'key' | 'name' | 'authUri' | 'tokenUri' | 'defaultScopes' | 'extraAuthParams' | 'clientAuth' | 'docsUrl' | 'apiOrigins'>;
export type CredentialLevel = Credential['level'];
/** healthy, degraded, failing, needs_reauthorization or unknown. */
export type Health = Credential['health'];
/** The check the worker runs with a credential on a schedule, as the credential shows it. */
export type HealthCheck = NonNullable<Credential['healthCheck']>;
/** A scheduled check as a change sends it. */
export type HealthCheckChange = Static<typeof HealthCheckBody>;
/** GET /credentials/:id/health: the health with each change of it, newest first. */
export type CredentialHealth = Static<typeof CredentialHealthSchema>;
export type HealthChange = CredentialHealth['history'][number];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The signed-in person. */
export interface SessionUser {
  id: string;
  email: string;
  role: Role;
  customerId: string | null;
  organizationId: string;
  organizationName: string;
}

export interface SessionResponse {
  user: SessionUser;
  csrfToken: string;
}

export interface User {
  id: string;
  email: string;
  role: Role;
  customerId: string | null;
  createdAt: string;
  status: 'active' | 'invited';
}

export interface Invitation {
  user: User;
  inviteUrl: string;
  expiresAt: string;
}

export interface CredentialTestResult {
  ok: boolean;
  message: string;
  durationMs: number;
}

export interface CredentialUsage {
  instanceId: string;
  instanceName: string;
  step: string;
}

export interface AuthorizationLink {
  url: string;
  expiresAt: string;
}

export interface AuthorizationLinkStatus {
  active: boolean;
  expiresAt: string | null;
  createdAt: string | null;
}

export interface AuthorizationEmailReceipt {
  sentTo: string;
  expiresAt: string;
  delivery: { via: string; messageId: string; file?: string };
}

/** A JSON Schema object, as far as the web app reads it to build input fields. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
}

export interface ComponentAction {
  key: string;
  name: string;
  description: string;
  authMethods: AuthMethodKey[];
  credentialRequired: boolean;
  /** OAuth 2.0 scopes the action needs its token to carry. */
  scopes: string[];
  inputs: JsonSchema;
}

export interface Component {
  key: string;
  name: string;
  description: string;
  testAction: string;
  actions: ComponentAction[];
}

// Integrations, instances and runs: the shapes the routes declare, never copied by hand.
export type Integration = Static<typeof IntegrationSchema>;
export type IntegrationStep = Integration['steps'][number];
export type Instance = Static<typeof InstanceSchema>;
export type Run = Static<typeof RunSchema>;
export type RunStep = Run['steps'][number];
/** A run as the list shows it: steps without outputs or logs. */
export type RunSummary = Static<typeof RunSummarySchema>;

export interface AuditEvent {
  id: string;
  occurredAt: string;
  actor: { type: string; id: string | null; role: string | null };
  action: string;
  customerId: string | null;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
}

// Webhooks: the endpoint as the service shows it, and a delivery as the route sends it
// (its organization and endpoint dropped, the payload parsed, each attempt without its id).
export type WebhookEndpoint = WebhookEndpointView;
/** The answer to creating an endpoint or rotating its secret: the only time the secret is shown. */
export type WebhookEndpointWithSecret = WebhookEndpoint & { secret: string };
export type WebhookAttempt = Omit<WebhookAttemptRecord, 'id'>;
export type WebhookDelivery = Omit<WebhookDeliveryRecord, 'organizationId' | 'endpointId' | 'payload'> & { payload: unknown; attemptLog: WebhookAttempt[] };
export interface WebhookEndpointInput {
  url: string;
  events: EventType[];
  description?: string;
}
