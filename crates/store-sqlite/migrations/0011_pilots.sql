-- Feedback belongs to a pilot: each answer names the pilot, what it is
-- about (score, leaderboard, nudge, budget) and the ISO week it was given
-- in, and a person answers once a week about each subject of a pilot.
-- Answers kept before pilots existed have none of the three (NULLs never
-- collide in the unique index).
ALTER TABLE score_feedback ADD COLUMN pilot TEXT;
ALTER TABLE score_feedback ADD COLUMN about TEXT;
ALTER TABLE score_feedback ADD COLUMN week TEXT;
CREATE UNIQUE INDEX score_feedback_once_a_week ON score_feedback (user_id, pilot, about, week);
CREATE INDEX score_feedback_pilot ON score_feedback (pilot, at_us);

-- What governance decided about a pilot: its reward model and rules
-- version promoted to the org's default, or the pilot ended. Once each.
CREATE TABLE pilot_decisions (
    pilot_id       TEXT PRIMARY KEY,
    decision       TEXT NOT NULL CHECK (decision IN ('promoted', 'ended')),
    reward_model   TEXT NOT NULL,
    rules_version  TEXT NOT NULL,
    decided_by     TEXT NOT NULL,
    at_us          BIGINT NOT NULL
);
