import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { ComponentError, type ActionContext, type ComponentAction, type StepCredential } from '../../src/components/component.js';
import { createDropboxComponent, dropboxComponent, MAX_PAGES } from '../../src/components/dropbox-component.js';
import { DROPBOX_SERVER_MODIFIED, DROPBOX_TEST_ACCOUNT, startDropboxServer, type DropboxServer, type DropboxTestFile } from '../support/dropbox-server.js';
import { openEgress } from '../support/open-egress.js';

const GOOD_TOKEN = 'dropbox-token-6e0f2a91';
const STALE_TOKEN = 'dropbox-stale-token-1d7c';
const PAGE_SIZE = 3;

const REPORTS = Array.from({ length: 7 }, (_, i): DropboxTestFile => ({ tag: 'file', name: `q${i + 1}.pdf`, path: `/Reports/q${i + 1}.pdf`, size: 1000 + i }));
const FILES: DropboxTestFile[] = [
  { tag: 'folder', name: 'Reports', path: '/Reports' },
  ...REPORTS,
  { tag: 'folder', name: 'Archive', path: '/Reports/Archive' },
  { tag: 'file', name: 'old.txt', path: '/Reports/Archive/old.txt', size: 12 },
  { tag: 'file', name: 'readme.txt', path: '/readme.txt', size: 42 },
  { tag: 'folder', name: 'Photos', path: '/Photos' },
];

const oauth2 = (token: string): StepCredential => ({
  destinations: [],
  id: 'cred_x',
  authMethod: 'oauth2',
  fields: new Redacted({ client_id: 'dropbox-client', client_secret: 'dropbox-client-secret-88' }),
  accessToken: new Redacted(token),
});

const logLines: unknown[] = [];
const contextFor = (credential: StepCredential | undefined, fetchImpl: typeof fetch = fetch): ActionContext => ({
  credential,
  log: {
    info: (message, details) => logLines.push({ message, details }),
    warn: (message, details) => logLines.push({ message, details }),
  },
  signal: AbortSignal.timeout(5000),
  timeoutMs: 5000,
  fetch: fetchImpl,
  egress: openEgress(),
});

const action = (key: string): ComponentAction => {
  const found = dropboxComponent.actions.find((candidate) => candidate.key === key);
  if (!found) throw new Error(`no action ${key}`);
  return found;
};
const listFolder = action('listFolder');
const getCurrentAccount = action('getCurrentAccount');

const failure = async (call: Promise<unknown>): Promise<ComponentError> => {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ComponentError)) throw new Error(`expected a ComponentError, got ${String(error)}`);
  for (const secret of [GOOD_TOKEN, STALE_TOKEN]) expect(error.message).not.toContain(secret);
  return error;
};

const fileEntry = (file: DropboxTestFile) => ({
  tag: 'file',
  name: file.name,
  pathDisplay: file.path,
  id: expect.stringMatching(/^id:/) as unknown,
  size: file.size,
  serverModified: DROPBOX_SERVER_MODIFIED,
});

let dropbox: DropboxServer;
let apiBaseUrl: string;
const tokensAsked: string[] = [];

beforeAll(async () => {
  dropbox = await startDropboxServer({
    acceptToken: async (token) => {
      tokensAsked.push(token);
      return token === GOOD_TOKEN;
    },
    files: FILES,
    pageSize: PAGE_SIZE,
  });
  apiBaseUrl = dropbox.baseUrl;
});
afterAll(async () => {
  await dropbox?.close();
});

