import type { AuditEntry } from '../types';
import { listHref, txHref } from './route';

/** Where an audited object lives in the console. */
export function objectHref(e: Pick<AuditEntry, 'object_type' | 'object_id'>): string | null {
  switch (e.object_type) {
    case 'transaction': {
      const i = e.object_id.indexOf('/');
      return i > 0 ? txHref(e.object_id.slice(0, i), e.object_id.slice(i + 1)) : null;
    }
    case 'list':
      return listHref(e.object_id);
    case 'rule':
      return '#/rules';
    default:
      return null;
  }
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** One line saying what changed. */
export function summarize(e: AuditEntry): string {
  const a = obj(e.after);
  const b = obj(e.before);
  switch (e.action) {
    case 'create':
      return `created: ${String(a.expression ?? '')} → ${String(a.action ?? '')} (${String(a.mode ?? '')})`;
    case 'delete':
      return `deleted: ${String(b.expression ?? '')}`;
    case 'update': {
      const fields = ['name', 'expression', 'action', 'code', 'priority', 'mode'].filter((f) => String(a[f]) !== String(b[f]));
      return fields.length ? `changed ${fields.map((f) => `${f}: ${String(b[f])} → ${String(a[f])}`).join('; ')}` : 'updated';
    }
    case 'replace':
    case 'add_entries':
    case 'remove_entry': {
      const added = typeof a.added_count === 'number' ? a.added_count : Array.isArray(a.added) ? a.added.length : 0;
      const removed = typeof a.removed_count === 'number' ? a.removed_count : Array.isArray(a.removed) ? a.removed.length : 0;
      const count = typeof a.entry_count === 'number' ? `, ${a.entry_count} entries now` : '';
      return `+${added} −${removed}${count}`;
    }
    case 'resolve': {
      const r = obj(a.resolution);
      return `review resolved: ${String(r.decision ?? '')}${r.note ? ` — “${String(r.note)}”` : ''}`;
    }
    case 'label': {
      const l = obj(a.added);
      return `labelled ${String(l.label ?? '')} (${String(l.source ?? '')})`;
    }
    default:
      return e.action;
  }
}
