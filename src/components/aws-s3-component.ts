import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ListBucketsCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Type, type Static, type TObject } from 'typebox';
import { Value } from 'typebox/value';
import { isIpLiteral, type AddressRule } from '../net/address-policy.js';
import { REFUSED_ADDRESS_REASON, guardedLookup, outboundRefusal, systemResolve, type ResolveHost } from '../net/guarded-fetch.js';
import { AppError } from '../common/app-error.js';
import { urlTargets } from './http-component.js';
import { ComponentError, createListingCollector, listingLimits, type ActionContext, type Component, type ComponentAction, type ListingLimits } from './component.js';

/**
 * Amazon S3, and S3-compatible stores through `endpoint`. The credential is an
 * `api_key_secret` pair: `api_key` is the access key id, `api_secret` the secret access key.
 * Each call builds its own client, makes a single attempt (a refused key must not be
 * retried), and destroys the client when done.
 *
 * Its sockets resolve host names through the address policy (src/net/address-policy.ts): every
 * address is checked and the socket connects to a checked one, so neither an `endpoint` nor DNS
 * can make it call a link-local or cloud metadata address; an endpoint that is such an address
 * is refused before any client is built. Connecting and each request are bounded by `timeoutMs`.
 *
 * @example
 * const listObjects = awsS3Component.actions.find((action) => action.key === 'listObjects');
 * await listObjects?.perform(context, { bucket: 'reports', prefix: '2024/', region: 'eu-west-1' });
 * // → { objects: [{ key: '2024/q1.csv', size: 1834, lastModified: '2024-04-02T09:12:44.000Z' }], truncated: false }
 */

/** S3 answers at most this many keys per page, whatever is asked. */
const S3_PAGE_LIMIT = 1000;
const MAX_KEYS_LIMIT = 10_000;

const Region = Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9-]+$', default: 'us-east-1', description: 'AWS region' });
const Endpoint = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Absolute http(s) URL of an S3-compatible store; requests then use path-style addressing',
});

const ListBucketsInputs = Type.Object({ region: Type.Optional(Region), endpoint: Type.Optional(Endpoint) }, { additionalProperties: false });

const ListObjectsInputs = Type.Object(
  {
    bucket: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._-]+$', description: 'Bucket name' }),
    prefix: Type.Optional(Type.String({ maxLength: 1024, description: 'Only keys that begin with this prefix' })),
    region: Type.Optional(Region),
    endpoint: Type.Optional(Endpoint),
    maxKeys: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_KEYS_LIMIT, default: S3_PAGE_LIMIT, description: 'Most keys to return, across pages' }),
    ),
  },
  { additionalProperties: false },
);

/** Where requests go: AWS by region, or an S3-compatible store at a checked URL. */
interface Location {
  region: string;
  endpoint: URL | undefined;
  /** Named in messages: the endpoint's host, or Amazon S3. */
  where: string;
}

const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout']);

const parseInputs = <T extends TObject>(schema: T, inputs: Record<string, unknown>): Static<T> => {
  const value = Value.Convert(schema, Value.Default(schema, structuredClone(inputs)));
  // Name the input and the rule only; never echo the value back.
  const problems = [...Value.Errors(schema, value)].map((error) => `${error.instancePath.replace(/^\//, '') || 'inputs'}: ${error.message}`);
  if (problems.length > 0) throw new ComponentError('bad_input', `Invalid inputs: ${problems.join('; ')}`);
  return value as Static<T>;
};

