-- txv schema, version 7 (SQLite): decision trace layouts (decide/decision_trace.h).
-- What every trace of one compiled rule set shares (rule ids, versions, modes, the text of
-- each traced expression), stored once; a decision's trace keeps only its results and the
-- values it read, and names its layout by id (the first 16 hex digits of its SHA-256).
-- Never updated or deleted: the traces of old decisions keep referring to them.
CREATE TABLE trace_layouts (
  id         TEXT    PRIMARY KEY,
  layout     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
