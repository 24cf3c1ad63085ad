import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { startDropboxServer, type DropboxServer, type DropboxTestFile } from '../support/dropbox-server.js';
import { startOAuthServer, type OAuthServer } from '../support/oauth-server.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import {
  assertWebAppBuilt,
  launchChromium,
  newContext,
  reserveApp,
  screenshot,
  screenshotOf,
  startWebhookReceiver,
  UI_TIMEOUT_MS,
  waitForPath,
  waitUntil,
  type ListeningApp,
  type ReceivedWebhook,
} from './e2e-support.js';

// The brief's walk in Chromium, start to finish: first-run setup, a customer, its Dropbox
// OAuth 2.0 credential from the preset (pointed at a loopback provider), the authorization
// email read from a real SMTP server and opened in the customer's own browser, the status
// turning to "Customer authorization complete" by itself, an instance binding the
// credential, its run listing the files, and its destinations changed with its secret
// entered again. Then: an expiry date five days ahead shows as a countdown on the
// credential page and first in the list sorted by expiry, a wrong typed name does not
// delete, and a customer user sees where the customer's credential may be sent but never
// reaches an organization-level credential. Last, the admin adds a webhook endpoint on a
// loopback receiver, deleting a credential sends it a signed event, and its deliveries
// show it delivered.

const CLIENT_ID = 'credence-dropbox-app';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const ADMIN = { email: 'ada@acme.example', password: `pw-${randomBytes(10).toString('hex')}` };
const CUSTOMER_USER = { email: 'grace@northwind.example', password: `pw-${randomBytes(10).toString('hex')}` };
const CUSTOMER_CONTACT = 'it@northwind.example';
const ORG_CONTACT = 'platform@acme.example';
const CUSTOMER = 'Northwind Traders';
const CREDENTIAL = 'Northwind Dropbox';
const ORG_CREDENTIAL = 'Acme shared API key';
const INTEGRATION = 'List Dropbox folder';
const INSTANCE = 'Northwind reports';
const REPORTS = ['q1-revenue.pdf', 'q2-revenue.pdf', 'q3-revenue.pdf', 'q4-revenue.pdf', 'board-summary.docx'];
const FILES: DropboxTestFile[] = [
  { tag: 'folder', name: 'Reports', path: '/Reports' },
  ...REPORTS.map((name, index): DropboxTestFile => ({ tag: 'file', name, path: `/Reports/${name}`, size: 1000 + index })),
  { tag: 'file', name: 'elsewhere.txt', path: '/elsewhere.txt', size: 5 },
];
/** How long the credential page may take to notice an authorization (it polls every 3 s). */
const POLL_WAIT_MS = 10_000;
/** How long a webhook may take to arrive and show as delivered (the worker polls every second, the page every 3 s). */
const DELIVERY_WAIT_MS = 10_000;
const THROWAWAY_CREDENTIAL = 'Old staging key';

/** The id at the end of the page's path (`/credentials/:id`, `/instances/:id`). */
const idInPath = (page: Page, prefix: string): string => {
  const match = new RegExp(`^/${prefix}/([^/]+)`).exec(new URL(page.url()).pathname);
  if (!match?.[1]) throw new Error(`not on a /${prefix}/:id page: ${page.url()}`);
  return match[1];
};

