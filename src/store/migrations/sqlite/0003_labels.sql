-- txv schema, version 3 (SQLite): labels, the ground truth about decided
-- transactions (API contract section 9). Portable like 0001 (see there);
-- migrations/postgres/0003 mirrors it.

-- The history: every label ever given, never changed or deleted.
CREATE TABLE labels (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- stored order (breaks ties of `at`)
  transaction_seq INTEGER NOT NULL REFERENCES transactions (seq),
  label           TEXT    NOT NULL CHECK (label IN ('fraud', 'not_fraud')),
  source          TEXT    NOT NULL
                    CHECK (source IN ('chargeback', 'issuer_alert', 'manual', 'customer_report')),
  reason          TEXT,
  at              INTEGER NOT NULL,
  actor           TEXT    NOT NULL,  -- `by`: the API key's name
  created_at      INTEGER NOT NULL
);
-- A transaction's history, in order.
CREATE INDEX labels_transaction ON labels (transaction_seq, at, id);

-- The current label (the latest by `at`, a tie going to the latest stored) is
-- kept on the transaction itself, in the same database transaction as the
-- label that made it current: reading a decision needs no join and the
-- `label=` filter of the listing is an index range. All five set, or all NULL.
ALTER TABLE transactions ADD COLUMN label TEXT CHECK (label IN ('fraud', 'not_fraud'));
ALTER TABLE transactions ADD COLUMN label_source TEXT;
ALTER TABLE transactions ADD COLUMN label_reason TEXT;
ALTER TABLE transactions ADD COLUMN label_at INTEGER;
ALTER TABLE transactions ADD COLUMN label_by TEXT;

-- label=fraud|not_fraud, newest first, with or without a merchant. Partial:
-- unlabelled decisions (nearly all) cost nothing to insert; label=none walks
-- the existing seq / merchant indexes and skips the few labelled rows.
CREATE INDEX transactions_label_seq ON transactions (label, seq) WHERE label IS NOT NULL;
CREATE INDEX transactions_merchant_label_seq ON transactions (merchant_id, label, seq) WHERE label IS NOT NULL;