const resolveLocation = (inputs: { region?: string; endpoint?: string }, rule: AddressRule): Location => {
  const region = inputs.region ?? 'us-east-1';
  if (inputs.endpoint === undefined) return { region, endpoint: undefined, where: 'Amazon S3' };
  let url: URL;
  try {
    url = new URL(inputs.endpoint);
  } catch {
    throw new ComponentError('bad_input', 'endpoint must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ComponentError('bad_input', 'endpoint must be an absolute http(s) URL');
  // Keys belong in the credential, never in a URL that ends up in inputs and logs.
  if (url.username !== '' || url.password !== '') throw new ComponentError('bad_input', 'endpoint must not contain a user name or password');
  // An IP address is connected to without a lookup, so the lookup's check cannot see it.
  if (isIpLiteral(url.hostname) && rule(url.hostname.replace(/^\[|\]$/g, ''))) throw new ComponentError('unreachable', `Could not reach ${url.host} (${REFUSED_ADDRESS_REASON})`);
  return { region, endpoint: url, where: url.host };
};

const readKeys = (context: ActionContext): { accessKeyId: string; secretAccessKey: string } => {
  const credential = context.credential;
  if (!credential) throw new ComponentError('bad_input', 'Amazon S3 needs an api_key_secret credential');
  if (credential.authMethod !== 'api_key_secret') {
    throw new ComponentError('bad_input', `Amazon S3 takes an api_key_secret credential, not ${credential.authMethod}`);
  }
  const { api_key: accessKeyId, api_secret: secretAccessKey } = credential.fields.reveal();
  if (!accessKeyId || !secretAccessKey) {
    throw new ComponentError('bad_input', 'The credential needs both api_key (access key id) and api_secret (secret access key)');
  }
  return { accessKeyId, secretAccessKey };
};

const createClient = (context: ActionContext, location: Location, resolve: ResolveHost): S3Client =>
  new S3Client({
    region: location.region,
    credentials: readKeys(context),
    // One attempt: a refused key must not be tried again, and the step owns the timeout.
    maxAttempts: 1,
    requestHandler: {
      // Without throwOnRequestTimeout the SDK only warns when requestTimeout passes.
      connectionTimeout: context.timeoutMs,
      requestTimeout: context.timeoutMs,
      throwOnRequestTimeout: true,
      // The address policy is the agents' lookup. Agents, not agent options: from options the SDK
      // builds a second, unguarded agent for Expect: 100-continue requests.
      httpAgent: new HttpAgent({ keepAlive: false, lookup: guardedLookup(resolve, false, context.egress.addressRule) }),
      httpsAgent: new HttpsAgent({ keepAlive: false, lookup: guardedLookup(resolve, false, context.egress.addressRule) }),
    },
    // A bucket in another region answers with a redirect; follow it rather than fail.
    followRegionRedirects: true,
    ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint.href, forcePathStyle: true }),
  });

const errorCode = (error: object): string | undefined => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
};

interface ServiceFailure {
  name: string;
  $metadata: { httpStatusCode?: number };
}

const isServiceFailure = (error: unknown): error is ServiceFailure =>
  error instanceof S3ServiceException || (error instanceof Error && '$metadata' in error && '$fault' in error);

/**
 * Turns whatever the SDK threw into a ComponentError. Messages carry S3 error codes and
 * the host, never S3's own message text (which may echo the string it signed) nor a key.
 */
const describeFailure = (error: unknown, context: ActionContext, location: Location, bucket?: string): ComponentError => {
  if (error instanceof ComponentError) return error;
  if (outboundRefusal(error)) return new ComponentError('unreachable', `Could not reach ${location.where} (${REFUSED_ADDRESS_REASON})`);
  if (isServiceFailure(error)) {
    const status = error.$metadata.httpStatusCode;
    // The code comes from the server: keep it only if it looks like one.
    const code = /^[A-Za-z0-9.]{1,64}$/.test(error.name) && error.name !== 'Unknown' && error.name !== 'UnknownError' ? error.name : `HTTP ${status ?? 'error'}`;
    if (AUTH_CODES.has(code) || status === 403) return new ComponentError('auth_refused', `S3 refused the access key (${code})`);
    if (code === 'NoSuchBucket') {
      return new ComponentError('not_found', bucket === undefined ? 'S3 has no such bucket (NoSuchBucket)' : `S3 has no bucket named ${bucket} (NoSuchBucket)`);
    }
    return new ComponentError('remote_error', `S3 answered with an error (${code})`);
  }
  if (context.signal.aborted) {
    return new ComponentError('unreachable', `No answer from ${location.where} in time (the step timed out or the run was cancelled)`);
  }
  if (error instanceof Error) {
    const code = errorCode(error) ?? errorCode((error as { cause?: object }).cause ?? {});
    if ((code !== undefined && NETWORK_CODES.has(code)) || NETWORK_NAMES.has(error.name)) {
      return new ComponentError('unreachable', `Could not reach ${location.where} (${code ?? error.name})`);
    }
    if (code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT'))) {
      return new ComponentError('unreachable', `Could not reach ${location.where}: TLS failed (${code})`);
    }
    return new ComponentError('remote_error', `The S3 request failed (${code ?? error.name})`);
  }
  return new ComponentError('remote_error', 'The S3 request failed');
};

const withClient = async <T>(
  context: ActionContext,
  location: Location,
  bucket: string | undefined,
  resolve: ResolveHost,
  work: (client: S3Client) => Promise<T>,
): Promise<T> => {
  const client = createClient(context, location, resolve);
  // Innermost, just before a request is sent: the host the SDK settled on (a region redirect
  // included) must be one of the credential's destinations.
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { protocol?: string; hostname?: string; port?: number };
      context.egress.authorize({ scheme: (request.protocol ?? 'https:').replace(/:$/, ''), host: request.hostname ?? '', port: request.port });
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'credenceDestinationCheck' },
  );
  try {
    return await work(client);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw describeFailure(error, context, location, bucket);
  } finally {
    client.destroy();
  }
};

