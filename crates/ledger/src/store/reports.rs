//! What reports read: the ledger's calls summed per charge period and per
//! what finance charges back on (team, project, use case, template) and
//! what a provider bills by (model, upstream, price version). Summed by
//! the database: a month of millions of calls leaves it as a few rows per
//! day and group.

use super::StoreError;
use crate::rollup::DAY_US;
use async_trait::async_trait;
use jiff::Timestamp;
use std::collections::BTreeMap;
use tokenwise_core::{Nanos, TokenUsage};

/// The calls of one charge period and group, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotals {
    /// Index of the charge period: `[edges[bucket], edges[bucket + 1])`.
    pub bucket: usize,
    pub team_id: String,
    pub project_id: Option<String>,
    pub use_case: Option<String>,
    pub template: Option<String>,
    /// The model that answered.
    pub model: String,
    /// The upstream that served it.
    pub provider: String,
    pub price_version: String,
    /// Every row, refusals included (at their cost: nothing).
    pub calls: u64,
    pub usage: TokenUsage,
    pub cost: Nanos,
}

impl UsageTotals {
    /// The order both backends return rows in.
    pub fn sort(rows: &mut [UsageTotals]) {
        rows.sort_by(|a, b| {
            (a.bucket, &a.team_id, &a.project_id, &a.use_case, &a.template, &a.model, &a.provider, &a.price_version)
                .cmp(&(
                    b.bucket,
                    &b.team_id,
                    &b.project_id,
                    &b.use_case,
                    &b.template,
                    &b.model,
                    &b.provider,
                    &b.price_version,
                ))
        });
    }
}

/// Tasks of one team that began with a prompt that tasks of other teams
/// began with too, per template they named first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPrompt {
    pub prompt_hash: String,
    pub team_id: String,
    pub template: Option<String>,
    pub tasks: u64,
}

/// Calls the policy acted on — something found in the prompt, a decision
/// other than allow, or a refusal — counted per use case, decision, status
/// and findings (the stored `kind → count` JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCount {
    pub use_case: Option<String>,
    pub decision: String,
    pub status: String,
    pub findings: String,
    pub calls: u64,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The tasks whose last call was in `[from, to)` and whose first prompt
    /// (its hash) began tasks of at least two teams in that range, counted
    /// per prompt hash, team and first template; ordered by those. Counted
    /// by the database: a month's millions of tasks never leave it.
    async fn shared_prompts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SharedPrompt>, StoreError>;

    /// Every usage event in `[edges[0], edges[last])` summed per charge
    /// period (`edges` ascending; period `i` is `[edges[i], edges[i + 1])`)
    /// and per team, project, use case, template, model, provider and price
    /// version; only `team`'s events when given. Ordered by
    /// [`UsageTotals::sort`]. Sums are exact. Periods between UTC
    /// midnights are read from the daily usage rollup the writers keep in
    /// the events' transaction; the others from the events.
    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError>;

    /// The calls of `[from, to)` the policy acted on, counted per use case,
    /// decision, status and findings ([`decision_counts_sql`]); ordered by
    /// [`sort_decisions`]. Counted by the database: the month's calls that
    /// passed untouched never leave it.
    async fn decision_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<DecisionCount>, StoreError>;
}

/// [`ReportStore::decision_counts`]' SQL; `range` is the condition on
/// `ts_us` each backend writes (with its placeholders).
pub fn decision_counts_sql(range: &str) -> String {
    format!(
        "SELECT use_case, decision, status, findings, COUNT(*) FROM usage_events WHERE {range} \
         AND (findings <> '{{}}' OR decision <> 'allow' OR status = 'blocked') \
         GROUP BY use_case, decision, status, findings"
    )
}

/// The order both backends return decision counts in.
pub fn sort_decisions(rows: &mut [DecisionCount]) {
    rows.sort_by(|a, b| {
        (&a.use_case, &a.decision, &a.status, &a.findings).cmp(&(&b.use_case, &b.decision, &b.status, &b.findings))
    });
}

/// [`ReportStore::shared_prompts`]' SQL; `range` is the condition on
/// `last_ts_us` each backend writes (with its placeholders).
pub fn shared_prompts_sql(range: &str) -> String {
    format!(
        "SELECT prompt_hash, team_id, template, COUNT(*) FROM tasks WHERE {range} AND prompt_hash IN \
         (SELECT prompt_hash FROM tasks WHERE {range} AND prompt_hash IS NOT NULL \
         GROUP BY prompt_hash HAVING COUNT(DISTINCT team_id) > 1) \
         GROUP BY prompt_hash, team_id, template"
    )
}

/// The order both backends return shared prompts in (NULL sorts apart in
/// each dialect).
pub fn sort_shared(rows: &mut [SharedPrompt]) {
    rows.sort_by(|a, b| (&a.prompt_hash, &a.team_id, &a.template).cmp(&(&b.prompt_hash, &b.team_id, &b.template)));
}

