import { EMAIL_PATTERN } from '../tenants/password.js';
import { Redacted } from '../common/redacted.js';
import { destinationAllows } from '../net/destinations.js';
import type { EventOutbox } from '../events/event-outbox.js';
import { scopeOf } from '../crypto/sealed-json.js';
import { createHash, randomBytes } from 'node:crypto';
import { AppError, forbidden, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { AuditService } from '../audit/audit-service.js';
import type { AuditStore } from '../audit/audit-store.js';
import type { CipherContext, Keyring } from '../crypto/keyring.js';
import type { CredentialRecord, CredentialStore } from '../credentials/credential-store.js';
import { openShownValues } from '../credentials/field-sealing.js';
import type { Transact } from '../store/database.js';
import { canSeeScope, requireRole, type Actor } from '../tenants/actor.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { CallbackRejectedError, TokenRequestError, codeChallengeOf, generateCodeVerifier, type OAuthClient } from './oauth-client.js';
import type { AuthorizationEmailPolicy } from './email-policy.js';
import { endpointsOffPreset, findPreset } from './oauth-presets.js';
import { buildAuthorizationEmail, MailError, type MailDelivery, type Mailer } from './mailer.js';
import type { OAuthStore } from './oauth-store.js';
import type { TokenService } from './token-service.js';

export const DEFAULT_LINK_LIFETIME_SECONDS = 7 * 24 * 3600;
export const MAX_LINK_LIFETIME_SECONDS = 30 * 24 * 3600;
export const STATE_LIFETIME_MS = 10 * 60_000;

const hashSecret = (value: string): string => createHash('sha256').update(value).digest('hex');
const randomToken = (): string => randomBytes(32).toString('base64url');

/** Why a person's authorization attempt was refused, in words for that person. */
export class AuthorizationFlowError extends Error {
  override readonly name = 'AuthorizationFlowError';
  readonly status: number;
  readonly providerError: string | undefined;

  constructor(message: string, status = 400, providerError?: string) {
    super(message);
    this.status = status;
    this.providerError = providerError;
  }
}

const pkceContext = (state: { organizationId: string; credentialId: string; id: string }, scopeId: string): CipherContext => ({
  organizationId: state.organizationId,
  scopeId,
  recordId: `${state.credentialId}/${state.id}`,
  fieldSet: 'pkce-verifier',
});

/**
 * Authorization links and the hosted OAuth 2.0 flow. A link is opaque, single-use,
 * expiring and revocable; only its hash is stored. Following it starts a PKCE (S256)
 * authorization-code request bound to a one-time server-side state and to the browser
 * that followed it; the callback checks all of that before any token request is made.
 */
export const createAuthorizationService = (deps: {
  store: OAuthStore;
  credentials: Pick<CredentialStore, 'find'>;
  tenants: Pick<TenantStore, 'findOrganization' | 'findCustomer'>;
  keyring: Pick<Keyring, 'seal' | 'open'>;
  client: OAuthClient;
  tokens: Pick<TokenService, 'providerOf' | 'storeTokens' | 'accountOf'>;
  mailer: Mailer;
  emailPolicy: Pick<AuthorizationEmailPolicy, 'checkRecipient' | 'reserve'>;
  audit: Pick<AuditService, 'record'>;
  /** The audit trail, read to learn who last set a credential's endpoints. */
  history: Pick<AuditStore, 'list'>;
  /** Tells webhook endpoints when a link is opened (in the same transaction). */
  events?: Pick<EventOutbox, 'emit' | 'credentialData'> | undefined;
  transact: Transact;
  clock: Clock;
  publicUrl: string;
}) => {
  const { store, credentials, keyring, client, tokens, audit, transact, clock } = deps;
  const redirectUri = `${deps.publicUrl}/oauth2/callback`;

  /** An oauth2 credential of the authorization-code kind the actor may manage. */
  const findAuthorizable = async (actor: Actor, credentialId: string): Promise<CredentialRecord> => {
    requireRole(actor, 'org_admin', 'org_member', 'customer_user');
    const record = await credentials.find(actor.organizationId, credentialId);
    if (!record || !canSeeScope(actor, record.customerId)) throw notFound('Credential');
    if (record.authMethod !== 'oauth2' || !record.oauthSettings) throw new AppError('NOT_OAUTH2', 'Only OAuth 2.0 credentials have authorization links');
    if (record.oauthSettings.grantType !== 'authorization_code') {
      throw new AppError('NOT_OAUTH2', 'A client-credentials credential needs no authorization: its token is fetched automatically');
    }
    return record;
  };

  /**
   * Whether the last write of the credential's `auth_uri` or `token_uri` was made by an org
   * role (org_admin, org_member, the operator's CLI), as the audit trail records it. No
   * record of that write counts as "no".
   */
  const endpointsSetByOrganization = async (record: CredentialRecord): Promise<boolean> => {
    const setsEndpoint = (fields: unknown) => Array.isArray(fields) && fields.some((field) => field === 'auth_uri' || field === 'token_uri');
    const byOrganization = (event: { actor: { type: string; role: string | null } }) => event.actor.type === 'cli' || event.actor.role === 'org_admin' || event.actor.role === 'org_member';
    let beforeId: string | undefined;
    for (let page = 0; page < 20; page += 1) {
      const updates = await deps.history.list(record.organizationId, { action: 'credential.updated', targetId: record.id, beforeId, limit: 100 });
      const last = updates.find((event) => setsEndpoint(event.details['fieldsChanged']));
      if (last) return byOrganization(last);
      if (updates.length < 100) break;
      beforeId = updates.at(-1)?.id;
    }
    const [created] = await deps.history.list(record.organizationId, { action: 'credential.created', targetId: record.id, limit: 1 });
    return created !== undefined && setsEndpoint(created.details['fields']) && byOrganization(created);
  };

  /**
   * The endpoints a link would send a person to. A credential made from a provider preset
   * whose `auth_uri` or `token_uri` has left the preset's hosts gets a link only when an org
   * role set those endpoints (deliberately: a test server, a tenant-specific host); when a
   * customer user did, no link is issued, so "connect your Dropbox" cannot lead to a host of
   * its choosing. Off-preset links are audited as such.
   */
  const checkEndpoints = async (record: CredentialRecord) => {
    // The endpoints are shown values: reading them never decrypts the client secret.
    const { auth_uri: authUri, token_uri: tokenUri } = await openShownValues(keyring, record);
    const preset = record.oauthSettings?.provider ? findPreset(record.oauthSettings.provider) : undefined;
    const offPreset = preset && tokenUri ? endpointsOffPreset(preset, authUri, tokenUri) : [];
    if (preset && offPreset.length > 0 && !(await endpointsSetByOrganization(record))) {
      throw forbidden(`This credential's ${offPreset.join(' and ')} is not on ${preset.name}'s hosts and was not set by the organization; an org_admin or org_member must set it before a link can be issued`);
    }
    return { preset, authUri, offPreset };
  };

  /** Issues a link; `checked` is the endpoint check when the caller has just made it. */
  const issueLink = async (
    actor: Actor,
    record: CredentialRecord,
    expiresInSeconds: number | undefined,
    checked?: Awaited<ReturnType<typeof checkEndpoints>>,
    allowAccountChange = false,
  ) => {
    const { offPreset } = checked ?? (await checkEndpoints(record));
    const lifetime = expiresInSeconds ?? DEFAULT_LINK_LIFETIME_SECONDS;
    if (!Number.isInteger(lifetime) || lifetime < 60 || lifetime > MAX_LINK_LIFETIME_SECONDS) {
      throw new AppError('VALIDATION_FAILED', `expiresInSeconds must be between 60 and ${MAX_LINK_LIFETIME_SECONDS}`);
    }
    const now = clock.now();
    const token = randomToken();
    const link = {
      id: newId('lnk', now),
      organizationId: record.organizationId,
      credentialId: record.id,
      createdBy: actor.id,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + lifetime * 1000).toISOString(),
      usedAt: null,
      revokedAt: null,
      allowAccountChange,
    };
    await transact(async (trx) => {
      // Issuing a new link revokes the old ones: only the newest link works.
      const revoked = await store.revokeLinks(record.organizationId, record.id, link.createdAt, trx);
      await store.insertLink(link, hashSecret(token), trx);
      await audit.record(
        actor,
        record.organizationId,
        { action: 'oauth.link_created', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { linkId: link.id, expiresAt: link.expiresAt, revokedLinks: revoked, ...(allowAccountChange ? { allowAccountChange } : {}), ...(offPreset.length > 0 ? { endpointsOffPreset: offPreset } : {}) } },
        trx,
      );
    });
    return { url: `${deps.publicUrl}/oauth2/authorize/${token}`, expiresAt: link.expiresAt, linkId: link.id };
  };

  /**
   * The account a new token belongs to, from the preset's identity endpoint on the
   * credential's first destination (never anywhere else); undefined when there is none or it
   * does not answer.
   */
  const accountFromIdentity = async (record: CredentialRecord, accessToken: string): Promise<string | undefined> => {
    const identity = record.oauthSettings?.provider ? findPreset(record.oauthSettings.provider)?.identity : undefined;
    const base = (record.destinations ?? []).find((origin) => !origin.includes('*'));
    if (!identity || !base) return undefined;
    const url = new URL(identity.path, base);
    if (!destinationAllows(record.destinations ?? [], url)) return undefined;
    try {
      return await client.accountOf(url, identity, new Redacted(accessToken));
    } catch {
      return undefined;
    }
  };

  return {
    redirectUri,

    /**
     * A new link to authorize `record` again, for an alert email (issued by the alert worker,
     * as any link: the older ones stop working); none when its endpoints forbid one.
     */
    async reconnectLink(record: CredentialRecord): Promise<{ url: string; expiresAt: string } | undefined> {
      const actor: Actor = { type: 'worker', id: 'alerts', organizationId: record.organizationId, role: 'org_admin', customerId: null };
      try {
        const { url, expiresAt } = await issueLink(actor, record, undefined);
        return { url, expiresAt };
      } catch (error) {
        if (error instanceof AppError && error.expose) return undefined;
        throw error;
      }
    },

    async createLink(actor: Actor, credentialId: string, input: { expiresInSeconds?: number | undefined; allowAccountChange?: boolean | undefined }) {
      return issueLink(actor, await findAuthorizable(actor, credentialId), input.expiresInSeconds, undefined, input.allowAccountChange === true);
    },

    /** The open link's expiry (never its URL: only its hash is kept). */
    async linkStatus(actor: Actor, credentialId: string) {
      const record = await findAuthorizable(actor, credentialId);
      const link = await store.findOpenLink(record.organizationId, record.id);
      const live = link && Date.parse(link.expiresAt) > clock.now().getTime() ? link : undefined;
      return { active: live !== undefined, expiresAt: live?.expiresAt ?? null, createdAt: live?.createdAt ?? null };
    },

    async revokeLinks(actor: Actor, credentialId: string): Promise<number> {
      const record = await findAuthorizable(actor, credentialId);
      return transact(async (trx) => {
        const revoked = await store.revokeLinks(record.organizationId, record.id, clock.now().toISOString(), trx);
        await audit.record(actor, record.organizationId, { action: 'oauth.link_revoked', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { revokedLinks: revoked } }, trx);
        return revoked;
      });
    },

    /** Issues a new link and emails it, naming the organization and the service. */
    async sendEmail(
      actor: Actor,
      credentialId: string,
      input: { email: string; expiresInSeconds?: number | undefined; allowAccountChange?: boolean | undefined },
    ): Promise<{ expiresAt: string; delivery: MailDelivery }> {
      const record = await findAuthorizable(actor, credentialId);
      const email = input.email.trim();
      if (!EMAIL_PATTERN.test(email) || email.length > 254) throw new AppError('VALIDATION_FAILED', 'email is not a valid address');
      await deps.emailPolicy.checkRecipient(actor, email);
      const checked = await checkEndpoints(record);
      const { preset, authUri } = checked;
      const authorizationHost = authUri && URL.canParse(authUri) ? new URL(authUri).host : undefined;
      if (!authorizationHost) throw new AppError('VALIDATION_FAILED', 'This credential has no valid auth_uri');
      await deps.emailPolicy.reserve(record);
      const organization = await deps.tenants.findOrganization(record.organizationId);
      const customer = record.customerId ? await deps.tenants.findCustomer(record.organizationId, record.customerId) : undefined;
      const link = await issueLink(actor, record, input.expiresInSeconds, checked, input.allowAccountChange === true);
      const message = buildAuthorizationEmail({
        organizationName: organization?.name ?? 'Your vendor',
        serviceName: preset?.name ?? record.label,
        url: link.url,
        authorizationHost,
        expiresAt: new Date(link.expiresAt),
        customerName: customer?.name,
      });
      let delivery: MailDelivery;
      try {
        delivery = await deps.mailer.send({ to: email, ...message });
      } catch (error) {
        if (error instanceof MailError) throw new AppError('MAIL_FAILED', error.message);
        throw error;
      }
      await audit.record(actor, record.organizationId, {
        action: 'oauth.link_emailed',
        customerId: record.customerId,
        targetType: 'credential',
        targetId: record.id,
        details: { to: email, via: delivery.via, linkId: link.linkId },
      });
      return { expiresAt: link.expiresAt, delivery };
    },

    /**
     * A person followed a link. Returns where to send their browser, and a random value
     * to bind this browser to the state (set as a cookie by the caller).
     */
    async start(linkToken: string): Promise<{ redirectTo: string; browserBinding: string }> {
      const link = /^[\w-]{20,100}$/.test(linkToken) ? await store.findLinkByHash(hashSecret(linkToken)) : undefined;
      const now = clock.now();
      if (!link) throw new AuthorizationFlowError('This authorization link is not valid.', 404);
      if (link.revokedAt) throw new AuthorizationFlowError('This authorization link was revoked. Ask for a new one.', 410);
      if (link.usedAt) throw new AuthorizationFlowError('This authorization link was already used. Ask for a new one if you need to authorize again.', 410);
      if (Date.parse(link.expiresAt) <= now.getTime()) throw new AuthorizationFlowError('This authorization link has expired. Ask for a new one.', 410);
      const record = await credentials.find(link.organizationId, link.credentialId);
      if (!record || !record.oauthSettings) throw new AuthorizationFlowError('This authorization link is not valid.', 404);

      const { endpoint, scopes } = await tokens.providerOf(record);
      const state = randomToken();
      const browserBinding = randomToken();
      const verifier = generateCodeVerifier();
      const stateRow = {
        id: newId('sta', now),
        organizationId: record.organizationId,
        credentialId: record.id,
        linkId: link.id,
        browserHash: hashSecret(browserBinding),
        verifierCiphertext: '',
        redirectUri,
        issuer: endpoint.issuer,
        createdAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + STATE_LIFETIME_MS).toISOString(),
        usedAt: null,
      };
      await transact(async (trx) => {
        stateRow.verifierCiphertext = await keyring.seal(pkceContext(stateRow, scopeOf(record.organizationId, record.customerId)), Buffer.from(verifier), trx);
        await store.insertState(stateRow, hashSecret(state), trx);
        await deps.events?.emit(trx, [{ organizationId: record.organizationId, type: 'authorization_link.opened', data: deps.events.credentialData(record, { linkId: link.id, linkExpiresAt: link.expiresAt }) }]);
      });
      const url = client.authorizationUrl(endpoint, {
        redirectUri,
        scope: scopes,
        state,
        codeChallenge: await codeChallengeOf(verifier),
        extraParams: record.oauthSettings.extraAuthParams,
      });
      return { redirectTo: url.href, browserBinding };
    },

    /** The provider sent the browser back. Checks everything, then exchanges the code once. */
    async complete(parameters: URLSearchParams, browserBinding: string | undefined): Promise<{ organizationName: string; credentialLabel: string }> {
      const stateValue = parameters.get('state');
      if (!stateValue) throw new AuthorizationFlowError('The response from the provider has no state; start again from your authorization link.');
      const state = stateValue.length <= 200 ? await store.findStateByHash(hashSecret(stateValue)) : undefined;
      const now = clock.now();
      if (!state) throw new AuthorizationFlowError('This authorization attempt is not known; start again from your authorization link.');
      if (state.usedAt) throw new AuthorizationFlowError('This authorization attempt was already completed or refused; start again from your authorization link.');
      if (Date.parse(state.expiresAt) <= now.getTime()) throw new AuthorizationFlowError('This authorization attempt took too long and expired; start again from your authorization link.');
      // Only the browser that followed the link may spend its state: someone who merely learned
      // the state value (a log, a referrer, a shoulder) is refused and the attempt stays open.
      if (!browserBinding || hashSecret(browserBinding) !== state.browserHash) {
        throw new AuthorizationFlowError('This authorization was started in another browser; open your authorization link again in this one.');
      }
      const record = await credentials.find(state.organizationId, state.credentialId);
      const link = await store.findLink(state.linkId);
      if (!record || !link) throw new AuthorizationFlowError('The credential this authorization was for no longer exists.', 410);
      if (link.revokedAt || link.usedAt) throw new AuthorizationFlowError('This authorization link was revoked or already used. Ask for a new one.', 410);
      // Then the state is consumed, before the provider's answer is read or the code exchanged, so it can never be replayed.
      if (!(await store.useState(state.id, now.toISOString()))) throw new AuthorizationFlowError('This authorization attempt was already completed; start again from your authorization link.');

      const { endpoint } = await tokens.providerOf(record);
      let callback: URLSearchParams;
      try {
        callback = client.validateCallback({ ...endpoint, issuer: state.issuer }, parameters, stateValue);
      } catch (error) {
        if (error instanceof CallbackRejectedError) {
          await audit.record(null, record.organizationId, { action: 'oauth.authorization_refused', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { error: error.providerError ?? error.message } });
          const detail = error.providerError ? `The provider answered: ${error.providerError}${error.providerDescription ? ` — ${error.providerDescription}` : ''}.` : error.message;
          throw new AuthorizationFlowError(`Authorization was not completed. ${detail}`, 400, error.providerError);
        }
        throw error;
      }
      const verifier = (await keyring.open(pkceContext(state, scopeOf(record.organizationId, record.customerId)), state.verifierCiphertext)).toString('utf8');
      let tokenSet;
      try {
        tokenSet = await client.exchangeCode(endpoint, callback, state.redirectUri, verifier);
      } catch (error) {
        if (error instanceof TokenRequestError) {
          await audit.record(null, record.organizationId, { action: 'oauth.exchange_failed', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { error: error.oauthError ?? error.message } });
          throw new AuthorizationFlowError(`The provider did not accept the authorization: ${error.message}. Start again from your authorization link.`, 502);
        }
        throw error;
      }
      // A reconnect comes back for the account the credential was first authorized for, unless the link allows another.
      const before = await store.findGrant(record.organizationId, record.id);
      const previousAccount = before?.tokensCiphertext ? await tokens.accountOf(record, before) : undefined;
      const account = tokenSet.subject ?? (await accountFromIdentity(record, tokenSet.accessToken));
      if (previousAccount !== undefined && account !== previousAccount && !link.allowAccountChange) {
        await audit.record(null, record.organizationId, { action: 'oauth.account_mismatch', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { linkId: link.id, accountConfirmed: account !== undefined } });
        throw new AuthorizationFlowError(
          account === undefined
            ? 'The provider did not say which account you signed in as, so this cannot be confirmed to be the account this connection belongs to. Nothing was changed; ask for a new link.'
            : 'You signed in to the provider as a different account than the one this connection belongs to. Nothing was changed: sign in as the original account and open the link again, or ask for a link that allows changing the account.',
          409,
        );
      }
      const authorizedAt = clock.now().toISOString();
      await transact(async (trx) => {
        if (!(await store.useLink(link.id, authorizedAt, trx))) throw new AuthorizationFlowError('This authorization link was revoked or already used. Ask for a new one.', 410);
        await store.ensureGrant(record.organizationId, record.id, {}, trx);
        const grant = await store.findGrant(record.organizationId, record.id, trx);
        if (!grant || !(await tokens.storeTokens(record, grant, tokenSet, { authorizedAt, account, trx }))) {
          throw new AuthorizationFlowError('The credential changed during authorization; start again from your authorization link.', 409);
        }
        const accountChanged = previousAccount !== undefined && account !== previousAccount;
        await audit.record(
          null,
          record.organizationId,
          { action: 'oauth.authorized', customerId: record.customerId, targetType: 'credential', targetId: record.id, details: { scopes: tokenSet.scope ?? null, linkId: link.id, accountKnown: account !== undefined, accountChanged } },
          trx,
        );
      });
      const organization = await deps.tenants.findOrganization(record.organizationId);
      return { organizationName: organization?.name ?? '', credentialLabel: record.label };
    },
  };
};

export type AuthorizationService = ReturnType<typeof createAuthorizationService>;
