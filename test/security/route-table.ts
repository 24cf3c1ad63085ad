import type { FastifyInstance } from 'fastify';

/**
 * The app's route table, read from the app itself so that a route added tomorrow shows up
 * in the security tests without anyone editing them.
 *
 * Fastify has no public "list every route" call, and an `onRoute` hook cannot be added
 * once `buildApp` has registered the routes. Two public views exist and each has a gap:
 * `printRoutes({ commonPrefix: false })` shows every route (hidden ones included) but as a
 * radix tree whose nodes split paths at arbitrary characters (`/api/v1/session` + `s`);
 * `app.swagger()` is collected by @fastify/swagger's own `onRoute` hook but leaves out
 * routes marked `hide`. So the tree is parsed (a node's full path is the concatenation of
 * its ancestors' labels) and then checked against the OpenAPI document: every documented
 * route must come out of the parser. A change in the tree format therefore fails loudly
 * instead of silently shrinking the matrix.
 */

export interface Route {
  method: string;
  /** Fastify syntax: `/api/v1/credentials/:id`. */
  path: string;
}

export const routeKey = (route: Route): string => `${route.method} ${route.path}`;

/** Every method and full path in `printRoutes({ commonPrefix: false })`. */
export const parseRouteTree = (tree: string): Route[] => {
  const labels: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const marker = line.indexOf('── ');
    if (marker < 0) continue;
    const depth = (marker - 1) / 4;
    const match = /^(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(marker + 3));
    if (!match?.[1] || !Number.isInteger(depth) || depth > labels.length) throw new Error(`route table: cannot read the line ${JSON.stringify(line)}`);
    labels.length = depth;
    labels.push(match[1]);
    const path = labels.join('');
    for (const method of (match[2] ?? '').split(',')) {
      if (method.trim() !== '') routes.push({ method: method.trim(), path });
    }
  }
  return routes;
};

/** Routes in the OpenAPI document (everything not hidden), in Fastify syntax. */
export const documentedRoutes = (app: FastifyInstance): Route[] => {
  const doc = (app as unknown as { swagger(): { paths: Record<string, Record<string, unknown>> } }).swagger();
  return Object.entries(doc.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, ':$1') })),
  );
};

/** Every route except the HEAD twins Fastify adds to GET routes; fails when the two views disagree. */
export const discoverRoutes = (app: FastifyInstance): Route[] => {
  const parsed = parseRouteTree(app.printRoutes({ commonPrefix: false }));
  const known = new Set(parsed.map(routeKey));
  const missed = documentedRoutes(app).filter((route) => !known.has(routeKey(route)));
  if (missed.length > 0) throw new Error(`route table: the tree parser missed documented routes: ${missed.map(routeKey).join(', ')}`);
  return parsed.filter((route) => route.method !== 'HEAD');
};

/** Names of the path parameters of a route. */
export const paramsOf = (path: string): string[] => [...path.matchAll(/:(\w+)/g)].map((m) => m[1] ?? '');

/** The JSON schema of a documented route's request body, if it has one. */
export const bodySchemaOf = (app: FastifyInstance, route: Route): JsonSchema | undefined => {
  const doc = (app as unknown as { swagger(): { paths: Record<string, Record<string, any>> } }).swagger();
  const operation = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
  return operation?.requestBody?.content?.['application/json']?.schema as JsonSchema | undefined;
};

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  maxLength?: number;
  items?: JsonSchema;
}
