import { AppError } from '../common/app-error.js';

export const MAX_LABEL_LENGTH = 200;

/**
 * Characters that make text look other than it is: bidirectional overrides, embeddings and
 * isolates (which reorder what is shown), directional marks, and zero-width characters
 * (which make two labels that look the same differ).
 */
const DECEPTIVE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;

/** A UTF-16 surrogate without its pair: not a character at all, and stored differently by each engine. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A label is what a person types to find and to confirm deleting a credential: trimmed,
 * printable, well-formed Unicode in NFC (so the same on every engine and in every answer),
 * without characters that disguise it, and bounded.
 */
export const normalizeLabel = (label: string, what = 'label'): string => {
  if (LONE_SURROGATE.test(label)) throw new AppError('VALIDATION_FAILED', `${what} must be well-formed Unicode (it has a lone surrogate)`);
  const trimmed = label.normalize('NFC').trim();
  if (trimmed === '') throw new AppError('VALIDATION_FAILED', `${what} must not be empty`);
  if (trimmed.length > MAX_LABEL_LENGTH) throw new AppError('VALIDATION_FAILED', `${what} must be at most ${MAX_LABEL_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) throw new AppError('VALIDATION_FAILED', `${what} must not contain control characters`);
  if (DECEPTIVE.test(trimmed)) throw new AppError('VALIDATION_FAILED', `${what} must not contain bidirectional controls or zero-width characters`);
  return trimmed;
};
