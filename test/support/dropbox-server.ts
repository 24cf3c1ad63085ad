import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for the Dropbox HTTP API v2, speaking three RPC endpoints with Dropbox's
 * JSON shapes: `/2/files/list_folder` (paged by `pageSize`, with `cursor` and `has_more`),
 * `/2/files/list_folder/continue` and `/2/users/get_current_account`. Every call needs
 * `Authorization: Bearer <token>`; a token `acceptToken` turns down gets Dropbox's 401
 * `expired_access_token`. An unknown folder gets 409 `path/not_found`, a file 409 `path/not_folder`,
 * a malformed request Dropbox's 400 with a plain-text body. Paths compare case-insensitively.
 * In a recursive listing the folder itself is not listed (Dropbox lists it for a non-root path).
 */

export interface DropboxTestFile {
  tag: 'file' | 'folder';
  name: string;
  /** Display path, starting with '/': '/Reports/q1.pdf'. */
  path: string;
  size?: number;
}

export interface DropboxServerOptions {
  acceptToken: (token: string) => Promise<boolean>;
  files: DropboxTestFile[];
  /** Entries per page; default 500. */
  pageSize?: number;
  /** The account id get_current_account answers with, asked at each call (default DROPBOX_TEST_ACCOUNT's). */
  accountId?: () => string;
}

export interface DropboxServer {
  baseUrl: string;
  /** Live count of requests received, whatever their outcome. */
  readonly requests: number;
  close(): Promise<void>;
}

/** The account get_current_account answers with. */
export const DROPBOX_TEST_ACCOUNT = {
  accountId: 'dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc',
  displayName: 'Franz Ferdinand',
  email: 'franz@example.test',
} as const;

export const DROPBOX_SERVER_MODIFIED = '2024-05-01T09:30:00Z';

interface Cursor {
  path: string;
  recursive: boolean;
  offset: number;
}

class DropboxReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

const badRequest = (endpoint: string, problem: string): DropboxReply =>
  new DropboxReply(400, `Error in call to API function "${endpoint}": ${problem}`);

const conflict = (summary: string, error: unknown): DropboxReply => new DropboxReply(409, { error_summary: `${summary}/..`, error });

const parentOf = (path: string): string => path.slice(0, Math.max(path.lastIndexOf('/'), 0));

const idOf = (path: string): string => `id:${createHash('sha256').update(path.toLowerCase()).digest('base64url').slice(0, 22)}`;

const toDropboxEntry = (file: DropboxTestFile): Record<string, unknown> => {
  const common = { name: file.name, path_lower: file.path.toLowerCase(), path_display: file.path, id: idOf(file.path) };
  if (file.tag === 'folder') return { '.tag': 'folder', ...common };
  return {
    '.tag': 'file',
    ...common,
    client_modified: DROPBOX_SERVER_MODIFIED,
    server_modified: DROPBOX_SERVER_MODIFIED,
    rev: '0123456789abcdef01234',
    size: file.size ?? 0,
    is_downloadable: true,
  };
};

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.byteLength;
    if (size > 1024 * 1024) throw new Error('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

const decodeCursor = (raw: unknown): Cursor | undefined => {
  if (typeof raw !== 'string') return undefined;
  try {
    const cursor = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof cursor.path !== 'string' || typeof cursor.recursive !== 'boolean' || typeof cursor.offset !== 'number') return undefined;
    return { path: cursor.path, recursive: cursor.recursive, offset: cursor.offset };
  } catch {
    return undefined;
  }
};

const parseJsonArgs = (endpoint: string, request: IncomingMessage, body: string): Record<string, unknown> | DropboxReply => {
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    return badRequest(endpoint, `Bad HTTP "Content-Type" header: "${request.headers['content-type'] ?? ''}".`);
  }
  try {
    const args: unknown = JSON.parse(body);
    if (args !== null && typeof args === 'object' && !Array.isArray(args)) return args as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  return badRequest(endpoint, 'request body: could not decode input as JSON');
};