describe('the web app in Chromium', () => {
  let smtp: SmtpSink;
  let oauth: OAuthServer;
  let dropbox: DropboxServer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let credence: ListeningApp;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  const contexts: BrowserContext[] = [];
  let customerId: string;
  let credentialId: string;
  let orgCredentialId: string;

  const openContext = async (): Promise<BrowserContext> => {
    const context = await newContext(browser, baseUrl);
    contexts.push(context);
    return context;
  };

  beforeAll(async () => {
    assertWebAppBuilt();
    const reserved = await reserveApp('sqlite');
    baseUrl = reserved.baseUrl;
    smtp = await startSmtpSink();
    // Dropbox's own scopes, which its actions declare they need.
    oauth = await startOAuthServer({ clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${baseUrl}/oauth2/callback`] }], scopes: ['files.metadata.read', 'account_info.read'] });
    dropbox = await startDropboxServer({ files: FILES, acceptToken: async (token) => (await oauth.introspect(token)).active });
    receiver = await startWebhookReceiver();
    credence = await reserved.start({ CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true', CREDENCE_SMTP_URL: `smtp://${smtp.host}:${smtp.port}` }, { webhookWorker: true });
    browser = await launchChromium();
    page = await (await openContext()).newPage();
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await Promise.all([credence?.close(), oauth?.close(), dropbox?.close(), smtp?.close(), receiver?.close()]);
  });

  it('offers first-run setup on the first visit and signs the new admin in', async () => {
    await page.goto('/');
    await waitForPath(page, '/setup');
    await page.getByRole('heading', { name: 'Set up Credence' }).waitFor();
    await page.getByLabel('Organization name').fill('Acme Integrations');
    await page.getByLabel('Admin email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Repeat password').fill(ADMIN.password);
    await screenshot(page, '01-first-run-setup');
    await page.getByRole('button', { name: 'Create organization' }).click();

    await waitForPath(page, '/customers');
    await page.getByRole('heading', { name: 'Customers', level: 1 }).waitFor();
    await page.getByText('No customers yet.').waitFor();
    expect(await page.getByRole('banner').first().textContent()).toContain(ADMIN.email);
  });

  it('creates a customer and opens its Credentials tab', async () => {
    await page.getByRole('button', { name: '+ Customer' }).click();
    await page.getByLabel('Customer name').fill(CUSTOMER);
    await page.getByRole('button', { name: 'Create customer' }).click();

    await waitForPath(page, /^\/customers\/[^/]+\/credentials$/);
    customerId = idInPath(page, 'customers');
    await page.getByRole('heading', { name: CUSTOMER, level: 1 }).waitFor();
    const tab = page.getByRole('navigation', { name: 'Customer' }).getByRole('link', { name: 'Credentials' });
    expect(await tab.getAttribute('aria-current')).toBe('page');
    await page.getByText('No credentials yet.').waitFor();
  });

  it('creates the customer\'s OAuth 2.0 credential from the Dropbox preset, pointed at the loopback provider', async () => {
    await page.getByRole('link', { name: '+ Credential' }).click();
    await waitForPath(page, /^\/customers\/[^/]+\/credentials\/new$/);
    await page.getByRole('heading', { name: 'New credential' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(CREDENTIAL);
    await page.getByLabel('Authorization method').selectOption({ label: 'OAuth 2.0' });
    await page.getByLabel('Provider preset').selectOption({ label: 'Dropbox' });

    const authUri = page.getByLabel('Authorization URL');
    const tokenUri = page.getByLabel('Access Token URL');
    // The preset fills in Dropbox's own URLs; this provider is the loopback one.
    expect(await authUri.inputValue()).toBe('https://www.dropbox.com/oauth2/authorize');
    expect(await tokenUri.inputValue()).toBe('https://api.dropboxapi.com/oauth2/token');
    await page.getByLabel('Client ID').fill(CLIENT_ID);
    await page.getByLabel(/^Client Secret/).fill(CLIENT_SECRET);
    // The preset fills in Dropbox's API origins; this Dropbox API is the loopback one.
    const destinations = page.getByLabel('Destinations');
    expect(await destinations.inputValue()).toBe('https://api.dropboxapi.com\nhttps://content.dropboxapi.com');
    await destinations.fill(dropbox.baseUrl);
    await page.getByRole('code').filter({ hasText: '/oauth2/callback' }).waitFor();
    expect(await page.getByRole('code').filter({ hasText: '/oauth2/callback' }).textContent()).toBe(`${baseUrl}/oauth2/callback`);
    await screenshot(page, '02-new-credential-dropbox-preset');

    await authUri.fill(oauth.authorizationEndpoint);
    await tokenUri.fill(oauth.tokenEndpoint);
    await page.getByLabel('Scopes').fill('files.metadata.read account_info.read offline_access');
    await page.getByRole('button', { name: 'Save credential' }).click();

    await waitForPath(page, /^\/credentials\/[^/]+$/);
    credentialId = idInPath(page, 'credentials');
    await page.getByRole('heading', { name: CREDENTIAL, level: 1 }).waitFor();
    await page.getByText('Waiting for authorization.').waitFor();
    expect(await page.getByLabel('Authorization URL').inputValue()).toBe(oauth.authorizationEndpoint);
    expect(await page.getByLabel('Access Token URL').inputValue()).toBe(oauth.tokenEndpoint);
    // The secret is never shown again: the page only says it is set.
    expect(await page.content()).not.toContain(CLIENT_SECRET);
  });

  it('sends the authorization email from the OAuth2 Authorization tab, with a one-time link', async () => {
    await page.getByRole('navigation', { name: 'Credential' }).getByRole('link', { name: 'OAuth2 Authorization' }).click();
    await waitForPath(page, `/credentials/${credentialId}/oauth2`);
    await page.getByRole('heading', { name: 'Status' }).waitFor();
    await page.getByText('No authorization link is open.').waitFor();
    await page.getByLabel('Customer email').fill(CUSTOMER_CONTACT);
    await page.getByRole('button', { name: 'Send email' }).click();

    await page.getByText(`Email sent to ${CUSTOMER_CONTACT}`).waitFor();
    await page.getByText('An authorization link is open until').waitFor();
    await screenshot(page, '03-oauth-tab-email-sent');

    const mail = await smtp.waitForMessage((m) => m.subject === 'Acme Integrations asks you to connect Dropbox', UI_TIMEOUT_MS);
    const delivery = smtp.deliveries.find((d) => d.mail === mail);
    expect(delivery?.to).toEqual([CUSTOMER_CONTACT]);
    expect(mail.text).toContain('To continue, open this link:');
  });

  it('lets the customer complete consent in their own browser from the emailed link', async () => {
    const mail = smtp.messages.at(-1);
    const link = /To continue, open this link:\n(\S+)/.exec(mail?.text ?? '')?.[1];
    expect(link?.startsWith(`${baseUrl}/`)).toBe(true);

    const customerBrowser = await openContext();
    const customerPage = await customerBrowser.newPage();
    // Credence → the provider's login and consent (finished by redirects) → Credence's callback.
    await customerPage.goto(link ?? '');
    await waitForPath(customerPage, '/oauth2/complete');
    await customerPage.getByRole('heading', { name: 'Authorization complete' }).waitFor();
    expect(oauth.tokenRequestLog.at(-1)).toEqual({ grantType: 'authorization_code', status: 200, overridden: false });
    await screenshot(customerPage, '04-customer-authorization-complete');

    // The link works once.
    await customerPage.goto(link ?? '');
    await customerPage.getByRole('heading', { name: 'Authorization not completed' }).waitFor();
    await customerPage.getByText('already used').waitFor();
    await customerPage.close();
  });

  it('shows "Customer authorization complete" on the waiting OAuth2 tab without a reload', async () => {
    await page.getByText('Customer authorization complete').waitFor({ timeout: POLL_WAIT_MS });
    expect(new URL(page.url()).pathname).toBe(`/credentials/${credentialId}/oauth2`);
    const status = page.getByRole('region', { name: 'Status' });
    await status.getByRole('paragraph').filter({ hasText: /^Authorized$/ }).waitFor();
    const terms = await status.getByRole('term').allTextContents();
    const definitions = await status.getByRole('definition').allTextContents();
    const details = Object.fromEntries(terms.map((term, index) => [term, definitions[index]]));
    expect(details['Authorized']).not.toBe('—');
    const scopes = page.getByRole('region', { name: 'Scopes' });
    const granted = ['files.metadata.read', 'account_info.read', 'offline_access'];
    expect(await scopes.getByRole('definition').nth(0).getByRole('listitem').allTextContents()).toEqual(granted);
    expect(await scopes.getByRole('definition').nth(1).getByRole('listitem').allTextContents()).toEqual(granted);
    expect(await scopes.getByText('Not granted:').count()).toBe(0);
    const link = await page.evaluate(async (id) => (await fetch(`/api/v1/credentials/${id}/authorization-link`)).json() as Promise<unknown>, credentialId);
    expect(link).toMatchObject({ active: false });
    // The used link no longer shows as open on the page either.
    await page.getByText('No authorization link is open.').waitFor({ timeout: POLL_WAIT_MS });
    await screenshot(page, '05-oauth-tab-authorized');
    await screenshotOf(scopes, '05a-oauth-tab-scopes');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshotOf(scopes, '05b-oauth-tab-scopes-phone');
    await scopes.getByLabel('Add scopes').fill('files.content.read');
    await page.getByText('The next authorization also asks for:').waitFor();
    await screenshot(page, '05c-oauth-tab-add-scopes-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
    await scopes.getByLabel('Add scopes').fill('');
  });

  it('creates an integration with one Dropbox listFolder step in the steps editor', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByText('No integrations yet.').waitFor();
    await page.getByRole('link', { name: '+ Integration' }).click();
    await waitForPath(page, '/integrations/new');
    await page.getByLabel('Name', { exact: true }).fill(INTEGRATION);
    await page.getByLabel('Step name').fill('list');
    await page.getByLabel('Component').selectOption({ label: 'Dropbox' });
    await page.getByLabel('Action').selectOption({ label: 'List folder' });
    await page.getByLabel('Inputs (JSON)').fill(JSON.stringify({ path: '/Reports', apiBaseUrl: dropbox.baseUrl }, null, 2));
    expect(await page.getByLabel('Action').getAttribute('aria-describedby')).not.toBeNull();
    await page.getByText('Needs scopes: files.metadata.read.').waitFor();
    await screenshot(page, '06-new-integration');
    await page.getByRole('button', { name: 'Create integration' }).click();

    await waitForPath(page, '/integrations');
    await page.getByRole('heading', { name: INTEGRATION }).waitFor();
    expect(await page.getByRole('listitem').filter({ hasText: INTEGRATION }).getByText('dropbox.listFolder').count()).toBe(1);
  });

  it('deploys an instance for the customer, binding the credential in the step\'s drop-down, and runs it', async () => {
    await page.getByRole('link', { name: `Deploy ${INTEGRATION}` }).click();
    await waitForPath(page, '/instances/new');
    expect(await page.getByLabel('Integration').locator('option:checked').textContent()).toBe(INTEGRATION);
    await page.getByLabel('Customer').selectOption({ label: CUSTOMER });
    await page.getByLabel('Instance name').fill(INSTANCE);
    const binding = page.getByLabel('Credential for step list');
    await binding.waitFor();
    expect(await binding.locator('option').allTextContents()).toEqual(['Choose a credential', `${CREDENTIAL} (customer, oauth2)`]);
    await binding.selectOption({ label: `${CREDENTIAL} (customer, oauth2)` });
    await screenshot(page, '07-deploy-instance');
    await page.getByRole('button', { name: 'Deploy instance' }).click();

    await waitForPath(page, /^\/instances\/[^/]+$/);
    await page.getByRole('heading', { name: INSTANCE, level: 1 }).waitFor();
    const bindings = page.getByRole('table', { name: 'Steps and their credentials' });
    await bindings.getByRole('link', { name: CREDENTIAL }).waitFor();
    await page.getByText('Not run yet.').waitFor();

    const requestsBefore = dropbox.requests;
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByText('Run succeeded.').waitFor({ timeout: 2 * UI_TIMEOUT_MS });
    const output = page.getByRole('table', { name: 'Output of list: 5 entries' });
    await output.waitFor();
    const names = await output.getByRole('row').locator('td[data-label="Name"]').allTextContents();
    expect(names).toEqual(REPORTS);
    expect(await output.getByRole('row').nth(1).locator('td').allTextContents()).toEqual(['q1-revenue.pdf', '/Reports/q1-revenue.pdf', 'file', '1000 B']);
    expect(dropbox.requests).toBeGreaterThan(requestsBefore);
    expect(await page.content()).not.toContain(CLIENT_SECRET);
    await screenshot(page, '08-instance-run-output');

    await page.setViewportSize({ width: 390, height: 844 });
    await output.waitFor();
    await screenshot(page, '09-instance-run-output-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('changes the credential\'s destinations on its Credentials tab, re-entering the client secret, and shows the new list', async () => {
    await page.goto(`/credentials/${credentialId}`);
    await page.getByRole('heading', { name: CREDENTIAL, level: 1 }).waitFor();
    const shown = page.getByRole('list', { name: 'May be sent to' }).getByRole('listitem');
    expect(await shown.allTextContents()).toEqual([dropbox.baseUrl]);
    const destinations = page.getByLabel('Destinations');
    expect(await destinations.inputValue()).toBe(dropbox.baseUrl);
    expect(await page.getByText('needs every secret value again').count()).toBe(0);

    await destinations.fill(`${dropbox.baseUrl}\nhttps://content.dropboxapi.com`);
    await page.getByText('Changing where this secret may be sent needs every secret value again: Client Secret.').waitFor();
    const secret = page.getByLabel('Enter Client Secret again');
    expect(await secret.getAttribute('required')).not.toBeNull();
    await secret.fill(CLIENT_SECRET);
    await screenshot(page, '09a-credential-destinations-changed');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '09b-credential-destinations-changed-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    await waitUntil('the page to list the new destinations', async () => (await shown.allTextContents()).length === 2);
    expect(await shown.allTextContents()).toEqual([dropbox.baseUrl, 'https://content.dropboxapi.com']);
    expect(await destinations.inputValue()).toBe(`${dropbox.baseUrl}\nhttps://content.dropboxapi.com`);
    // The same client secret again keeps the authorization; the secret is not shown back.
    await page.getByText('Customer authorization complete').waitFor();
    expect(await page.getByLabel('Replace Client Secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain(CLIENT_SECRET);
    await screenshot(page, '09c-credential-destinations-saved');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '09d-credential-destinations-saved-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('schedules a check on the Test tab, and shows it with the health and its history on the Health tab', async () => {
    const tabs = page.getByRole('navigation', { name: 'Credential' });
    await tabs.getByRole('link', { name: 'Test' }).click();
    await waitForPath(page, `/credentials/${credentialId}/test`);
    await page.getByLabel('Component').selectOption({ label: 'Dropbox' });
    expect(await page.getByLabel('Action').locator('option:checked').textContent()).toBe('Get current account');
    await page.getByLabel('apiBaseUrl').fill(dropbox.baseUrl);
    await page.getByRole('checkbox', { name: 'Check this every 60 minutes' }).check();
    await page.getByRole('button', { name: 'Run test and schedule check' }).click();
    await page.getByText('Test passed.').waitFor({ timeout: 2 * UI_TIMEOUT_MS });
    await page.getByText('Check scheduled: every 60 minutes.').waitFor();
    await screenshot(page, '09e-credential-test-check-scheduled');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '09e-credential-test-check-scheduled-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    await tabs.getByRole('link', { name: 'Health' }).click();
    await waitForPath(page, `/credentials/${credentialId}/health`);
    const now = page.getByRole('region', { name: 'Health' });
    await now.getByText('Healthy', { exact: true }).waitFor();
    const schedule = page.getByRole('region', { name: 'Scheduled check' });
    expect(await schedule.getByRole('paragraph').first().textContent()).toMatch(/^Checked every 60 minutes with dropbox\.getCurrentAccount; next check /);
    const history = page.getByRole('table', { name: 'Changes of health, newest first' });
    await history.waitFor();
    const shownBy = await history.locator('td[data-label="Shown by"]').allTextContents();
    expect(shownBy.length).toBeGreaterThan(0);
    expect(shownBy.every((words) => /^An? /.test(words))).toBe(true);
    await screenshot(page, '09f-credential-health');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '09g-credential-health-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    await schedule.getByRole('button', { name: 'Stop checking' }).click();
    await schedule.getByText('Scheduled checks stopped.').waitFor();
    await schedule.getByText('Nothing checks this credential on a schedule.', { exact: false }).waitFor();
  });

  it('creates an organization-level credential under Settings → Credentials and lists every credential with its level', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await waitForPath(page, '/settings/credentials');
    await page.getByRole('link', { name: '+ Credential' }).click();
    await waitForPath(page, '/settings/credentials/new');
    await page.getByLabel('Name', { exact: true }).fill(ORG_CREDENTIAL);
    await page.getByLabel('Authorization method').selectOption({ label: 'API Key' });
    await page.getByLabel('API Key').fill(randomBytes(16).toString('hex'));
    await page.getByRole('button', { name: 'Save credential' }).click();
    await waitForPath(page, /^\/credentials\/[^/]+$/);
    orgCredentialId = idInPath(page, 'credentials');
    await page.getByRole('heading', { name: ORG_CREDENTIAL, level: 1 }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Credentials' }).click();
    await waitForPath(page, '/credentials');
    const table = page.getByRole('table', { name: 'Credentials' });
    await table.getByRole('link', { name: ORG_CREDENTIAL }).waitFor();
    const rowOf = (label: string) => table.getByRole('row').filter({ has: page.getByRole('link', { name: label }) });
    expect(await rowOf(CREDENTIAL).locator('td').allTextContents()).toEqual([CREDENTIAL, 'OAuth 2.0', 'Customer', CUSTOMER, 'Authorized', 'Healthy', '—', expect.any(String)]);
    expect(await rowOf(ORG_CREDENTIAL).locator('td').allTextContents()).toEqual([ORG_CREDENTIAL, 'API Key', 'Organization', '—', 'Active', 'Not checked', '—', expect.any(String)]);
    await screenshot(page, '10-all-credentials');

    await page.getByRole('searchbox', { name: 'Search credentials by label' }).fill('dropbox');
    await waitUntil('the search to leave only the Dropbox credential', async () => (await table.getByRole('link', { name: ORG_CREDENTIAL }).count()) === 0);
    expect(await table.getByRole('link', { name: CREDENTIAL }).count()).toBe(1);
  });

  it('sets an expiry date five days ahead on the Credentials tab, and shows the countdown on the credential page and first in the list sorted by expiry', async () => {
    await page.goto(`/credentials/${orgCredentialId}`);
    await page.getByRole('heading', { name: ORG_CREDENTIAL, level: 1 }).waitFor();
    const inFiveDays = new Date(Date.now() + 5 * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    await page.getByLabel('Expires on').fill(inFiveDays);
    await page.getByLabel('Also alert').fill(ORG_CONTACT);
    expect(await page.getByLabel('Client secret expires on').count()).toBe(0);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    const badge = page.locator('.page-header .subtitle').getByText('Expires in 5 days', { exact: true });
    await badge.waitFor();
    expect(await badge.getAttribute('class')).toBe('badge badge-error');
    expect(await page.getByLabel('Expires on').inputValue()).toBe(inFiveDays);
    expect(await page.getByLabel('Also alert').inputValue()).toBe(ORG_CONTACT);
    await screenshot(page, '10a-credential-expiry-set');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '10b-credential-expiry-set-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Credentials' }).click();
    await waitForPath(page, '/credentials');
    await page.getByRole('combobox', { name: 'Sort' }).selectOption({ label: 'Expires first' });
    await waitUntil('the address to keep the sort', () => new URL(page.url()).searchParams.get('sort') === 'expires');
    const table = page.getByRole('table', { name: 'Credentials' });
    const names = table.locator('td[data-label="Name"]');
    await waitUntil('the credential that expires first to lead the list', async () => (await names.first().textContent()) === ORG_CREDENTIAL);
    const row = table.getByRole('row').filter({ has: page.getByRole('link', { name: ORG_CREDENTIAL }) });
    expect(await row.locator('td[data-label="Expires"]').textContent()).toBe('Expires in 5 days');
    expect(await row.locator('td[data-label="Expires"] .badge').getAttribute('class')).toBe('badge badge-error');
    await screenshot(page, '10c-credentials-sorted-by-expiry');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '10d-credentials-sorted-by-expiry-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('keeps REMOVE CREDENTIAL disabled for a wrong typed name, the API refuses it, and the credential stays', async () => {
    await page.goto(`/credentials/${credentialId}/settings`);
    await page.getByRole('heading', { name: 'Delete Credential' }).waitFor();
    const typed = page.getByLabel('Type the credential\'s name to confirm');
    const remove = page.getByRole('button', { name: 'REMOVE CREDENTIAL' });
    expect(await remove.isDisabled()).toBe(true);
    await typed.fill('Northwind Dropbax');
    expect(await remove.isDisabled()).toBe(true);
    await typed.press('Enter');
    await screenshot(page, '11-delete-wrong-name');

    // The same request the page would send, from this signed-in browser, with a wrong name.
    const refused = await page.evaluate(async (id) => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
      const response = await fetch(`/api/v1/credentials/${id}`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ confirm: 'Northwind Dropbax' }),
      });
      return { status: response.status, body: (await response.json()) as { error: { code: string } } };
    }, credentialId);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'CONFIRMATION_MISMATCH' } } });

    await typed.fill(CREDENTIAL);
    await waitUntil('REMOVE CREDENTIAL to be enabled by the right name', async () => !(await remove.isDisabled()));
    await typed.fill('');
    expect(await remove.isDisabled()).toBe(true);

    await page.goto(`/customers/${customerId}/credentials`);
    await page.getByRole('table', { name: 'Credentials' }).getByRole('link', { name: CREDENTIAL }).waitFor();
  });

  it('invites a customer user who sees only the customer\'s credentials and never the organization\'s', async () => {
    await page.goto('/settings/users');
    await page.getByRole('heading', { name: 'Invite someone' }).waitFor();
    await page.getByLabel('Email', { exact: true }).fill(CUSTOMER_USER.email);
    await page.getByLabel('Role').selectOption({ label: 'Customer user' });
    await page.getByLabel('Customer', { exact: true }).selectOption({ label: CUSTOMER });
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    const inviteCode = page.getByRole('code').filter({ hasText: '/invite/' });
    await inviteCode.waitFor();
    const inviteUrl = (await inviteCode.textContent()) ?? '';
    expect(inviteUrl.startsWith(`${baseUrl}/invite/`)).toBe(true);
    await screenshot(page, '12-users-invited');

    const customerUser = await (await openContext()).newPage();
    await customerUser.goto(inviteUrl);
    await customerUser.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
    await customerUser.getByLabel('Password', { exact: true }).fill(CUSTOMER_USER.password);
    await customerUser.getByLabel('Repeat password').fill(CUSTOMER_USER.password);
    await customerUser.getByRole('button', { name: 'Set password and sign in' }).click();

    await waitForPath(customerUser, '/credentials');
    const table = customerUser.getByRole('table', { name: 'Credentials' });
    await table.getByRole('link', { name: CREDENTIAL }).waitFor();
    expect(await table.getByRole('link').allTextContents()).toEqual([CREDENTIAL]);
    const nav = await customerUser.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    expect(nav).toEqual(['Credentials', 'Integrations', 'Instances']);
    await screenshot(customerUser, '13-customer-user-credentials');

    // A customer user sees where the customer's credential may be sent.
    await table.getByRole('link', { name: CREDENTIAL }).click();
    await customerUser.getByRole('heading', { name: CREDENTIAL, level: 1 }).waitFor();
    expect(await customerUser.getByRole('list', { name: 'May be sent to' }).getByRole('listitem').allTextContents()).toEqual([dropbox.baseUrl, 'https://content.dropboxapi.com']);

    await customerUser.goto(`/credentials/${orgCredentialId}`);
    await customerUser.getByRole('alert').filter({ hasText: 'Credential not found' }).waitFor();
    expect(await customerUser.content()).not.toContain(ORG_CREDENTIAL);
    await screenshot(customerUser, '14-customer-user-org-credential-not-found');

    await customerUser.goto('/settings/credentials');
    await customerUser.getByRole('heading', { name: 'Not available' }).waitFor();
    expect(await customerUser.content()).not.toContain(ORG_CREDENTIAL);

    await customerUser.setViewportSize({ width: 390, height: 844 });
    await customerUser.goto('/credentials');
    await table.getByRole('link', { name: CREDENTIAL }).waitFor();
    await screenshot(customerUser, '15-customer-user-credentials-phone');
  });

  it('adds a webhook endpoint, shows its secret once, and delivers a signed event when a credential is deleted', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Webhooks' }).click();
    await waitForPath(page, '/settings/webhooks');
    await page.getByText('No webhook endpoints yet.').waitFor();
    await page.getByRole('button', { name: '+ Endpoint' }).click();
    const form = page.getByRole('form', { name: 'New endpoint' });
    await form.getByLabel('URL').fill(receiver.url);
    await form.getByLabel('Description').fill('Ops alerts (loopback receiver)');
    await form.getByRole('checkbox', { name: 'All events' }).check();
    await screenshot(page, '16a-webhook-new-endpoint');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '16a-webhook-new-endpoint-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
    await form.getByRole('button', { name: 'Add endpoint' }).click();

    const shown = page.getByRole('region', { name: 'Endpoint added' });
    const secret = ((await shown.getByLabel('Signing secret').textContent()) ?? '').trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    expect(await shown.textContent()).toContain('you will not see it again');
    expect(await shown.textContent()).toContain(receiver.url);
    await page.getByRole('table', { name: 'Webhook endpoints' }).getByRole('link', { name: receiver.url }).waitFor();
    await screenshot(page, '16-webhooks-secret-shown');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '16b-webhooks-secret-shown-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // An event: a throwaway credential made and deleted through the API, from this browser.
    await page.evaluate(async (label) => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
      const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken };
      const created = await fetch('/api/v1/credentials', { method: 'POST', headers, body: JSON.stringify({ label, authMethod: 'api_key', fields: { api_key: 'stale-key-0000' } }) });
      const { id } = (await created.json()) as { id: string };
      const removed = await fetch(`/api/v1/credentials/${id}`, { method: 'DELETE', headers, body: JSON.stringify({ confirm: label }) });
      if (removed.status !== 204) throw new Error(`delete answered ${removed.status}`);
    }, THROWAWAY_CREDENTIAL);
    const deletions = () => receiver.received.filter((request) => request.body.includes('"credential.deleted"'));
    await waitUntil('the receiver to get the credential.deleted webhook', () => deletions().length > 0, DELIVERY_WAIT_MS);
    const [got] = deletions() as [ReceivedWebhook];
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    // The receiver's own check, with the secret the page showed once.
    const event = new Webhook(secret).verify(got.body, got.headers as Record<string, string>) as { type: string; data: { label: string } };
    expect(event).toMatchObject({ type: 'credential.deleted', data: { label: THROWAWAY_CREDENTIAL } });

    // Leaving the list forgets the secret.
    await page.getByRole('table', { name: 'Webhook endpoints' }).getByRole('link', { name: receiver.url }).click();
    await waitForPath(page, /^\/settings\/webhooks\/[^/]+$/);
    expect(await page.content()).not.toContain(secret);
    const deliveries = page.getByRole('table', { name: 'Deliveries, newest first' });
    const row = deliveries.getByRole('row').filter({ hasText: 'credential.deleted' });
    await row.getByText('Delivered', { exact: true }).waitFor({ timeout: DELIVERY_WAIT_MS });
    await row.getByRole('button', { name: 'Show attempts' }).click();
    await page.getByText('Answered 200').waitFor();
    await screenshot(page, '17-webhook-deliveries');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, '17b-webhook-deliveries-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // Resend: the same event again, with the same webhook-id.
    await row.getByRole('button', { name: /^Resend/ }).click();
    await waitUntil('the resent webhook', () => deletions().length === 2, DELIVERY_WAIT_MS);
    expect(deletions()[1]?.headers['webhook-id']).toBe(got.headers['webhook-id']);
  });
});
