import type { ComponentAction, Credential } from '../api/types.js';

/** Scopes typed or sent as text: separated by spaces (or commas), each once, in order. */
export const parseScopes = (text: string | null | undefined): string[] => [...new Set((text ?? '').split(/[\s,]+/).filter((s) => s !== ''))];

/** Each scope once, in the order first seen. */
export const unionOf = (...lists: string[][]): string[] => [...new Set(lists.flat())];

/**
 * The scopes `action` needs that `credential` was not granted. Like the server, only
 * when the provider said what it granted: a grant still to come is the provider's to check.
 */
export const scopesLacking = (action: Pick<ComponentAction, 'scopes'> | undefined, credential: Credential | undefined): string[] => {
  if (!action || action.scopes.length === 0 || credential?.authMethod !== 'oauth2') return [];
  const granted = parseScopes(credential.oauth2?.grantedScopes);
  return granted.length === 0 ? [] : action.scopes.filter((scope) => !granted.includes(scope));
};

/** The credential's OAuth tab with `scopes` filled in its "Add scopes" input. */
export const addScopesHref = (credentialId: string, scopes: string[]): string =>
  `/credentials/${encodeURIComponent(credentialId)}/oauth2${scopes.length > 0 ? `?${new URLSearchParams({ addScopes: scopes.join(' ') }).toString()}` : ''}`;

/** "step list: dropbox.listFolder needs the scope(s) a b, which …" → each step with its scopes; a fallback when nothing better is known. */
export const missingScopesInMessage = (message: string): { step: string; scopes: string[] }[] =>
  [...message.matchAll(/step ([A-Za-z][\w-]*): \S+ needs the scopes? (.+?), which/g)].map((m) => ({ step: m[1] ?? '', scopes: parseScopes(m[2]) }));

/** "Needs scopes: files.metadata.read.", the hint beside a step's action; empty when it needs none. */
export const needsScopesText = (scopes: readonly string[]): string => (scopes.length > 0 ? `Needs scopes: ${scopes.join(' ')}.` : '');
