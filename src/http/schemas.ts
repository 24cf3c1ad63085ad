import { Type, type TSchema } from 'typebox';
import { AUTH_METHOD_KEYS, CREDENTIAL_STATUSES } from '../credentials/auth-methods.js';
import { HEALTH_SOURCES, HEALTH_VALUES } from '../credentials/health.js';
import { ROLES } from '../tenants/actor.js';
import { MAX_PAGE_SIZE } from '../common/pagination.js';

/** Schemas shared by the route plugins; OpenAPI is generated from these. */
export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'Every error has this shape' },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `Page size (default 50, at most ${MAX_PAGE_SIZE})` })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor from the previous page' })),
};

export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableString = Type.Union([Type.String(), Type.Null()]);

export const AuthMethodKey = Type.Enum(AUTH_METHOD_KEYS);
export const CredentialStatus = Type.Enum(CREDENTIAL_STATUSES);
export const Role = Type.Enum(ROLES);
export const Health = Type.Enum(HEALTH_VALUES, {
  description: 'healthy: the service accepted it when last used or checked; degraded: the last attempt failed for a reason that may pass; failing: the service refuses it; needs_reauthorization: someone has to authorize again; unknown: not used or checked since it was created or its secret changed',
});

/** A credential's health as every credential response carries it. */
const HealthFields = {
  health: Health,
  healthMessage: Type.Union([Type.String(), Type.Null()], { description: 'What the last observation said' }),
  healthCheckedAt: Type.Union([Timestamp, Type.Null()], { description: 'When the health was last observed (a refresh, run, test or check), changed or not' }),
  since: Type.String({ format: 'date-time', description: 'Since when the health has been what it is' }),
};

export const HealthCheckBody = Type.Object(
  {
    component: Type.String({ maxLength: 64 }),
    action: Type.Optional(Type.String({ maxLength: 64, description: "Default: the component's test action" })),
    inputs: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown())),
    everyMinutes: Type.Integer({ minimum: 5, maximum: 10_080, description: 'How often the worker runs it (at least every 5 minutes)' }),
  },
  { additionalProperties: false, description: 'A check the worker runs with the credential on a schedule, as a credential test; its outcome is the credential\'s health' },
);

export const CredentialHealth = Type.Object({
  ...HealthFields,
  history: Type.Array(
    Type.Object({
      id: Type.String(),
      from: Health,
      to: Health,
      source: Type.Enum(HEALTH_SOURCES, { description: 'What showed it: an authorization, a token refresh, a credential test, a scheduled check, a run step, or a change of the secret' }),
      message: NullableString,
      at: Timestamp,
    }),
    { description: 'Each change of health, newest first' },
  ),
});

/** A field value as submitted: a string, at most 64 KiB. */
export const FieldValue = Type.String({ maxLength: 65536 });

export const Credential = Type.Object({
  id: Type.String(),
  label: Type.String(),
  authMethod: AuthMethodKey,
  level: Type.Union([Type.Literal('organization'), Type.Literal('customer')]),
  customerId: NullableString,
  status: CredentialStatus,
  fields: Type.Record(
    Type.String(),
    Type.Object({
      set: Type.Boolean(),
      value: Type.Optional(Type.String({ description: 'Only for values that are not secret (oauth2 client_id, scopes, auth_uri, token_uri)' })),
    }),
  ),
  authorizedAt: Type.Union([Timestamp, Type.Null()], { description: 'oauth2: when a person last completed authorization' }),
  oauth2: Type.Union([
    Type.Object({
      grantType: Type.String(),
      provider: NullableString,
      redirectUri: Type.String({ description: 'Register exactly this redirect URI with the provider' }),
      issuer: Type.String({ description: 'The iss authorization responses must carry' }),
      authorizedAt: Type.Union([Timestamp, Type.Null()]),
      tokenExpiresAt: Type.Union([Timestamp, Type.Null()]),
      requestedScopes: Type.Array(Type.String(), { description: 'The scopes the authorization asks for' }),
      grantedScopes: NullableString,
      missingScopes: Type.Array(Type.String(), { description: 'Requested scopes the provider did not grant (empty when it did not say what it granted)' }),
      lastRefreshedAt: Type.Union([Timestamp, Type.Null()]),
      nextRefreshAt: Type.Union([Timestamp, Type.Null()]),
      lastError: NullableString,
    }),
    Type.Null(),
  ]),
  destinations: Type.Array(Type.String(), { description: 'Origins the secret may be sent to (oauth2: where the access token may go); empty means nowhere' }),
  lastTest: Type.Union([Type.Object({ ok: Type.Boolean(), message: Type.String(), at: Timestamp }), Type.Null()]),
  expiresAt: Type.Union([Timestamp, Type.Null()], { description: 'When the credential itself stops working, if known: credential.expiring goes out 30, 7 and 1 days before, credential.expired at the date' }),
  clientSecretExpiresAt: Type.Union([Timestamp, Type.Null()], { description: "oauth2: when the app's client secret expires, if known (warned about the same way)" }),
  contactEmail: Type.Union([Type.String(), Type.Null()], { description: "Who besides the organization's admins is emailed when the credential needs reauthorization, fails or nears expiry" }),
  healthCheck: Type.Union([
    Type.Object({
      component: Type.String(),
      action: Type.String(),
      inputs: Type.Record(Type.String(), Type.Unknown()),
      everyMinutes: Type.Integer(),
      nextCheckAt: Timestamp,
      lastCheckAt: Type.Union([Timestamp, Type.Null()]),
    }),
    Type.Null(),
  ]),
  ...HealthFields,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const Customer = Type.Object({
  id: Type.String(),
  name: Type.String(),
  externalId: NullableString,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const ApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Role,
  customerId: NullableString,
  createdAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
});

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
};

/** A credential's destinations as a request gives them. */
export const Destinations = Type.Array(Type.String({ maxLength: 300 }), {
  maxItems: 32,
  description: 'Origins (scheme://host[:port], https, http or sftp; *. only as a whole leading label) the secret may be sent to',
});
