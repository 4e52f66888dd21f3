//! A pilot's rows from the ledger: each person's calls, outcomes,
//! exceptions and anomalies summed per week (week 0 is the pilot's first),
//! and the feedback answers in the week they were given.

use super::WEEK;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use tokenwise_ledger::{ActivityRow, OutcomeStatus, Store, StoreError};
use tokenwise_pilots::{Answer, Row, Tally};
use tokenwise_policy::{Pilot, Policy};

fn internal(e: StoreError) -> AppError {
    AppError::internal(e.to_string())
}

/// The span the report reads: `weeks_before` whole weeks before the start
/// to `to` (the pilot's end, or now).
pub(super) struct Span {
    pub from: Timestamp,
    pub start: Timestamp,
    pub to: Timestamp,
    pub weeks_before: u32,
}

impl Span {
    /// The week of `t`, counted from the pilot's start (−1: the week before).
    pub fn week(&self, t: Timestamp) -> i32 {
        let secs = t.duration_since(self.start).as_secs();
        i32::try_from(secs.div_euclid(WEEK.as_secs())).unwrap_or(i32::MAX)
    }
}

/// For each template id, its newest version the policy lists: versions
/// compare part by part, numerically where both parts are numbers.
fn latest_versions(policy: &Policy) -> BTreeMap<&str, &str> {
    let key = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-']).map(|p| (p.parse::<u64>().unwrap_or(u64::MAX), p.to_string())).collect()
    };
    let mut out: BTreeMap<&str, &str> = BTreeMap::new();
    for t in policy.templates.values() {
        let newer = out.get(t.id.as_str()).is_none_or(|v| key(&t.version) > key(v));
        if newer {
            out.insert(&t.id, &t.version);
        }
    }
    out
}

struct Rows<'a> {
    span: &'a Span,
    people: &'a BTreeSet<String>,
    use_cases: &'a [String],
    by: BTreeMap<(String, i32), Tally>,
}

impl Rows<'_> {
    fn counts(&self, user: &str, use_case: Option<&str>) -> bool {
        self.people.contains(user)
            && (self.use_cases.is_empty() || use_case.is_some_and(|u| self.use_cases.iter().any(|x| x == u)))
    }

    fn at(&mut self, user: &str, week: i32) -> &mut Tally {
        self.by.entry((user.to_string(), week)).or_default()
    }

    fn calls(&mut self, policy: &Policy, latest: &BTreeMap<&str, &str>, rows: Vec<ActivityRow>) {
        let before = i32::try_from(self.span.weeks_before).unwrap_or(0);
        for r in rows {
            if !self.counts(&r.user_id, r.use_case.as_deref()) {
                continue;
            }
            let week = i32::from(r.day / 7) - before;
            let template = r.template.as_deref();
            let approved = template.and_then(|t| policy.templates.get(t)).is_some_and(|t| t.approved);
            let newest =
                template.and_then(|t| t.split_once('@')).is_some_and(|(id, v)| latest.get(id).is_some_and(|l| *l == v));
            let t = self.at(&r.user_id, week);
            t.calls = t.calls.saturating_add(r.calls);
            t.tokens = t.tokens.saturating_add(r.tokens);
            t.spend = t.spend.saturating_add(r.cost);
            t.blocks += r.blocked;
            t.violations += r.flagged;
            t.exception_calls += r.exception_calls;
            if template.is_some() {
                t.template_calls += r.calls;
                t.latest_template_calls += if newest { r.calls } else { 0 };
            }
            t.approved_template_calls += if approved { r.calls.saturating_sub(r.blocked) } else { 0 };
        }
    }
}

/// Every person's weekly rows over the span.
pub(super) async fn rows(store: &dyn Store, policy: &Policy, p: &Pilot, span: &Span) -> AppResult<Vec<Row>> {
    let people: BTreeSet<String> = p.cohort.union(&p.control).cloned().collect();
    let mut rows = Rows { span, people: &people, use_cases: &p.use_cases, by: BTreeMap::new() };
    let latest = latest_versions(policy);
    rows.calls(policy, &latest, store.activity(span.from, span.to).await.map_err(internal)?);
    for o in store.outcomes_between(span.from, span.to).await.map_err(internal)? {
        if !rows.counts(&o.user_id, Some(&o.use_case)) {
            continue;
        }
        let t = rows.at(&o.user_id, span.week(o.reported_at));
        t.reported += 1;
        t.escalated += u64::from(o.escalated);
        t.errors += u64::from(o.error);
        if o.status == OutcomeStatus::Validated {
            t.outcomes += 1;
            if let Some(q) = o.decided_quality.or(o.quality) {
                t.quality_sum += u64::from(q);
                t.quality_n += 1;
            }
        }
    }
    for e in store.list_exceptions(None, None, 100_000).await.map_err(internal)? {
        if people.contains(&e.requested_by) && e.created_at >= span.from && e.created_at < span.to {
            rows.at(&e.requested_by, span.week(e.created_at)).exceptions_requested += 1;
        }
    }
    for period in months(policy, span) {
        for a in store.anomalies(&period).await.map_err(internal)? {
            let inside = a.first_seen >= span.from && a.first_seen < span.to;
            let about_use_case = p.use_cases.is_empty() || a.use_case.as_ref().is_none_or(|u| p.use_cases.contains(u));
            if inside && !a.suppressed() && people.contains(&a.user_id) && about_use_case {
                rows.at(&a.user_id, span.week(a.first_seen)).anomalies += 1;
            }
        }
    }
    Ok(rows.by.into_iter().map(|((person, week), tally)| Row { person, week, tally }).collect())
}

/// The `YYYY-MM` months the span touches, in the org's time zone.
fn months(policy: &Policy, span: &Span) -> Vec<String> {
    let tz = &policy.org.time_zone;
    let label = |t: Timestamp| {
        let d = t.to_zoned_datetime(tz.clone()).date();
        format!("{:04}-{:02}", d.year(), d.month())
    };
    let mut out: Vec<String> = Vec::new();
    let mut t = span.from;
    while t < span.to {
        let l = label(t);
        if !out.contains(&l) {
            out.push(l);
        }
        t = t.saturating_add(jiff::SignedDuration::from_hours(24 * 7)).unwrap_or(span.to);
    }
    let last = label(span.to.saturating_sub(jiff::SignedDuration::from_secs(1)).unwrap_or(span.to));
    if !out.contains(&last) {
        out.push(last);
    }
    out
}

/// The pilot's feedback answers, in the week they were given.
pub(super) async fn answers(store: &dyn Store, p: &Pilot, span: &Span) -> AppResult<Vec<Answer>> {
    Ok(store
        .feedback(None, Some(&p.id))
        .await
        .map_err(internal)?
        .into_iter()
        .map(|f| Answer {
            week: span.week(f.at),
            about: f.about.unwrap_or_default(),
            answer: f.answer,
            comment: f.comment,
            rules_version: f.rules_version,
        })
        .collect())
}
