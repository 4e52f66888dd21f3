-- Calls summed per person, UTC day, use case and template ('' for none),
-- kept by the writer in the same transaction as the events, so scoring a
-- month reads a few rows per person and day instead of every call.
CREATE TABLE activity_daily (
    day             BIGINT NOT NULL,
    user_id         TEXT NOT NULL,
    use_case        TEXT NOT NULL,
    template        TEXT NOT NULL,
    calls           BIGINT NOT NULL,
    blocked         BIGINT NOT NULL,
    flagged         BIGINT NOT NULL,
    exception_calls BIGINT NOT NULL,
    tokens          BIGINT NOT NULL,
    cost_nanos      BIGINT NOT NULL,
    PRIMARY KEY (day, user_id, use_case, template)
);
-- Events stored before this table existed.
INSERT INTO activity_daily
SELECT ts_us / 86400000000, user_id, COALESCE(use_case, ''), COALESCE(template, ''), COUNT(*),
       SUM(CASE WHEN status = 'blocked' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status <> 'blocked' AND decision IN ('redact', 'reroute') THEN 1 ELSE 0 END),
       SUM(CASE WHEN exception_id IS NOT NULL THEN 1 ELSE 0 END),
       SUM(input_tokens + output_tokens), SUM(cost_nanos)
FROM usage_events GROUP BY 1, 2, 3, 4;
