/**
 * Cursor paging that never shifts: a page is named by the cursor that produced it, so new
 * items arriving while someone reads do not move what "next" and "previous" show. We keep the
 * stack of cursors that led to the current page; "previous" pops it.
 */
export interface PagingState {
  /** Cursors of the pages before the current one; `null` is the first page. */
  stack: (string | null)[];
  /** The cursor of the current page (`null`: first page). */
  cursor: string | null;
  /** The server's `next_cursor` for the current page, once loaded. */
  next: string | null;
}

export const firstPage = (): PagingState => ({ stack: [], cursor: null, next: null });

export function loaded(s: PagingState, nextCursor: string | null): PagingState {
  return { ...s, next: nextCursor };
}

export function hasNext(s: PagingState): boolean {
  return s.next !== null;
}

export function hasPrev(s: PagingState): boolean {
  return s.stack.length > 0;
}

export function goNext(s: PagingState): PagingState {
  if (s.next === null) return s;
  return { stack: [...s.stack, s.cursor], cursor: s.next, next: null };
}

export function goPrev(s: PagingState): PagingState {
  if (s.stack.length === 0) return s;
  const stack = s.stack.slice(0, -1);
  return { stack, cursor: s.stack[s.stack.length - 1] ?? null, next: null };
}

/** 1-based number of the current page. */
export function pageNumber(s: PagingState): number {
  return s.stack.length + 1;
}
