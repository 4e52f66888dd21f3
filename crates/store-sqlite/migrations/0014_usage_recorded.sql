-- When each usage row was written (microseconds since the epoch, the
-- writer's clock, read once the write lock is held, so it follows commit
-- order). Usage digests in the audit chain (`ledger.digest`) cover the rows
-- recorded in a window of it. Rows written before this column existed
-- read 0: the first digest covers them.
ALTER TABLE usage_events ADD COLUMN recorded_us INTEGER NOT NULL DEFAULT 0;
