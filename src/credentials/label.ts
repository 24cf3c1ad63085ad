import { AppError } from '../common/app-error.js';

export const MAX_LABEL_LENGTH = 200;

/** A label is what a person types to find and to confirm deleting a credential: trimmed, printable, bounded. */
export const normalizeLabel = (label: string): string => {
  const trimmed = label.trim();
  if (trimmed === '') throw new AppError('VALIDATION_FAILED', 'label must not be empty');
  if (trimmed.length > MAX_LABEL_LENGTH) throw new AppError('VALIDATION_FAILED', `label must be at most ${MAX_LABEL_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new AppError('VALIDATION_FAILED', 'label must not contain control characters');
  return trimmed;
};
