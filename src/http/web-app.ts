import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where `npm run build:web` puts the web app, from both src/http and dist/http. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** The web app may load only its own scripts and styles, and talk only to this origin. */
export const WEB_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_APP_PATHS = /^\/(api|oauth2|docs|openapi\.json|healthz|readyz|metrics)(\/|$|\?)/;

/**
 * Serves the built web app at `/`, with index.html for the app's own routes
 * (`/credentials/...`), so a reload or a shared link opens the right page. Returns a
 * handler for unknown GETs, or undefined when the web app has not been built.
 */
export const registerWebApp = async (app: FastifyInstance, root = WEB_DIST) => {
  if (!existsSync(`${root}/index.html`)) return undefined;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    setHeaders: (res) => {
      res.setHeader('content-security-policy', WEB_CSP);
    },
  });
  return (request: FastifyRequest, reply: FastifyReply): boolean => {
    const acceptsHtml = (request.headers.accept ?? '').includes('text/html');
    if (request.method !== 'GET' || !acceptsHtml || NOT_APP_PATHS.test(request.url)) return false;
    void reply.header('content-security-policy', WEB_CSP).header('cache-control', 'no-cache').sendFile('index.html');
    return true;
  };
};
