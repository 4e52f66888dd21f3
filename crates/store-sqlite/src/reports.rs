//! What reports read: calls summed per charge period and group, from the
//! daily usage rollup (kept here by the writer) and, for periods that do
//! not start and end at UTC midnight, from the events.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use tokenwise_core::TokenUsage;
use tokenwise_ledger::rollup::DAY_US;
use tokenwise_ledger::store::reports::{
    DayKey, DaySums, Totals, bucket_of, decision_counts_sql, rollup_sql, shared_prompts_sql, sort_decisions,
    sort_shared, usage_totals_sql, whole_days,
};
use tokenwise_ledger::{DecisionCount, ReportStore, SharedPrompt, StoreError, UsageTotals, to_micros};

/// Adds newly stored events (summed by `usage_rollup`) to the daily usage
/// rollup, in the writer's transaction.
pub(crate) fn roll_up(
    tx: &rusqlite::Transaction<'_>,
    sums: std::collections::BTreeMap<DayKey<'_>, DaySums>,
) -> Result<(), StoreError> {
    if sums.is_empty() {
        return Ok(());
    }
    let mut st = tx
        .prepare_cached(concat!(
            "INSERT INTO usage_daily (day, team_id, project_id, use_case, template, model, provider, price_version, \
             calls, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_nanos) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (day, team_id, project_id, use_case, template, model, provider, price_version) DO UPDATE SET ",
            add_excluded!(
                "calls",
                "input_tokens",
                "output_tokens",
                "cached_read_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
                "cost_nanos"
            )
        ))
        .map_err(db_err)?;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for ((day, team, project, use_case, template, model, provider, pv), s) in sums {
        st.execute(params![
            day,
            team,
            project,
            use_case,
            template,
            model,
            provider,
            pv,
            s.calls,
            n(s.usage.input),
            n(s.usage.output),
            n(s.usage.cached_read),
            n(s.usage.cache_write),
            n(s.usage.reasoning),
            s.cost_nanos
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

fn key(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<[String; 7]> {
    let text = |i: usize| r.get::<_, Option<String>>(at + i).map(Option::unwrap_or_default);
    Ok([text(0)?, text(1)?, text(2)?, text(3)?, text(4)?, text(5)?, text(6)?])
}

fn sums(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<DaySums> {
    let n = |i: usize| r.get::<_, Option<i64>>(at + i).map(Option::unwrap_or_default);
    let u = |i: usize| n(i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(DaySums {
        calls: n(0)?,
        usage: TokenUsage { input: u(1)?, output: u(2)?, cached_read: u(3)?, cache_write: u(4)?, reasoning: u(5)? },
        cost_nanos: n(6)?,
    })
}

fn from_rollup(c: &Connection, edges: &[i64], team: Option<&str>, out: &mut Totals) -> Result<(), StoreError> {
    let whole = whole_days(edges);
    let days: Vec<(i64, i64)> =
        edges.windows(2).zip(&whole).filter(|(_, w)| **w).map(|(e, _)| (e[0] / DAY_US, e[1] / DAY_US)).collect();
    let (Some(d0), Some(d1)) = (days.iter().map(|d| d.0).min(), days.iter().map(|d| d.1).max()) else {
        return Ok(());
    };
    let sql = rollup_sql(&|i| format!("?{i}"), team.is_some());
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = match team {
        Some(t) => st.query(params![d0, d1, t]),
        None => st.query(params![d0, d1]),
    }
    .map_err(db_err)?;
    while let Some(r) = rows.next().map_err(corrupt)? {
        let day: i64 = r.get(0).map_err(corrupt)?;
        // A day inside a period that is not whole is read from the events.
        if let Some(b) = bucket_of(edges, day * DAY_US).filter(|b| whole[*b]) {
            out.add(b, key(r, 1).map_err(corrupt)?, sums(r, 8).map_err(corrupt)?);
        }
    }
    Ok(())
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn shared_prompts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SharedPrompt>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            // `+last_ts_us`: a month is most of the table, read in key order
            // rather than one probe per row through the time index.
            let sql = shared_prompts_sql("+last_ts_us >= ?1 AND +last_ts_us < ?2");
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params![from, to], |r| {
                    Ok(SharedPrompt {
                        prompt_hash: r.get(0)?,
                        team_id: r.get(1)?,
                        template: r.get(2)?,
                        tasks: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    })
                })
                .map_err(db_err)?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)?;
            sort_shared(&mut out);
            Ok(out)
        })
        .await
    }

    async fn decision_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<DecisionCount>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let mut st = c.prepare_cached(&decision_counts_sql("ts_us >= ?1 AND ts_us < ?2")).map_err(db_err)?;
            let rows = st
                .query_map(params![from, to], |r| {
                    Ok(DecisionCount {
                        use_case: r.get(0)?,
                        decision: r.get(1)?,
                        status: r.get(2)?,
                        findings: r.get(3)?,
                        calls: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    })
                })
                .map_err(db_err)?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)?;
            sort_decisions(&mut out);
            Ok(out)
        })
        .await
    }

    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError> {
        let edges: Vec<i64> = edges.iter().copied().map(to_micros).collect();
        let team = team.map(str::to_string);
        self.read(move |c| {
            let mut out = Totals::default();
            from_rollup(c, &edges, team.as_deref(), &mut out)?;
            let (all, one) = usage_totals_sql(&|i| format!("?{i}"));
            let whole = whole_days(&edges);
            // Periods cut part-way through a day: one range scan of the
            // time index each.
            for (bucket, w) in edges.windows(2).enumerate().filter(|(b, _)| !whole[*b]) {
                let mut st = c.prepare_cached(if team.is_some() { &one } else { &all }).map_err(db_err)?;
                let mut rows = match &team {
                    Some(t) => st.query(params![w[0], w[1], t]),
                    None => st.query(params![w[0], w[1]]),
                }
                .map_err(db_err)?;
                while let Some(r) = rows.next().map_err(corrupt)? {
                    out.add(bucket, key(r, 0).map_err(corrupt)?, sums(r, 7).map_err(corrupt)?);
                }
            }
            Ok(out.rows())
        })
        .await
    }
}
