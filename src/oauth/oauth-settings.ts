import { AppError } from '../common/app-error.js';
import { findPreset, OAUTH_PRESETS } from './oauth-presets.js';

export const GRANT_TYPES = ['authorization_code', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** The non-secret OAuth 2.0 settings of an oauth2 credential, beside its five fields. */
export interface OAuthSettings {
  grantType: GrantType;
  /** The preset it was created from, if any. */
  provider: string | null;
  /** Expected `iss` of authorization responses; the authorization URL's origin when not set. */
  issuer: string | null;
  /**
   * Whether authorization responses must carry `iss` (RFC 9207). True when the issuer
   * was given explicitly: saying who the issuer is means it identifies itself.
   */
  requireIss?: boolean;
  extraAuthParams: Record<string, string>;
  clientAuth: 'client_secret_basic' | 'client_secret_post';
}

export interface OAuthSettingsInput {
  provider?: string | undefined;
  grantType?: string | undefined;
  issuer?: string | undefined;
}

/**
 * Settles an oauth2 credential's settings and fills in the preset's URLs and default
 * scopes. Fields the caller gave always win over the preset.
 */
export const applyOAuthSettings = (
  input: OAuthSettingsInput,
  fields: Record<string, string>,
): { settings: OAuthSettings; fields: Record<string, string> } => {
  const grantType = (input.grantType ?? 'authorization_code') as GrantType;
  if (!GRANT_TYPES.includes(grantType)) throw new AppError('VALIDATION_FAILED', `grantType must be one of ${GRANT_TYPES.join(', ')}`);
  const preset = input.provider === undefined ? undefined : findPreset(input.provider);
  if (input.provider !== undefined && !preset) {
    throw new AppError('VALIDATION_FAILED', `Unknown provider; use one of ${OAUTH_PRESETS.map((p) => p.key).join(', ')}`);
  }
  if (input.issuer !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(input.issuer);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new AppError('VALIDATION_FAILED', 'issuer must be an absolute URL');
  }
  const filled = { ...fields };
  if (preset) {
    filled.auth_uri ??= preset.authUri;
    filled.token_uri ??= preset.tokenUri;
    if (filled.scopes === undefined && preset.defaultScopes) filled.scopes = preset.defaultScopes;
  }
  return {
    settings: {
      grantType,
      provider: preset?.key ?? null,
      issuer: input.issuer ?? preset?.issuer ?? null,
      requireIss: input.issuer !== undefined,
      extraAuthParams: { ...(preset?.extraAuthParams ?? {}) },
      clientAuth: preset?.clientAuth ?? 'client_secret_basic',
    },
    fields: filled,
  };
};

/** The issuer an authorization response's `iss` must match (RFC 9207). */
export const expectedIssuer = (settings: OAuthSettings, authUri: string | undefined, tokenUri: string): string =>
  settings.issuer ?? new URL(authUri ?? tokenUri).origin;

/** Fields that a grant type does not need: a client-credentials grant never sends anyone to an authorization URL. */
export const optionalFieldsFor = (settings: OAuthSettings): string[] => (settings.grantType === 'client_credentials' ? ['auth_uri'] : []);

/** How scopes are joined for a provider. */
/** Scopes as a list, whatever separator they were written or granted with. */
export const scopeList = (scopes: string | null | undefined): string[] => (scopes ?? '').split(/[\s,]+/).filter(Boolean);

export const scopeParameter = (settings: OAuthSettings, scopes: string | undefined): string => {
  const list = scopeList(scopes);
  const separator = (settings.provider && findPreset(settings.provider)?.scopeSeparator) || ' ';
  return list.join(separator);
};
