-- Outcomes: results of work, joined to their calls by task, validated or
-- rejected once (a conditional UPDATE: of two replicas deciding at once,
-- one wins).
CREATE TABLE outcomes (
    id                TEXT PRIMARY KEY,
    task              TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    team_id           TEXT NOT NULL,
    use_case          TEXT NOT NULL,
    kind              TEXT NOT NULL,
    value_nanos       BIGINT NOT NULL,
    value_hours_milli BIGINT,
    evidence          TEXT,
    quality           INTEGER,
    escalated         BOOLEAN NOT NULL,
    error             BOOLEAN NOT NULL,
    status            TEXT NOT NULL,
    reported_by       TEXT NOT NULL,
    signed            BOOLEAN NOT NULL,
    reported_us       BIGINT NOT NULL,
    decided_by        TEXT,
    decided_us        BIGINT,
    decided_quality   INTEGER,
    metered           BOOLEAN NOT NULL
);
CREATE INDEX outcomes_reported ON outcomes (reported_us, id);
CREATE INDEX outcomes_user ON outcomes (user_id, reported_us);
CREATE INDEX outcomes_team_status ON outcomes (team_id, status, reported_us);
CREATE INDEX outcomes_task ON outcomes (task);

-- Appeals: one per subject, ever.
CREATE TABLE appeals (
    id               TEXT PRIMARY KEY,
    subject_kind     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    appellant        TEXT NOT NULL,
    comment          TEXT NOT NULL,
    status           TEXT NOT NULL,
    filed_us         BIGINT NOT NULL,
    decided_by       TEXT,
    decided_us       BIGINT,
    decision_comment TEXT,
    UNIQUE (subject_kind, subject_id)
);
CREATE INDEX appeals_status ON appeals (status, filed_us);

-- Badges: once per subject, badge and what it was for.
CREATE TABLE badge_awards (
    subject     TEXT NOT NULL,
    badge       TEXT NOT NULL,
    key         TEXT NOT NULL,
    period      TEXT NOT NULL,
    awarded_us  BIGINT NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (subject, badge, key)
);
CREATE INDEX badge_awards_period ON badge_awards (period, awarded_us);
