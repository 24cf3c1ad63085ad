import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Holds a decrypted value. It prints as `[redacted]` through JSON, `util.inspect`,
 * string conversion and pino, so a value that reaches a log line by mistake shows
 * nothing. Code that truly needs the value calls `reveal()` at the edge.
 *
 * @example
 * const secret = new Redacted({ password: 'hunter2' });
 * JSON.stringify({ secret }); // '{"secret":"[redacted]"}'
 * secret.reveal().password;   // 'hunter2'
 */
export class Redacted<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
