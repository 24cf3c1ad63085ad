/**
 * OAuth 2.0 provider presets: the endpoints, default scopes, extra authorization
 * parameters and client authentication method each provider documents, so an operator
 * picks "Dropbox" instead of copying URLs. A preset only fills in an `oauth2`
 * credential's fields; the client id and secret always come from the operator.
 *
 * Every URL is absolute `https` with no query or fragment: parameters a provider needs
 * on the authorization request live in `extraAuthParams`, never in `authUri`.
 */
export interface OAuthPreset {
  /** Stable identifier, lower-case, used in the API and CLI. */
  key: string;
  /** Display name of the provider. */
  name: string;
  /** Authorization endpoint the customer's browser is sent to. */
  authUri: string;
  /** Token endpoint for the code exchange and refreshes. */
  tokenUri: string;
  /** Scopes requested unless the credential names its own; space-separated, may be `''`. */
  defaultScopes: string;
  /** Parameters added to every authorization request, e.g. the one that asks for a refresh token. */
  extraAuthParams: Record<string, string>;
  /** How the client authenticates at the token endpoint (RFC 6749 §2.3.1). */
  clientAuth: 'client_secret_basic' | 'client_secret_post';
  /**
   * The issuer identifier, set only where the provider documents one that equals the
   * `iss` it sends (RFC 9207 authorization responses, OIDC ID tokens). Absent means
   * "do not check `iss`", never "any issuer".
   */
  issuer?: string;
  /** The provider's own documentation of its OAuth 2.0 authorization code flow. */
  docsUrl: string;
  /** The origins of the provider's APIs: where its access tokens may be sent (the credential's default destinations). */
  apiOrigins: readonly string[];
  /** How the provider joins scopes in the `scope` parameter; a space when absent. */
  scopeSeparator?: ' ' | ',';
  /**
   * Where the provider says which account a token belongs to, when it issues no ID token:
   * `path` on the credential's first destination (the preset's API origin by default),
   * called with the access token; `field` of the JSON answer is the account's id.
   */
  identity?: { method: 'GET' | 'POST'; path: string; body?: string; field: string };
}

/** Presets are shared by every caller, so neither they nor their parameter maps may change. */
const freezePreset = (preset: OAuthPreset): OAuthPreset => {
  if (preset.identity) Object.freeze(preset.identity);
  Object.freeze(preset.extraAuthParams);
  Object.freeze(preset.apiOrigins);
  return Object.freeze(preset);
};

/**
 * The known providers, in display order.
 *
 * @example
 * OAUTH_PRESETS.map((preset) => preset.key); // ['dropbox', 'google', ...]
 */
