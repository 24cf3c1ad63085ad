import { describe, expect, it } from 'vitest';
import { OAUTH_PRESETS, findPreset } from '../../src/oauth/oauth-presets.js';

const REQUIRED_KEYS = ['dropbox', 'google', 'microsoft', 'slack', 'github', 'salesforce', 'hubspot', 'box', 'zoom', 'atlassian', 'xero', 'intuit'];

const urlsOf = (preset: (typeof OAUTH_PRESETS)[number]): [string, string][] => [
  [`${preset.key}.authUri`, preset.authUri],
  [`${preset.key}.tokenUri`, preset.tokenUri],
  [`${preset.key}.docsUrl`, preset.docsUrl],
  ...(preset.issuer === undefined ? [] : [[`${preset.key}.issuer`, preset.issuer] as [string, string]]),
];

describe('OAuth presets', () => {
  it('offers at least the twelve named providers', () => {
    const keys = OAUTH_PRESETS.map((preset) => preset.key);
    expect(keys).toEqual(expect.arrayContaining(REQUIRED_KEYS));
  });

  it('gives every preset a distinct key', () => {
    const keys = OAUTH_PRESETS.map((preset) => preset.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('uses only absolute https URLs without query or fragment', () => {
    const offending = OAUTH_PRESETS.flatMap(urlsOf).filter(([, value]) => {
      const url = new URL(value);
      return url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#');
    });
    expect(offending).toEqual([]);
  });

  it('asks Dropbox for a refresh token with token_access_type=offline', () => {
    expect(findPreset('dropbox')?.extraAuthParams).toEqual({ token_access_type: 'offline' });
  });

  it('asks Google for a refresh token on every consent with access_type=offline and prompt=consent', () => {
    const google = findPreset('google');
    expect(google?.extraAuthParams).toEqual({ access_type: 'offline', prompt: 'consent' });
    expect(google?.issuer).toBe('https://accounts.google.com');
  });

  it('joins Slack scopes with commas and authenticates the client in the body', () => {
    expect(findPreset('slack')).toMatchObject({ scopeSeparator: ',', clientAuth: 'client_secret_post', tokenUri: 'https://slack.com/api/oauth.v2.access' });
  });

  it('keeps default scopes free of commas, since they are space-separated', () => {
    expect(OAUTH_PRESETS.filter((preset) => preset.defaultScopes.includes(',')).map((preset) => preset.key)).toEqual([]);
  });

  it('finds a preset by key and answers undefined for an unknown key', () => {
    expect(findPreset('atlassian')).toMatchObject({
      authUri: 'https://auth.atlassian.com/authorize',
      extraAuthParams: { audience: 'api.atlassian.com', prompt: 'consent' },
      defaultScopes: 'offline_access',
    });
    expect(findPreset('not-a-provider')).toBeUndefined();
    expect(findPreset('Dropbox')).toBeUndefined();
    expect(findPreset('')).toBeUndefined();
  });

  it('refuses changes to a shared preset', () => {
    const dropbox = findPreset('dropbox');
    expect(Object.isFrozen(dropbox)).toBe(true);
    expect(Object.isFrozen(dropbox?.extraAuthParams)).toBe(true);
    expect(Object.isFrozen(OAUTH_PRESETS)).toBe(true);
  });
});
