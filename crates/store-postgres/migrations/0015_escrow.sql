-- Escrow (see docs/architecture.md, "Budgets across replicas: escrow").
-- A replica's allowance on an envelope: `granted_nanos` is counted in the
-- envelope's held_nanos, so the envelope's own invariant covers it. Leased
-- like holds: a replica that stops renewing loses it.
CREATE TABLE budget_allowances (
    owner         TEXT NOT NULL,
    key           TEXT NOT NULL,
    grant_id      BIGINT NOT NULL,
    granted_nanos BIGINT NOT NULL,
    expires_us    BIGINT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX budget_allowances_expiry ON budget_allowances (expires_us);
CREATE INDEX budget_allowances_key ON budget_allowances (key);
CREATE SEQUENCE budget_allowance_grants;

-- Captures recorded against an allowance, written with their usage event
-- (same statement), not yet folded into the envelope: insert-only, so a
-- capture locks no shared row.
CREATE TABLE budget_escrow_captures (
    owner      TEXT NOT NULL,
    key        TEXT NOT NULL,
    grant_id   BIGINT NOT NULL,
    event_id   TEXT NOT NULL,
    cost_nanos BIGINT NOT NULL
);
CREATE INDEX budget_escrow_captures_owner ON budget_escrow_captures (owner, key);
CREATE INDEX budget_escrow_captures_key ON budget_escrow_captures (key);

-- Set when a hold was refused while other replicas' allowances could have
-- made it fit: they return what they do not hold and draw no more.
ALTER TABLE budget_envelopes ADD COLUMN escrow_closed BOOLEAN NOT NULL DEFAULT false;
