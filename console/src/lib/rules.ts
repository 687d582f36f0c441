import type { Rule, RuleBody } from '../types';

/** A rule in the proposed (edited) set. `key` is stable across edits (the id, or a local one). */
export interface Draft extends RuleBody {
  key: string;
  isNew: boolean;
  deleted: boolean;
}

export function toBody(r: Rule | Draft): RuleBody {
  const b: RuleBody = {
    name: r.name,
    expression: r.expression,
    action: r.action,
    code: r.code,
    priority: Number(r.priority) || 0,
    mode: r.mode,
  };
  if (r.id) b.id = r.id;
  return b;
}

export function draftsFrom(live: Rule[]): Draft[] {
  return live.map((r) => ({ ...toBody(r), id: r.id, key: r.id, isNew: false, deleted: false }));
}

let counter = 0;
export function newDraft(existing: Draft[]): Draft {
  counter++;
  const maxPriority = existing.reduce((m, d) => Math.max(m, Number(d.priority) || 0), 0);
  return {
    key: `new-${Date.now().toString(36)}-${counter}`,
    isNew: true,
    deleted: false,
    name: 'New rule',
    expression: '',
    action: 'review',
    code: 'new_rule',
    priority: maxPriority + 10,
    mode: 'enforce',
  };
}

const FIELDS = ['name', 'expression', 'action', 'code', 'priority', 'mode'] as const;

export function changedFields(live: Rule, d: Draft): string[] {
  return FIELDS.filter((f) => String(live[f]) !== String(d[f]));
}

export interface RuleSetDiff {
  created: Draft[];
  updated: { draft: Draft; fields: string[] }[];
  deleted: Draft[];
}

export function diff(live: Rule[], drafts: Draft[]): RuleSetDiff {
  const byId = new Map(live.map((r) => [r.id, r]));
  const out: RuleSetDiff = { created: [], updated: [], deleted: [] };
  for (const d of drafts) {
    if (d.isNew) {
      if (!d.deleted) out.created.push(d);
      continue;
    }
    const l = byId.get(d.key);
    if (!l) continue;
    if (d.deleted) out.deleted.push(d);
    else {
      const fields = changedFields(l, d);
      if (fields.length) out.updated.push({ draft: d, fields });
    }
  }
  return out;
}

export const isDirty = (d: RuleSetDiff): boolean => d.created.length + d.updated.length + d.deleted.length > 0;

/** The complete proposed set, as rule bodies (for `PUT /v1/rules` and backtests with `replace_all`). */
export function proposedSet(drafts: Draft[]): RuleBody[] {
  return drafts.filter((d) => !d.deleted).map(toBody);
}

/** Snake case reason code from a rule name: `High amount (US)` → `high_amount_us`. */
export function codeFromName(name: string): string {
  const c = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/^[0-9_]+/, '');
  return (c || 'rule').slice(0, 64);
}
