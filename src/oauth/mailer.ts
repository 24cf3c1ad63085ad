import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createTransport } from 'nodemailer';
import type { SendMailOptions, SMTPTransportOptions } from 'nodemailer';
import { type Clock, systemClock } from '../common/clock.js';

/** One message to one recipient. `html`, when given, is sent as the alternative to `text`. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** Where a message went: accepted by the SMTP server, or written to a file in the outbox. */
export interface MailDelivery {
  via: 'smtp' | 'outbox';
  /** The `Message-ID` header of the message, angle brackets included. */
  messageId: string;
  /** For the outbox: the absolute path of the `.eml` file written. */
  file?: string;
}

/** Sends mail. `describe()` is safe to log: it never contains a password. */
export type Mailer = {
  send(message: MailMessage): Promise<MailDelivery>;
  describe(): string;
  close(): void;
};

/**
 * A failure to configure the mailer or to deliver a message. Its message never holds the
 * SMTP password; `code` is nodemailer's error code (`EAUTH`, `ECONNECTION`, ...) when
 * there is one. The original error is deliberately not attached as `cause`.
 */
export class MailError extends Error {
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.name = 'MailError';
    this.code = code;
  }
}

export interface MailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465` (implicit TLS); without it, mail goes to the outbox. */
  smtpUrl?: string | undefined;
  /** The `From` header, e.g. `Credence <credence@example.com>`. */
  from: string;
  /** Directory for `.eml` files when there is no SMTP URL; created with mode 0700. */
  outboxDir: string;
  clock?: Clock | undefined;
}

/** A stalled server must not hold a request open: connecting, the greeting and each later wait are bounded. */
const SMTP_TIMEOUT_MS = 10_000;

/** Messages carry text only: nothing in them may make nodemailer read a file or fetch a URL. */
const NO_CONTENT_ACCESS = { disableFileAccess: true, disableUrlAccess: true } as const;

interface SmtpTarget {
  options: SMTPTransportOptions;
  /** `smtp://host:port`, without credentials. */
  label: string;
  /** Every form in which the password could show up in an error message. */
  secrets: string[];
}

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

const readRequireTls = (url: URL): boolean => {
  for (const key of url.searchParams.keys()) {
    // Only settings the code knows about: a silently ignored `tls.rejectUnauthorized` would mislead.
    if (key !== 'requireTLS') throw new MailError(`The SMTP URL has an unsupported parameter "${key}"; only requireTLS is understood`);
  }
  const value = url.searchParams.get('requireTLS');
  if (value === null || value === 'false') return false;
  if (value === 'true') return true;
  throw new MailError('The SMTP URL parameter requireTLS must be true or false');
};

