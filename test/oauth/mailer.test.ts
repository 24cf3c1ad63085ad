import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailError, buildAuthorizationEmail, createMailer } from '../../src/oauth/mailer.js';

const FROM = 'Credence <credence@example.test>';
const LINK = 'https://credence.example.test/authorize/lnk_0123456789abcdef?t=abc&u=1';
const FIXED_NOW = new Date('2031-04-05T06:07:08.009Z');
const fixedClock = { now: () => FIXED_NOW };

interface Received {
  rcptTo: string[];
  raw: Buffer;
}

interface TestSmtpServer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** A real SMTP server on loopback; `onAuth`, when given, decides every login. */
const startSmtpServer = async (onAuth?: (password: string) => Error | null): Promise<TestSmtpServer> => {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: onAuth !== undefined,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const error = onAuth?.(auth.password ?? '') ?? null;
      if (error) callback(error);
      else callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ rcptTo: session.envelope.rcptTo.map((address) => address.address), raw: Buffer.concat(chunks) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

const sendFailure = async (promise: Promise<unknown>): Promise<MailError> => {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(MailError);
  return error as MailError;
};

let workDir: string;

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'credence-mailer-'));
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('createMailer without an SMTP URL', () => {
  it('writes a parseable .eml file, mode 0600, to an outbox directory it creates with mode 0700', async () => {
    const outboxDir = join(workDir, 'outbox');
    const mailer = createMailer({ from: FROM, outboxDir, clock: fixedClock });

    const delivery = await mailer.send({ to: 'Ada Lovelace <ada@example.test>', subject: 'Connect Dropbox', text: `Open ${LINK}`, html: '<p>Open</p>' });
    mailer.close();

    expect(delivery.via).toBe('outbox');
    expect(delivery.file?.startsWith(`${outboxDir}/20310405T060708009Z-`)).toBe(true);
    expect(delivery.file).toMatch(/\/20310405T060708009Z-[0-9a-f]{12}\.eml$/);
    const file = delivery.file ?? '';
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(outboxDir)).mode & 0o777).toBe(0o700);

    const mail = await simpleParser(await readFile(file));
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((address) => address.address) : []).toEqual(['ada@example.test']);
    expect(mail.from?.value[0]?.address).toBe('credence@example.test');
    expect(mail.subject).toBe('Connect Dropbox');
    expect(mail.text).toContain(LINK);
    expect(mail.html).toContain('<p>Open</p>');
    expect(mail.messageId).toBe(delivery.messageId);
    expect(mail.date?.toISOString()).toBe('2031-04-05T06:07:08.000Z');
  });

  it('writes each message to its own file', async () => {
    const mailer = createMailer({ from: FROM, outboxDir: workDir, clock: fixedClock });
    const first = await mailer.send({ to: 'a@example.test', subject: 'One', text: 'one' });
    const second = await mailer.send({ to: 'b@example.test', subject: 'Two', text: 'two' });

    expect(first.file).not.toBe(second.file);
    expect(first.messageId).not.toBe(second.messageId);
    expect((await readdir(workDir)).sort()).toHaveLength(2);
  });

  it('describes itself as the outbox directory', () => {
    expect(createMailer({ from: FROM, outboxDir: workDir }).describe()).toBe(`outbox ${workDir}`);
  });
});

