import { NavLink } from 'react-router';

export interface TabItem {
  to: string;
  label: string;
  /** Match only this exact path (the first tab, whose path prefixes the others). */
  end?: boolean;
}

/** Tabs that are links: each has its own URL, and the current one is aria-current="page". */
export function TabNav({ items, label }: { items: TabItem[]; label: string }) {
  return (
    <nav className="tabs" aria-label={label}>
      <ul>
        {items.map((item) => (
          <li key={item.to}>
            <NavLink to={item.to} end={item.end ?? false} className={({ isActive }) => (isActive ? 'tab active' : 'tab')}>
              {item.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
