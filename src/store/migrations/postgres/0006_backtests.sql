-- txv schema, version 6 (PostgreSQL): backtest jobs (API contract section 11),
-- so any replica answers for any job and a job outlives the replica that ran
-- it. The request (rules) is not stored: only the replica running the job
-- keeps it. Times in milliseconds.
CREATE TABLE backtests (
  id               TEXT    PRIMARY KEY,
  status           TEXT    NOT NULL,  -- running | done | failed | cancelled
  progress_ppm     BIGINT  NOT NULL DEFAULT 0,  -- progress 0..1 in millionths
  transactions     BIGINT  NOT NULL DEFAULT 0,
  by_name          TEXT    NOT NULL,
  created_at       BIGINT  NOT NULL,
  finished_at      BIGINT,
  since            BIGINT  NOT NULL,
  until            BIGINT  NOT NULL,
  merchant_id      TEXT,
  error            TEXT    NOT NULL DEFAULT '',
  result           TEXT,              -- JSON, when done
  heartbeat_at     BIGINT  NOT NULL,  -- moved forward by the replica running the job
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);
-- Listing, newest first.
CREATE INDEX backtests_created_at ON backtests (created_at, id);
-- Finding the running jobs (stale ones, at start-up).
CREATE INDEX backtests_running ON backtests (heartbeat_at) WHERE status = 'running';
