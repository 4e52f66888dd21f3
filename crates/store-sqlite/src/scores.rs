//! What scoring reads: calls summed per person, day, use case and template,
//! and the rules each scoring version stood for.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_ledger::rollup::{DAY_US, DayKey, DayTotals};
use tokenwise_ledger::store::scores::{Sums, whole_days};
use tokenwise_ledger::{ActivityRow, ScoreStore, StoreError, to_micros};

/// Adds newly stored events (summed by `rollup`) to the daily rollup, in the
/// writer's transaction.
pub(crate) fn roll_up(
    tx: &rusqlite::Transaction<'_>,
    sums: std::collections::BTreeMap<DayKey<'_>, DayTotals>,
) -> Result<(), StoreError> {
    if sums.is_empty() {
        return Ok(());
    }
    let mut st = tx
        .prepare_cached(concat!(
            "INSERT INTO activity_daily (day, user_id, use_case, template, calls, blocked, flagged, exception_calls, \
             tokens, cost_nanos) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (day, user_id, use_case, template) DO UPDATE SET ",
            add_excluded!("calls", "blocked", "flagged", "exception_calls", "tokens", "cost_nanos")
        ))
        .map_err(db_err)?;
    for ((day, user, use_case, template), t) in sums {
        st.execute(params![
            day,
            user,
            use_case,
            template,
            t.calls,
            t.blocked,
            t.flagged,
            t.exception_calls,
            t.tokens,
            t.cost_nanos
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

fn totals(r: &rusqlite::Row<'_>, at: usize) -> Result<DayTotals, StoreError> {
    let n = |i: usize| r.get::<_, Option<i64>>(at + i).map(Option::unwrap_or_default).map_err(corrupt);
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
impl ScoreStore for SqliteStore {
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let mut sums = Sums::default();
            let span = whole_days(from, to);
            if let Some((d0, d1)) = span {
                let mut st = c
                    .prepare_cached(
                        "SELECT user_id, day, use_case, template, calls, blocked, flagged, exception_calls, tokens, \
                         cost_nanos FROM activity_daily WHERE day >= ?1 AND day < ?2",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query(params![d0, d1]).map_err(corrupt)?;
                while let Some(r) = rows.next().map_err(corrupt)? {
                    let day: i64 = r.get(1).map_err(corrupt)?;
                    sums.add(
                        r.get(0).map_err(corrupt)?,
                        (day * DAY_US - from) / DAY_US,
                        r.get(2).map_err(corrupt)?,
                        r.get(3).map_err(corrupt)?,
                        totals(r, 4)?,
                    );
                }
            }
            // The partial days at either end, from the events themselves.
            let edges = match span {
                Some((d0, d1)) => vec![(from, d0 * DAY_US), (d1 * DAY_US, to)],
                None => vec![(from, to)],
            };
            for (a, b) in edges.into_iter().filter(|(a, b)| a < b) {
                let mut st = c
                    .prepare_cached(
                        "SELECT user_id, (ts_us - ?3) / ?4, COALESCE(use_case, ''), COALESCE(template, ''), COUNT(*), \
                         SUM(status = 'blocked'), SUM(status <> 'blocked' AND decision IN ('redact', 'reroute')), \
                         SUM(exception_id IS NOT NULL), SUM(input_tokens + output_tokens), SUM(cost_nanos) \
                         FROM usage_events WHERE ts_us >= ?1 AND ts_us < ?2 GROUP BY 1, 2, 3, 4",
                    )
                    .map_err(db_err)?;
                let mut rows = st.query(params![a, b, from, DAY_US]).map_err(corrupt)?;
                while let Some(r) = rows.next().map_err(corrupt)? {
                    sums.add(
                        r.get(0).map_err(corrupt)?,
                        r.get(1).map_err(corrupt)?,
                        r.get(2).map_err(corrupt)?,
                        r.get(3).map_err(corrupt)?,
                        totals(r, 4)?,
                    );
                }
            }
            Ok(sums.rows())
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
