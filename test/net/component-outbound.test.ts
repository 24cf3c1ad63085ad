import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { ComponentError, type ActionContext, type StepCredential } from '../../src/components/component.js';
import { dropboxComponent } from '../../src/components/dropbox-component.js';
import { httpComponent } from '../../src/components/http-component.js';
import { createComponentFetch } from '../../src/net/guarded-fetch.js';

// The http and dropbox components through the fetch Credence gives them in production.

const basic: StepCredential = { id: 'cred_1', authMethod: 'basic', fields: new Redacted({ username: 'svc', password: 'pw-3c9e1f' }) };
const oauth: StepCredential = { id: 'cred_2', authMethod: 'oauth2', fields: new Redacted({ client_id: 'c' }), accessToken: new Redacted('at-91b7e2') };

const contextFor = (credential: StepCredential | undefined, fetch = createComponentFetch()): ActionContext => ({
  credential,
  log: { info: () => undefined, warn: () => undefined },
  signal: AbortSignal.timeout(5000),
  timeoutMs: 5000,
  fetch,
});

const perform = (component: typeof httpComponent, key: string, context: ActionContext, inputs: Record<string, unknown>) => {
  const action = component.actions.find((candidate) => candidate.key === key);
  if (!action) throw new Error(`no action ${key}`);
  return action.perform(context, inputs);
};

const failure = async (call: Promise<unknown>): Promise<ComponentError> => {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ComponentError)) throw new Error(`expected a ComponentError, got ${String(error)}`);
  expect(error.message).not.toMatch(/pw-3c9e1f|at-91b7e2/);
  return error;
};

describe('components through the guarded fetch', () => {
  let server: ReturnType<typeof createServer>;
  let url = '';

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('still calls an ordinary http:// address of the vendor’s choosing', async () => {
    const output = await perform(httpComponent, 'request', contextFor(basic), { url: `${url}/status` });
    expect(output).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('refuses an http step aimed at a cloud metadata address as unreachable, sending no credential', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'http://[fd00:ec2::254]/latest/api/token', 'http://100.100.100.200/latest/meta-data/']) {
      const error = await failure(perform(httpComponent, 'request', contextFor(basic), { url: target }));
      expect(error.kind).toBe('unreachable');
      expect(error.message).toBe(`Could not reach ${new URL(target).host} (the address is link-local or cloud metadata, which Credence does not call)`);
    }
  });

  it('refuses a host name that resolves to a metadata address', async () => {
    const rebinding = createComponentFetch({ resolve: async () => [{ address: '169.254.169.254', family: 4 }] });
    const error = await failure(perform(httpComponent, 'request', contextFor(basic, rebinding), { url: 'https://innocent.example.test/' }));
    expect(error).toMatchObject({ kind: 'unreachable', message: 'Could not reach innocent.example.test (the address is link-local or cloud metadata, which Credence does not call)' });
  });

  it('refuses a Dropbox API base URL at a metadata address', async () => {
    const error = await failure(perform(dropboxComponent, 'getCurrentAccount', contextFor(oauth), { apiBaseUrl: 'https://169.254.169.254' }));
    expect(error.kind).toBe('unreachable');
  });
});
