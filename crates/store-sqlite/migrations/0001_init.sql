-- Usage events: one row per metered call. Never the prompt's content.
CREATE TABLE usage_events (
    id                  TEXT PRIMARY KEY,
    ts_us               INTEGER NOT NULL,
    source              TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    team_id             TEXT NOT NULL,
    project_id          TEXT,
    use_case            TEXT,
    template            TEXT,
    task                TEXT,
    track               TEXT NOT NULL,
    destination         TEXT,
    operation           TEXT NOT NULL,
    requested_model     TEXT NOT NULL,
    model               TEXT NOT NULL,
    provider            TEXT NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    cached_read_tokens  INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cost_nanos          INTEGER NOT NULL,
    price_version       TEXT NOT NULL,
    latency_ms          INTEGER NOT NULL,
    ttft_ms             INTEGER,
    streamed            INTEGER NOT NULL,
    status              TEXT NOT NULL,
    http_status         INTEGER NOT NULL,
    error_code          TEXT,
    estimated           INTEGER NOT NULL,
    data_class          TEXT,
    findings            TEXT NOT NULL,
    decision            TEXT NOT NULL,
    exception_id        TEXT,
    prompt_hash         TEXT,
    key_id              TEXT
);
-- The queries the API, reports and dashboard make: by time, by person or
-- team over time, and calls joined to an outcome by task.
CREATE INDEX usage_events_ts ON usage_events (ts_us);
CREATE INDEX usage_events_user_ts ON usage_events (user_id, ts_us);
CREATE INDEX usage_events_team_ts ON usage_events (team_id, ts_us);
CREATE INDEX usage_events_task ON usage_events (task) WHERE task IS NOT NULL;

-- API keys: only the SHA-256 of the secret is stored.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    use_case    TEXT,
    project_id  TEXT,
    track       TEXT,
    label       TEXT,
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- The audit log: append-only and hash-chained.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    ts_us       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
-- The program never changes an entry; these stop accidents. Someone with
-- the database file can drop them, which is what the hash chain is for.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
