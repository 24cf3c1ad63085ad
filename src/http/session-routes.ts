import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../common/app-error.js';
import type { Redacted } from '../common/redacted.js';
import { SESSION_LIFETIME_MS, type SessionService, type SessionUser } from '../tenants/session-service.js';
import { actorOf } from './authentication.js';
import { IdParams, NullableString, Role, Timestamp, errorResponses } from './schemas.js';

const tags = ['sessions'];

const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Role,
  customerId: NullableString,
  organizationId: Type.String(),
  organizationName: Type.String(),
});
const SignedIn = Type.Object({ user: User, csrfToken: Type.String({ description: 'Send as X-CSRF-Token on every change made with the session cookie' }) });
const Password = Type.String({ minLength: 1, maxLength: 1024 });

interface CookieOptions {
  sessions: SessionService;
  cookie: { name: string; secure: boolean };
}

const signedInReply = (reply: FastifyReply, { cookie, sessions }: CookieOptions, session: { token: Redacted<string>; user: SessionUser }, status = 200) => {
  const token = session.token.reveal();
  void reply
    .setCookie(cookie.name, token, { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax', maxAge: SESSION_LIFETIME_MS / 1000 })
    .header('cache-control', 'no-store');
  return reply.status(status).send({ user: session.user, csrfToken: sessions.csrfTokenFor(token) });
};

/** Public routes of the web app's sign-in: first-run setup, sign-in, accepting an invitation. */
export const sessionPublicRoutes: FastifyPluginAsyncTypebox<CookieOptions & { signInsPerMinute: number }> = async (app, options) => {
  const { sessions, cookie } = options;

  app.get('/setup', { schema: { tags, summary: 'Whether Credence still needs its first organization', security: [], response: { 200: Type.Object({ needsSetup: Type.Boolean() }) } } }, async () => ({
    needsSetup: await sessions.needsSetup(),
  }));

  app.post(
    '/setup',
    {
      schema: {
        tags,
        summary: 'First run: create the organization and its first admin, signed in',
        security: [],
        body: Type.Object({ organizationName: Type.String({ maxLength: 200 }), email: Type.String({ maxLength: 254 }), password: Password }, { additionalProperties: false }),
        response: { 201: SignedIn, ...errorResponses },
      },
    },
    async (request, reply) => signedInReply(reply, options, await sessions.setUp(request.body), 201),
  );

  app.post(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'Sign in with email and password (sets the session cookie)',
        security: [],
        description:
          'Wrong passwords lock the (email, client address) pair with back-off (429 ACCOUNT_LOCKED), known email or not. An email with accounts in several organizations answers 409 ORGANIZATION_REQUIRED, naming them, once the password is right; send `organization` (its id or name) again.',
        body: Type.Object(
          { email: Type.String({ maxLength: 254 }), password: Password, organization: Type.Optional(Type.String({ maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: SignedIn, ...errorResponses },
      },
      config: { rateLimit: { max: options.signInsPerMinute, timeWindow: '1 minute' } },
    },
    async (request, reply) =>
      signedInReply(reply, options, await sessions.signIn({ email: request.body.email, password: request.body.password, address: request.ip, organization: request.body.organization })),
  );

  app.get('/session', { schema: { tags, summary: 'The signed-in person and the CSRF token', security: [], response: { 200: SignedIn, ...errorResponses } } }, async (request, reply) => {
    const token = request.cookies[cookie.name];
    const signedIn = token ? await sessions.authenticate(token) : undefined;
    if (!token || !signedIn) throw new AppError('UNAUTHENTICATED', 'Not signed in');
    void reply.header('cache-control', 'no-store');
    return { user: signedIn.user, csrfToken: sessions.csrfTokenFor(token) };
  });

  app.post(
    '/invitations/:token/accept',
    {
      schema: {
        tags,
        summary: 'Accept an invitation by choosing a password (signs in)',
        security: [],
        params: Type.Object({ token: Type.String({ maxLength: 100 }) }),
        body: Type.Object({ password: Password }, { additionalProperties: false }),
        response: { 200: SignedIn, ...errorResponses },
      },
    },
    async (request, reply) => signedInReply(reply, options, await sessions.acceptInvite(request.params.token, request.body.password)),
  );
};

/** Authenticated routes: sign out, and managing the organization's people. */
export const sessionRoutes: FastifyPluginAsyncTypebox<CookieOptions> = async (app, { sessions, cookie }) => {
  app.delete('/session', { schema: { tags, summary: 'Sign out', response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
    const token = request.cookies[cookie.name];
    if (token) await sessions.signOut(token);
    void reply.clearCookie(cookie.name, { path: '/', secure: cookie.secure, httpOnly: true, sameSite: 'lax' });
    return reply.status(204).send(null);
  });

  const UserRow = Type.Object({ id: Type.String(), email: Type.String(), role: Role, customerId: NullableString, createdAt: Timestamp, status: Type.String({ description: 'active or invited' }) });
  app.get('/users', { schema: { tags: ['users'], summary: 'People of the organization', response: { 200: Type.Object({ items: Type.Array(UserRow) }), ...errorResponses } } }, async (request) => ({
    items: await sessions.listUsers(actorOf(request)),
  }));

  app.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Invite a team member or a customer user',
        body: Type.Object({ email: Type.String({ maxLength: 254 }), role: Role, customerId: Type.Optional(NullableString) }, { additionalProperties: false }),
        response: { 201: Type.Object({ user: UserRow, inviteUrl: Type.String(), expiresAt: Timestamp }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, inviteUrl, expiresAt } = await sessions.invite(actorOf(request), request.body);
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ user: { id: user.id, email: user.email, role: user.role, customerId: user.customerId, createdAt: user.createdAt, status: 'invited' }, inviteUrl, expiresAt });
    },
  );

  app.delete('/users/:id', { schema: { tags: ['users'], summary: 'Remove a person', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
    await sessions.deleteUser(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });
};
