import type { ReactNode } from 'react';
import { useDocumentTitle } from '../ui/page.js';

/** The frame of the pages seen before signing in. */
export function AuthLayout({ title, intro, children }: { title: string; intro?: ReactNode; children: ReactNode }) {
  useDocumentTitle(title);
  return (
    <main className="auth-page" id="main">
      <div className="auth-card">
        <p className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Credence
        </p>
        <h1>{title}</h1>
        {intro && <div className="auth-intro">{intro}</div>}
        {children}
      </div>
    </main>
  );
}
