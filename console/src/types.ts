// Shapes of the txv API v1 (see api/openapi.yaml and /work/shared/spec/api-v1.md).

export type Role = 'admin' | 'analyst' | 'validator';
export type Outcome = 'approve' | 'decline' | 'review';
export const OUTCOMES: readonly Outcome[] = ['approve', 'decline', 'review'];

export interface Session {
  csrf_token: string;
  role: Role;
  name?: string;
  merchant_id?: string | null;
  expires_at: string;
}

export interface ErrorDetail {
  field: string;
  issue: string;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

export interface Reason {
  code: string;
  source: 'check' | 'rule';
  rule_id?: string;
  action: Outcome;
}

export interface ShadowMatch {
  rule_id: string;
  action: Outcome;
  code: string;
}

export interface TraceValue {
  expr: string;
  value: string | number | boolean | null;
}

export interface TraceEntry {
  rule_id: string;
  rule_version: number;
  mode: 'enforce' | 'shadow';
  result: 'match' | 'no_match' | 'absent';
  values: TraceValue[];
}

export interface Label {
  label: 'fraud' | 'not_fraud';
  source: 'chargeback' | 'issuer_alert' | 'manual' | 'customer_report';
  reason?: string;
  at: string;
  by: string;
}

export interface Resolution {
  decision: 'approve' | 'decline';
  note: string;
  by: string;
  at: string;
}

export interface Transaction {
  transaction_id: string;
  merchant_id: string;
  decision: Outcome;
  reasons: Reason[];
  shadow_matches: ShadowMatch[];
  rules_version: number;
  card: { brand?: string; bin?: string; last4?: string; fingerprint?: string };
  decided_at: string;
  type: string;
  amount: number;
  currency: string;
  occurred_at: string;
  customer?: Record<string, string>;
  merchant?: Record<string, string>;
  metadata?: Record<string, string>;
  resolution?: Resolution;
  label?: Label;
  trace?: TraceEntry[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type RuleAction = Outcome;
export type RuleMode = 'enforce' | 'shadow' | 'disabled';

export interface RuleWarning {
  code: string;
  message: string;
  column?: number;
  rule_id?: string;
}

export interface Rule {
  id: string;
  name: string;
  expression: string;
  action: RuleAction;
  code: string;
  priority: number;
  mode: RuleMode;
  version: number;
  created_at: string;
  updated_at: string;
  warnings?: RuleWarning[];
}

/** The writable fields of a rule (a rule body for POST/PUT and backtests). */
export interface RuleBody {
  id?: string;
  name: string;
  expression: string;
  action: RuleAction;
  code: string;
  priority: number;
  mode: RuleMode;
}

export interface RuleList {
  items: Rule[];
  rules_version: number;
}

export interface CheckResult {
  valid: boolean;
  errors: { message: string; column: number }[];
  warnings: RuleWarning[];
}

export interface BacktestOutcome {
  count: number;
  amount: Record<string, number>;
}
export type BacktestOutcomes = Record<Outcome, BacktestOutcome>;

export interface BacktestLabelTotals {
  total: number;
  stopped_live: number;
  stopped_proposed: number;
}

export interface BacktestResult {
  outcomes: { actual: BacktestOutcomes; live: BacktestOutcomes; proposed: BacktestOutcomes };
  changes: Record<string, number>;
  rules: { rule_id?: string; name: string; matches_live: number | null; matches_proposed: number | null }[];
  labels: {
    fraud: BacktestLabelTotals;
    not_fraud: BacktestLabelTotals;
    precision_live: number | null;
    precision_proposed: number | null;
    recall_live: number | null;
    recall_proposed: number | null;
  };
  samples: Record<string, { merchant_id: string; transaction_id: string }[]>;
}

export interface BacktestJob {
  id: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  progress: number;
  transactions?: number;
  since?: string;
  until?: string;
  error?: string;
  result?: BacktestResult;
}

export interface ListSummary {
  name: string;
  entry_count: number;
  updated_at: string;
}

export interface EntryPage {
  items: string[];
  next_cursor: string | null;
  total: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  object_type: 'rule' | 'list' | 'transaction';
  object_id: string;
  before: unknown;
  after: unknown;
}

export interface StatsBucket {
  at: string;
  approve: number;
  decline: number;
  review: number;
}

export interface Stats {
  window: '1h' | '24h';
  since: string;
  until: string;
  bucket_seconds: number;
  buckets: StatsBucket[];
  totals: { approve: number; decline: number; review: number; total: number };
  decline_rate: number | null;
  review_rate: number | null;
  rules: { rule_id: string; mode: string; matches: number }[];
  latency: { p50_ms: number | null; p99_ms: number | null; count: number; scope: string };
}