const isoDate = (date: Date | undefined): string | null => (date === undefined ? null : date.toISOString());

const createListBuckets = (resolve: ResolveHost, limits: ListingLimits): ComponentAction => ({
  key: 'listBuckets',
  name: 'List buckets',
  description: 'Lists the buckets the access key can see, up to the listing limits (then truncated: true).',
  inputs: ListBucketsInputs,
  authMethods: ['api_key_secret'],
  credentialRequired: true,
  targets: urlTargets('endpoint'),
  async perform(context, rawInputs) {
    const inputs = parseInputs(ListBucketsInputs, rawInputs);
    const location = resolveLocation(inputs, context.egress.addressRule);
    context.log.info('Listing S3 buckets', { region: location.region, where: location.where });
    return withClient(context, location, undefined, resolve, async (client) => {
      const answer = await client.send(new ListBucketsCommand({}), { abortSignal: context.signal });
      const buckets = createListingCollector<{ name: string; createdAt: string | null }>(limits);
      for (const bucket of answer.Buckets ?? []) {
        if (bucket.Name !== undefined && !buckets.add({ name: bucket.Name, createdAt: isoDate(bucket.CreationDate) })) break;
      }
      return { buckets: buckets.items, truncated: buckets.truncated };
    });
  },
});

const createListObjects = (pageSize: number, resolve: ResolveHost, limits: ListingLimits): ComponentAction => ({
  key: 'listObjects',
  name: 'List objects',
  description: `Lists the objects of a bucket, optionally under a prefix, following pages up to maxKeys (at most ${MAX_KEYS_LIMIT}) and the listing limits; truncated: true when there is more.`,
  inputs: ListObjectsInputs,
  authMethods: ['api_key_secret'],
  credentialRequired: true,
  targets: urlTargets('endpoint'),
  async perform(context, rawInputs) {
    const inputs = parseInputs(ListObjectsInputs, rawInputs);
    const maxKeys = Math.min(inputs.maxKeys ?? S3_PAGE_LIMIT, limits.maxEntries);
    const location = resolveLocation(inputs, context.egress.addressRule);
    context.log.info('Listing S3 objects', { bucket: inputs.bucket, prefix: inputs.prefix, maxKeys, region: location.region, where: location.where });
    return withClient(context, location, inputs.bucket, resolve, async (client) => {
      const objects = createListingCollector<{ key: string; size: number; lastModified: string | null }>({ maxEntries: maxKeys, maxBytes: limits.maxBytes });
      let token: string | undefined;
      let more = false;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: inputs.bucket,
            MaxKeys: Math.min(pageSize, maxKeys - objects.items.length),
            ...(inputs.prefix === undefined ? {} : { Prefix: inputs.prefix }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          { abortSignal: context.signal },
        );
        // A store that answers more than asked still yields at most maxKeys.
        for (const object of page.Contents ?? []) {
          if (object.Key !== undefined && !objects.add({ key: object.Key, size: object.Size ?? 0, lastModified: isoDate(object.LastModified) })) break;
        }
        more = page.IsTruncated === true;
        token = page.NextContinuationToken;
      } while (more && token !== undefined && !objects.full);
      if (more) objects.markTruncated();
      return { objects: objects.items, truncated: objects.truncated };
    });
  },
});

export interface AwsS3ComponentOptions {
  /** Keys asked for per ListObjectsV2 page (S3 caps it at 1000). Tests lower it to see paging. */
  pageSize?: number;
  /** DNS resolution of the endpoint's host (tests replace it); node:dns lookup by default. */
  resolve?: ResolveHost;
  /** Caps on what listBuckets and listObjects return (tests lower them); DEFAULT_LISTING_LIMITS otherwise. */
  listing?: Partial<ListingLimits>;
}

/** Builds the S3 component; `awsS3Component` is the one Credence registers. */
export const createAwsS3Component = (options: AwsS3ComponentOptions = {}): Component => {
  const pageSize = Math.max(1, Math.min(options.pageSize ?? S3_PAGE_LIMIT, S3_PAGE_LIMIT));
  const resolve = options.resolve ?? systemResolve;
  const limits = listingLimits(options.listing);
  return {
    key: 'aws-s3',
    name: 'Amazon S3',
    description: 'Lists buckets and objects in Amazon S3 or an S3-compatible store, with an access key id and secret access key.',
    actions: [createListBuckets(resolve, limits), createListObjects(pageSize, resolve, limits)],
    testAction: 'listBuckets',
  };
};

export const awsS3Component: Component = createAwsS3Component();
