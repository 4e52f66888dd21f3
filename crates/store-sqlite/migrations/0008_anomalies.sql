-- The prompt's minhash (near-duplicate prompts, text never stored).
ALTER TABLE usage_events ADD COLUMN prompt_minhash INTEGER;

-- Calls summed per UTC day, person, use case ('' for none) and model, kept
-- by the writer in the same transaction as the events: what the anomaly
-- detectors read instead of every call.
CREATE TABLE model_daily (
    day        BIGINT NOT NULL,
    user_id    TEXT NOT NULL,
    use_case   TEXT NOT NULL,
    model      TEXT NOT NULL,
    calls      BIGINT NOT NULL,
    tokens     BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    PRIMARY KEY (day, user_id, use_case, model)
);
-- Events stored before this table existed.
INSERT INTO model_daily
SELECT ts_us / 86400000000, user_id, COALESCE(use_case, ''), model, COUNT(*), SUM(input_tokens + output_tokens),
       SUM(cost_nanos)
FROM usage_events GROUP BY 1, 2, 3, 4;

-- Each prompt per UTC day and person: how many calls sent it, and its
-- sketch. Kept by the writer with the events; a partial index holds only
-- the prompts sent more than once, so finding repeats reads those alone.
CREATE TABLE prompt_daily (
    day         BIGINT NOT NULL,
    user_id     TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    calls       BIGINT NOT NULL,
    minhash     BIGINT,
    PRIMARY KEY (day, user_id, prompt_hash)
);
CREATE INDEX prompt_daily_repeated ON prompt_daily (day, calls) WHERE calls >= 2;
-- Distinct prompts per UTC day and person sharing the first band of their
-- sketch: the candidate near-duplicate groups, found the same way.
CREATE TABLE sketch_daily (
    day     BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    band0   BIGINT NOT NULL,
    prompts BIGINT NOT NULL,
    PRIMARY KEY (day, user_id, band0)
);
CREATE INDEX sketch_daily_shared ON sketch_daily (day, prompts) WHERE prompts >= 2;
-- Events stored before these tables existed.
INSERT INTO prompt_daily
SELECT ts_us / 86400000000, user_id, prompt_hash, COUNT(*), MIN(prompt_minhash)
FROM usage_events WHERE prompt_hash IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO sketch_daily
SELECT day, user_id, minhash & 65535, COUNT(*) FROM prompt_daily WHERE minhash IS NOT NULL GROUP BY 1, 2, 3;

-- Findings under their stable ids: first seen, alerted once.
CREATE TABLE anomalies (
    id            TEXT PRIMARY KEY,
    detector      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    team_id       TEXT,
    use_case      TEXT,
    period        TEXT NOT NULL,
    time_window   TEXT NOT NULL,
    severity      TEXT NOT NULL,
    explanation   TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    first_seen_us BIGINT NOT NULL,
    last_seen_us  BIGINT NOT NULL,
    alerted_us    BIGINT
);
CREATE INDEX anomalies_period ON anomalies (period, first_seen_us);

-- Incident reviews.
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    occurred_us BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    updated_us  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX incidents_occurred ON incidents (occurred_us, id);
