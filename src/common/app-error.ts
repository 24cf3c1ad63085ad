/**
 * The one error type services throw. Each code has a fixed HTTP status; errors with a
 * status below 500 (and a few fixed-message server errors) are "exposed": their code and
 * message reach the caller. Anything else becomes `INTERNAL` with no detail.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_CURSOR: 400,
  UNKNOWN_AUTH_METHOD: 400,
  UNKNOWN_FIELD: 400,
  FIELD_REQUIRED: 400,
  INVALID_FIELD: 400,
  NOT_OAUTH2: 400,
  INVALID_LINK: 400,
  INVALID_BINDING: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  CSRF_FAILED: 403,
  DESTINATION_NOT_ALLOWED: 403,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFIRMATION_MISMATCH: 409,
  CREDENTIAL_IN_USE: 409,
  AUTHORIZATION_REQUIRED: 409,
  CONFLICT: 409,
  SECRETS_REQUIRED: 409,
  MISSING_SCOPES: 409,
  ORGANIZATION_REQUIRED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  ACCOUNT_LOCKED: 429,
  DECRYPTION_FAILED: 500,
  TOKEN_REFRESH_FAILED: 502,
  MAIL_FAILED: 502,
  TOKEN_UNAVAILABLE: 503,
  NOT_READY: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Server-side failures whose fixed message is safe to show: they say what, never why. */
const EXPOSED_SERVER_ERRORS = new Set<ErrorCode>(['DECRYPTION_FAILED', 'NOT_READY', 'TOKEN_REFRESH_FAILED', 'MAIL_FAILED', 'TOKEN_UNAVAILABLE']);

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** For RATE_LIMITED: seconds until the caller may try again, sent as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.expose = this.status < 500 || EXPOSED_SERVER_ERRORS.has(code);
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** The answer for anything the caller may not see, identical to "does not exist". */
export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);

export const forbidden = (message = 'Your role does not allow this'): AppError =>
  new AppError('FORBIDDEN', message);

/** An error as a log line may carry it: its name and message, nothing attached (no cause, no stack). */
export const errorDetails = (error: unknown): { name?: string; message?: string } => (error instanceof Error ? { name: error.name, message: error.message } : {});
