-- The peer: the same JSON lines into the same usage_events table and
-- indexes with the plain sqlite3 shell (.import, then one INSERT … SELECT
-- with json_extract), WAL and synchronous=FULL as tokenwise runs; no
-- mapping to people, pricing, budgets, task totals or scoring rollup.
-- Run by bench/ingest/run.sh with the table's schema prepended.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE raw (j TEXT);
.mode ascii
.separator "\037" "\n"
.import events.jsonl raw
BEGIN;
INSERT INTO usage_events
SELECT json_extract(j, '$.id'), unixepoch(json_extract(j, '$.time')) * 1000000, 'ingest_jsonl',
       json_extract(j, '$.user'), 'team', NULL, json_extract(j, '$.use_case'), NULL, json_extract(j, '$.task'),
       'production', NULL, 'ingested', json_extract(j, '$.model'), json_extract(j, '$.model'), 'upstream',
       json_extract(j, '$.usage.input_tokens'), json_extract(j, '$.usage.output_tokens'),
       json_extract(j, '$.usage.cache_read_tokens'), 0, 0, 0, 'price', 0, NULL, 0, 'ok', 200, NULL, 0, NULL,
       '{}', 'allow', NULL, NULL, NULL, '[]', NULL, unixepoch() * 1000000
FROM raw;
COMMIT;
DROP TABLE raw;
