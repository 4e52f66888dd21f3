//! What scoring reads: calls summed per person, day, use case and template,
//! and the rules each scoring version stood for.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{get, uint};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::Nanos;
use tokenwise_ledger::{ActivityRow, ScoreStore, StoreError, to_micros};

const DAY_US: i64 = 86_400_000_000;

#[async_trait]
impl ScoreStore for PgStore {
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT user_id, (ts_us - $1) / $3, use_case, template, COUNT(*)::BIGINT, \
                 COUNT(*) FILTER (WHERE status = 'blocked')::BIGINT, \
                 COUNT(*) FILTER (WHERE status <> 'blocked' AND decision IN ('redact', 'reroute'))::BIGINT, \
                 COUNT(exception_id)::BIGINT, SUM(input_tokens + output_tokens)::BIGINT, SUM(cost_nanos)::BIGINT \
                 FROM usage_events WHERE ts_us >= $1 AND ts_us < $2 \
                 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3 NULLS FIRST, 4 NULLS FIRST",
                &[&to_micros(from), &to_micros(to), &DAY_US],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ActivityRow {
                    user_id: get(r, 0)?,
                    day: u16::try_from(get::<i64>(r, 1)?).unwrap_or(u16::MAX),
                    use_case: get(r, 2)?,
                    template: get(r, 3)?,
                    calls: uint(get(r, 4)?),
                    blocked: uint(get(r, 5)?),
                    flagged: uint(get(r, 6)?),
                    exception_calls: uint(get(r, 7)?),
                    tokens: uint(get(r, 8)?),
                    cost: Nanos(get(r, 9)?),
                })
            })
            .collect()
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
