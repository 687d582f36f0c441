import { describe, expect, it } from 'vitest';
import { errorFrom } from '../src/api';
import { objectHref, summarize } from '../src/lib/audit';
import { explainError } from '../src/lib/errors';
import { formatAmount, formatRate, formatTime } from '../src/lib/format';
import { parseRoute, txHref } from '../src/lib/route';
import { codeFromName, diff, draftsFrom, newDraft, proposedSet } from '../src/lib/rules';
import type { AuditEntry, Rule } from '../src/types';

describe('routes', () => {
  it('parses every page', () => {
    expect(parseRoute('')).toEqual({ page: 'queue' });
    expect(parseRoute('#/queue')).toEqual({ page: 'queue' });
    expect(parseRoute('#/transactions?decision=review&merchant_id=m%201')).toEqual({
      page: 'transactions',
      query: { decision: 'review', merchant_id: 'm 1' },
    });
    expect(parseRoute(txHref('m:1', 'ord/7'))).toEqual({ page: 'transaction', merchantId: 'm:1', transactionId: 'ord/7' });
    expect(parseRoute('#/lists/risky_bins')).toEqual({ page: 'list', name: 'risky_bins' });
    expect(parseRoute('#/rules').page).toBe('rules');
    expect(parseRoute('#/audit?object_type=rule')).toEqual({ page: 'audit', query: { object_type: 'rule' } });
    expect(parseRoute('#/dashboard').page).toBe('dashboard');
    expect(parseRoute('#/nope').page).toBe('notfound');
  });
});

describe('formatting', () => {
  it('formats minor units exactly, per currency', () => {
    expect(formatAmount(12550, 'USD')).toBe('USD 125.50');
    expect(formatAmount(5, 'usd')).toBe('USD 0.05');
    expect(formatAmount(1234567, 'JPY')).toBe('JPY 1,234,567');
    expect(formatAmount(1500, 'KWD')).toBe('KWD 1.500');
    expect(formatAmount(123456789012345, 'USD')).toBe('USD 1,234,567,890,123.45');
  });
  it('formats rates and times', () => {
    expect(formatRate(0.0757)).toBe('7.6%');
    expect(formatRate(null)).toBe('—');
    expect(formatTime('2026-11-24T10:00:00.123Z')).toBe('2026-11-24 10:00:00 UTC');
  });
});

describe('errors', () => {
  it('reads the API error shape', () => {
    const e = errorFrom(422, { error: { code: 'validation_failed', message: 'bad', details: [{ field: 'note', issue: 'too_long' }] } });
    expect(e.status).toBe(422);
    expect(e.code).toBe('validation_failed');
    expect(e.details).toEqual([{ field: 'note', issue: 'too_long' }]);
  });
  it('copes with a body that is not the error shape', () => {
    expect(errorFrom(502, null).message).toMatch(/502/);
  });
  it('explains 409 not_reviewable and 403 for analysts', () => {
    expect(explainError({ status: 409, code: 'not_reviewable', message: 'x' }).title).toBe('Already resolved');
    expect(explainError({ status: 403, code: 'forbidden', message: 'no' }, 'analyst').message).toMatch(/ask an admin/);
    expect(explainError({ status: 422, message: 'm', details: [{ field: 'note', issue: 'looks_like_card_number' }] }).details[0]).toMatch(
      /card number/,
    );
  });
});

const rule = (id: string, p: number, extra: Partial<Rule> = {}): Rule => ({
  id,
  name: id,
  expression: 'amount > 1',
  action: 'decline',
  code: id,
  priority: p,
  mode: 'enforce',
  version: 1,
  created_at: '',
  updated_at: '',
  ...extra,
});

describe('rule drafts', () => {
  it('finds created, updated and deleted rules', () => {
    const live = [rule('a', 1), rule('b', 2), rule('c', 3)];
    const drafts = draftsFrom(live);
    drafts[0]!.expression = 'amount > 2';
    drafts[1]!.deleted = true;
    const n = newDraft(drafts);
    n.expression = 'amount >= 50000';
    const d = diff(live, [...drafts, n]);
    expect(d.updated.map((u) => [u.draft.key, u.fields])).toEqual([['a', ['expression']]]);
    expect(d.deleted.map((x) => x.key)).toEqual(['b']);
    expect(d.created).toHaveLength(1);
    expect(n.priority).toBe(13);
    const set = proposedSet([...drafts, n]);
    expect(set.map((r) => r.id)).toEqual(['a', 'c', undefined]);
    expect(Object.keys(set[0]!).sort()).toEqual(['action', 'code', 'expression', 'id', 'mode', 'name', 'priority']);
  });
  it('makes snake_case codes from names', () => {
    expect(codeFromName('High amount (US)')).toBe('high_amount_us');
    expect(codeFromName('123')).toBe('rule');
  });
});

describe('audit', () => {
  const base: AuditEntry = { id: 1, at: '', actor: 'x', action: 'add_entries', object_type: 'list', object_id: 'bins', before: null, after: { added: ['1'], removed: [], added_count: 1, removed_count: 0, entry_count: 3 } };
  it('links objects', () => {
    expect(objectHref(base)).toBe('#/lists/bins');
    expect(objectHref({ object_type: 'transaction', object_id: 'm-1/ord-2' })).toBe('#/transactions/m-1/ord-2');
    expect(objectHref({ object_type: 'rule', object_id: 'r' })).toBe('#/rules');
  });
  it('summarizes changes', () => {
    expect(summarize(base)).toBe('+1 −0, 3 entries now');
    expect(
      summarize({ ...base, action: 'resolve', object_type: 'transaction', after: { resolution: { decision: 'approve', note: 'ok' } } }),
    ).toBe('review resolved: approve — “ok”');
  });
});
