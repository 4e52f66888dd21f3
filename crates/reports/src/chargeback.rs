//! Chargeback: what each team, project, cost centre and use case spent in
//! a period, with the outcomes it produced. Rows are sums of ledger lines,
//! so any grouping of them adds up to the ledger's total exactly.

use crate::decimal::{per, usd};
use crate::kinds::{TokenKind, split};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use tokenwise_core::{Nanos, TokenUsage};

/// The ledger's calls summed over one charge period (`bucket`, an index
/// into the report's periods) and one team, project, use case, template,
/// model, provider and price version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    pub bucket: usize,
    pub team: String,
    pub project: Option<String>,
    pub use_case: Option<String>,
    pub template: Option<String>,
    pub model: String,
    pub provider: String,
    pub price_version: String,
    pub calls: u64,
    pub usage: TokenUsage,
    pub cost: Nanos,
}

/// Outcomes reported in one charge period by one team for one use case,
/// whose task began with `template`. Rejected outcomes are not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub bucket: usize,
    pub team: String,
    pub use_case: String,
    pub template: Option<String>,
    pub count: u64,
}

/// A team's or project's name and cost centre.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub cost_centre: String,
}

/// Who the ids in the ledger are, from the policy.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub org: String,
    pub teams: BTreeMap<String, Named>,
    pub projects: BTreeMap<String, Named>,
}

impl Directory {
    /// A project's cost centre (the policy gives each project one, its
    /// team's unless set), else the team's; empty when neither is known.
    pub fn cost_centre(&self, team: &str, project: Option<&str>) -> String {
        project
            .and_then(|p| self.projects.get(p))
            .or_else(|| self.teams.get(team))
            .map(|n| n.cost_centre.clone())
            .unwrap_or_default()
    }

    pub fn team_name(&self, team: &str) -> String {
        self.teams.get(team).map_or_else(|| team.to_string(), |t| t.name.clone())
    }
}

/// One row of the chargeback: a team, project and use case over the
/// period. Token kinds are disjoint (see [`TokenKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChargebackRow {
    pub team: String,
    pub team_name: String,
    pub cost_centre: String,
    pub project: Option<String>,
    pub use_case: Option<String>,
    pub calls: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: String,
    pub cost_nanos: i64,
    /// Outcomes counted on this row (see [`allocate_outcomes`]).
    pub outcomes: u64,
    pub cost_per_outcome_usd: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub calls: u64,
    pub cost_usd: String,
    pub cost_nanos: i64,
    pub outcomes: u64,
    /// Outcomes of a team and use case that spent nothing in the period.
    pub outcomes_without_spend: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Chargeback {
    pub period: String,
    pub currency: &'static str,
    pub rows: Vec<ChargebackRow>,
    pub totals: Totals,
}

/// Where an outcome may be counted: a row's team, use case and cost, and
/// for rows that keep them, its charge period and template.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub team: &'a str,
    pub use_case: Option<&'a str>,
    pub bucket: Option<usize>,
    pub template: Option<Option<&'a str>>,
    pub cost: Nanos,
}