describe('dropbox component', () => {
  it('describes two oauth2-only actions that need a credential, tested by getCurrentAccount', () => {
    expect(dropboxComponent.key).toBe('dropbox');
    expect(dropboxComponent.name).toBe('Dropbox');
    expect(dropboxComponent.testAction).toBe('getCurrentAccount');
    expect(dropboxComponent.actions.map((a) => a.key)).toEqual(['listFolder', 'getCurrentAccount']);
    for (const a of dropboxComponent.actions) {
      expect(a.authMethods).toEqual(['oauth2']);
      expect(a.credentialRequired).toBe(true);
    }
  });

  it('lists a folder across pages by following the cursor and returns every entry', async () => {
    const before = dropbox.requests;
    const output = await listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/Reports', apiBaseUrl });
    expect(output).toEqual({
      entries: [...REPORTS.map(fileEntry), { tag: 'folder', name: 'Archive', pathDisplay: '/Reports/Archive', id: expect.stringMatching(/^id:/) }],
      truncated: false,
    });
    // 8 entries at 3 a page: list_folder, then continue twice.
    expect(dropbox.requests - before).toBe(3);
    expect(tokensAsked.at(-1)).toBe(GOOD_TOKEN);
  });

  it('stops a listing at the entry cap, without fetching further pages, and says it is truncated', async () => {
    const capped = createDropboxComponent({ listing: { maxEntries: 4 } }).actions.find((a) => a.key === 'listFolder');
    const before = dropbox.requests;
    const output = (await capped?.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/Reports', apiBaseUrl })) as { entries: Array<{ name: string }>; truncated: boolean };
    expect(output.entries.map((e) => e.name)).toEqual(['q1.pdf', 'q2.pdf', 'q3.pdf', 'q4.pdf']);
    expect(output.truncated).toBe(true);
    // 3 a page: the second page fills the cap, and no third is asked for.
    expect(dropbox.requests - before).toBe(2);
  });

  it('stops a listing at the byte cap and says it is truncated', async () => {
    const oneEntry = Buffer.byteLength(JSON.stringify(fileEntry(REPORTS[0] as DropboxTestFile))) + 20;
    const capped = createDropboxComponent({ listing: { maxBytes: oneEntry * 2 } }).actions.find((a) => a.key === 'listFolder');
    const output = (await capped?.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/Reports', apiBaseUrl })) as { entries: Array<{ name: string }>; truncated: boolean };
    expect(output.entries.map((e) => e.name)).toEqual(['q1.pdf', 'q2.pdf']);
    expect(output.truncated).toBe(true);
  });

  it('answers truncated: false when the folder has exactly as many entries as the cap', async () => {
    const capped = createDropboxComponent({ listing: { maxEntries: 8 } }).actions.find((a) => a.key === 'listFolder');
    const output = (await capped?.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/Reports', apiBaseUrl })) as { entries: unknown[]; truncated: boolean };
    expect(output.entries).toHaveLength(8);
    expect(output.truncated).toBe(false);
  });

  it('lists the root by default, and everything under it when recursive', async () => {
    const root = (await listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { apiBaseUrl })) as { entries: Array<{ pathDisplay: string }> };
    expect(root.entries.map((e) => e.pathDisplay)).toEqual(['/Reports', '/readme.txt', '/Photos']);

    const before = dropbox.requests;
    const all = (await listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '', recursive: true, apiBaseUrl })) as {
      entries: Array<{ pathDisplay: string }>;
    };
    expect(all.entries.map((e) => e.pathDisplay)).toEqual(FILES.map((f) => f.path));
    expect(dropbox.requests - before).toBe(Math.ceil(FILES.length / PAGE_SIZE));
  });

  it('treats "/" as the root, which Dropbox itself refuses', async () => {
    const output = (await listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/', apiBaseUrl })) as { entries: unknown[] };
    expect(output.entries).toHaveLength(3);
  });

  it('reports a token Dropbox rejects as token_expired without naming it', async () => {
    const error = await failure(listFolder.perform(contextFor(oauth2(STALE_TOKEN)), { path: '/Reports', apiBaseUrl }));
    expect(error.kind).toBe('token_expired');
    expect(error.message).toBe('Dropbox says the access token has expired (401 Unauthorized: expired_access_token)');
    const account = await failure(getCurrentAccount.perform(contextFor(oauth2(STALE_TOKEN)), { apiBaseUrl }));
    expect(account.kind).toBe('token_expired');
  });

  it('reports an unknown folder as not_found and a file as not a folder', async () => {
    const missing = await failure(listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/Nope', apiBaseUrl }));
    expect(missing.kind).toBe('not_found');
    expect(missing.message).toBe('Dropbox has no folder at "/Nope"');
    const file = await failure(listFolder.perform(contextFor(oauth2(GOOD_TOKEN)), { path: '/readme.txt', apiBaseUrl }));
    expect(file.kind).toBe('not_found');
    expect(file.message).toBe('"/readme.txt" is a file, not a folder');
  });

  it('reads the current account', async () => {
    const output = await getCurrentAccount.perform(contextFor(oauth2(GOOD_TOKEN)), { apiBaseUrl });
    expect(output).toEqual({ accountId: DROPBOX_TEST_ACCOUNT.accountId, name: DROPBOX_TEST_ACCOUNT.displayName, email: DROPBOX_TEST_ACCOUNT.email });
  });

  it('refuses a missing or non-oauth2 credential as bad_input', async () => {
    const none = await failure(getCurrentAccount.perform(contextFor(undefined), { apiBaseUrl }));
    expect(none.kind).toBe('bad_input');
    const basic: StepCredential = { destinations: [], id: 'cred_x', authMethod: 'basic', fields: new Redacted({ username: 'u', password: 'p' }) };
    const wrong = await failure(getCurrentAccount.perform(contextFor(basic), { apiBaseUrl }));
    expect(wrong.kind).toBe('bad_input');
    expect(wrong.message).toBe('Dropbox does not accept basic credentials');
  });

  it('refuses to send the token over plain http to a host that is not loopback', async () => {
    const error = await failure(getCurrentAccount.perform(contextFor(oauth2(GOOD_TOKEN)), { apiBaseUrl: 'http://dropbox.example.test' }));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toBe('Input apiBaseUrl must be https:// (http:// only on a loopback address)');
  });

  it('reports a closed port as unreachable, naming the host', async () => {
    const spare = await startDropboxServer({ acceptToken: async () => true, files: [] });
    const url = spare.baseUrl;
    await spare.close();
    const error = await failure(getCurrentAccount.perform(contextFor(oauth2(GOOD_TOKEN)), { apiBaseUrl: url }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe(`Could not reach ${new URL(url).host} (connection refused)`);
  });

  it(`stops a listing that does not end after ${MAX_PAGES} pages`, async () => {
    let calls = 0;
    const endless: typeof fetch = async () => {
      calls += 1;
      return new Response(JSON.stringify({ entries: [], cursor: 'again', has_more: true }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const error = await failure(listFolder.perform(contextFor(oauth2(GOOD_TOKEN), endless), { path: '', apiBaseUrl }));
    expect(error.kind).toBe('remote_error');
    expect(error.message).toBe(`The listing did not end after ${MAX_PAGES} pages; list a smaller folder`);
    expect(calls).toBe(MAX_PAGES);
  });

  it('logs no token', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const printed = JSON.stringify(logLines);
    expect(printed).not.toContain(GOOD_TOKEN);
    expect(printed).not.toContain(STALE_TOKEN);
  });
});
