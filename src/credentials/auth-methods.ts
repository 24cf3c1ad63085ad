/**
 * The five authorization methods, with their keys and field names exactly as the
 * product brief names them. `secret` fields are write-only: the API says whether they
 * are set, never what they hold. Every value, secret or not, is encrypted at rest.
 */
export type FieldKind = 'text' | 'multiline' | 'uri' | 'scopes';

export interface FieldSpec {
  name: string;
  label: string;
  secret: boolean;
  required: boolean;
  kind: FieldKind;
}

export interface AuthMethod {
  key: AuthMethodKey;
  name: string;
  description: string;
  fields: FieldSpec[];
}

export const AUTH_METHOD_KEYS = ['api_key_secret', 'basic', 'private_key', 'api_key', 'oauth2'] as const;
export type AuthMethodKey = (typeof AUTH_METHOD_KEYS)[number];

const field = (name: string, label: string, options: Partial<Omit<FieldSpec, 'name' | 'label'>> = {}): FieldSpec => ({
  name,
  label,
  secret: options.secret ?? true,
  required: options.required ?? true,
  kind: options.kind ?? 'text',
});

export const AUTH_METHODS: Record<AuthMethodKey, AuthMethod> = {
  api_key_secret: {
    key: 'api_key_secret',
    name: 'API Key / Secret',
    description: 'A key and secret pair, such as an AWS access key id and secret access key.',
    fields: [field('api_key', 'API Key'), field('api_secret', 'API Secret')],
  },
  basic: {
    key: 'basic',
    name: 'Basic Auth',
    description: 'A username and password, for HTTP or FTP(S) services.',
    fields: [field('username', 'Username'), field('password', 'Password')],
  },
  private_key: {
    key: 'private_key',
    name: 'Private Key',
    description: 'A username and the private half of a key pair (PEM or OpenSSH), for SFTP and similar.',
    fields: [field('username', 'Username'), field('private_key', 'Private Key', { kind: 'multiline' })],
  },
  api_key: {
    key: 'api_key',
    name: 'API Key',
    description: 'A single token, often a signed JWT, exchanged for access to a resource.',
    fields: [field('api_key', 'API Key')],
  },
  oauth2: {
    key: 'oauth2',
    name: 'OAuth 2.0',
    description: 'Client id and secret, scopes, and the authorization and token URLs of an OAuth 2.0 provider.',
    fields: [
      field('client_id', 'Client ID', { secret: false }),
      field('client_secret', 'Client Secret'),
      field('scopes', 'Scopes', { secret: false, required: false, kind: 'scopes' }),
      field('auth_uri', 'Authorization URL', { secret: false, kind: 'uri' }),
      field('token_uri', 'Access Token URL', { secret: false, kind: 'uri' }),
    ],
  },
};

export const isAuthMethodKey = (value: string): value is AuthMethodKey => (AUTH_METHOD_KEYS as readonly string[]).includes(value);

export const CREDENTIAL_STATUSES = ['active', 'pending_authorization', 'authorized', 'refresh_failed', 'reauthorization_required'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

/** A new credential's status: OAuth 2.0 waits for someone to authorize; the others are usable at once. */
export const initialStatus = (method: AuthMethodKey): CredentialStatus => (method === 'oauth2' ? 'pending_authorization' : 'active');
