-- txv schema, version 6 (SQLite): backtest jobs (API contract section 11), so
-- a job outlives the process that ran it. The request (rules) is not stored:
-- only the process running the job keeps it. Times in milliseconds.
CREATE TABLE backtests (
  id               TEXT    PRIMARY KEY,
  status           TEXT    NOT NULL,  -- running | done | failed | cancelled
  progress_ppm     INTEGER NOT NULL DEFAULT 0,  -- progress 0..1 in millionths
  transactions     INTEGER NOT NULL DEFAULT 0,
  by_name          TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  since            INTEGER NOT NULL,
  until            INTEGER NOT NULL,
  merchant_id      TEXT,
  error            TEXT    NOT NULL DEFAULT '',
  result           TEXT,              -- JSON, when done
  heartbeat_at     INTEGER NOT NULL,  -- moved forward by the process running the job
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
-- Listing, newest first.
CREATE INDEX backtests_created_at ON backtests (created_at, id);
-- Finding the running jobs (stale ones, at start-up).
CREATE INDEX backtests_running ON backtests (heartbeat_at) WHERE status = 'running';
