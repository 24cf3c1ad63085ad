import type { TObject } from 'typebox';
import type { Redacted } from '../common/redacted.js';
import type { AuthMethodKey } from '../credentials/auth-methods.js';
import type { EgressTarget } from '../net/destinations.js';
import type { StepEgress } from '../net/egress.js';

/**
 * The component contract. A component talks to one outside service; each of its actions
 * declares its inputs (a TypeBox object schema), which auth methods it accepts, and
 * whether it needs a credential at all. Credence resolves the bound credential just for
 * the step that runs and hands it over in the context.
 */

/** The credential a step receives: decrypted values, and for OAuth 2.0 a fresh access token. */
export interface StepCredential {
  id: string;
  authMethod: AuthMethodKey;
  /** Field values by name (api_key, username, password, private_key, client_id…). */
  fields: Redacted<Record<string, string>>;
  /** oauth2 only: an access token valid for at least the next minute. */
  accessToken?: Redacted<string> | undefined;
  /** The origins the credential may be sent to, as sealed with it. */
  destinations: readonly string[];
}

/** A logger for a step. Lines go into the run record; any credential value in them is blanked. */
export interface StepLogger {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
}

export interface ActionContext {
  credential: StepCredential | undefined;
  log: StepLogger;
  /** Aborted when the step times out or the run is cancelled; pass it to every outbound call. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Outbound HTTP, through the egress gate (tests may wrap it). */
  fetch: typeof fetch;
  /** The egress gate: ask it before connecting anywhere with the credential. */
  egress: StepEgress;
}

export interface ComponentAction {
  key: string;
  name: string;
  description: string;
  inputs: TObject;
  authMethods: readonly AuthMethodKey[];
  credentialRequired: boolean;
  /**
   * Where the action will connect for these inputs, when the inputs say so (a URL, a host and
   * port). Checked against the bound credential's destinations before it is decrypted, and at
   * deploy time for inputs that are literals. The component still asks `context.egress` for
   * every connection it makes.
   */
  targets?(inputs: Record<string, unknown>): Array<EgressTarget | URL>;
  /**
   * OAuth 2.0 scopes the action needs its token to carry. Deploying an instance whose bound
   * credential was granted scopes without these is refused, naming the step and the scopes.
   */
  scopes?: readonly string[];
  /** Does the work and returns JSON-serialisable output, which later steps may refer to. */
  perform(context: ActionContext, inputs: Record<string, unknown>): Promise<unknown>;
}

export interface Component {
  key: string;
  name: string;
  description: string;
  actions: readonly ComponentAction[];
  /** The action used to test a credential: it must succeed only if the credential works. */
  testAction: string;
}

export type ComponentFailureKind =
  /** The service refused the credential (wrong password, key, secret, token). */
  | 'auth_refused'
  /** The access token is expired or revoked. */
  | 'token_expired'
  /** Could not connect: DNS, refused, timeout, TLS. */
  | 'unreachable'
  /** The server's host key is not the expected one. */
  | 'host_key_mismatch'
  /** The thing asked for does not exist (path, bucket, folder). */
  | 'not_found'
  /** The inputs or the credential do not fit the action. */
  | 'bad_input'
  /** Anything else the service answered with. */
  | 'remote_error';

/** A failure a person can act on. The message never contains a secret. */
export class ComponentError extends Error {
  override readonly name = 'ComponentError';
  readonly kind: ComponentFailureKind;

  constructor(kind: ComponentFailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** How much one listing action may gather before it stops and answers `truncated: true`. */
export interface ListingLimits {
  /** Most entries returned. */
  maxEntries: number;
  /** Most bytes of entries returned, counted as JSON. */
  maxBytes: number;
}

export const DEFAULT_LISTING_LIMITS: ListingLimits = { maxEntries: 10_000, maxBytes: 2 * 1024 * 1024 };

/** The defaults with whatever a component factory was given (tests lower them). */
export const listingLimits = (options: Partial<ListingLimits> = {}): ListingLimits => ({
  maxEntries: Math.max(1, options.maxEntries ?? DEFAULT_LISTING_LIMITS.maxEntries),
  maxBytes: Math.max(1, options.maxBytes ?? DEFAULT_LISTING_LIMITS.maxBytes),
});

/**
 * Gathers a listing's entries up to the limits, so a huge folder or bucket costs at most
 * the limits in memory and in the run record; the first entry that does not fit ends it.
 */
export const createListingCollector = <T>(limits: ListingLimits) => {
  const items: T[] = [];
  let bytes = 0;
  let truncated = false;
  return {
    items,
    /** Keeps the entry; false, and kept nothing, once a limit is reached. */
    add(item: T): boolean {
      if (truncated) return false;
      const size = Buffer.byteLength(JSON.stringify(item));
      if (items.length >= limits.maxEntries || bytes + size > limits.maxBytes) {
        truncated = true;
        return false;
      }
      items.push(item);
      bytes += size;
      return true;
    },
    /** There is more than was gathered (the service said so, or an entry did not fit). */
    markTruncated(): void {
      truncated = true;
    },
    /** No further entry could be kept. */
    get full(): boolean {
      return truncated || items.length >= limits.maxEntries;
    },
    get truncated(): boolean {
      return truncated;
    },
  };
};
