import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AuthorizationFlowError, MAX_LINK_LIFETIME_SECONDS, STATE_LIFETIME_MS, type AuthorizationService } from '../oauth/authorization-service.js';
import type { AuthorizationEmailPolicy } from '../oauth/email-policy.js';
import { MAX_ALLOWED_DOMAINS } from '../oauth/email-policy.js';
import { OAUTH_PRESETS } from '../oauth/oauth-presets.js';
import { AppError } from '../common/app-error.js';
import type { CredentialService } from '../credentials/credential-service.js';
import type { Actor } from '../tenants/actor.js';
import { actorOf, cookieSettings } from './authentication.js';
import { renderPage } from './pages.js';
import { ErrorBody, IdParams, Timestamp, errorResponses } from './schemas.js';

const tags = ['oauth2'];


const pageHeaders = (reply: FastifyReply): FastifyReply =>
  reply
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    .header('x-frame-options', 'DENY')
    .type('text/html; charset=utf-8');

/** Public pages a person's browser visits: the link, the provider's callback, the end page. */
export const oauthPublicRoutes: FastifyPluginAsyncTypebox<{ authorization: AuthorizationService; publicUrl: string }> = async (app, { authorization, publicUrl }) => {
  const cookie = cookieSettings(publicUrl, 'credence-oauth');

  const refuse = (reply: FastifyReply, error: unknown) => {
    if (!(error instanceof AuthorizationFlowError)) throw error;
    return pageHeaders(reply.status(error.status)).send(renderPage('Authorization not completed', error.message));
  };

  app.get(
    '/oauth2/authorize/:linkToken',
    { schema: { hide: true, params: Type.Object({ linkToken: Type.String({ maxLength: 200 }) }) }, config: { rateLimit: { max: 120, timeWindow: '1 minute' } } },
    async (request, reply) => {
      try {
        const { redirectTo, browserBinding } = await authorization.start(request.params.linkToken);
        void reply.setCookie(cookie.name, browserBinding, {
          path: '/',
          httpOnly: true,
          secure: cookie.secure,
          sameSite: 'lax',
          maxAge: STATE_LIFETIME_MS / 1000,
        });
        return pageHeaders(reply).redirect(redirectTo, 302);
      } catch (error) {
        return refuse(reply, error);
      }
    },
  );

  app.get('/oauth2/callback', { schema: { hide: true }, config: { rateLimit: { max: 120, timeWindow: '1 minute' } } }, async (request, reply) => {
    const query = request.raw.url?.split('?')[1] ?? '';
    try {
      await authorization.complete(new URLSearchParams(query), request.cookies[cookie.name]);
      void reply.clearCookie(cookie.name, { path: '/', secure: cookie.secure, httpOnly: true, sameSite: 'lax' });
      // The final URL carries no code: the browser lands on a page of its own.
      return pageHeaders(reply).redirect('/oauth2/complete', 303);
    } catch (error) {
      return refuse(reply, error);
    }
  });

  app.get('/oauth2/complete', { schema: { hide: true } }, async (_request, reply) =>
    pageHeaders(reply).send(renderPage('Authorization complete', 'Authorization complete — you can close this window.')),
  );
};

const ProviderPreset = Type.Object({
  key: Type.String(),
  name: Type.String(),
  authUri: Type.String(),
  tokenUri: Type.String(),
  defaultScopes: Type.String(),
  extraAuthParams: Type.Record(Type.String(), Type.String()),
  clientAuth: Type.String(),
  docsUrl: Type.String(),
  apiOrigins: Type.Array(Type.String(), { description: "The provider's API origins: a credential's default destinations" }),
});

