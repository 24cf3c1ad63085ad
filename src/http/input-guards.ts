import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/app-error.js';

export const MAX_INPUT_DEPTH = 64;

/**
 * Walks a parsed request part without recursion and refuses what no route accepts:
 * nesting deeper than MAX_INPUT_DEPTH (it would exhaust the stack further in) and the
 * NUL character (PostgreSQL cannot store it in text).
 */
export const checkInputShape = (value: unknown, part: string): void => {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current === 'string') {
      if (current.includes('\u0000')) throw new AppError('VALIDATION_FAILED', `${part} must not contain NUL characters`);
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) throw new AppError('VALIDATION_FAILED', `${part} is nested more than ${MAX_INPUT_DEPTH} levels deep`);
    for (const [key, item] of Object.entries(current)) {
      if (key.includes('\u0000')) throw new AppError('VALIDATION_FAILED', `${part} must not contain NUL characters`);
      stack.push({ value: item, depth: depth + 1 });
    }
  }
};

/** Applies the shape check to every request, and accepts JSON bodies only. */
export const registerInputGuards = (app: FastifyInstance): void => {
  // Browsers send text/plain across sites without asking first; no route takes it.
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', async (request) => {
    checkInputShape(request.params, 'The path');
    checkInputShape(request.query, 'The query');
    checkInputShape(request.body, 'The request body');
  });
};
