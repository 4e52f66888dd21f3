//! What reports read: the ledger's calls summed per charge period and per
//! what finance charges back on (team, project, use case, template) and
//! what a provider bills by (model, upstream, price version). Summed by
//! the database: a month of millions of calls leaves it as a few rows per
//! day and group.

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;
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

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Every usage event in `[edges[0], edges[last])` summed per charge
    /// period (`edges` ascending; period `i` is `[edges[i], edges[i + 1])`)
    /// and per team, project, use case, template, model, provider and price
    /// version; only `team`'s events when given. Ordered by
    /// [`UsageTotals::sort`]. Sums are exact.
    async fn usage_totals(&self, edges: &[Timestamp], team: Option<&str>) -> Result<Vec<UsageTotals>, StoreError>;
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
