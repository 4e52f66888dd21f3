-- The dashboard's sessions: only the SHA-256 of the browser's token is
-- kept, with the person, the hash of the API key the session was opened
-- with (checked again on every request, so a revoked key ends it) or none
-- when a trusted proxy vouched for the person, the CSRF token its forms
-- carry, and when it ends. In the database so that every replica serves
-- every session.
CREATE TABLE dashboard_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    key_hash    TEXT,
    via         TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_us);

-- Answers to "is this motivating / confusing / unfair?" on a scorecard,
-- with the reward model and rules version the person was looking at: what
-- a pilot's report sets beside the incentive's effect on behaviour.
CREATE TABLE score_feedback (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    period         TEXT NOT NULL,
    answer         TEXT NOT NULL CHECK (answer IN ('motivating', 'confusing', 'unfair')),
    comment        TEXT,
    model          TEXT NOT NULL,
    rules_version  TEXT NOT NULL,
    at_us          BIGINT NOT NULL
);
CREATE INDEX score_feedback_period ON score_feedback (period, user_id);
