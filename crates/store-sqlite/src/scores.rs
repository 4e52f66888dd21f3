//! What scoring reads: calls summed per person, day, use case and template,
//! and the rules each scoring version stood for.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_core::Nanos;
use tokenwise_ledger::{ActivityRow, ScoreStore, StoreError, to_micros};

const DAY_US: i64 = 86_400_000_000;

#[async_trait]
impl ScoreStore for SqliteStore {
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT user_id, (ts_us - ?1) / ?3, use_case, template, COUNT(*), \
                     SUM(status = 'blocked'), SUM(status <> 'blocked' AND decision IN ('redact', 'reroute')), \
                     SUM(exception_id IS NOT NULL), SUM(input_tokens + output_tokens), SUM(cost_nanos) \
                     FROM usage_events WHERE ts_us >= ?1 AND ts_us < ?2 \
                     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3 NULLS FIRST, 4 NULLS FIRST",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from, to, DAY_US], |r| {
                    let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
                    Ok(ActivityRow {
                        user_id: r.get(0)?,
                        day: u16::try_from(r.get::<_, i64>(1)?).unwrap_or(u16::MAX),
                        use_case: r.get(2)?,
                        template: r.get(3)?,
                        calls: n(4)?,
                        blocked: n(5)?,
                        flagged: n(6)?,
                        exception_calls: n(7)?,
                        tokens: n(8)?,
                        cost: Nanos(r.get(9)?),
                    })
                })
                .map_err(corrupt)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(corrupt)
        })
        .await
    }

    async fn keep_rules(&self, version: &str, rules_json: &str, at: Timestamp) -> Result<(), StoreError> {
        let (version, rules) = (version.to_string(), rules_json.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO scoring_rules (version, rules, first_us) VALUES (?1, ?2, ?3) ON CONFLICT (version) DO NOTHING",
                params![version, rules, to_micros(at)],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn rules(&self, version: &str) -> Result<Option<String>, StoreError> {
        let version = version.to_string();
        self.read(move |c| {
            c.query_row("SELECT rules FROM scoring_rules WHERE version = ?1", [version], |r| r.get(0))
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn validated_before(&self, before: Timestamp) -> Result<Vec<(String, String)>, StoreError> {
        let before = to_micros(before);
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT DISTINCT user_id, use_case FROM outcomes WHERE status = 'validated' AND reported_us < ?1 \
                     ORDER BY 1, 2",
                )
                .map_err(db_err)?;
            let rows = st.query_map([before], |r| Ok((r.get(0)?, r.get(1)?))).map_err(corrupt)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(corrupt)
        })
        .await
    }

    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        let (name, fresh) = (name.to_string(), fresh.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO server_secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, fresh],
            )
            .map_err(db_err)?;
            c.query_row("SELECT value FROM server_secrets WHERE name = ?1", [name], |r| r.get(0)).map_err(corrupt)
        })
        .await
    }
}