/** OAuth 2.0 management routes: links, emails, presets, the redirect URI. */
export const oauthApiRoutes: FastifyPluginAsyncTypebox<{
  authorization: AuthorizationService;
  emailPolicy: AuthorizationEmailPolicy;
  credentials: Pick<CredentialService, 'get' | 'update'>;
}> = async (app, { authorization, emailPolicy, credentials }) => {
  /**
   * Adds scopes to an oauth2 credential's own (the union, in order), as an update of the
   * credential by the caller. Called once the link is issued: a link asks the provider for the
   * credential's scopes when it is opened, and a link that is refused changes nothing.
   */
  const addScopes = async (actor: Actor, id: string, extra: string[] | undefined): Promise<void> => {
    if (!extra || extra.length === 0) return;
    const current = await credentials.get(actor, id);
    if (current.authMethod !== 'oauth2') throw new AppError('NOT_OAUTH2', 'Not an OAuth 2.0 credential');
    const requested = current.oauth2?.requestedScopes ?? [];
    const union = [...requested, ...extra.filter((scope, i) => !requested.includes(scope) && extra.indexOf(scope) === i)];
    if (union.length > requested.length) await credentials.update(actor, id, { fields: { scopes: union.join(' ') } });
  };

  const EmailSettings = Type.Object({
    allowedDomains: Type.Array(Type.String({ maxLength: 253 }), { maxItems: MAX_ALLOWED_DOMAINS, description: 'Domains customer users may send authorization emails to, beside their own customer\'s users' }),
  });

  app.get(
    '/oauth2/email-settings',
    { schema: { tags, summary: 'Where customer users may send authorization emails', response: { 200: EmailSettings, ...errorResponses } } },
    async (request) => ({ allowedDomains: await emailPolicy.allowedDomains(actorOf(request)) }),
  );

  app.put(
    '/oauth2/email-settings',
    {
      schema: {
        tags,
        summary: 'Set the domains customer users may send authorization emails to (org_admin only)',
        body: Type.Object({ allowedDomains: EmailSettings.properties.allowedDomains }, { additionalProperties: false }),
        response: { 200: EmailSettings, ...errorResponses },
      },
    },
    async (request) => ({ allowedDomains: await emailPolicy.setAllowedDomains(actorOf(request), request.body.allowedDomains) }),
  );

  app.get(
    '/oauth2/providers',
    { schema: { tags, summary: 'Provider presets: URLs, default scopes, extra parameters', response: { 200: Type.Object({ items: Type.Array(ProviderPreset) }) } } },
    async () => ({ items: OAUTH_PRESETS.map((preset) => ({ ...preset, apiOrigins: [...preset.apiOrigins] })) }),
  );

  app.get(
    '/oauth2/redirect-uri',
    { schema: { tags, summary: 'The redirect URI to register with every OAuth provider', response: { 200: Type.Object({ redirectUri: Type.String() }) } } },
    async () => ({ redirectUri: authorization.redirectUri }),
  );

  app.post(
    '/credentials/:id/authorization-link',
    {
      schema: {
        tags,
        summary: 'Issue an authorization link (revokes the previous one)',
        params: IdParams,
        body: Type.Object(
          { expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_LINK_LIFETIME_SECONDS, description: 'Default 7 days' })), allowAccountChange: Type.Optional(Type.Boolean({ description: 'Let this link attach another provider account than the one the credential was first authorized for (default: refused)' })), addScopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }), { maxItems: 50, description: "Scopes to ask for besides the credential's: they are added to its scopes (the union) before the link is issued" })) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ url: Type.String(), expiresAt: Timestamp }), ...errorResponses },
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const link = await authorization.createLink(actorOf(request), request.params.id, request.body);
      await addScopes(actorOf(request), request.params.id, request.body.addScopes);
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ url: link.url, expiresAt: link.expiresAt });
    },
  );

  app.get(
    '/credentials/:id/authorization-link',
    {
      schema: {
        tags,
        summary: 'Whether an unused, unexpired authorization link exists, and when it expires',
        params: IdParams,
        response: { 200: Type.Object({ active: Type.Boolean(), expiresAt: Type.Union([Timestamp, Type.Null()]), createdAt: Type.Union([Timestamp, Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => authorization.linkStatus(actorOf(request), request.params.id),
  );

  app.delete(
    '/credentials/:id/authorization-link',
    { schema: { tags, summary: 'Revoke the open authorization link', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await authorization.revokeLinks(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/credentials/:id/authorization-emails',
    {
      schema: {
        tags,
        summary: 'Email a new authorization link to a customer',
        params: IdParams,
        body: Type.Object(
          { email: Type.String({ maxLength: 254 }), expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_LINK_LIFETIME_SECONDS })), allowAccountChange: Type.Optional(Type.Boolean({ description: 'Let this link attach another provider account than the one the credential was first authorized for (default: refused)' })), addScopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }), { maxItems: 50, description: "Scopes to ask for besides the credential's: they are added to its scopes (the union) before the link is issued" })) },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({
            sentTo: Type.String(),
            expiresAt: Timestamp,
            delivery: Type.Object({
              via: Type.String({ description: 'smtp, or outbox when no SMTP server is configured' }),
              messageId: Type.String(),
              file: Type.Optional(Type.String({ description: 'Outbox only: the .eml file written' })),
            }),
          }),
          ...errorResponses,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const sent = await authorization.sendEmail(actorOf(request), request.params.id, request.body);
      await addScopes(actorOf(request), request.params.id, request.body.addScopes);
      return reply.status(202).send({ sentTo: request.body.email.trim(), expiresAt: sent.expiresAt, delivery: sent.delivery });
    },
  );
};
