-- What each scoring-rules version stands for: a past period re-scores
-- under the rules it was scored by.
CREATE TABLE scoring_rules (
    version     TEXT PRIMARY KEY,
    rules       TEXT NOT NULL,
    first_us    INTEGER NOT NULL
);
