/** Keyboard shortcuts of the review queue. */
export type QueueCommand = 'next' | 'prev' | 'approve' | 'decline' | 'note';

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** Tag name of the focused element (upper or lower case). */
  targetTag?: string;
  targetEditable?: boolean;
}

const MAP: Record<string, QueueCommand> = {
  j: 'next',
  ArrowDown: 'next',
  k: 'prev',
  ArrowUp: 'prev',
  a: 'approve',
  d: 'decline',
  n: 'note',
};

/**
 * The queue command for a key press, or null. Shortcuts never fire while typing in a form
 * field, nor with a modifier (so browser and screen-reader shortcuts keep working).
 */
export function queueCommand(e: KeyLike): QueueCommand | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const tag = (e.targetTag ?? '').toLowerCase();
  if (e.targetEditable || tag === 'input' || tag === 'textarea' || tag === 'select') return null;
  return MAP[e.key] ?? null;
}

export const QUEUE_SHORTCUTS: { keys: string; what: string }[] = [
  { keys: 'j / ↓', what: 'next transaction' },
  { keys: 'k / ↑', what: 'previous transaction' },
  { keys: 'a', what: 'approve (with the note)' },
  { keys: 'd', what: 'decline (with the note)' },
  { keys: 'n', what: 'write a note' },
];
