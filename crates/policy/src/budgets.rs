//! Which budget envelopes a request draws on, and the calendar periods they
//! cover. An envelope is one budget's allowance for one scope (the org, a
//! team, a user…) in one period (a day, week, month or quarter in the org's
//! time zone); its key names all three, so a new period starts a new
//! envelope by itself.

use crate::model::{Budget, BudgetScope, Policy, ScopeKind};
use crate::raw::{Enforcement, Period};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
pub use tokenwise_core::EnvelopeSpec as Envelope;
use tokenwise_core::{EnvelopeKey, Scope, Track};

/// What a request is, as far as budgets care.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user: &'a str,
    pub team: &'a str,
    pub project: Option<&'a str>,
    pub use_case: &'a str,
    pub track: Track,
}

/// The period containing `at`, as [start, end) instants, with the local
/// date it starts on. Weeks start on the org's `week_starts` day.
pub fn period_bounds(
    period: Period,
    at: Timestamp,
    tz: &TimeZone,
    week_starts: Weekday,
) -> (Timestamp, Timestamp, Date) {
    let local = at.to_zoned_datetime(tz.clone()).date();
    let start: Date = match period {
        Period::Day => local,
        Period::Week => {
            let back = (local.weekday().to_monday_zero_offset() - week_starts.to_monday_zero_offset()).rem_euclid(7);
            local.checked_sub(i64::from(back).days()).unwrap_or(local)
        }
        Period::Month => local.first_of_month(),
        Period::Quarter => {
            let q_month = (local.month() - 1) / 3 * 3 + 1;
            Date::new(local.year(), q_month, 1).unwrap_or(local)
        }
    };
    let next: Date = match period {
        Period::Day => start.tomorrow().unwrap_or(start),
        Period::Week => start.checked_add(7.days()).unwrap_or(start),
        Period::Month => start.checked_add(1.month()).unwrap_or(start),
        Period::Quarter => start.checked_add(3.months()).unwrap_or(start),
    };
    let instant = |d: Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp()).unwrap_or(at);
    (instant(start), instant(next), start)
}

/// The one scope of `budget` that `s` falls in, if any.
fn scope_of(budget: &Budget, s: &Subject<'_>) -> Option<Scope> {
    match &budget.scope {
        BudgetScope::One(one) => covers(one, s).then(|| one.clone()),
        BudgetScope::Each(ScopeKind::Team) => Some(Scope::Team(s.team.to_string())),
        BudgetScope::Each(ScopeKind::Project) => Some(Scope::Project(s.project?.to_string())),
        BudgetScope::Each(ScopeKind::UseCase) => Some(Scope::UseCase(s.use_case.to_string())),
        BudgetScope::Each(ScopeKind::User) => Some(Scope::User(s.user.to_string())),
    }
}

/// Whether a call of `s` falls in `scope`.
fn covers(scope: &Scope, s: &Subject<'_>) -> bool {
    match scope {
        Scope::Org => true,
        Scope::Team(id) => id == s.team,
        Scope::Project(id) => Some(id.as_str()) == s.project,
        Scope::UseCase(id) => id == s.use_case,
        Scope::User(id) => id == s.user,
    }
}

