import type { Stats } from '../types';

export interface Series {
  labels: string[];
  approve: number[];
  decline: number[];
  review: number[];
}

/** Bucket label: `HH:MM` (UTC) for windows up to a day. */
export function bucketLabel(iso: string, bucketSeconds: number): string {
  const m = /T(\d{2}):(\d{2}):(\d{2})/.exec(iso);
  if (!m) return iso;
  return bucketSeconds < 60 ? `${m[1]}:${m[2]}:${m[3]}` : `${m[1]}:${m[2]}`;
}

/**
 * Decisions per minute by outcome. Buckets may be wider than a minute (e.g. 24 h in 15-minute
 * buckets): counts are divided by the bucket's minutes so both windows read "per minute".
 */
export function decisionSeries(s: Stats): Series {
  const perMin = s.bucket_seconds > 0 ? 60 / s.bucket_seconds : 1;
  const round = (n: number) => Math.round(n * perMin * 100) / 100;
  const sorted = [...s.buckets].sort((a, b) => a.at.localeCompare(b.at));
  return {
    labels: sorted.map((b) => bucketLabel(b.at, s.bucket_seconds)),
    approve: sorted.map((b) => round(b.approve)),
    decline: sorted.map((b) => round(b.decline)),
    review: sorted.map((b) => round(b.review)),
  };
}

export interface TopRule {
  ruleId: string;
  mode: string;
  matches: number;
}

/** The `n` rules with most matches (ties by id), zero-match rules left out. */
export function topRules(s: Stats, n = 10): TopRule[] {
  return s.rules
    .filter((r) => r.matches > 0)
    .sort((a, b) => b.matches - a.matches || a.rule_id.localeCompare(b.rule_id))
    .slice(0, n)
    .map((r) => ({ ruleId: r.rule_id, mode: r.mode, matches: r.matches }));
}

/** Rate = part / total, or null when there was nothing. Used when the server sends none. */
export function rate(part: number, total: number): number | null {
  return total > 0 ? part / total : null;
}

/** Total decisions per minute over the whole window. */
export function perMinute(s: Stats): number {
  const since = Date.parse(s.since);
  const until = Date.parse(s.until);
  const minutes = (until - since) / 60000;
  if (!(minutes > 0)) return 0;
  return Math.round((s.totals.total / minutes) * 100) / 100;
}