describe('createMailer with an SMTP URL', () => {
  let server: TestSmtpServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('delivers the message to the SMTP server for the right recipient', async () => {
    server = await startSmtpServer();
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${server.port}`, from: FROM, outboxDir: workDir });

    const delivery = await mailer.send({ to: 'grace@example.test', subject: 'Connect Slack', text: `Open ${LINK}` });
    mailer.close();

    expect(delivery).toEqual({ via: 'smtp', messageId: expect.stringMatching(/^<.+@.+>$/) });
    expect(server.received.map((message) => message.rcptTo)).toEqual([['grace@example.test']]);
    const mail = await simpleParser(server.received[0]?.raw ?? Buffer.alloc(0));
    expect(mail.subject).toBe('Connect Slack');
    expect(mail.text).toContain(LINK);
    expect(mail.messageId).toBe(delivery.messageId);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('logs in with the credentials of the URL and keeps the password out of the error when the login fails', async () => {
    const seen: string[] = [];
    server = await startSmtpServer((password) => {
      seen.push(password);
      // A server that echoes what it was sent: the password must still not reach the error.
      return new Error(`Rejected password ${password}`);
    });
    const mailer = createMailer({ smtpUrl: `smtp://user:secret%40pw@127.0.0.1:${server.port}`, from: FROM, outboxDir: workDir });

    const error = await sendFailure(mailer.send({ to: 'grace@example.test', subject: 'Hi', text: 'hi' }));

    expect(seen).toEqual(['secret@pw']);
    expect(error.code).toBe('EAUTH');
    expect(error.message).toContain(`smtp://127.0.0.1:${server.port}`);
    expect(error.message).toContain('[redacted]');
    expect(error.message).not.toContain('secret');
    expect(error.cause).toBeUndefined();
    expect(server.received).toEqual([]);
  });

  it('refuses to send without TLS when the URL says requireTLS=true and the server offers no STARTTLS', async () => {
    server = await startSmtpServer();
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${server.port}?requireTLS=true`, from: FROM, outboxDir: workDir });

    const error = await sendFailure(mailer.send({ to: 'grace@example.test', subject: 'Hi', text: 'hi' }));

    expect(error.message).toMatch(/STARTTLS|TLS/);
    expect(server.received).toEqual([]);
  });

  it('reports an unreachable server as a MailError with the connection code', async () => {
    const closed = await startSmtpServer();
    await closed.close();
    const mailer = createMailer({ smtpUrl: `smtp://user:secretpw@127.0.0.1:${closed.port}`, from: FROM, outboxDir: workDir });

    const error = await sendFailure(mailer.send({ to: 'grace@example.test', subject: 'Hi', text: 'hi' }));

    expect(error.code).toBe('ESOCKET');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain('secretpw');
  });

  it('describes where mail goes without the password', () => {
    const description = createMailer({ smtpUrl: 'smtp://user:secretpw@127.0.0.1:2525', from: FROM, outboxDir: workDir }).describe();
    expect(description).toBe('smtp://127.0.0.1:2525');
    expect(createMailer({ smtpUrl: 'smtps://user:secretpw@mail.example.test', from: FROM, outboxDir: workDir }).describe()).toBe(
      'smtps://mail.example.test:465',
    );
  });

  it('refuses an SMTP URL it does not understand, without echoing it', () => {
    const attempt = (smtpUrl: string) => () => createMailer({ smtpUrl, from: FROM, outboxDir: workDir });
    expect(attempt('http://user:secretpw@mail.example.test')).toThrow(/smtp:\/\/ or smtps:\/\//);
    expect(attempt('smtp://user:secretpw@mail.example.test?tls.rejectUnauthorized=false')).toThrow(/unsupported parameter "tls.rejectUnauthorized"/);
    expect(attempt('smtp://user:secretpw@mail.example.test?requireTLS=yes')).toThrow(/requireTLS must be true or false/);
    expect(attempt('not a url secretpw')).toThrow(MailError);
    expect(attempt('not a url secretpw')).not.toThrow(/secretpw/);
  });
});

describe('buildAuthorizationEmail', () => {
  const input = {
    organizationName: 'Acme <script>alert(1)</script>',
    serviceName: 'Dropbox',
    url: LINK,
    authorizationHost: 'www.dropbox.com',
    expiresAt: new Date('2031-04-12T09:30:00Z'),
    customerName: 'Ada "A" Lovelace',
  };

  it('escapes every interpolated value in the HTML part', () => {
    const { html } = buildAuthorizationEmail(input);
    expect(html).not.toContain('<script>');
    expect(html).toContain('Acme &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Hello Ada &quot;A&quot; Lovelace,');
    expect(html).toContain(`href="${LINK.replace(/&/g, '&amp;')}"`);
  });

  it('names the organization and the service and says what will happen, when the link expires and that it works once', () => {
    const { subject, text } = buildAuthorizationEmail(input);
    expect(subject).toBe('Acme <script>alert(1)</script> asks you to connect Dropbox');
    expect(text).toContain('Hello Ada "A" Lovelace,');
    expect(text).toContain('Acme <script>alert(1)</script> asks you to connect your Dropbox account');
    expect(text).toContain(`\n${LINK}\n`);
    expect(text).toContain('sign in to Dropbox and approve');
    expect(text).toContain('takes you to www.dropbox.com to sign in');
    expect(text).toContain('Credence stores the token encrypted and never sees your Dropbox password');
    expect(text).toContain('The link expires on Saturday 12 April 2031 at 09:30 UTC and works only once.');
  });

  it('greets without a name when there is no customer name and keeps names on one line', () => {
    const { subject, text } = buildAuthorizationEmail({ organizationName: 'Acme\r\nBcc: x@evil.test', serviceName: 'Box', url: LINK, authorizationHost: 'account.box.com', expiresAt: new Date() });
    expect(text.startsWith('Hello,\n')).toBe(true);
    expect(subject).toBe('Acme Bcc: x@evil.test asks you to connect Box');
  });

  it('refuses a link that is not http or https', () => {
    expect(() => buildAuthorizationEmail({ ...input, url: 'javascript:alert(1)' })).toThrow(TypeError);
  });
});