const createHandlers = (options: DropboxServerOptions) => {
  const pageSize = options.pageSize ?? 500;
  const byPath = new Map(options.files.map((file) => [file.path.toLowerCase(), file]));

  const page = (cursor: Cursor): DropboxReply => {
    const folder = cursor.path.toLowerCase();
    const inside = options.files.filter((file) => {
      const path = file.path.toLowerCase();
      return cursor.recursive ? path.startsWith(`${folder}/`) : parentOf(path) === folder;
    });
    const slice = inside.slice(cursor.offset, cursor.offset + pageSize);
    const next = { ...cursor, offset: cursor.offset + slice.length };
    return new DropboxReply(200, { entries: slice.map(toDropboxEntry), cursor: encodeCursor(next), has_more: next.offset < inside.length });
  };

  const listFolder = (endpoint: string, args: Record<string, unknown>): DropboxReply => {
    const { path, recursive = false } = args;
    if (typeof path !== 'string' || typeof recursive !== 'boolean') return badRequest(endpoint, 'request body: path: expected a string');
    if (path === '/') return badRequest(endpoint, 'request body: path: Specify the root folder as an empty string rather than as "/".');
    if (path !== '' && !path.startsWith('/')) return badRequest(endpoint, `request body: path: '${path}' did not match pattern`);
    const found = byPath.get(path.toLowerCase());
    if (path !== '' && !found) return conflict('path/not_found', { '.tag': 'path', path: { '.tag': 'not_found' } });
    if (found?.tag === 'file') return conflict('path/not_folder', { '.tag': 'path', path: { '.tag': 'not_folder' } });
    return page({ path: found?.path ?? '', recursive, offset: 0 });
  };

  const listFolderContinue = (endpoint: string, args: Record<string, unknown>): DropboxReply => {
    const cursor = decodeCursor(args.cursor);
    return cursor ? page(cursor) : badRequest(endpoint, 'request body: cursor: invalid cursor');
  };

  const getCurrentAccount = (): DropboxReply =>
    new DropboxReply(200, {
      account_id: options.accountId?.() ?? DROPBOX_TEST_ACCOUNT.accountId,
      name: {
        given_name: 'Franz',
        surname: 'Ferdinand',
        familiar_name: 'Franz',
        display_name: DROPBOX_TEST_ACCOUNT.displayName,
        abbreviated_name: 'FF',
      },
      email: DROPBOX_TEST_ACCOUNT.email,
      email_verified: true,
      disabled: false,
      country: 'US',
      locale: 'en',
      is_paired: false,
      account_type: { '.tag': 'basic' },
      root_info: { '.tag': 'user', root_namespace_id: '3235641', home_namespace_id: '3235641' },
    });

  return { listFolder, listFolderContinue, getCurrentAccount };
};

export const startDropboxServer = async (options: DropboxServerOptions): Promise<DropboxServer> => {
  const handlers = createHandlers(options);
  let requests = 0;

  const handle = async (request: IncomingMessage): Promise<DropboxReply> => {
    const route = new URL(request.url ?? '/', 'http://localhost').pathname;
    const endpoint = route.replace(/^\/2\//, '');
    const known = ['files/list_folder', 'files/list_folder/continue', 'users/get_current_account'];
    if (request.method !== 'POST' || !route.startsWith('/2/') || !known.includes(endpoint)) return new DropboxReply(404, 'Unknown API function');
    const body = await readBody(request);
    const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!token) return badRequest(endpoint, 'Must provide HTTP header "Authorization" or URL parameter "authorization".');
    if (!(await options.acceptToken(token))) {
      return new DropboxReply(401, { error_summary: 'expired_access_token/...', error: { '.tag': 'expired_access_token' } });
    }
    if (endpoint === 'users/get_current_account') {
      // No arguments: no body at all, or the JSON `null`.
      if (body !== '' && body !== 'null') return badRequest(endpoint, 'request body: expected null, got value');
      return handlers.getCurrentAccount();
    }
    const args = parseJsonArgs(endpoint, request, body);
    if (args instanceof DropboxReply) return args;
    return endpoint === 'files/list_folder' ? handlers.listFolder(endpoint, args) : handlers.listFolderContinue(endpoint, args);
  };

  const reply = (response: ServerResponse, { status, body }: DropboxReply): void => {
    const json = typeof body !== 'string';
    response.writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8' });
    response.end(json ? JSON.stringify(body) : body);
  };

  const server = createServer((request, response) => {
    requests += 1;
    handle(request).then(
      (answer) => reply(response, answer),
      () => reply(response, new DropboxReply(500, 'Internal Server Error')),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
};
