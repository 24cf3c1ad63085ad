import type { EventType } from '../api/types.js';
import { EVENT_TYPES, eventLabel, hearsEverything } from './event-labels.js';

/** The events an endpoint hears: one checkbox each, and "All events" to tick or clear them all. */
export function EventChecklist({ value, onChange }: { value: EventType[]; onChange: (events: EventType[]) => void }) {
  const all = hearsEverything(value);
  const toggle = (event: EventType, on: boolean) => onChange(EVENT_TYPES.filter((e) => (e === event ? on : value.includes(e))));
  return (
    <fieldset className="fieldset event-checklist">
      <legend>Events to send</legend>
      <label className="event-all">
        <input
          type="checkbox"
          checked={all}
          ref={(box) => {
            if (box) box.indeterminate = !all && value.length > 0;
          }}
          onChange={(e) => onChange(e.target.checked ? [...EVENT_TYPES] : [])}
        />{' '}
        All events
      </label>
      <ul className="event-options">
        {EVENT_TYPES.map((event) => (
          <li key={event}>
            <label>
              <input type="checkbox" checked={value.includes(event)} onChange={(e) => toggle(event, e.target.checked)} />
              <span>
                {eventLabel(event)}
                <span className="mono small muted event-code">{event}</span>
              </span>
            </label>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}