export const OAUTH_PRESETS: readonly OAuthPreset[] = Object.freeze(
  ([
    {
      key: 'dropbox',
      name: 'Dropbox',
      authUri: 'https://www.dropbox.com/oauth2/authorize',
      tokenUri: 'https://api.dropboxapi.com/oauth2/token',
      defaultScopes: '',
      // Without it Dropbox issues a short-lived access token and no refresh token.
      extraAuthParams: { token_access_type: 'offline' },
      clientAuth: 'client_secret_basic',
      docsUrl: 'https://developers.dropbox.com/oauth-guide',
      apiOrigins: ['https://api.dropboxapi.com', 'https://content.dropboxapi.com'],
      identity: { method: 'POST', path: '/2/users/get_current_account', body: 'null', field: 'account_id' },
    },
    {
      key: 'google',
      name: 'Google',
      authUri: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUri: 'https://oauth2.googleapis.com/token',
      defaultScopes: '',
      // access_type=offline asks for a refresh token; Google returns one only on the
      // first consent unless prompt=consent forces the consent screen again.
      extraAuthParams: { access_type: 'offline', prompt: 'consent' },
      clientAuth: 'client_secret_post',
      issuer: 'https://accounts.google.com',
      docsUrl: 'https://developers.google.com/identity/protocols/oauth2/web-server',
      apiOrigins: ['https://www.googleapis.com', 'https://*.googleapis.com'],
      identity: { method: 'GET', path: '/oauth2/v3/userinfo', field: 'sub' },
    },
    {
      key: 'microsoft',
      name: 'Microsoft (Entra ID, Microsoft 365)',
      authUri: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
      tokenUri: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      defaultScopes: 'offline_access',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      // No issuer: with the `common` tenant the `iss` names the user's own tenant.
      docsUrl: 'https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow',
      apiOrigins: ['https://graph.microsoft.com'],
      identity: { method: 'GET', path: '/v1.0/me', field: 'id' },
    },
    {
      key: 'slack',
      name: 'Slack',
      authUri: 'https://slack.com/oauth/v2/authorize',
      tokenUri: 'https://slack.com/api/oauth.v2.access',
      defaultScopes: '',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      docsUrl: 'https://api.slack.com/authentication/oauth-v2',
      apiOrigins: ['https://slack.com'],
      identity: { method: 'POST', path: '/api/auth.test', field: 'user_id' },
      scopeSeparator: ',',
    },
    {
      key: 'github',
      name: 'GitHub',
      authUri: 'https://github.com/login/oauth/authorize',
      tokenUri: 'https://github.com/login/oauth/access_token',
      defaultScopes: '',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      docsUrl: 'https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps',
      apiOrigins: ['https://api.github.com'],
      identity: { method: 'GET', path: '/user', field: 'id' },
    },
    {
      key: 'salesforce',
      name: 'Salesforce',
      authUri: 'https://login.salesforce.com/services/oauth2/authorize',
      tokenUri: 'https://login.salesforce.com/services/oauth2/token',
      defaultScopes: 'api refresh_token',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      docsUrl: 'https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_understanding_web_server_oauth_flow.htm',
      apiOrigins: ['https://*.my.salesforce.com'],
    },
    {
      key: 'hubspot',
      name: 'HubSpot',
      authUri: 'https://app.hubspot.com/oauth/authorize',
      tokenUri: 'https://api.hubapi.com/oauth/v1/token',
      defaultScopes: 'oauth',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      docsUrl: 'https://developers.hubspot.com/docs/api/oauth-quickstart-guide',
      apiOrigins: ['https://api.hubapi.com'],
    },
    {
      key: 'box',
      name: 'Box',
      authUri: 'https://account.box.com/api/oauth2/authorize',
      tokenUri: 'https://api.box.com/oauth2/token',
      defaultScopes: '',
      extraAuthParams: {},
      clientAuth: 'client_secret_post',
      docsUrl: 'https://developer.box.com/guides/authentication/oauth2/',
      apiOrigins: ['https://api.box.com', 'https://upload.box.com'],
    },
    {
      key: 'zoom',
      name: 'Zoom',
      authUri: 'https://zoom.us/oauth/authorize',
      tokenUri: 'https://zoom.us/oauth/token',
      defaultScopes: '',
      extraAuthParams: {},
      clientAuth: 'client_secret_basic',
      docsUrl: 'https://developers.zoom.us/docs/integrations/oauth/',
      apiOrigins: ['https://api.zoom.us'],
    },
    {
      key: 'atlassian',
      name: 'Atlassian (Jira, Confluence)',
      authUri: 'https://auth.atlassian.com/authorize',
      tokenUri: 'https://auth.atlassian.com/oauth/token',
      defaultScopes: 'offline_access',
      extraAuthParams: { audience: 'api.atlassian.com', prompt: 'consent' },
      clientAuth: 'client_secret_post',
      docsUrl: 'https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/',
      apiOrigins: ['https://api.atlassian.com'],
    },
    {
      key: 'xero',
      name: 'Xero',
      authUri: 'https://login.xero.com/identity/connect/authorize',
      tokenUri: 'https://identity.xero.com/connect/token',
      defaultScopes: 'offline_access',
      extraAuthParams: {},
      clientAuth: 'client_secret_basic',
      docsUrl: 'https://developer.xero.com/documentation/guides/oauth2/auth-flow/',
      apiOrigins: ['https://api.xero.com'],
    },
    {
      key: 'intuit',
      name: 'Intuit QuickBooks Online',
      authUri: 'https://appcenter.intuit.com/connect/oauth2',
      tokenUri: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
      defaultScopes: 'com.intuit.quickbooks.accounting',
      extraAuthParams: {},
      clientAuth: 'client_secret_basic',
      docsUrl: 'https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0',
      apiOrigins: ['https://quickbooks.api.intuit.com', 'https://sandbox-quickbooks.api.intuit.com'],
    },
  ] satisfies OAuthPreset[]).map(freezePreset),
);

const hostOf = (url: string | undefined): string | undefined => (url !== undefined && URL.canParse(url) ? new URL(url).host.toLowerCase() : undefined);

/**
 * Which of a credential's endpoints are not on the preset's hosts: `auth_uri` must be on the
 * preset's authorization host and `token_uri` on its token host (paths may differ, e.g. a
 * Microsoft tenant instead of `common`). Empty when both match.
 *
 * @example
 * endpointsOffPreset(findPreset('dropbox')!, 'https://evil.example/authorize', 'https://api.dropboxapi.com/oauth2/token'); // ['auth_uri']
 */
export const endpointsOffPreset = (preset: OAuthPreset, authUri: string | undefined, tokenUri: string): Array<'auth_uri' | 'token_uri'> => {
  const off: Array<'auth_uri' | 'token_uri'> = [];
  if (authUri !== undefined && hostOf(authUri) !== hostOf(preset.authUri)) off.push('auth_uri');
  if (hostOf(tokenUri) !== hostOf(preset.tokenUri)) off.push('token_uri');
  return off;
};

/**
 * The preset with this key, or `undefined` when there is none. Keys match exactly
 * (they are lower-case).
 *
 * @example
 * findPreset('dropbox')?.extraAuthParams; // { token_access_type: 'offline' }
 * findPreset('nope');                     // undefined
 */
export const findPreset = (key: string): OAuthPreset | undefined => OAUTH_PRESETS.find((preset) => preset.key === key);
