-- txv schema, version 1 (PostgreSQL): the equivalent of SQLite's 0001 + 0002
-- (migrations/sqlite), table for table and column for column, with:
--   * times as BIGINT epoch milliseconds (exact round trip, as in SQLite);
--   * booleans as BOOLEAN;
--   * JSON documents as TEXT holding JSON: a record reads back byte for byte
--     what was written (JSONB would reformat it);
--   * enums as their contract spelling in TEXT with a CHECK;
--   * keys and values that are ordered or compared bytewise in COLLATE "C"
--     (the contract orders ids and list entries bytewise, like SQLite);
--   * AUTOINCREMENT as BIGINT GENERATED ALWAYS AS IDENTITY.
-- Applied by the migration runner inside one transaction under an advisory
-- lock; the runner records it in schema_migrations. Never edit an applied
-- migration: add a new file.

CREATE TABLE api_keys (
  id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  name         TEXT    NOT NULL,
  role         TEXT    NOT NULL CHECK (role IN ('admin', 'analyst', 'validator')),
  merchant_id  TEXT,
  secret_hash  TEXT COLLATE "C" NOT NULL UNIQUE,
  created_at   BIGINT  NOT NULL,
  revoked_at   BIGINT,
  last_used_at BIGINT
);

CREATE TABLE transactions (
  seq                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  merchant_id         TEXT COLLATE "C" NOT NULL,
  transaction_id      TEXT COLLATE "C" NOT NULL,
  request_hash        TEXT    NOT NULL,
  type                TEXT    NOT NULL
                        CHECK (type IN ('purchase', 'authorization', 'refund', 'payout', 'verification')),
  amount              BIGINT  NOT NULL,
  currency            TEXT    NOT NULL,
  decision            TEXT    NOT NULL CHECK (decision IN ('approve', 'decline', 'review')),
  reasons             TEXT    NOT NULL DEFAULT '[]',  -- JSON array
  shadow_matches      TEXT    NOT NULL DEFAULT '[]',  -- JSON array
  rules_version       BIGINT  NOT NULL,
  card_brand          TEXT    NOT NULL,
  card_bin            TEXT    NOT NULL,
  card_last4          TEXT    NOT NULL,
  card_fingerprint    TEXT COLLATE "C" NOT NULL,
  has_customer        BOOLEAN NOT NULL,
  customer_id         TEXT COLLATE "C",
  customer_email      TEXT COLLATE "C",
  customer_ip         TEXT COLLATE "C",
  customer_country    TEXT,
  customer_device_id  TEXT COLLATE "C",
  has_merchant        BOOLEAN NOT NULL,
  merchant_mcc        TEXT,
  merchant_country    TEXT,
  metadata            TEXT    NOT NULL DEFAULT '{}',  -- JSON object of strings
  occurred_at         BIGINT  NOT NULL,
  decided_at          BIGINT  NOT NULL,
  -- Resolution of a review: all four set, or all four NULL.
  resolution_decision TEXT    CHECK (resolution_decision IN ('approve', 'decline', 'review')),
  resolution_note     TEXT,
  resolution_by       TEXT,
  resolution_at       BIGINT,
  UNIQUE (merchant_id, transaction_id)
);

-- Listing newest first, by merchant or by decision (seq is the cursor).
CREATE INDEX transactions_merchant_seq ON transactions (merchant_id, seq);
CREATE INDEX transactions_decision_seq ON transactions (decision, seq);
-- The review queue (decision = 'review' AND unresolved), small and hot.
CREATE INDEX transactions_review_queue ON transactions (seq)
  WHERE decision = 'review' AND resolution_decision IS NULL;
-- since/until filters and the velocity rebuild (keyset on (decided_at, seq)).
CREATE INDEX transactions_decided_at ON transactions (decided_at, seq);

CREATE TABLE rules (
  id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  expression TEXT    NOT NULL,
  action     TEXT    NOT NULL CHECK (action IN ('decline', 'review', 'approve')),
  code       TEXT    NOT NULL,
  priority   BIGINT  NOT NULL,
  mode       TEXT    NOT NULL CHECK (mode IN ('enforce', 'shadow', 'disabled')),
  version    BIGINT  NOT NULL,
  created_at BIGINT  NOT NULL,
  updated_at BIGINT  NOT NULL
);
CREATE INDEX rules_priority ON rules (priority, id);

-- Global counters: rules_version and lists_version, bumped by every change.
CREATE TABLE meta (
  key   TEXT   NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('rules_version', 0), ('lists_version', 0);

-- revision: bumped by every change of the list; a change computed from one
-- snapshot publishes only if the list is still at that revision.
CREATE TABLE lists (
  name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  entry_count BIGINT NOT NULL DEFAULT 0,  -- maintained by the store with every change
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  revision    BIGINT NOT NULL DEFAULT 0
);

-- A list's content is the union of its generations in state 'live' (usually
-- one; a large add publishes its entries as one more live generation).
--   staging: being filled in bounded chunks; invisible to readers;
--   live:    part of the list's content;
--   retired: replaced or abandoned; its rows are deleted in bounded chunks,
--            then the generation row itself.
-- Publishing a change switches states, bumps lists.revision and
-- meta.lists_version, and appends the audit entry, in one transaction.
CREATE TABLE list_generations (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  list_name  TEXT COLLATE "C" NOT NULL,
  state      TEXT   NOT NULL CHECK (state IN ('staging', 'live', 'retired')),
  created_at BIGINT NOT NULL
);
CREATE INDEX list_generations_list ON list_generations (list_name, state, id);
CREATE INDEX list_generations_state ON list_generations (state, id);

-- No foreign key: a generation's rows are deleted in chunks, never by cascade.
CREATE TABLE list_values (
  generation BIGINT NOT NULL,
  value      TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (generation, value)
);

-- Append-only: the trigger refuses every UPDATE and DELETE (and TRUNCATE).
CREATE TABLE audit_log (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          BIGINT NOT NULL,
  actor       TEXT   NOT NULL,
  action      TEXT   NOT NULL,
  object_type TEXT COLLATE "C" NOT NULL,
  object_id   TEXT COLLATE "C" NOT NULL,
  before_json TEXT   NOT NULL DEFAULT 'null',
  after_json  TEXT   NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$fn$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
