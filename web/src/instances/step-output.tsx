import { formatBytes } from '../ui/format.js';

interface Entry {
  name?: unknown;
  pathDisplay?: unknown;
  path?: unknown;
  size?: unknown;
  tag?: unknown;
  type?: unknown;
}

const entriesOf = (output: unknown): Entry[] | null => {
  if (typeof output !== 'object' || output === null) return null;
  const entries = (output as { entries?: unknown }).entries;
  return Array.isArray(entries) && entries.every((e) => typeof e === 'object' && e !== null) ? (entries as Entry[]) : null;
};

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '—' : JSON.stringify(value));

/** A step's output: a listing (an `entries` array, e.g. Dropbox or SFTP files) as a table, anything else as JSON. */
export function StepOutput({ output, label }: { output: unknown; label: string }) {
  const entries = entriesOf(output);
  if (entries) {
    if (entries.length === 0) return <p className="muted">No entries.</p>;
    return (
      <table className="table compact responsive">
        <caption>{label}: {entries.length} entr{entries.length === 1 ? 'y' : 'ies'}</caption>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Path</th><th scope="col">Type</th><th scope="col" className="numeric">Size</th></tr>
        </thead>
        <tbody>
          {entries.map((entry, index) => (
            <tr key={`${text(entry.pathDisplay ?? entry.path ?? entry.name)}.${index}`}>
              <td data-label="Name">{text(entry.name)}</td>
              <td data-label="Path" className="mono">{text(entry.pathDisplay ?? entry.path)}</td>
              <td data-label="Type">{text(entry.tag ?? entry.type)}</td>
              <td data-label="Size" className="numeric">{entry.size === undefined ? '—' : formatBytes(entry.size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  if (output === undefined || output === null) return <p className="muted">No output.</p>;
  return <pre className="json" aria-label={label} tabIndex={0}>{JSON.stringify(output, null, 2)}</pre>;
}
