import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { loggerOptions } from '../../src/http/logging.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type EngineName, type TestDatabase } from '../support/databases.js';
import { freePort, randomMasterKey } from '../support/test-app.js';

/**
 * What the browser tests share: Credence listening on loopback on a fresh database (no
 * organization, so the first visit is first-run setup), Debian's Chromium, screenshots
 * under test-output/e2e/, and bounded waits.
 */

export const CHROMIUM = '/usr/bin/chromium';
const WEB_INDEX = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));

/** Playwright's wait for any one element or action; navigations get twice as long. */
export const UI_TIMEOUT_MS = 5_000;

/** The browser tests drive the built app: without it they would test nothing. */
export const assertWebAppBuilt = (): void => {
  if (!existsSync(WEB_INDEX)) {
    throw new Error(`The web app is not built (${WEB_INDEX} is missing): run \`npm run build:web\` before the end-to-end tests.`);
  }
};

export interface ListeningApp {
  baseUrl: string;
  app: FastifyInstance;
  runtime: Runtime;
  logs: string[];
  close(): Promise<void>;
}

/**
 * Credence on a free loopback port with a fresh, empty database: the public URL is known
 * before it starts (the OAuth server needs the redirect URI), and first-run setup is open.
 */
export const reserveApp = async (
  engine: EngineName,
): Promise<{ baseUrl: string; start(env: Record<string, string>, options?: { webhookWorker?: boolean }): Promise<ListeningApp> }> => {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const start = async (env: Record<string, string>, options: { webhookWorker?: boolean } = {}): Promise<ListeningApp> => {
    const database: TestDatabase = await createTestDatabase(engine);
    const config = loadConfig({
      CREDENCE_DATA_DIR: database.dataDir,
      CREDENCE_MASTER_KEY: randomMasterKey(),
      CREDENCE_PUBLIC_URL: baseUrl,
      ...(database.url ? { DATABASE_URL: database.url } : {}),
      ...env,
    });
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    const runtime = await openRuntime(config, { warn: (message) => logs.push(message) });
    const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: pino(loggerOptions('info'), sink), publicUrl: config.publicUrl, metricsToken: config.metricsToken });
    try {
      await app.ready();
      await app.listen({ host: '127.0.0.1', port });
    } catch (error) {
      await app.close();
      await runtime.close();
      await database.drop();
      throw error;
    }
    // As `credence serve` does; runtime.close() stops it.
    if (options.webhookWorker) {
      const note = (level: string) => (details: object, message: string) => logs.push(`webhook-worker ${level}: ${message} ${JSON.stringify(details)}`);
      runtime.services.webhookWorker.start({ info: note('info'), error: note('error') });
    }
    return {
      baseUrl,
      app,
      runtime,
      logs,
      async close() {
        await app.close();
        await runtime.close();
        await database.drop();
      },
    };
  };
  return { baseUrl, start };
};

/** Debian's Chromium, headless, never a downloaded browser. */
export const launchChromium = (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium); the end-to-end tests never download a browser.`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    timeout: 20_000,
  });
};

/** A fresh browser profile (its own cookies) at laptop width, with bounded waits. */
export const newContext = async (browser: Browser, baseUrl: string): Promise<BrowserContext> => {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(2 * UI_TIMEOUT_MS);
  return context;
};

/** Saves a full-page screenshot as test-output/e2e/<name>.png. */
export const screenshot = async (page: Page, name: string): Promise<void> => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage: true, animations: 'disabled' });
};

/** Saves a screenshot of one part of the page as test-output/e2e/<name>.png. */
export const screenshotOf = async (locator: Locator, name: string): Promise<void> => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await locator.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, animations: 'disabled' });
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails after `timeoutMs` naming what it waited for. */
export const waitUntil = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = UI_TIMEOUT_MS): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
};

/** Waits for the page to be at `path` (of the app's origin), matched exactly or by a pattern. */
export const waitForPath = (page: Page, path: string | RegExp, timeoutMs = 2 * UI_TIMEOUT_MS): Promise<void> =>
  page.waitForURL((url) => (typeof path === 'string' ? url.pathname === path : path.test(url.pathname)), { timeout: timeoutMs });

/** One request a webhook receiver got. */
export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that answers every POST with 200 and keeps what it got. */
export const startWebhookReceiver = async (): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void> }> => {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '/', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/credence`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
