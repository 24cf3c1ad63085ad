import { Type } from 'typebox';
import { ComponentError, DEFAULT_LISTING_LIMITS, createListingCollector, listingLimits, type ActionContext, type Component, type ListingLimits } from './component.js';
import { discardBody, fetchFailure, parseInputs, statusLabel, urlTargets } from './http-component.js';

/**
 * The `dropbox` component: a client of the Dropbox HTTP API v2 with an OAuth 2.0 access token.
 * `listFolder` calls `/2/files/list_folder` and follows `cursor` while `has_more` (at most
 * MAX_PAGES pages, and no further than the listing limits, answering `truncated: true`); `getCurrentAccount` calls `/2/users/get_current_account` and is the test.
 * The API base URL is an input so tests can point it at a loopback server; the token is only
 * ever sent over https, or over http to a loopback address.
 *
 * @example
 * await dropboxComponent.actions[0].perform(context, { path: '/Reports' });
 * // { entries: [{ tag: 'file', name: 'q1.pdf', pathDisplay: '/Reports/q1.pdf', id: 'id:…', size: 1024, serverModified: '…' }], truncated: false }
 */

export const DROPBOX_API_BASE_URL = 'https://api.dropboxapi.com';
/** A listing that has not ended after this many pages fails rather than running on. */
export const MAX_PAGES = 1000;
const DEFAULT_LISTING_LIMITS_TEXT = `${DEFAULT_LISTING_LIMITS.maxEntries} entries or ${DEFAULT_LISTING_LIMITS.maxBytes / (1024 * 1024)} MiB`;

const apiBaseUrl = Type.Optional(
  Type.String({ pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2048, default: DROPBOX_API_BASE_URL, description: 'Dropbox API base URL (for tests)' }),
);

const ListFolderInputs = Type.Object(
  {
    // Dropbox's own pattern for a folder: '' (the root), a /path, id:… or ns:….
    path: Type.Optional(Type.String({ pattern: '^(/[\\s\\S]*|id:.+|ns:[0-9]+(/.*)?)?$', default: '', description: 'Folder to list; "" is the root' })),
    recursive: Type.Optional(Type.Boolean({ default: false, description: 'Also list every subfolder' })),
    apiBaseUrl,
  },
  { additionalProperties: false },
);
const GetCurrentAccountInputs = Type.Object({ apiBaseUrl }, { additionalProperties: false });

export interface DropboxEntry {
  tag: 'file' | 'folder' | 'deleted';
  name: string;
  pathDisplay: string;
  id?: string;
  size?: number;
  serverModified?: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const parseBaseUrl = (raw: string | undefined): URL => {
  let url: URL;
  try {
    url = new URL(raw ?? DROPBOX_API_BASE_URL);
  } catch {
    throw new ComponentError('bad_input', 'Input apiBaseUrl is not a valid URL');
  }
  // The access token must not cross the network in clear text.
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!secure) throw new ComponentError('bad_input', 'Input apiBaseUrl must be https:// (http:// only on a loopback address)');
  if (url.username || url.password || url.search || url.hash) {
    throw new ComponentError('bad_input', 'Input apiBaseUrl must not carry a user name, password, query or fragment');
  }
  return url;
};

