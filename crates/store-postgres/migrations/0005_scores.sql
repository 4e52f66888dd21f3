-- What each scoring-rules version stands for: a past period re-scores
-- under the rules it was scored by.
CREATE TABLE scoring_rules (
    version     TEXT PRIMARY KEY,
    rules       TEXT NOT NULL,
    first_us    BIGINT NOT NULL
);

-- Secrets the server makes for itself, once per database (e.g. the key of
-- leaderboard pseudonyms), so every replica uses the same one.
CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);
