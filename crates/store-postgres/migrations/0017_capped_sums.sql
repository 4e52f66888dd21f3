-- Sums of money, tokens and calls that stop at the largest BIGINT
-- ($9.2 billion; 9.2e18 tokens) instead of failing. Without them a day past
-- $9.2B (an admin importing ~9,300 calls at ingest's $1M-a-record bound)
-- made every fold of the roll-ups fail with "bigint out of range", and with
-- it every read of them, for good. The SQLite store caps the same sums
-- (`min(a + b, 9223372036854775807)`). Both are plain SQL, so PostgreSQL
-- inlines them into the statements that call them.
CREATE FUNCTION tw_add(a BIGINT, b BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT CASE WHEN b > 0 AND a > 9223372036854775807 - b THEN 9223372036854775807 ELSE a + b END';

CREATE FUNCTION tw_cap(n NUMERIC) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT LEAST(n, 9223372036854775807)::BIGINT';
