import type { BacktestResult, Outcome } from '../types';
import { OUTCOMES } from '../types';

export interface MatrixRow {
  set: 'actual' | 'live' | 'proposed';
  label: string;
  counts: Record<Outcome, number>;
  total: number;
}

const SET_LABEL = { actual: 'Actual (decided then)', live: 'Live rules today', proposed: 'Proposed rules' };

/** The outcome matrix: one row per rule set, one column per outcome. */
export function outcomeRows(r: BacktestResult): MatrixRow[] {
  return (['actual', 'live', 'proposed'] as const).map((set) => {
    const o = r.outcomes[set];
    const counts = { approve: 0, decline: 0, review: 0 } as Record<Outcome, number>;
    let total = 0;
    for (const k of OUTCOMES) {
      counts[k] = o?.[k]?.count ?? 0;
      total += counts[k];
    }
    return { set, label: SET_LABEL[set], counts, total };
  });
}

export interface ChangeRow {
  from: Outcome;
  to: Outcome;
  key: string;
  count: number;
}

/** `{"approve->decline": 3}` → rows in a fixed, readable order (non-zero only). */
export function changeRows(r: BacktestResult): ChangeRow[] {
  const rows: ChangeRow[] = [];
  for (const from of OUTCOMES) {
    for (const to of OUTCOMES) {
      if (from === to) continue;
      const key = `${from}->${to}`;
      const count = r.changes?.[key] ?? 0;
      if (count) rows.push({ from, to, key, count });
    }
  }
  return rows;
}

export interface RuleHitRow {
  key: string;
  ruleId: string | null;
  name: string;
  live: number | null;
  proposed: number | null;
  /** proposed − live when both exist. */
  delta: number | null;
  status: 'new' | 'removed' | 'kept';
}

export function ruleRows(r: BacktestResult): RuleHitRow[] {
  return (r.rules ?? []).map((x, i) => ({
    key: x.rule_id ?? `new-${i}-${x.name}`,
    ruleId: x.rule_id ?? null,
    name: x.name,
    live: x.matches_live,
    proposed: x.matches_proposed,
    delta: x.matches_live !== null && x.matches_proposed !== null ? x.matches_proposed - x.matches_live : null,
    status: x.matches_live === null ? 'new' : x.matches_proposed === null ? 'removed' : 'kept',
  }));
}

export interface LabelRow {
  metric: string;
  live: number | null;
  proposed: number | null;
  ratio: boolean;
}

export function labelRows(r: BacktestResult): LabelRow[] {
  const l = r.labels;
  return [
    { metric: 'Fraud stopped', live: l.fraud.stopped_live, proposed: l.fraud.stopped_proposed, ratio: false },
    { metric: 'Not-fraud stopped', live: l.not_fraud.stopped_live, proposed: l.not_fraud.stopped_proposed, ratio: false },
    { metric: 'Precision', live: l.precision_live, proposed: l.precision_proposed, ratio: true },
    { metric: 'Recall', live: l.recall_live, proposed: l.recall_proposed, ratio: true },
  ];
}

/** Sum of amounts per currency for one outcome, as `[currency, amount]` sorted by currency. */
export function amountsOf(r: BacktestResult, set: 'actual' | 'live' | 'proposed', o: Outcome): [string, number][] {
  const a = r.outcomes[set]?.[o]?.amount ?? {};
  return Object.entries(a).sort(([x], [y]) => x.localeCompare(y));
}

/** Progress 0…1 → integer percent, clamped. */
export function percent(progress: number | null | undefined): number {
  if (progress === null || progress === undefined || Number.isNaN(progress)) return 0;
  return Math.max(0, Math.min(100, Math.round(progress * 100)));
}
