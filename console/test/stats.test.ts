import { describe, expect, it } from 'vitest';
import { bucketLabel, decisionSeries, perMinute, rate, topRules } from '../src/lib/stats';
import type { Stats } from '../src/types';

const stats: Stats = {
  window: '24h',
  since: '2026-01-01T00:00:00Z',
  until: '2026-01-02T00:00:00Z',
  bucket_seconds: 900,
  buckets: [
    { at: '2026-01-01T00:15:00Z', approve: 30, decline: 15, review: 0 },
    { at: '2026-01-01T00:00:00Z', approve: 150, decline: 0, review: 3 },
  ],
  totals: { approve: 180, decline: 15, review: 3, total: 198 },
  decline_rate: 15 / 198,
  review_rate: 3 / 198,
  rules: [
    { rule_id: 'b', mode: 'enforce', matches: 5 },
    { rule_id: 'a', mode: 'shadow', matches: 5 },
    { rule_id: 'z', mode: 'enforce', matches: 0 },
    { rule_id: 'c', mode: 'enforce', matches: 9 },
  ],
  latency: { p50_ms: 1, p99_ms: 4, count: 10, scope: 'replica' },
};

describe('stats → charts', () => {
  it('orders buckets by time and converts to per-minute rates', () => {
    const s = decisionSeries(stats);
    expect(s.labels).toEqual(['00:00', '00:15']);
    expect(s.approve).toEqual([10, 2]);
    expect(s.decline).toEqual([0, 1]);
    expect(s.review).toEqual([0.2, 0]);
  });
  it('keeps per-minute counts for one-minute buckets', () => {
    const s = decisionSeries({ ...stats, bucket_seconds: 60, buckets: [{ at: '2026-01-01T10:07:00Z', approve: 4, decline: 1, review: 2 }] });
    expect(s).toEqual({ labels: ['10:07'], approve: [4], decline: [1], review: [2] });
  });
  it('ranks top rules by matches then id, without zero-match rules', () => {
    expect(topRules(stats).map((r) => r.ruleId)).toEqual(['c', 'a', 'b']);
    expect(topRules(stats, 1)).toHaveLength(1);
  });
  it('computes rates and overall per-minute volume', () => {
    expect(rate(1, 4)).toBe(0.25);
    expect(rate(0, 0)).toBeNull();
    expect(perMinute(stats)).toBe(0.14);
  });
  it('labels sub-minute buckets with seconds', () => {
    expect(bucketLabel('2026-01-01T10:07:30Z', 10)).toBe('10:07:30');
  });
});
