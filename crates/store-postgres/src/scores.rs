//! What scoring reads: calls summed per person, day, use case and template,
//! and the rules each scoring version stood for.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_ledger::rollup::{DAY_US, DayTotals};
use tokenwise_ledger::store::scores::{Sums, whole_days};
use tokenwise_ledger::{ActivityRow, ScoreStore, StoreError, to_micros};

fn totals(r: &tokio_postgres::Row) -> Result<DayTotals, StoreError> {
    let n = |i: usize| get::<Option<i64>>(r, 4 + i).map(Option::unwrap_or_default);
    Ok(DayTotals {
        calls: n(0)?,
        blocked: n(1)?,
        flagged: n(2)?,
        exception_calls: n(3)?,
        tokens: n(4)?,
        cost_nanos: n(5)?,
    })
}

#[async_trait]
impl ScoreStore for PgStore {
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        let client = self.rollup_client().await?;
        let mut sums = Sums::default();
        let span = whole_days(from, to);
        if let Some((d0, d1)) = span {
            let rows = client
                .query(
                    "SELECT user_id, day, use_case, template, calls, blocked, flagged, exception_calls, tokens, \
                     cost_nanos FROM activity_daily WHERE day >= $1 AND day < $2",
                    &[&d0, &d1],
                )
                .await
                .map_err(db_err)?;
            for r in &rows {
                let day: i64 = get(r, 1)?;
                sums.add(get(r, 0)?, (day * DAY_US - from) / DAY_US, get(r, 2)?, get(r, 3)?, totals(r)?);
            }
        }
        // The partial days at either end, from the events themselves.
        let edges = match span {
            Some((d0, d1)) => vec![(from, d0 * DAY_US), (d1 * DAY_US, to)],
            None => vec![(from, to)],
        };
        for (a, b) in edges.into_iter().filter(|(a, b)| a < b) {
            let rows = client
                .query(
                    "SELECT user_id, (ts_us - $3) / $4, COALESCE(use_case, ''), COALESCE(template, ''), COUNT(*)::BIGINT, \
                     COUNT(*) FILTER (WHERE status = 'blocked')::BIGINT, \
                     COUNT(*) FILTER (WHERE status <> 'blocked' AND decision IN ('redact', 'reroute'))::BIGINT, \
                     COUNT(exception_id)::BIGINT, SUM(input_tokens + output_tokens)::BIGINT, SUM(cost_nanos)::BIGINT \
                     FROM usage_events WHERE ts_us >= $1 AND ts_us < $2 GROUP BY 1, 2, 3, 4",
                    &[&a, &b, &from, &DAY_US],
                )
                .await
                .map_err(db_err)?;
            for r in &rows {
                sums.add(get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?, totals(r)?);
            }
        }
        Ok(sums.rows())
    }

    async fn keep_rules(&self, version: &str, rules_json: &str, at: Timestamp) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO scoring_rules (version, rules, first_us) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
                &[&version, &rules_json, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn rules(&self, version: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT rules FROM scoring_rules WHERE version = $1", &[&version])
            .await
            .map_err(db_err)?;
        row.as_ref().map(|r| get(r, 0)).transpose()
    }

    async fn validated_before(&self, before: Timestamp) -> Result<Vec<(String, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT user_id, use_case FROM outcomes WHERE status = 'validated' AND reported_us < $1 ORDER BY 1, 2",
                &[&to_micros(before)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }

    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &fresh],
            )
            .await
            .map_err(db_err)?;
        let row =
            client.query_one("SELECT value FROM server_secrets WHERE name = $1", &[&name]).await.map_err(db_err)?;
        get(&row, 0)
    }
}
