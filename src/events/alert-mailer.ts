import { errorDetails } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { createPoller } from '../common/poller.js';
import type { CredentialRecord, CredentialStore } from '../credentials/credential-store.js';
import { escapeHtml, oneLine, type Mailer } from '../oauth/mailer.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { AlertEmail, AlertStore } from './alert-store.js';

export interface AlertMailerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** How long after each failed send the next try comes; then the alert is marked failed. */
const RETRY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 6 * 3_600_000];

interface AlertText {
  subject: string;
  lines: string[];
}

/** What an alert says, in Credence's words (never a secret, never what a service answered). */
const describe = (alert: AlertEmail, label: string, whose: string): AlertText => {
  const name = oneLine(label);
  const daysLeft = Number(alert.details.daysLeft ?? 0);
  const thing = alert.details.kind === 'client_secret' ? `The OAuth app's client secret of ${name}` : name;
  const date = String(alert.details.expiresAt ?? '').slice(0, 10);
  switch (alert.reason) {
    case 'reauthorization_required':
      return { subject: `${name} needs to be authorized again`, lines: [`${name} (${whose}) is no longer accepted by its provider: the authorization is gone, and runs that use it will fail until someone authorizes it again.`] };
    case 'failing':
      return { subject: `${name} is failing`, lines: [`The service ${name} (${whose}) is for refuses it. Runs that use it fail until its secret is replaced or the service accepts it again.`] };
    case 'expiring':
      return { subject: `${thing} expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`, lines: [`${thing} (${whose}) expires on ${date}. Replace it before then so nothing stops working.`] };
    case 'expired':
      return { subject: `${thing} has expired`, lines: [`${thing} (${whose}) expired on ${date}. Runs that use it will fail until it is replaced.`] };
  }
};

/**
 * Sends the alert emails the outbox queued: to the organization's admins, and to the
 * credential's contact when it has one. An alert that a reconnect can fix (an OAuth 2.0
 * credential that needs authorizing again) carries a new authorization link. One email per
 * change; sends are retried, then marked failed.
 */
export const createAlertMailer = (deps: {
  store: Pick<AlertStore, 'claimDue' | 'settle'>;
  tenants: Pick<TenantStore, 'findOrganization' | 'listUsers'>;
  credentials: Pick<CredentialStore, 'find'>;
  /** A fresh authorization link for an OAuth 2.0 credential, or undefined when none can be issued. */
  reconnectLink: (record: CredentialRecord) => Promise<{ url: string; expiresAt: string } | undefined>;
  mailer: Mailer;
  clock: Clock;
  owner: string;
  pollMs: number;
  publicUrl: string;
}) => {
  const batch = 20;
  let log: AlertMailerLog | undefined;

  /** An organization's name and admins' addresses, looked up once per pass. */
  type Audience = { name: string; admins: string[] };
  const audienceOf = (organizationId: string, seen: Map<string, Promise<Audience>>): Promise<Audience> => {
    let audience = seen.get(organizationId);
    if (!audience) {
      audience = (async () => ({
        name: (await deps.tenants.findOrganization(organizationId))?.name ?? 'your organization',
        admins: (await deps.tenants.listUsers(organizationId)).filter((user) => user.role === 'org_admin' && user.passwordHash !== '').map((user) => user.email.toLowerCase()),
      }))();
      seen.set(organizationId, audience);
    }
    return audience;
  };

  const send = async (alert: AlertEmail, audiences: Map<string, Promise<Audience>>): Promise<void> => {
    const { name: organizationName, admins } = await audienceOf(alert.organizationId, audiences);
    const record = await deps.credentials.find(alert.organizationId, alert.credentialId);
    const label = record?.label ?? String(alert.details.label ?? 'A credential');
    // The outbox named the customer when it queued the alert.
    const customerName = typeof alert.details.customerName === 'string' ? alert.details.customerName : undefined;
    const whose = customerName ? `${oneLine(customerName)}'s credential` : `an organization credential of ${oneLine(organizationName)}`;
    const text = describe(alert, label, whose);
    const reconnect = alert.reason === 'reauthorization_required' && record?.authMethod === 'oauth2' && record.oauthSettings?.grantType !== 'client_credentials' ? await deps.reconnectLink(record) : undefined;
    const page = `${deps.publicUrl}/credentials/${alert.credentialId}`;
    const message = (forAdmin: boolean) => {
      const lines = [
        ...text.lines,
        '',
        ...(reconnect ? ['To connect it again, open this link (it works once, until ' + reconnect.expiresAt.slice(0, 16).replace('T', ' ') + ' UTC):', reconnect.url, ''] : []),
        ...(forAdmin ? ['See it in Credence:', page, ''] : []),
        'You get this email once for this change, not for every failure.',
      ];
      const html = ['<!doctype html>', '<html><body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a;">', ...lines.filter(Boolean).map((line) => (/^https?:\/\//.test(line) ? `<p><a href="${escapeHtml(line)}">${escapeHtml(line)}</a></p>` : `<p>${escapeHtml(line)}</p>`)), '</body></html>', ''].join('\n');
      return { subject: text.subject, text: lines.join('\n'), html };
    };
    const recipients = new Map<string, boolean>();
    for (const email of admins) recipients.set(email, true);
    if (record?.contactEmail && !recipients.has(record.contactEmail)) recipients.set(record.contactEmail, false);
    for (const [to, forAdmin] of recipients) await deps.mailer.send({ to, ...message(forAdmin) });
  };

  const settleAfter = async (alert: AlertEmail, error: unknown): Promise<void> => {
    const attempts = alert.attempts + 1;
    const now = deps.clock.now();
    if (error === undefined) {
      await deps.store.settle(alert.id, deps.owner, { status: 'sent', attempts, nextAttemptAt: null, sentAt: now.toISOString(), error: null });
      return;
    }
    const delay = RETRY_DELAYS_MS[attempts - 1];
    const message = error instanceof Error ? error.message : 'sending failed';
    await deps.store.settle(alert.id, deps.owner, { status: delay === undefined ? 'failed' : 'pending', attempts, nextAttemptAt: delay === undefined ? null : new Date(now.getTime() + delay).toISOString(), sentAt: null, error: message });
    log?.error({ alertId: alert.id, attempts, err: errorDetails(error) }, 'alert email not sent');
  };

  /** Sends the alerts that are due; answers how many were claimed. */
  const tick = async (): Promise<number> => {
    const now = deps.clock.now();
    const claimed = await deps.store.claimDue({ owner: deps.owner, now: now.toISOString(), until: new Date(now.getTime() + 120_000).toISOString(), limit: batch, perOrganization: 5 });
    const audiences = new Map<string, Promise<Audience>>();
    for (const alert of claimed) {
      let failure: unknown;
      try {
        await send(alert, audiences);
      } catch (error) {
        failure = error ?? new Error('sending failed');
      }
      await settleAfter(alert, failure);
    }
    return claimed.length;
  };

  const poller = createPoller({ pass: tick, pollMs: deps.pollMs, full: batch, onError: (error) => log?.error({ err: errorDetails(error) }, 'alert pass failed') });

  return {
    tick,
    start(logger?: AlertMailerLog): void {
      log = logger;
      poller.start();
    },
    stop: () => poller.stop(),
  };
};

export type AlertMailer = ReturnType<typeof createAlertMailer>;
