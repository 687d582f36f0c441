-- txv schema, version 5 (PostgreSQL): console sessions (API contract section 13),
-- used when txv runs without Redis; with Redis they live there instead.
-- The cookie's token is never stored, only its hex SHA-256 (id_hash).
CREATE TABLE sessions (
  id_hash      TEXT    PRIMARY KEY,
  key_hash     TEXT    NOT NULL,  -- the API key's secret_hash: a revoked key ends its sessions
  csrf_token   TEXT    NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,  -- absolute end
  idle_until   BIGINT NOT NULL,  -- last_seen_at + idle timeout
  last_seen_at BIGINT NOT NULL
);
-- Forgetting ended sessions when a new one is created.
CREATE INDEX sessions_idle_until ON sessions (idle_until);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
