-- txv schema, version 1 (SQLite).
--
-- Portable by design so that migrations/postgres/0001_init.sql mirrors it
-- table for table and column for column:
--   * times are INTEGER epoch milliseconds (BIGINT in PostgreSQL);
--   * booleans are INTEGER 0/1 (BOOLEAN in PostgreSQL);
--   * JSON documents are TEXT holding JSON (JSONB in PostgreSQL);
--   * enums are their contract spelling as TEXT with a CHECK;
--   * INTEGER PRIMARY KEY AUTOINCREMENT is BIGINT GENERATED ALWAYS AS IDENTITY;
--   * WITHOUT ROWID is a SQLite storage hint only (drop it in PostgreSQL).
-- Applied by the migration runner inside one transaction; the runner records
-- it in schema_migrations. Never edit an applied migration: add a new file.

CREATE TABLE api_keys (
  id          TEXT    NOT NULL PRIMARY KEY,
  name        TEXT    NOT NULL,
  role        TEXT    NOT NULL CHECK (role IN ('admin', 'analyst', 'validator')),
  merchant_id TEXT,
  secret_hash TEXT    NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
);

CREATE TABLE transactions (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  merchant_id         TEXT    NOT NULL,
  transaction_id      TEXT    NOT NULL,
  request_hash        TEXT    NOT NULL,
  type                TEXT    NOT NULL
                        CHECK (type IN ('purchase', 'authorization', 'refund', 'payout', 'verification')),
  amount              INTEGER NOT NULL,
  currency            TEXT    NOT NULL,
  decision            TEXT    NOT NULL CHECK (decision IN ('approve', 'decline', 'review')),
  reasons             TEXT    NOT NULL DEFAULT '[]',  -- JSON array
  shadow_matches      TEXT    NOT NULL DEFAULT '[]',  -- JSON array
  rules_version       INTEGER NOT NULL,
  card_brand          TEXT    NOT NULL,
  card_bin            TEXT    NOT NULL,
  card_last4          TEXT    NOT NULL,
  card_fingerprint    TEXT    NOT NULL,
  has_customer        INTEGER NOT NULL CHECK (has_customer IN (0, 1)),
  customer_id         TEXT,
  customer_email      TEXT,
  customer_ip         TEXT,
  customer_country    TEXT,
  customer_device_id  TEXT,
  has_merchant        INTEGER NOT NULL CHECK (has_merchant IN (0, 1)),
  merchant_mcc        TEXT,
  merchant_country    TEXT,
  metadata            TEXT    NOT NULL DEFAULT '{}',  -- JSON object of strings
  occurred_at         INTEGER NOT NULL,
  decided_at          INTEGER NOT NULL,
  -- Resolution of a review: all four set, or all four NULL.
  resolution_decision TEXT    CHECK (resolution_decision IN ('approve', 'decline', 'review')),
  resolution_note     TEXT,
  resolution_by       TEXT,
  resolution_at       INTEGER,
  UNIQUE (merchant_id, transaction_id)
);

-- Listing newest first, by merchant or by decision (seq is the cursor).
CREATE INDEX transactions_merchant_seq ON transactions (merchant_id, seq);
CREATE INDEX transactions_decision_seq ON transactions (decision, seq);
-- The review queue (decision = 'review' AND unresolved), small and hot.
CREATE INDEX transactions_review_queue ON transactions (seq)
  WHERE decision = 'review' AND resolution_decision IS NULL;
-- since/until filters and the velocity rebuild (decided_at >= ? ORDER BY decided_at, seq).
CREATE INDEX transactions_decided_at ON transactions (decided_at, seq);

CREATE TABLE rules (
  id         TEXT    NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  expression TEXT    NOT NULL,
  action     TEXT    NOT NULL CHECK (action IN ('decline', 'review', 'approve')),
  code       TEXT    NOT NULL,
  priority   INTEGER NOT NULL,
  mode       TEXT    NOT NULL CHECK (mode IN ('enforce', 'shadow', 'disabled')),
  version    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX rules_priority ON rules (priority, id);

-- Global counters: rules_version and lists_version, bumped by every change.
CREATE TABLE meta (
  key   TEXT    NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('rules_version', 0), ('lists_version', 0);

CREATE TABLE lists (
  name        TEXT    NOT NULL PRIMARY KEY,
  entry_count INTEGER NOT NULL DEFAULT 0,  -- maintained by the store with every change
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE list_entries (
  list_name TEXT NOT NULL REFERENCES lists (name) ON DELETE CASCADE,
  value     TEXT NOT NULL,
  PRIMARY KEY (list_name, value)
) WITHOUT ROWID;

-- Append-only: the triggers refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  action      TEXT    NOT NULL,
  object_type TEXT    NOT NULL,
  object_id   TEXT    NOT NULL,
  before_json TEXT    NOT NULL DEFAULT 'null',
  after_json  TEXT    NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
