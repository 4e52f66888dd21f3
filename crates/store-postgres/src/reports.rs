//! What reports read: calls summed per charge period and group.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::store::reports::usage_totals_sql;
use tokenwise_ledger::{ReportStore, StoreError, UsageTotals, to_micros};

fn count(r: &tokio_postgres::Row, i: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(get::<Option<i64>>(r, i)?.unwrap_or(0)).unwrap_or(0))
}

fn row(bucket: usize, r: &tokio_postgres::Row) -> Result<UsageTotals, StoreError> {
    Ok(UsageTotals {
        bucket,
        team_id: get(r, 0)?,
        project_id: get(r, 1)?,
        use_case: get(r, 2)?,
        template: get(r, 3)?,
        model: get(r, 4)?,
        provider: get(r, 5)?,
        price_version: get(r, 6)?,
        calls: count(r, 7)?,
        usage: TokenUsage {
            input: count(r, 8)?,
            output: count(r, 9)?,
            cached_read: count(r, 10)?,
            cache_write: count(r, 11)?,
            reasoning: count(r, 12)?,
        },
        cost: Nanos(get::<Option<i64>>(r, 13)?.unwrap_or(0)),
    })
}

#[async_trait]
impl ReportStore for PgStore {
    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError> {
        // SUM over BIGINT is NUMERIC in PostgreSQL: cast back, exactly.
        let (all, one) = usage_totals_sql(&|i| format!("${i}"));
        let cast = |sql: String| {
            sql.replace("COUNT(*)", "COUNT(*)::BIGINT")
                .replace("SUM(input_tokens)", "SUM(input_tokens)::BIGINT")
                .replace("SUM(output_tokens)", "SUM(output_tokens)::BIGINT")
                .replace("SUM(cached_read_tokens)", "SUM(cached_read_tokens)::BIGINT")
                .replace("SUM(cache_write_tokens)", "SUM(cache_write_tokens)::BIGINT")
                .replace("SUM(reasoning_tokens)", "SUM(reasoning_tokens)::BIGINT")
                .replace("SUM(cost_nanos)", "SUM(cost_nanos)::BIGINT")
        };
        let (all, one) = (cast(all), cast(one));
        let client = self.client().await?;
        let mut out = Vec::new();
        for (bucket, w) in edges.windows(2).enumerate() {
            let (a, b) = (to_micros(w[0]), to_micros(w[1]));
            let rows = match team {
                Some(t) => client.query(&one, &[&a, &b, &t]).await,
                None => client.query(&all, &[&a, &b]).await,
            }
            .map_err(db_err)?;
            for r in &rows {
                out.push(row(bucket, r)?);
            }
        }
        UsageTotals::sort(&mut out);
        Ok(out)
    }
}
