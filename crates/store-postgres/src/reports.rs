//! What reports read: calls summed per charge period and group, from the
//! daily usage rollup (kept by the batch insert's statement) and, for
//! periods that do not start and end at UTC midnight, from the events.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::TokenUsage;
use tokenwise_ledger::rollup::DAY_US;
use tokenwise_ledger::store::reports::{
    DaySums, Totals, bucket_of, decision_counts_sql, rollup_sql, shared_prompts_sql, sort_decisions, sort_shared,
    usage_totals_sql, whole_days,
};
use tokenwise_ledger::{DecisionCount, ReportStore, SharedPrompt, StoreError, UsageTotals, to_micros};

fn key(r: &tokio_postgres::Row, at: usize) -> Result<[String; 7], StoreError> {
    let text = |i: usize| get::<Option<String>>(r, at + i).map(Option::unwrap_or_default);
    Ok([text(0)?, text(1)?, text(2)?, text(3)?, text(4)?, text(5)?, text(6)?])
}

fn sums(r: &tokio_postgres::Row, at: usize) -> Result<DaySums, StoreError> {
    let n = |i: usize| get::<Option<i64>>(r, at + i).map(Option::unwrap_or_default);
    let u = |i: usize| n(i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(DaySums {
        calls: n(0)?,
        usage: TokenUsage { input: u(1)?, output: u(2)?, cached_read: u(3)?, cache_write: u(4)?, reasoning: u(5)? },
        cost_nanos: n(6)?,
    })
}

/// SUM over BIGINT is NUMERIC in PostgreSQL: cast back, exactly.
fn cast(sql: String) -> String {
    let mut sql = sql.replace("COUNT(*)", "COUNT(*)::BIGINT");
    for col in
        ["input_tokens", "output_tokens", "cached_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_nanos"]
    {
        sql = sql.replace(&format!("SUM({col})"), &format!("SUM({col})::BIGINT"));
    }
    sql
}

#[async_trait]
impl ReportStore for PgStore {
    async fn decision_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<DecisionCount>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        let sql = decision_counts_sql("ts_us >= $1 AND ts_us < $2").replace("COUNT(*)", "COUNT(*)::BIGINT");
        let client = self.client().await?;
        let rows = client.query(&sql, &[&from, &to]).await.map_err(db_err)?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(DecisionCount {
                    use_case: get(r, 0)?,
                    decision: get(r, 1)?,
                    status: get(r, 2)?,
                    findings: get(r, 3)?,
                    calls: u64::try_from(get::<i64>(r, 4)?).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        sort_decisions(&mut out);
        Ok(out)
    }

    async fn shared_prompts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SharedPrompt>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        let sql = shared_prompts_sql("last_ts_us >= $1 AND last_ts_us < $2").replace("COUNT(*)", "COUNT(*)::BIGINT");
        let client = self.client().await?;
        let rows = client.query(&sql, &[&from, &to]).await.map_err(db_err)?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(SharedPrompt {
                    prompt_hash: get(r, 0)?,
                    team_id: get(r, 1)?,
                    template: get(r, 2)?,
                    tasks: u64::try_from(get::<i64>(r, 3)?).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        sort_shared(&mut out);
        Ok(out)
    }

    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError> {
        let edges: Vec<i64> = edges.iter().copied().map(to_micros).collect();
        let whole = whole_days(&edges);
        let client = self.rollup_client().await?;
        let mut out = Totals::default();
        let days: Vec<(i64, i64)> =
            edges.windows(2).zip(&whole).filter(|(_, w)| **w).map(|(e, _)| (e[0] / DAY_US, e[1] / DAY_US)).collect();
        if let (Some(d0), Some(d1)) = (days.iter().map(|d| d.0).min(), days.iter().map(|d| d.1).max()) {
            let sql = rollup_sql(&|i| format!("${i}"), team.is_some());
            let rows = match team {
                Some(t) => client.query(&sql, &[&d0, &d1, &t]).await,
                None => client.query(&sql, &[&d0, &d1]).await,
            }
            .map_err(db_err)?;
            for r in &rows {
                let day: i64 = get(r, 0)?;
                // A day inside a period that is not whole is read from the events.
                if let Some(b) = bucket_of(&edges, day * DAY_US).filter(|b| whole[*b]) {
                    out.add(b, key(r, 1)?, sums(r, 8)?);
                }
            }
        }
        let (all, one) = usage_totals_sql(&|i| format!("${i}"));
        let (all, one) = (cast(all), cast(one));
        for (bucket, w) in edges.windows(2).enumerate().filter(|(b, _)| !whole[*b]) {
            let rows = match team {
                Some(t) => client.query(&one, &[&w[0], &w[1], &t]).await,
                None => client.query(&all, &[&w[0], &w[1]]).await,
            }
            .map_err(db_err)?;
            for r in &rows {
                out.add(bucket, key(r, 0)?, sums(r, 7)?);
            }
        }
        Ok(out.rows())
    }
}
