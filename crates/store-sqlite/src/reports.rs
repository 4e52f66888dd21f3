//! What reports read: calls summed per charge period and group.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::store::reports::usage_totals_sql;
use tokenwise_ledger::{ReportStore, StoreError, UsageTotals, to_micros};

fn count(v: Option<i64>) -> u64 {
    u64::try_from(v.unwrap_or(0)).unwrap_or(0)
}

fn row(bucket: usize, r: &rusqlite::Row<'_>) -> rusqlite::Result<UsageTotals> {
    Ok(UsageTotals {
        bucket,
        team_id: r.get(0)?,
        project_id: r.get(1)?,
        use_case: r.get(2)?,
        template: r.get(3)?,
        model: r.get(4)?,
        provider: r.get(5)?,
        price_version: r.get(6)?,
        calls: count(r.get(7)?),
        usage: TokenUsage {
            input: count(r.get(8)?),
            output: count(r.get(9)?),
            cached_read: count(r.get(10)?),
            cache_write: count(r.get(11)?),
            reasoning: count(r.get(12)?),
        },
        cost: Nanos(r.get::<_, Option<i64>>(13)?.unwrap_or(0)),
    })
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError> {
        let edges: Vec<i64> = edges.iter().copied().map(to_micros).collect();
        let team = team.map(str::to_string);
        self.read(move |c| {
            let (all, one) = usage_totals_sql(&|i| format!("?{i}"));
            let mut out = Vec::new();
            // One range scan of the time index per charge period.
            for (bucket, w) in edges.windows(2).enumerate() {
                let rows = match &team {
                    Some(t) => {
                        let mut st = c.prepare_cached(&one).map_err(db_err)?;
                        st.query_map(params![w[0], w[1], t], |r| row(bucket, r))
                            .map_err(db_err)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }
                    None => {
                        let mut st = c.prepare_cached(&all).map_err(db_err)?;
                        st.query_map(params![w[0], w[1]], |r| row(bucket, r))
                            .map_err(db_err)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }
                };
                out.extend(rows.map_err(corrupt)?);
            }
            UsageTotals::sort(&mut out);
            Ok(out)
        })
        .await
    }
}
