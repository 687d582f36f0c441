-- txv schema, version 4: decision traces (API contract section 10). What each
-- evaluated rule saw, as a JSON array text written by the rules stage with the
-- decision (NULL when none was recorded: TXV_DECISION_TRACES=off, or decided
-- before this version). Read only by GET …?include=trace and never indexed.
ALTER TABLE transactions ADD COLUMN trace TEXT;