impl Policy {
    /// Every envelope `s` draws on at `at`: budgets of its track (or of
    /// both tracks) whose scope covers it.
    pub fn envelopes_for(&self, s: &Subject<'_>, at: Timestamp) -> Vec<Envelope> {
        self.budgets
            .iter()
            .filter(|b| b.track.is_none_or(|t| t == s.track))
            .filter_map(|b| {
                let scope = scope_of(b, s)?;
                let (start, end, period) = period_bounds(b.period, at, &self.org.time_zone, self.org.week_starts);
                let key = EnvelopeKey::Budget { budget: b.id.clone(), scope: scope.clone(), period };
                Some(Envelope {
                    key: key.to_string(),
                    budget_id: b.id.clone(),
                    scope: scope.to_string(),
                    period_start: start,
                    period_end: end,
                    limit: b.limit,
                    hard: b.enforcement == Enforcement::Hard,
                    alert_at_percent: b.alert_at_percent.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_file;
    use std::path::Path;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_the_org_calendar_and_time_zone() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        // 23:30 UTC on 30 Nov is already 1 Dec in Berlin.
        let at = ts("2026-11-30T23:30:00Z");
        let (s, e, d) = period_bounds(Period::Day, at, &tz, Weekday::Monday);
        assert_eq!(d.to_string(), "2026-12-01");
        assert_eq!(s, ts("2026-11-30T23:00:00Z"));
        assert_eq!(e, ts("2026-12-01T23:00:00Z"));
        let (_, _, d) = period_bounds(Period::Month, at, &tz, Weekday::Monday);
        assert_eq!(d.to_string(), "2026-12-01");
        let (s, e, d) = period_bounds(Period::Quarter, ts("2026-11-15T12:00:00Z"), &tz, Weekday::Monday);
        assert_eq!(d.to_string(), "2026-10-01");
        assert_eq!((s, e), (ts("2026-09-30T22:00:00Z"), ts("2026-12-31T23:00:00Z")));
        // Sat 28 Nov 2026: weeks from Monday 23 Nov, or from Sunday 22 Nov.
        let sat = ts("2026-11-28T12:00:00Z");
        assert_eq!(period_bounds(Period::Week, sat, &tz, Weekday::Monday).2.to_string(), "2026-11-23");
        assert_eq!(period_bounds(Period::Week, sat, &tz, Weekday::Sunday).2.to_string(), "2026-11-22");
        // A day across the DST change is 25 hours long.
        let (s, e, _) = period_bounds(Period::Day, ts("2026-10-25T12:00:00Z"), &tz, Weekday::Monday);
        assert_eq!(e.duration_since(s).as_secs(), 25 * 3600);
    }

    #[test]
    fn a_request_draws_on_every_envelope_that_applies() {
        let p = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml")).unwrap().policy;
        let s = Subject {
            user: "chen.wei",
            team: "platform",
            project: Some("apollo"),
            use_case: "code-review",
            track: Track::Production,
        };
        let keys: Vec<String> = p.envelopes_for(&s, ts("2026-11-28T10:00:00Z")).into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [
                "org-production|org|2026-11-01",
                "platform-monthly|team:platform|2026-11-01",
                "each-team-monthly|team:platform|2026-11-01",
                "apollo-quarter|project:apollo|2026-10-01",
                "each-project-monthly|project:apollo|2026-11-01",
                "per-person-daily|user:chen.wei|2026-11-28",
                "per-person-monthly|user:chen.wei|2026-11-01",
            ]
        );
        // Exploration draws on the sandbox budgets, not production's.
        let s = Subject { use_case: "code-sandbox", track: Track::Exploration, project: None, ..s };
        let keys: Vec<String> = p.envelopes_for(&s, ts("2026-11-28T10:00:00Z")).into_iter().map(|e| e.key).collect();
        assert!(keys.contains(&"org-sandbox|org|2026-11-01".to_string()));
        assert!(keys.contains(&"sandbox-weekly|use_case:code-sandbox|2026-11-23".to_string()));
        assert!(!keys.iter().any(|k| k.starts_with("org-production")));
    }

    #[test]
    fn envelopes_roll_over_with_the_calendar() {
        let p = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml")).unwrap().policy;
        let s = Subject {
            user: "ivan.petrov",
            team: "support",
            project: None,
            use_case: "support-reply",
            track: Track::Production,
        };
        let daily =
            |at: &str| p.envelopes_for(&s, ts(at)).into_iter().find(|e| e.budget_id == "per-person-daily").unwrap();
        // 23:59 and 00:01 Berlin time on either side of midnight.
        let before = daily("2026-11-28T22:59:00Z");
        let after = daily("2026-11-28T23:01:00Z");
        assert_eq!(before.key, "per-person-daily|user:ivan.petrov|2026-11-28");
        assert_eq!(after.key, "per-person-daily|user:ivan.petrov|2026-11-29");
        assert_eq!(before.period_end, after.period_start);
        // A new envelope: nothing carried over, the full limit again.
        assert_eq!(after.limit, before.limit);
        let monthly =
            |at: &str| p.envelopes_for(&s, ts(at)).into_iter().find(|e| e.budget_id == "support-monthly").unwrap().key;
        assert_eq!(monthly("2026-11-30T22:59:00Z"), "support-monthly|team:support|2026-11-01");
        assert_eq!(monthly("2026-11-30T23:01:00Z"), "support-monthly|team:support|2026-12-01");
    }
}
