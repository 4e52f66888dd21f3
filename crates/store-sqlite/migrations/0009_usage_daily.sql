-- Calls summed per UTC day and what chargeback and reconciliation group
-- by: team, project, use case and template ('' for none), model, upstream
-- and price version. Kept by the writer in the same transaction as the
-- events, so a month's chargeback reads a few rows per day and group
-- instead of every call.
CREATE TABLE usage_daily (
    day                 BIGINT NOT NULL,
    team_id             TEXT NOT NULL,
    project_id          TEXT NOT NULL,
    use_case            TEXT NOT NULL,
    template            TEXT NOT NULL,
    model               TEXT NOT NULL,
    provider            TEXT NOT NULL,
    price_version       TEXT NOT NULL,
    calls               BIGINT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cached_read_tokens  BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost_nanos          BIGINT NOT NULL,
    PRIMARY KEY (day, team_id, project_id, use_case, template, model, provider, price_version)
);
-- Events stored before this table existed.
INSERT INTO usage_daily
SELECT ts_us / 86400000000, team_id, COALESCE(project_id, ''), COALESCE(use_case, ''), COALESCE(template, ''),
       model, provider, price_version, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cached_read_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_nanos)
FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
