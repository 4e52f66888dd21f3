-- When each usage row was written (microseconds since the epoch, the
-- database's clock as the row is inserted: one clock for every replica).
-- Usage digests in the audit chain (`ledger.digest`) cover the rows
-- recorded before `now - lag`, lag far longer than any insert takes to
-- commit. Rows written before this column existed read 0: the first digest
-- covers them. (No index: the digest job reads the table off the request
-- path; an index would add work to every insert.)
ALTER TABLE usage_events ADD COLUMN recorded_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_events ALTER COLUMN recorded_us
    SET DEFAULT (floor(extract(epoch FROM clock_timestamp()) * 1000000))::bigint;
