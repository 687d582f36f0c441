import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { explainError } from '../lib/errors';
import type { ErrorLike } from '../lib/errors';
import { goNext, goPrev, hasNext, hasPrev, pageNumber } from '../lib/paging';
import type { PagingState } from '../lib/paging';
import type { Outcome } from '../types';

export function ErrorBox({ error, role }: { error: unknown; role?: string }) {
  if (!error) return null;
  const e = explainError(error as ErrorLike, role);
  return (
    <div class="error" role="alert">
      <strong>{e.title}:</strong> {e.message}
      {e.details.length > 0 && (
        <ul>
          {e.details.map((d, i) => (
            <li key={i}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Notice({ children, kind = 'ok' }: { children: ComponentChildren; kind?: 'ok' | 'warn' }) {
  return (
    <div class={`notice notice-${kind}`} role="status">
      {children}
    </div>
  );
}

export function DecisionBadge({ value }: { value: Outcome | string }) {
  return <span class={`badge badge-${value}`}>{value}</span>;
}

export function ModeBadge({ mode }: { mode: string }) {
  if (mode === 'enforce') return <span class="badge badge-enforce">enforce</span>;
  return <span class={`badge badge-${mode}`}>{mode}</span>;
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status">
      {what}…
    </p>
  );
}

/** Page heading that takes focus on navigation, so keyboard and screen-reader users land on it. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

// Previous / next over cursor pages (lib/paging.ts): the page number, and buttons that move the state.
export function Pager(props: {
  paging: PagingState;
  setPaging: (update: (p: PagingState) => PagingState) => void;
  label: string;
}) {
  const { paging, setPaging } = props;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" onClick={() => setPaging((p) => goPrev(p))} disabled={!hasPrev(paging)}>
        ← Previous
      </button>
      <span aria-live="polite">Page {pageNumber(paging)}</span>
      <button type="button" onClick={() => setPaging((p) => goNext(p))} disabled={!hasNext(paging)}>
        Next →
      </button>
    </nav>
  );
}
