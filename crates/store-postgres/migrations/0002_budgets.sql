-- Budgets: the envelopes a call was held on, captured with its event.
ALTER TABLE usage_events ADD COLUMN budget_keys TEXT NOT NULL DEFAULT '[]';

-- One row per budget, scope and period; every replica holds and captures
-- on these rows, each change one statement or one short transaction that
-- locks rows in key order.
CREATE TABLE budget_envelopes (
    key             TEXT PRIMARY KEY,
    budget_id       TEXT NOT NULL,
    scope           TEXT NOT NULL,
    period_start_us BIGINT NOT NULL,
    period_end_us   BIGINT NOT NULL,
    limit_nanos     BIGINT NOT NULL,
    hard            BOOLEAN NOT NULL,
    alert_at        TEXT NOT NULL,
    captured_nanos  BIGINT NOT NULL DEFAULT 0,
    held_nanos      BIGINT NOT NULL DEFAULT 0,
    alerted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX budget_envelopes_period ON budget_envelopes (period_end_us, period_start_us);

-- Open holds: leased by the replica that placed them.
CREATE TABLE budget_holds (
    hold_id    TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_us BIGINT NOT NULL
);
CREATE INDEX budget_holds_expiry ON budget_holds (expires_us);
CREATE INDEX budget_holds_owner ON budget_holds (owner);
CREATE TABLE budget_hold_parts (
    hold_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    PRIMARY KEY (hold_id, key)
);

CREATE TABLE budget_unlocks (
    key     TEXT NOT NULL,
    tranche INTEGER NOT NULL,
    at_us   BIGINT NOT NULL,
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
    cap_nanos      BIGINT NOT NULL,
    duration_secs  BIGINT NOT NULL,
    models         TEXT NOT NULL,
    data_class     TEXT,
    created_us     BIGINT NOT NULL,
    decided_by     TEXT,
    decided_us     BIGINT,
    valid_until_us BIGINT
);
CREATE INDEX exceptions_scope ON exceptions (scope, status);