/// The SQL both backends run per charge period (`?` placeholders are
/// rewritten by each backend): the events of `[from, to)`, of one team
/// or all, grouped.
pub fn usage_totals_sql(placeholder: &dyn Fn(usize) -> String) -> (String, String) {
    let p = placeholder;
    let select = "SELECT team_id, project_id, use_case, template, model, provider, price_version, COUNT(*), \
         SUM(input_tokens), SUM(output_tokens), SUM(cached_read_tokens), SUM(cache_write_tokens), \
         SUM(reasoning_tokens), SUM(cost_nanos) FROM usage_events";
    let group = "GROUP BY team_id, project_id, use_case, template, model, provider, price_version";
    let all = format!("{select} WHERE ts_us >= {} AND ts_us < {} {group}", p(1), p(2));
    let one = format!("{select} WHERE team_id = {} AND ts_us >= {} AND ts_us < {} {group}", p(3), p(1), p(2));
    (all, one)
}

/// A day of the usage rollup: (UTC day since the epoch, team, project,
/// use case, template — '' for none —, model, provider, price version).
pub type DayKey<'a> = (i64, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// What a day of the rollup sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaySums {
    pub calls: i64,
    pub usage: TokenUsage,
    pub cost_nanos: i64,
}

/// A batch of new events summed per rollup key, in key order (the order
/// the writers lock rows in).
pub fn usage_rollup<'a>(events: impl IntoIterator<Item = &'a crate::UsageEvent>) -> BTreeMap<DayKey<'a>, DaySums> {
    let mut out: BTreeMap<DayKey<'a>, DaySums> = BTreeMap::new();
    for e in events {
        let key = (
            crate::rollup::utc_day(e.ts.as_microsecond()),
            e.team_id.as_str(),
            e.project_id.as_deref().unwrap_or_default(),
            e.use_case.as_deref().unwrap_or_default(),
            e.template.as_deref().unwrap_or_default(),
            e.model.as_str(),
            e.provider.as_str(),
            e.price_version.as_str(),
        );
        let s = out.entry(key).or_default();
        s.calls = s.calls.saturating_add(1);
        s.usage = s.usage.saturating_add(&e.usage);
        s.cost_nanos = s.cost_nanos.saturating_add(e.cost.0);
    }
    out
}

/// How `usage_totals` reads each charge period: one whose edges are both
/// UTC midnights from the daily rollup, any other from the events.
pub fn whole_days(edges: &[i64]) -> Vec<bool> {
    edges.windows(2).map(|w| w[0].rem_euclid(DAY_US) == 0 && w[1].rem_euclid(DAY_US) == 0).collect()
}

/// The charge period an instant falls in.
pub fn bucket_of(edges: &[i64], ts: i64) -> Option<usize> {
    let i = edges.partition_point(|e| *e <= ts);
    (i > 0 && i < edges.len()).then(|| i - 1)
}

type TotalsKey = (usize, String, Option<String>, Option<String>, Option<String>, String, String, String);

/// Rows from the rollup and from the events, merged per charge period and
/// group; '' reads as none.
#[derive(Debug, Default)]
pub struct Totals(BTreeMap<TotalsKey, DaySums>);

impl Totals {
    pub fn add(&mut self, bucket: usize, key: [String; 7], sums: DaySums) {
        let some = |s: String| (!s.is_empty()).then_some(s);
        let [team, project, use_case, template, model, provider, price_version] = key;
        let k = (bucket, team, some(project), some(use_case), some(template), model, provider, price_version);
        let e = self.0.entry(k).or_default();
        e.calls = e.calls.saturating_add(sums.calls);
        e.usage = e.usage.saturating_add(&sums.usage);
        e.cost_nanos = e.cost_nanos.saturating_add(sums.cost_nanos);
    }

    /// In [`UsageTotals::sort`] order.
    pub fn rows(self) -> Vec<UsageTotals> {
        self.0
            .into_iter()
            .map(|((bucket, team_id, project_id, use_case, template, model, provider, price_version), s)| UsageTotals {
                bucket,
                team_id,
                project_id,
                use_case,
                template,
                model,
                provider,
                price_version,
                calls: u64::try_from(s.calls).unwrap_or(0),
                usage: s.usage,
                cost: Nanos(s.cost_nanos),
            })
            .collect()
    }
}

/// The rollup's rows of the days `[d0, d1)` (of one team, or all).
pub fn rollup_sql(placeholder: &dyn Fn(usize) -> String, one_team: bool) -> String {
    let p = placeholder;
    let team = if one_team { format!(" AND team_id = {}", p(3)) } else { String::new() };
    format!(
        "SELECT day, team_id, project_id, use_case, template, model, provider, price_version, calls, input_tokens, \
         output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_nanos FROM usage_daily \
         WHERE day >= {} AND day < {}{team}",
        p(1),
        p(2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_on_midnights_read_the_rollup_and_instants_find_their_period() {
        let h = DAY_US / 24;
        let edges = [20_392 * DAY_US - h, 20_392 * DAY_US, 20_394 * DAY_US, 20_395 * DAY_US - h];
        assert_eq!(whole_days(&edges), vec![false, true, false]);
        assert_eq!(bucket_of(&edges, 20_392 * DAY_US - h), Some(0));
        assert_eq!(bucket_of(&edges, 20_393 * DAY_US), Some(1));
        assert_eq!(bucket_of(&edges, 20_395 * DAY_US - h), None);
        assert_eq!(bucket_of(&edges, 0), None);
    }
}
