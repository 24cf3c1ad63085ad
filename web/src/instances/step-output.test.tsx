import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { StepOutput } from './step-output.js';

describe('StepOutput', () => {
  it('shows a listing (an entries array) as a table of name, path and size', () => {
    render(
      <StepOutput
        label="Output of list"
        output={{
          entries: [
            { tag: 'file', name: 'q1.pdf', pathDisplay: '/Reports/q1.pdf', size: 2048 },
            { tag: 'folder', name: 'Archive', pathDisplay: '/Reports/Archive' },
          ],
        }}
      />,
    );
    const table = screen.getByRole('table', { name: 'Output of list: 2 entries' });
    const rows = within(table).getAllByRole('row').slice(1).map((row) => within(row).getAllByRole('cell').map((cell) => cell.textContent));
    expect(rows).toEqual([
      ['q1.pdf', '/Reports/q1.pdf', 'file', '2.0 KB'],
      ['Archive', '/Reports/Archive', 'folder', '—'],
    ]);
  });

  it('shows any other output as formatted JSON', () => {
    render(<StepOutput label="Output of account" output={{ email: 'it@globex.example', verified: true }} />);
    expect(screen.getByLabelText('Output of account').textContent).toBe(JSON.stringify({ email: 'it@globex.example', verified: true }, null, 2));
  });
});
