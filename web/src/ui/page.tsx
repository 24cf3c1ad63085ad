import { useEffect, type ReactNode } from 'react';

export const useDocumentTitle = (title: string): void => {
  useEffect(() => {
    document.title = title ? `${title} · Credence` : 'Credence';
  }, [title]);
};

/** A screen's heading and its main actions (e.g. "+ Credential"). */
export function PageHeader({ title, subtitle, actions, eyebrow }: { title: string; subtitle?: ReactNode; actions?: ReactNode; eyebrow?: ReactNode }) {
  useDocumentTitle(title);
  return (
    <header className="page-header">
      <div>
        {eyebrow && <div className="eyebrow">{eyebrow}</div>}
        <h1>{title}</h1>
        {subtitle && <p className="subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}