/// Counts each outcome once, on one row: the costliest row of its team,
/// use case, charge period and template; failing that, of its team, use
/// case and period; failing that, of its team and use case. An outcome
/// of a team and use case with no row is returned apart. Outcomes carry
/// no project or model, so this is the one place they are attributed;
/// the sum over rows plus the rest is always the number of outcomes.
pub fn allocate_outcomes(targets: &[Target<'_>], outcomes: &[OutcomeCount]) -> (Vec<u64>, u64) {
    let mut by_key: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        if let Some(uc) = t.use_case {
            by_key.entry((t.team, uc)).or_default().push(i);
        }
    }
    let mut counts = vec![0u64; targets.len()];
    let mut rest = 0;
    for o in outcomes {
        let Some(candidates) = by_key.get(&(o.team.as_str(), o.use_case.as_str())) else {
            rest += o.count;
            continue;
        };
        let same_bucket = |t: &Target<'_>| t.bucket.is_none_or(|b| b == o.bucket);
        let same_template = |t: &Target<'_>| t.template.is_none_or(|x| x == o.template.as_deref());
        let levels: [&dyn Fn(&Target<'_>) -> bool; 3] =
            [&|t| same_bucket(t) && same_template(t), &|t| same_bucket(t), &|_| true];
        let best = levels.iter().find_map(|level| {
            candidates
                .iter()
                .copied()
                .filter(|i| level(&targets[*i]))
                .max_by(|a, b| targets[*a].cost.cmp(&targets[*b].cost).then(b.cmp(a)))
        });
        match best {
            Some(i) => counts[i] += o.count,
            None => rest += o.count,
        }
    }
    (counts, rest)
}

#[derive(Default)]
struct Sum {
    calls: u64,
    usage: TokenUsage,
    cost: Nanos,
}

/// The period's chargeback: one row per team, project and use case,
/// costliest first.
pub fn chargeback(period: &str, lines: &[UsageLine], outcomes: &[OutcomeCount], dir: &Directory) -> Chargeback {
    let mut sums: BTreeMap<(String, Option<String>, Option<String>), Sum> = BTreeMap::new();
    for l in lines {
        let s = sums.entry((l.team.clone(), l.project.clone(), l.use_case.clone())).or_default();
        s.calls += l.calls;
        s.usage = s.usage.saturating_add(&l.usage);
        s.cost = s.cost.saturating_add(l.cost);
    }
    let mut keyed: Vec<_> = sums.into_iter().collect();
    keyed.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then(a.0.cmp(&b.0)));
    let targets: Vec<Target<'_>> = keyed
        .iter()
        .map(|((team, _, uc), s)| Target { team, use_case: uc.as_deref(), bucket: None, template: None, cost: s.cost })
        .collect();
    let (counts, rest) = allocate_outcomes(&targets, outcomes);
    let rows: Vec<ChargebackRow> = keyed
        .iter()
        .zip(counts)
        .map(|(((team, project, use_case), s), outcomes)| {
            let kinds = split(&s.usage);
            let n = |k: TokenKind| kinds.iter().find(|(x, _)| *x == k).map_or(0, |(_, n)| *n);
            ChargebackRow {
                team: team.clone(),
                team_name: dir.team_name(team),
                cost_centre: dir.cost_centre(team, project.as_deref()),
                project: project.clone(),
                use_case: use_case.clone(),
                calls: s.calls,
                input_tokens: n(TokenKind::Input),
                cached_input_tokens: n(TokenKind::CachedInput),
                cache_write_tokens: n(TokenKind::CacheWrite),
                output_tokens: n(TokenKind::Output),
                reasoning_tokens: n(TokenKind::Reasoning),
                cost_usd: usd(s.cost),
                cost_nanos: s.cost.0,
                outcomes,
                cost_per_outcome_usd: per(s.cost, outcomes).map(usd),
            }
        })
        .collect();
    let cost: Nanos = rows.iter().map(|r| Nanos(r.cost_nanos)).sum();
    let totals = Totals {
        calls: rows.iter().map(|r| r.calls).sum(),
        cost_usd: usd(cost),
        cost_nanos: cost.0,
        outcomes: rows.iter().map(|r| r.outcomes).sum::<u64>() + rest,
        outcomes_without_spend: rest,
    };
    Chargeback { period: period.to_string(), currency: "USD", rows, totals }
}

pub const CSV_HEADER: [&str; 16] = [
    "period",
    "team",
    "team_name",
    "cost_centre",
    "project",
    "use_case",
    "calls",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "outcomes",
    "cost_per_outcome_usd",
    "currency",
];

/// The chargeback as CSV (RFC 4180), one row per team, project and use
/// case; money as exact decimal dollars; an absent value is empty.
pub fn to_csv(c: &Chargeback) -> String {
    let mut out = crate::csv::record(&CSV_HEADER);
    for r in &c.rows {
        out.push_str(&crate::csv::record(&[
            c.period.clone(),
            r.team.clone(),
            r.team_name.clone(),
            r.cost_centre.clone(),
            r.project.clone().unwrap_or_default(),
            r.use_case.clone().unwrap_or_default(),
            r.calls.to_string(),
            r.input_tokens.to_string(),
            r.cached_input_tokens.to_string(),
            r.cache_write_tokens.to_string(),
            r.output_tokens.to_string(),
            r.reasoning_tokens.to_string(),
            r.cost_usd.clone(),
            r.outcomes.to_string(),
            r.cost_per_outcome_usd.clone().unwrap_or_default(),
            c.currency.to_string(),
        ]));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn line(
        bucket: usize,
        team: &str,
        project: Option<&str>,
        uc: &str,
        model: &str,
        cost: i64,
    ) -> UsageLine {
        UsageLine {
            bucket,
            team: team.into(),
            project: project.map(Into::into),
            use_case: Some(uc.into()),
            template: None,
            model: model.into(),
            provider: "openai".into(),
            price_version: format!("{model}@v1"),
            calls: 1,
            usage: TokenUsage { input: 1_000, output: 100, cached_read: 400, ..TokenUsage::default() },
            cost: Nanos(cost),
        }
    }

    fn dir() -> Directory {
        let named = |n: &str, cc: &str| Named { name: n.into(), cost_centre: cc.into() };
        Directory {
            org: "Acme".into(),
            teams: BTreeMap::from([
                ("support".into(), named("Support", "CC-1")),
                ("data".into(), named("Data", "CC-2")),
            ]),
            projects: BTreeMap::from([("atlas".into(), named("Atlas", "CC-9"))]),
        }
    }

    #[test]
    fn rows_per_team_project_and_use_case_with_cost_centres() {
        let lines = [
            line(0, "support", None, "reply", "m1", 100),
            line(1, "support", None, "reply", "m2", 50),
            line(0, "data", Some("atlas"), "analysis", "m1", 500),
        ];
        let outcomes =
            [OutcomeCount { bucket: 1, team: "support".into(), use_case: "reply".into(), template: None, count: 3 }];
        let c = chargeback("2026-11", &lines, &outcomes, &dir());
        assert_eq!(c.rows.len(), 2);
        assert_eq!((c.rows[0].team.as_str(), c.rows[0].cost_centre.as_str()), ("data", "CC-9"));
        assert_eq!(c.rows[1].cost_centre, "CC-1");
        assert_eq!((c.rows[1].calls, c.rows[1].cost_nanos, c.rows[1].outcomes), (2, 150, 3));
        assert_eq!(c.rows[1].cost_per_outcome_usd.as_deref(), Some("0.000000050"));
        assert_eq!(c.rows[1].input_tokens + c.rows[1].cached_input_tokens, 2_000);
        assert_eq!(c.totals.cost_nanos, 650);
        let csv = to_csv(&c);
        assert!(csv.starts_with("period,team,team_name,cost_centre,project,use_case,calls"));
        assert!(csv.contains("2026-11,support,Support,CC-1,,reply,2,1200,800,0,200,0,0.000000150,3,0.000000050,USD"));
    }

    #[test]
    fn an_outcome_without_spend_is_counted_apart() {
        let lines = [line(0, "support", None, "reply", "m1", 100)];
        let outcomes =
            [OutcomeCount { bucket: 0, team: "data".into(), use_case: "analysis".into(), template: None, count: 2 }];
        let c = chargeback("2026-11", &lines, &outcomes, &dir());
        assert_eq!((c.totals.outcomes, c.totals.outcomes_without_spend), (2, 2));
    }

    fn arb_line() -> impl Strategy<Value = UsageLine> {
        (0usize..3, 0usize..3, 0usize..3, 0usize..3, 0i64..5_000_000_000, 0u64..4).prop_map(
            |(b, t, p, u, cost, calls)| {
                let mut l = line(
                    b,
                    ["support", "data", "ghost"][t],
                    [None, Some("atlas"), Some("zeus")][p],
                    ["a", "b", "c"][u],
                    "m",
                    cost,
                );
                l.calls = calls;
                l
            },
        )
    }

    proptest! {
        #[test]
        fn rows_sum_to_the_ledger_total_by_any_grouping(lines in proptest::collection::vec(arb_line(), 0..40), n in 0u64..5) {
            let total: i64 = lines.iter().map(|l| l.cost.0).sum();
            let outcomes = [OutcomeCount { bucket: 0, team: "support".into(), use_case: "a".into(), template: None, count: n }];
            let c = chargeback("p", &lines, &outcomes, &dir());
            prop_assert_eq!(c.totals.cost_nanos, total);
            prop_assert_eq!(c.totals.outcomes, n);
            // Regrouped by team, by cost centre and by use case, the rows
            // still add up to the ledger, group by group.
            for key in [0, 1, 2] {
                let mut from_rows: BTreeMap<String, i64> = BTreeMap::new();
                for r in &c.rows {
                    let k = [r.team.clone(), r.cost_centre.clone(), r.use_case.clone().unwrap_or_default()][key].clone();
                    *from_rows.entry(k).or_default() += r.cost_nanos;
                }
                let mut from_lines: BTreeMap<String, i64> = BTreeMap::new();
                for l in &lines {
                    let cc = dir().cost_centre(&l.team, l.project.as_deref());
                    let k = [l.team.clone(), cc, l.use_case.clone().unwrap_or_default()][key].clone();
                    *from_lines.entry(k).or_default() += l.cost.0;
                }
                from_rows.retain(|_, v| *v != 0);
                from_lines.retain(|_, v| *v != 0);
                prop_assert_eq!(from_rows, from_lines);
            }
        }
    }
}
