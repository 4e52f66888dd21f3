-- Batches of new usage events not yet counted in the daily roll-ups
-- (usage_daily, prompt_daily, sketch_daily, model_daily, activity_daily).
-- The event statement writes one row a batch with the events themselves,
-- so a batch is pending exactly when its events are stored; a replica folds
-- pending batches into the roll-ups in bulk, off the call's commit, and
-- every reader of a roll-up folds what is pending first (see events.rs).
-- Upserting five roll-up rows in every batch's statement was a fifth of
-- PostgreSQL's time a call, and made replicas queue on the same hot rows
-- for the length of each other's commits.
CREATE TABLE rollup_pending (
    seq BIGSERIAL PRIMARY KEY,
    ids TEXT[] NOT NULL
);
