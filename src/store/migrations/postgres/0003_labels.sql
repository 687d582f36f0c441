-- txv schema, version 3 (PostgreSQL): labels, the ground truth about decided
-- transactions (API contract section 9); mirrors migrations/sqlite/0003.

-- The history: every label ever given, never changed or deleted.
CREATE TABLE labels (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- stored order (breaks ties of `at`)
  transaction_seq BIGINT NOT NULL REFERENCES transactions (seq),
  label           TEXT   NOT NULL CHECK (label IN ('fraud', 'not_fraud')),
  source          TEXT   NOT NULL
                    CHECK (source IN ('chargeback', 'issuer_alert', 'manual', 'customer_report')),
  reason          TEXT,
  at              BIGINT NOT NULL,
  actor           TEXT   NOT NULL,  -- `by`: the API key's name
  created_at      BIGINT NOT NULL
);
-- A transaction's history, in order.
CREATE INDEX labels_transaction ON labels (transaction_seq, at, id);

-- The current label (the latest by `at`, a tie going to the latest stored) is
-- kept on the transaction itself, in the same database transaction as the
-- label that made it current (the row is locked while it is decided): reading
-- a decision needs no join and the `label=` filter of the listing is an index
-- range. All five set, or all NULL. Adding nullable columns without a default
-- rewrites nothing.
ALTER TABLE transactions ADD COLUMN label TEXT CHECK (label IN ('fraud', 'not_fraud'));
ALTER TABLE transactions ADD COLUMN label_source TEXT;
ALTER TABLE transactions ADD COLUMN label_reason TEXT;
ALTER TABLE transactions ADD COLUMN label_at BIGINT;
ALTER TABLE transactions ADD COLUMN label_by TEXT;

-- label=fraud|not_fraud, newest first, with or without a merchant. Partial:
-- unlabelled decisions (nearly all) cost nothing to insert; label=none walks
-- the existing seq / merchant indexes and skips the few labelled rows.
CREATE INDEX transactions_label_seq ON transactions (label, seq) WHERE label IS NOT NULL;
CREATE INDEX transactions_merchant_label_seq ON transactions (merchant_id, label, seq) WHERE label IS NOT NULL;
