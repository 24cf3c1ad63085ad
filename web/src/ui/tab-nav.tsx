import { useLayoutEffect, useRef } from 'react';
import { NavLink, useLocation } from 'react-router';

export interface TabItem {
  to: string;
  label: string;
  /** Match only this exact path (the first tab, whose path prefixes the others). */
  end?: boolean;
}

/**
 * Tabs that are links: each has its own URL, and the current one is aria-current="page".
 * On a narrow screen the row scrolls sideways; the current tab is scrolled into sight.
 */
export function TabNav({ items, label }: { items: TabItem[]; label: string }) {
  const nav = useRef<HTMLElement>(null);
  const { pathname } = useLocation();
  useLayoutEffect(() => {
    const keepCurrentInSight = () => {
      const row = nav.current;
      const active = row?.querySelector('[aria-current="page"]');
      if (!row || !active) return;
      const tab = active.getBoundingClientRect();
      const shown = row.getBoundingClientRect();
      if (tab.left < shown.left || tab.right > shown.right) row.scrollLeft += tab.left - shown.left - (shown.width - tab.width) / 2;
    };
    keepCurrentInSight();
    window.addEventListener('resize', keepCurrentInSight);
    return () => window.removeEventListener('resize', keepCurrentInSight);
  }, [pathname]);
  return (
    <nav className="tabs" aria-label={label} ref={nav}>
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
