-- Usage events: one row per metered call. Never the prompt's content.
CREATE TABLE usage_events (
    id                  TEXT PRIMARY KEY,
    ts_us               BIGINT NOT NULL,
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
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cached_read_tokens  BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost_nanos          BIGINT NOT NULL,
    price_version       TEXT NOT NULL,
    latency_ms          BIGINT NOT NULL,
    ttft_ms             BIGINT,
    streamed            BOOLEAN NOT NULL,
    status              TEXT NOT NULL,
    http_status         BIGINT NOT NULL,
    error_code          TEXT,
    estimated           BOOLEAN NOT NULL,
    data_class          TEXT,
    findings            TEXT NOT NULL,
    decision            TEXT NOT NULL,
    exception_id        TEXT,
    prompt_hash         TEXT,
    key_id              TEXT
);
CREATE INDEX usage_events_ts ON usage_events (ts_us);
CREATE INDEX usage_events_user_ts ON usage_events (user_id, ts_us);
CREATE INDEX usage_events_team_ts ON usage_events (team_id, ts_us);
CREATE INDEX usage_events_task ON usage_events (task) WHERE task IS NOT NULL;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    use_case    TEXT,
    project_id  TEXT,
    track       TEXT,
    label       TEXT,
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    ts_us       BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
-- The program never changes an entry; this stops accidents. Someone with
-- the database owner's rights can disable it, which is what the hash chain
-- is for.
CREATE FUNCTION tokenwise_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tokenwise_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tokenwise_audit_append_only();