const parseSmtpUrl = (smtpUrl: string): SmtpTarget => {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new MailError('The SMTP URL is not a valid URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new MailError('The SMTP URL must start with smtp:// or smtps://');
  if (url.hostname === '') throw new MailError('The SMTP URL has no host');
  const secure = url.protocol === 'smtps:';
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  const requireTLS = readRequireTls(url);
  const user = decode(url.username);
  const pass = decode(url.password);
  const options: SMTPTransportOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    secure,
    ...(requireTLS ? { requireTLS } : {}),
    ...(user !== '' || pass !== '' ? { auth: { user, pass } } : {}),
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
    dnsTimeout: SMTP_TIMEOUT_MS,
    ...NO_CONTENT_ACCESS,
  };
  const secrets =
    pass === ''
      ? []
      : [smtpUrl, url.password, pass, Buffer.from(pass).toString('base64'), Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64')];
  return { options, label: `${url.protocol}//${url.hostname}:${port}${requireTLS ? '?requireTLS=true' : ''}`, secrets };
};

const scrub = (text: string, secrets: readonly string[]): string =>
  secrets.filter((secret) => secret !== '').reduce((result, secret) => result.split(secret).join('[redacted]'), text);

const failure = (prefix: string, error: unknown, secrets: readonly string[]): MailError => {
  const reason = error instanceof Error ? error.message : String(error);
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return new MailError(scrub(`${prefix}: ${reason}`, secrets), typeof code === 'string' ? code : undefined);
};

const toSendOptions = (from: string, message: MailMessage, date: Date): SendMailOptions => ({
  from,
  to: message.to,
  subject: message.subject,
  text: message.text,
  ...(message.html === undefined ? {} : { html: message.html }),
  date,
});

const createSmtpMailer = (smtpUrl: string, from: string, clock: Clock): Mailer => {
  const target = parseSmtpUrl(smtpUrl);
  const transport = createTransport(target.options);
  return {
    async send(message) {
      try {
        const info = await transport.sendMail(toSendOptions(from, message, clock.now()));
        return { via: 'smtp', messageId: info.messageId };
      } catch (error) {
        throw failure(`Could not send mail through ${target.label}`, error, target.secrets);
      }
    },
    describe: () => target.label,
    close: () => transport.close(),
  };
};

/** `20240102T030405678Z`: sorts by time and is a valid file name everywhere. */
const fileStamp = (date: Date): string => date.toISOString().replace(/[-:.]/g, '');

const createOutboxMailer = (outboxDir: string, from: string, clock: Clock): Mailer => {
  const directory = resolve(outboxDir);
  const transport = createTransport({ streamTransport: true, buffer: true, newline: 'unix', ...NO_CONTENT_ACCESS });
  return {
    async send(message) {
      const now = clock.now();
      let built: { messageId: string; message: unknown };
      try {
        built = await transport.sendMail(toSendOptions(from, message, now));
      } catch (error) {
        throw failure('Could not build the message', error, []);
      }
      if (!Buffer.isBuffer(built.message)) throw new MailError('Could not build the message: no buffer');
      const file = join(directory, `${fileStamp(now)}-${randomBytes(6).toString('hex')}.eml`);
      try {
        // The message holds a one-time authorization link: only the service's own user may read it.
        await mkdir(directory, { recursive: true, mode: 0o700 });
        await writeFile(file, built.message, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        throw failure(`Could not write to the outbox ${directory}`, error, []);
      }
      return { via: 'outbox', messageId: built.messageId, file };
    },
    describe: () => `outbox ${directory}`,
    close: () => transport.close(),
  };
};

/**
 * A mailer that sends through SMTP when `smtpUrl` is set, and otherwise writes each
 * message as an RFC 5322 `.eml` file (mode 0600) to `outboxDir`, for development or for
 * an operator who forwards mail another way. A malformed `smtpUrl` throws `MailError`
 * here, not at the first send.
 *
 * @example
 * const mailer = createMailer({ smtpUrl: 'smtps://credence:pw@mail.example.com', from: 'credence@example.com', outboxDir: './outbox' });
 * mailer.describe(); // 'smtps://mail.example.com:465'
 * await mailer.send({ to: 'ada@example.com', subject: 'Hello', text: 'Hi' }); // { via: 'smtp', messageId: '<...>' }
 */
export const createMailer = (options: MailerOptions): Mailer => {
  const clock = options.clock ?? systemClock;
  return options.smtpUrl === undefined || options.smtpUrl === ''
    ? createOutboxMailer(options.outboxDir, options.from, clock)
    : createSmtpMailer(options.smtpUrl, options.from, clock);
};

/** The authorization-link email, ready to address: subject, plain text and its HTML twin. */
export interface AuthorizationEmail {
  subject: string;
  text: string;
  html: string;
}

export interface AuthorizationEmailInput {
  /** The organization (Credence tenant) asking for access. */
  organizationName: string;
  /** The service being connected, e.g. `Dropbox`. */
  serviceName: string;
  /** The one-time authorization link. */
  url: string;
  /**
   * The host the link finally sends the browser to (the credential's `auth_uri`), named in
   * the email so the reader can check where they will type their password.
   */
  authorizationHost: string;
  expiresAt: Date;
  customerName?: string | undefined;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);

/** Names are shown inline and in the subject: line breaks and control characters become one space. */
export const oneLine = (value: string): string => value.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** `Saturday 12 April 2031 at 09:30 UTC`, spelled out by hand so it reads the same whatever ICU data Node carries. */
const formatExpiry = (date: Date): string => {
  const time = `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;
  return `${WEEKDAYS[date.getUTCDay()] ?? ''} ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()] ?? ''} ${date.getUTCFullYear()} at ${time} UTC`;
};

/**
 * The email that sends a customer the link to authorize an OAuth 2.0 connection: who asks,
 * for which service, which host the link leads to, what will happen, when the link expires and that it works once.
 * Every interpolated value is HTML-escaped in the `html` part. The link must be `http(s)`.
 *
 * @example
 * const email = buildAuthorizationEmail({ organizationName: 'Acme', serviceName: 'Dropbox', url, expiresAt });
 * await mailer.send({ to: 'ada@example.com', ...email });
 */
export const buildAuthorizationEmail = (input: AuthorizationEmailInput): AuthorizationEmail => {
  const protocol = URL.canParse(input.url) ? new URL(input.url).protocol : '';
  if (protocol !== 'https:' && protocol !== 'http:') throw new TypeError('The authorization link must be an http or https URL');
  const organization = oneLine(input.organizationName);
  const service = oneLine(input.serviceName);
  const customer = input.customerName === undefined ? '' : oneLine(input.customerName);
  const expires = formatExpiry(input.expiresAt);
  const host = oneLine(input.authorizationHost);
  const greeting = customer === '' ? 'Hello,' : `Hello ${customer},`;
  const intro = `${organization} asks you to connect your ${service} account, so that the integrations ${organization} runs for you can use it.`;
  const signIn = `You will be asked to sign in to ${service} and approve the access ${organization} requests.`;
  const where = `The link passes through Credence and then takes you to ${host} to sign in. Check that this is the address you expect before you enter a password there.`;
  const storage = `${service} then hands an access token to Credence, the service ${organization} uses to keep these connections. Credence stores the token encrypted and never sees your ${service} password.`;
  const expiry = `The link expires on ${expires} and works only once. If it has expired or was already used, ask ${organization} for a new one.`;
  const ignore = 'If you were not expecting this email, you can ignore it: nothing is connected until you approve access.';

  const text = [greeting, '', intro, '', 'To continue, open this link:', input.url, '', 'What happens next:', `- ${signIn}`, `- ${where}`, `- ${storage}`, '', expiry, '', ignore, ''].join('\n');

  const h = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a;">',
    `<p>${h(greeting)}</p>`,
    `<p>${h(intro)}</p>`,
    `<p><a href="${h(input.url)}">Connect ${h(service)}</a></p>`,
    `<p>If the link above does not open, copy this address into your browser:<br>${h(input.url)}</p>`,
    '<p>What happens next:</p>',
    `<ul><li>${h(signIn)}</li><li>${h(where)}</li><li>${h(storage)}</li></ul>`,
    `<p>${h(expiry)}</p>`,
    `<p>${h(ignore)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject: `${organization} asks you to connect ${service}`, text, html };
};
