-- txv schema, version 2 (SQLite): API key revocation and last use; lists
-- stored in generations so that a large change is staged off the write path
-- and published by one small transaction.
--
-- Portable like 0001 (see there); migrations/postgres/0002 mirrors it.

-- API keys: revoked_at set = refused everywhere (the row stays, for the
-- audit trail and `apikey list`); last_used_at is coarse (about a minute).
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- A list's content is the union of its generations in state 'live' (usually
-- one; a large add publishes its entries as one more live generation).
--   staging: being filled in bounded chunks; invisible to readers;
--   live:    part of the list's content;
--   retired: replaced or abandoned; its rows are deleted in bounded chunks,
--            then the generation row itself.
-- Publishing a change switches states, bumps lists.revision and
-- meta.lists_version, and appends the audit entry, in one transaction, so a
-- reader (one read transaction) sees the old content or the new, never a mix.
CREATE TABLE list_generations (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  list_name  TEXT    NOT NULL,
  state      TEXT    NOT NULL CHECK (state IN ('staging', 'live', 'retired')),
  created_at INTEGER NOT NULL
);
CREATE INDEX list_generations_list ON list_generations (list_name, state, id);
CREATE INDEX list_generations_state ON list_generations (state, id);

-- No foreign key: a generation's rows are deleted in chunks, never by cascade.
CREATE TABLE list_values (
  generation INTEGER NOT NULL,
  value      TEXT    NOT NULL,
  PRIMARY KEY (generation, value)
) WITHOUT ROWID;

-- Bumped by every change of the list: a change computed from one snapshot
-- publishes only if the list is still at that revision.
ALTER TABLE lists ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- Existing lists become one live generation each.
INSERT INTO list_generations (list_name, state, created_at)
  SELECT name, 'live', updated_at FROM lists ORDER BY name;
INSERT INTO list_values (generation, value)
  SELECT g.id, e.value FROM list_entries e JOIN list_generations g ON g.list_name = e.list_name
  ORDER BY g.id, e.value;
DROP TABLE list_entries;
