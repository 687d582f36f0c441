import { describe, expect, it } from 'vitest';
import { amountsOf, changeRows, labelRows, outcomeRows, percent, ruleRows } from '../src/lib/backtest';
import type { BacktestResult } from '../src/types';

const o = (a: number, d: number, r: number): BacktestResult['outcomes']['live'] => ({
  approve: { count: a, amount: { USD: a * 100 } },
  decline: { count: d, amount: (d ? { USD: d * 100, EUR: 5 } : {}) as Record<string, number> },
  review: { count: r, amount: {} },
});

const result: BacktestResult = {
  outcomes: { actual: o(30, 4, 6), live: o(31, 4, 5), proposed: o(24, 11, 5) },
  changes: { 'approve->decline': 7, 'review->approve': 0 },
  rules: [
    { rule_id: 'rule_kp', name: 'KP', matches_live: 4, matches_proposed: 4 },
    { rule_id: 'rule_old', name: 'Old', matches_live: 2, matches_proposed: null },
    { name: 'Big', matches_live: null, matches_proposed: 7 },
  ],
  labels: {
    fraud: { total: 5, stopped_live: 1, stopped_proposed: 4 },
    not_fraud: { total: 3, stopped_live: 0, stopped_proposed: 1 },
    precision_live: 1,
    precision_proposed: 0.8,
    recall_live: 0.2,
    recall_proposed: 0.8,
  },
  samples: { 'approve->decline': [{ merchant_id: 'm', transaction_id: 't' }] },
};

describe('backtest result tables', () => {
  it('builds the outcome matrix with totals', () => {
    const rows = outcomeRows(result);
    expect(rows.map((r) => r.set)).toEqual(['actual', 'live', 'proposed']);
    expect(rows[2]!.counts).toEqual({ approve: 24, decline: 11, review: 5 });
    expect(rows[2]!.total).toBe(40);
  });
  it('lists non-zero changes in a fixed order', () => {
    expect(changeRows(result)).toEqual([{ from: 'approve', to: 'decline', key: 'approve->decline', count: 7 }]);
  });
  it('marks new and removed rules and computes differences', () => {
    const rows = ruleRows(result);
    expect(rows[0]).toMatchObject({ ruleId: 'rule_kp', delta: 0, status: 'kept' });
    expect(rows[1]).toMatchObject({ status: 'removed', delta: null });
    expect(rows[2]).toMatchObject({ ruleId: null, name: 'Big', proposed: 7, status: 'new' });
  });
  it('gives precision and recall rows', () => {
    const rows = labelRows(result);
    expect(rows.find((r) => r.metric === 'Recall')).toMatchObject({ live: 0.2, proposed: 0.8, ratio: true });
    expect(rows.find((r) => r.metric === 'Fraud stopped')).toMatchObject({ live: 1, proposed: 4, ratio: false });
  });
  it('sorts amounts by currency', () => {
    expect(amountsOf(result, 'proposed', 'decline')).toEqual([
      ['EUR', 5],
      ['USD', 1100],
    ]);
  });
  it('clamps progress to whole percent', () => {
    expect(percent(0.456)).toBe(46);
    expect(percent(1.2)).toBe(100);
    expect(percent(undefined)).toBe(0);
  });
});
