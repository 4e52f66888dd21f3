-- Prompts kept under a use case's `[retention]` policy (`redacted`: every
-- DLP finding masked; `full`: as sent), each until `purge_after_us`, when
-- the purge job deletes it. With the default policy (`prompts = "none"`)
-- this table stays empty: no prompt text is stored anywhere else.
CREATE TABLE stored_prompts (
    event_id        TEXT PRIMARY KEY,
    ts_us           BIGINT NOT NULL,
    user_id         TEXT NOT NULL,
    use_case        TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('redacted', 'full')),
    text            TEXT NOT NULL,
    purge_after_us  BIGINT NOT NULL
);
CREATE INDEX stored_prompts_purge ON stored_prompts (purge_after_us);