const endpoint = (base: URL, path: string): URL => new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`);

const accessToken = (context: ActionContext): string => {
  const { credential } = context;
  if (!credential) throw new ComponentError('bad_input', 'Dropbox needs an OAuth 2.0 credential');
  if (credential.authMethod !== 'oauth2') throw new ComponentError('bad_input', `Dropbox does not accept ${credential.authMethod} credentials`);
  const token = credential.accessToken?.reveal();
  if (!token) throw new ComponentError('bad_input', 'The OAuth 2.0 credential has no access token; authorize it first');
  // undici would quote the value in its error.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ComponentError('bad_input', 'The access token contains characters that cannot be sent in a header');
  return token;
};

interface DropboxErrorBody {
  summary: string;
  tag: string | undefined;
}

/** `error_summary` without Dropbox's trailing `/..`-style filler, and `error['.tag']`. */
const parseError = (text: string): DropboxErrorBody => {
  try {
    const body = JSON.parse(text) as { error_summary?: unknown; error?: { '.tag'?: unknown } };
    const summary = typeof body.error_summary === 'string' ? body.error_summary.replace(/\/[^\w/]*$/, '').slice(0, 200) : '';
    const tag = typeof body.error?.['.tag'] === 'string' ? body.error['.tag'] : undefined;
    return { summary, tag };
  } catch {
    return { summary: '', tag: undefined };
  }
};

/** What a non-2xx answer means. `folder` names the folder asked for, when there is one. */
const dropboxFailure = (status: number, text: string, folder?: string): ComponentError => {
  const { summary, tag } = parseError(text);
  const detail = summary ? `${statusLabel(status)}: ${summary}` : statusLabel(status);
  if (status === 401) {
    if (tag === 'expired_access_token' || summary.startsWith('expired_access_token')) {
      return new ComponentError('token_expired', `Dropbox says the access token has expired (${detail})`);
    }
    return new ComponentError('auth_refused', `Dropbox refused the access token (${detail})`);
  }
  if (status === 403) return new ComponentError('auth_refused', `Dropbox refused this call for the credential (${detail})`);
  if (status === 409 && summary.startsWith('path/not_found')) {
    return new ComponentError('not_found', `Dropbox has no folder at ${JSON.stringify(folder || '/')}`);
  }
  if (status === 409 && summary.startsWith('path/not_folder')) {
    return new ComponentError('not_found', `${JSON.stringify(folder ?? '')} is a file, not a folder`);
  }
  // A 400 body is Dropbox's prose about the request; it is not repeated in case it quotes a header.
  if (status === 400) return new ComponentError('bad_input', `Dropbox refused the request as malformed (${statusLabel(status)})`);
  if (status === 429) return new ComponentError('remote_error', 'Dropbox is rate limiting these calls (429 Too Many Requests); try again later');
  return new ComponentError('remote_error', `Dropbox answered ${detail}`);
};

/** One RPC call: POST with a JSON body and the bearer token; the parsed JSON answer, or a ComponentError. */
const call = async (context: ActionContext, url: URL, body: unknown, folder?: string): Promise<Record<string, unknown>> => {
  context.egress.authorize(url);
  const init: RequestInit = {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken(context)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    redirect: 'manual',
    signal: context.signal,
  };
  let response: Response;
  let text: string;
  try {
    response = await context.fetch(url, init);
    if (response.status >= 300 && response.status < 400) {
      await discardBody(response);
      throw new ComponentError('remote_error', `Dropbox answered with a redirect (${statusLabel(response.status)}), which is not followed`);
    }
    text = await response.text();
  } catch (error) {
    if (error instanceof ComponentError) throw error;
    throw fetchFailure(error, url, context);
  }
  if (!response.ok) throw dropboxFailure(response.status, text, folder);
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new ComponentError('remote_error', `Dropbox answered ${statusLabel(response.status)} with a body that is not a JSON object`);
};

const toEntry = (raw: unknown): DropboxEntry | undefined => {
  if (raw === null || typeof raw !== 'object') return undefined;
  const item = raw as Record<string, unknown>;
  const tag = item['.tag'];
  if ((tag !== 'file' && tag !== 'folder' && tag !== 'deleted') || typeof item.name !== 'string') return undefined;
  const pathDisplay = typeof item.path_display === 'string' ? item.path_display : item.name;
  const entry: DropboxEntry = { tag, name: item.name, pathDisplay };
  if (typeof item.id === 'string') entry.id = item.id;
  if (typeof item.size === 'number') entry.size = item.size;
  if (typeof item.server_modified === 'string') entry.serverModified = item.server_modified;
  return entry;
};

interface Page {
  entries: DropboxEntry[];
  cursor: string | undefined;
  hasMore: boolean;
}

const toPage = (body: Record<string, unknown>): Page => {
  if (!Array.isArray(body.entries)) throw new ComponentError('remote_error', 'Dropbox answered a listing without entries');
  const entries = body.entries.map(toEntry).filter((entry): entry is DropboxEntry => entry !== undefined);
  return { entries, cursor: typeof body.cursor === 'string' ? body.cursor : undefined, hasMore: body.has_more === true };
};

const createListFolder =
  (limits: ListingLimits) =>
  async (context: ActionContext, raw: Record<string, unknown>): Promise<{ entries: DropboxEntry[]; truncated: boolean }> => {
    const input = parseInputs(ListFolderInputs, raw);
    const base = parseBaseUrl(input.apiBaseUrl);
    // Dropbox names the root '' and refuses '/'.
    const path = input.path === '/' ? '' : (input.path ?? '');
    context.log.info('Listing a Dropbox folder', { host: base.host, recursive: input.recursive ?? false });
    let page = toPage(await call(context, endpoint(base, '/2/files/list_folder'), { path, recursive: input.recursive ?? false }, path));
    const entries = createListingCollector<DropboxEntry>(limits);
    let pages = 1;
    for (;;) {
      for (const entry of page.entries) if (!entries.add(entry)) break;
      if (!page.hasMore) break;
      // Stop at the limits rather than fetch pages whose entries would be dropped.
      if (entries.full) {
        entries.markTruncated();
        break;
      }
      if (pages >= MAX_PAGES) throw new ComponentError('remote_error', `The listing did not end after ${MAX_PAGES} pages; list a smaller folder`);
      if (page.cursor === undefined) throw new ComponentError('remote_error', 'Dropbox said there is more to list but gave no cursor');
      page = toPage(await call(context, endpoint(base, '/2/files/list_folder/continue'), { cursor: page.cursor }, path));
      pages += 1;
    }
    context.log.info('Listed a Dropbox folder', { entries: entries.items.length, pages, truncated: entries.truncated });
    return { entries: entries.items, truncated: entries.truncated };
  };

const getCurrentAccount = async (context: ActionContext, raw: Record<string, unknown>): Promise<{ accountId: string; name: string; email: string }> => {
  const input = parseInputs(GetCurrentAccountInputs, raw);
  const base = parseBaseUrl(input.apiBaseUrl);
  // An RPC call without arguments takes the JSON body `null`.
  const body = await call(context, endpoint(base, '/2/users/get_current_account'), null);
  const name = body.name as { display_name?: unknown } | undefined;
  if (typeof body.account_id !== 'string' || typeof name?.display_name !== 'string' || typeof body.email !== 'string') {
    throw new ComponentError('remote_error', 'Dropbox answered an account without account_id, name or email');
  }
  context.log.info('Read the current Dropbox account', { host: base.host });
  return { accountId: body.account_id, name: name.display_name, email: body.email };
};

export interface DropboxComponentOptions {
  /** Caps on what listFolder gathers (tests lower them); DEFAULT_LISTING_LIMITS otherwise. */
  listing?: Partial<ListingLimits>;
}

/** Builds the Dropbox component; `dropboxComponent` is the one Credence registers. */
export const createDropboxComponent = (options: DropboxComponentOptions = {}): Component => ({
  key: 'dropbox',
  name: 'Dropbox',
  description: 'Lists Dropbox folders and reads the connected account, with an OAuth 2.0 credential.',
  testAction: 'getCurrentAccount',
  actions: [
    {
      key: 'listFolder',
      name: 'List folder',
      description: `Lists a folder (or, with recursive, everything under it), following Dropbox's cursor for up to ${MAX_PAGES} pages and stopping at ${DEFAULT_LISTING_LIMITS_TEXT}; returns {entries, truncated}.`,
      inputs: ListFolderInputs,
      authMethods: ['oauth2'],
      credentialRequired: true,
      targets: urlTargets('apiBaseUrl', DROPBOX_API_BASE_URL),
      scopes: ['files.metadata.read'],
      perform: createListFolder(listingLimits(options.listing)),
    },
    {
      key: 'getCurrentAccount',
      name: 'Get current account',
      description: 'Reads the account the token belongs to; returns {accountId, name, email}.',
      inputs: GetCurrentAccountInputs,
      authMethods: ['oauth2'],
      credentialRequired: true,
      targets: urlTargets('apiBaseUrl', DROPBOX_API_BASE_URL),
      scopes: ['account_info.read'],
      perform: getCurrentAccount,
    },
  ],
});

export const dropboxComponent: Component = createDropboxComponent();
