-- Budgets: the envelopes a call was held on, captured with its event.
ALTER TABLE usage_events ADD COLUMN budget_keys TEXT NOT NULL DEFAULT '[]';

-- One row per budget, scope and period. `held` lives in memory on SQLite
-- (one process: a restart voids every open hold).
CREATE TABLE budget_envelopes (
    key             TEXT PRIMARY KEY,
    budget_id       TEXT NOT NULL,
    scope           TEXT NOT NULL,
    period_start_us INTEGER NOT NULL,
    period_end_us   INTEGER NOT NULL,
    limit_nanos     INTEGER NOT NULL,
    hard            INTEGER NOT NULL,
    alert_at        TEXT NOT NULL,
    captured_nanos  INTEGER NOT NULL DEFAULT 0,
    alerted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX budget_envelopes_period ON budget_envelopes (period_end_us, period_start_us);

CREATE TABLE budget_unlocks (
    key     TEXT NOT NULL,
    tranche INTEGER NOT NULL,
    at_us   INTEGER NOT NULL,
    facts   TEXT NOT NULL,
    PRIMARY KEY (key, tranche)
);

CREATE TABLE exceptions (
    id             TEXT PRIMARY KEY,
    scope          TEXT NOT NULL,
    reason_code    TEXT NOT NULL,
    justification  TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    status         TEXT NOT NULL,
    cap_nanos      INTEGER NOT NULL,
    duration_secs  INTEGER NOT NULL,
    models         TEXT NOT NULL,
    data_class     TEXT,
    created_us     INTEGER NOT NULL,
    decided_by     TEXT,
    decided_us     INTEGER,
    valid_until_us INTEGER
);
CREATE INDEX exceptions_scope ON exceptions (scope, status);
