import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// SECURITY.md maps each guarantee to the tests that prove it, cited as `file`: "title".
// A renamed or removed test must not leave the document pointing at nothing.

const root = fileURLToPath(new URL('../../', import.meta.url));
const document = readFileSync(`${root}SECURITY.md`, 'utf8');
const citations = [...document.matchAll(/`(test\/[\w./-]+\.test\.ts)`: "([^"]+)"/g)].map((match) => ({ file: match[1] ?? '', title: match[2] ?? '' }));

/** The titles of `it(...)` in a test file, with the quote escapes of the source undone. */
const titlesIn = (file: string): string[] => {
  const source = readFileSync(`${root}${file}`, 'utf8');
  return [...source.matchAll(/\bit(?:\.\w+)?\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)].map((match) => (match[2] ?? '').replace(/\\(.)/g, '$1'));
};

describe('SECURITY.md', () => {
  it('cites tests for every threat it describes', () => {
    expect(citations.length).toBeGreaterThan(60);
    for (const heading of ['Another tenant', 'A customer user', 'A stolen database or backup', 'A stolen log', 'A malicious or broken OAuth provider', 'A network attacker', 'An operator mistake']) {
      expect(document).toContain(heading);
    }
    expect(document).toContain('## What Credence does not defend against');
  });

  it('cites only tests that exist under exactly that title', () => {
    const missing = citations.filter(({ file, title }) => {
      try {
        return !titlesIn(file).includes(title);
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });
});
