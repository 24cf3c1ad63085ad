import type { EventType } from '../api/types.js';
import { eventLabel, eventShortLabel, hearsEverything } from './event-labels.js';

const SHOWN = 3;

/** The events an endpoint hears as a few short chips; the full list is the title. */
export function EventChips({ events }: { events: EventType[] }) {
  const title = events.map(eventLabel).join('\n');
  if (hearsEverything(events)) {
    return <span className="badge badge-neutral" title={title}>All events</span>;
  }
  const rest = events.length - SHOWN;
  return (
    <span className="badges" title={title}>
      {events.slice(0, SHOWN).map((event) => <span key={event} className="badge badge-neutral">{eventShortLabel(event)}</span>)}
      {rest > 0 && <span className="badge badge-neutral">+{rest} more</span>}
    </span>
  );
}
