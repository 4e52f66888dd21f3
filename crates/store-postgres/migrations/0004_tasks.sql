-- Each person's task's running totals: every usage event that names a task
-- joins its row in the same transaction as the event itself (group commit),
-- so the two never disagree. A task id is per person: the key is both.
CREATE TABLE tasks (
    user_id        TEXT NOT NULL,
    task           TEXT NOT NULL,
    -- The first call's team; the first use case, template and prompt hash
    -- the task's calls named.
    team_id        TEXT NOT NULL,
    use_case       TEXT,
    template       TEXT,
    prompt_hash    TEXT,
    first_ts_us    BIGINT NOT NULL,
    last_ts_us     BIGINT NOT NULL,
    calls          BIGINT NOT NULL,
    cost_nanos     BIGINT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    PRIMARY KEY (user_id, task)
);
-- Finished tasks over a window (baselines, scoring).
CREATE INDEX tasks_last_ts ON tasks (last_ts_us);

-- The tasks of events recorded before this table existed.
INSERT INTO tasks (user_id, task, team_id, use_case, template, prompt_hash, first_ts_us, last_ts_us, calls,
                   cost_nanos, input_tokens, output_tokens)
SELECT g.user_id, g.task,
       (SELECT e.team_id FROM usage_events e WHERE e.task = g.task AND e.user_id = g.user_id
        ORDER BY e.ts_us, e.id LIMIT 1),
       (SELECT e.use_case FROM usage_events e WHERE e.task = g.task AND e.user_id = g.user_id
        AND e.use_case IS NOT NULL ORDER BY e.ts_us, e.id LIMIT 1),
       (SELECT e.template FROM usage_events e WHERE e.task = g.task AND e.user_id = g.user_id
        AND e.template IS NOT NULL ORDER BY e.ts_us, e.id LIMIT 1),
       (SELECT e.prompt_hash FROM usage_events e WHERE e.task = g.task AND e.user_id = g.user_id
        AND e.prompt_hash IS NOT NULL ORDER BY e.ts_us, e.id LIMIT 1),
       g.first_ts_us, g.last_ts_us, g.calls, g.cost_nanos, g.input_tokens, g.output_tokens
FROM (SELECT user_id, task, MIN(ts_us) AS first_ts_us, MAX(ts_us) AS last_ts_us, COUNT(*) AS calls,
             SUM(cost_nanos)::BIGINT AS cost_nanos, SUM(input_tokens)::BIGINT AS input_tokens,
             SUM(output_tokens)::BIGINT AS output_tokens
      FROM usage_events WHERE task IS NOT NULL GROUP BY user_id, task) g;
