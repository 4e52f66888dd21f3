//! The cost of each task in plain words, on the path of work. Every answer
//! to a call that names a task says what the task has cost so far
//! (`x-tokenwise-task-cost-usd`) and, once that is well above the usual for
//! its template or use case, says so (`x-tokenwise-nudge`), naming an
//! approved template that usually costs less when the call used none or an
//! unapproved one.
//!
//! The figure comes from the ledger's running totals, which the group
//! commit returns with the call's own commit: a JSON answer costs no extra
//! read. A stream's headers leave before its usage is known: they carry the
//! task before the call (one index probe, made while the provider is
//! called), and the total with the call follows as an SSE comment. The
//! usual cost (the median of finished tasks over a trailing window) is
//! computed by the database off the request path, by a background job, and
//! kept here in memory.

use crate::App;
use crate::metering::Draft;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use tokenwise_core::Nanos;
use tokenwise_ledger::{BaselineOf, StoreError, TaskBaseline, TaskSoFar};
use tokenwise_policy::Policy;

/// The usual cost of a task of one template or use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usual {
    pub median: Nanos,
    /// How many finished tasks the median is of.
    pub tasks: u64,
}

/// The usual cost of a task per template (`id@version`) and per use case,
/// as of one refresh. Groups with fewer finished tasks than the policy's
/// `baseline_min_tasks` have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baselines {
    pub templates: HashMap<String, Usual>,
    pub use_cases: HashMap<String, Usual>,
    /// When they were computed; None before the first refresh.
    pub at: Option<Timestamp>,
}

impl Baselines {
    pub fn from_rows(rows: Vec<TaskBaseline>, min_tasks: u32, at: Timestamp) -> Baselines {
        let mut b = Baselines { at: Some(at), ..Baselines::default() };
        for r in rows.into_iter().filter(|r| r.tasks >= u64::from(min_tasks) && r.median > Nanos::ZERO) {
            let usual = Usual { median: r.median, tasks: r.tasks };
            match r.of {
                BaselineOf::Template(t) => b.templates.insert(t, usual),
                BaselineOf::UseCase(u) => b.use_cases.insert(u, usual),
            };
        }
        b
    }
}

/// The baselines in force: read on each call that names a task (a read
/// lock and a pointer copy), replaced whole by each refresh.
#[derive(Debug, Default)]
pub struct TaskBaselines(RwLock<Arc<Baselines>>);

impl TaskBaselines {
    pub fn current(&self) -> Arc<Baselines> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn replace(&self, b: Baselines) -> Arc<Baselines> {
        let b = Arc::new(b);
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = b.clone();
        b
    }
}

/// What an answer says about its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNote {
    /// `x-tokenwise-task-cost-usd`.
    pub cost: Nanos,
    /// `x-tokenwise-nudge`, when the task runs well above the usual.
    pub nudge: Option<String>,
}

impl App {
    /// Recomputes the usual cost of a task from the tasks finished (no call
    /// for `task_idle_minutes`) in the last `baseline_days`, and puts it in
    /// force. Off the request path: a background job calls it.
    pub async fn refresh_task_baselines(&self) -> Result<Arc<Baselines>, StoreError> {
        let n = &self.policy.nudges;
        let now = self.clock.now();
        let ago = |d: SignedDuration| now.checked_sub(d).unwrap_or(Timestamp::MIN);
        let finished_before = ago(SignedDuration::from_mins(i64::from(n.task_idle_minutes)));
        let from = ago(SignedDuration::from_hours(24 * i64::from(n.baseline_days)));
        let rows = self.store.task_baselines(from, finished_before).await?;
        Ok(self.task_baselines.replace(Baselines::from_rows(rows, n.baseline_min_tasks, now)))
    }

    /// The task of `draft` as it stands, before the call (a stream's
    /// headers): one index probe. None when the call names no task or the
    /// ledger cannot say (logged; the call goes on without the figure).
    pub async fn task_before(&self, draft: &Draft) -> Option<TaskSoFar> {
        let task = draft.task.as_deref()?;
        match self.store.task_cost(&draft.user_id, task).await {
            Ok(so_far) => Some(so_far.unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the task's cost so far");
                None
            }
        }
    }

    /// The task of `draft` with the call, from what recording it returned;
    /// read once more only when the commit had none (the event had been
    /// stored already, by a retried batch).
    pub async fn task_after(&self, draft: &Draft, recorded: Option<TaskSoFar>) -> Option<TaskSoFar> {
        draft.task.as_ref()?;
        match recorded {
            Some(so_far) => Some(so_far),
            None => self.task_before(draft).await,
        }
    }

    /// What to tell the caller about their task at `so_far`.
    pub fn task_note(&self, draft: &Draft, so_far: TaskSoFar) -> TaskNote {
        let baselines = self.task_baselines.current();
        let nudge = advice(&self.policy, &baselines, &draft.use_case, draft.template.as_deref(), so_far.cost);
        TaskNote { cost: so_far.cost, nudge }
    }
}

/// Advice when a task that has cost `so_far` runs above `task_cost_factor`
/// times the usual for its template (else its use case); with, when the
/// call used no template or an unapproved one, the use case's approved
/// template that usually costs least, if that is less than the usual it was
/// compared with. ASCII only: it travels as an HTTP header.
pub fn advice(policy: &Policy, b: &Baselines, use_case: &str, template: Option<&str>, so_far: Nanos) -> Option<String> {
    let (label, usual) = match template.and_then(|t| b.templates.get(t).map(|u| (t, u))) {
        Some((t, u)) => (t.to_string(), *u),
        None => (format!("use case {use_case}"), *b.use_cases.get(use_case)?),
    };
    // The factor to a thousandth, so money stays in integers.
    #[allow(clippy::cast_possible_truncation)]
    let factor_milli = (policy.nudges.task_cost_factor * 1000.0).round() as i128;
    if usual.median <= Nanos::ZERO || i128::from(so_far.0) * 1000 <= factor_milli * i128::from(usual.median.0) {
        return None;
    }
    let mut text = format!(
        "this task has cost {} so far, {} the usual for {label} ({})",
        plain_usd(so_far),
        times(so_far, usual.median),
        plain_usd(usual.median)
    );
    let used_approved = template.and_then(|t| policy.templates.get(t)).is_some_and(|t| t.approved);
    if !used_approved {
        let cheaper = policy
            .templates
            .values()
            .filter(|t| t.approved && t.use_case == use_case)
            .filter_map(|t| b.templates.get(&t.key()).map(|u| (u.median, t.key())))
            .filter(|(median, _)| *median < usual.median)
            .min();
        if let Some((median, key)) = cheaper {
            text.push_str(&format!("; the approved template {key} usually costs {}", plain_usd(median)));
        }
    }
    // Ids are ASCII; a template version need not be. A header must be.
    Some(text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect())
}

/// Dollars as people say them: cents from a dollar up (`$12.35`), two
/// significant digits below (`$0.41`, `$0.05`, `$0.000069`).
pub fn plain_usd(n: Nanos) -> String {
    const DOLLAR: i64 = 1_000_000_000;
    if n.0 <= 0 {
        return "$0".into();
    }
    if n.0 >= DOLLAR {
        return format!("${}", n.to_usd_rounded(2));
    }
    let digits = n.0.ilog10();
    let unit = 10i64.pow(digits.saturating_sub(1));
    let rounded = (n.0 + unit / 2) / unit * unit;
    if rounded >= DOLLAR {
        return format!("${}", Nanos(rounded).to_usd_rounded(2));
    }
    format!("${}", Nanos(rounded).to_usd_string())
}

/// How many times `usual` `so_far` is, as people say it: `9x`, `3.4x`
/// (rounded down to a tenth below ten). ASCII, as it also goes into headers.
pub fn times(so_far: Nanos, usual: Nanos) -> String {
    let tenths = i128::from(so_far.0) * 10 / i128::from(usual.0.max(1));
    if tenths >= 100 || tenths % 10 == 0 {
        format!("{}x", tenths / 10)
    } else {
        format!("{}.{}x", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::acme;

    fn usd(s: &str) -> Nanos {
        Nanos::parse_usd(s).unwrap()
    }

    fn baselines(templates: &[(&str, &str)], use_cases: &[(&str, &str)]) -> Baselines {
        let usual = |m: &str| Usual { median: usd(m), tasks: 5 };
        Baselines {
            templates: templates.iter().map(|(k, m)| (k.to_string(), usual(m))).collect(),
            use_cases: use_cases.iter().map(|(k, m)| (k.to_string(), usual(m))).collect(),
            at: None,
        }
    }

    #[test]
    fn money_reads_as_people_say_it() {
        let cases = [
            ("0", "$0"),
            ("0.41", "$0.41"),
            ("0.4", "$0.40"),
            ("0.05", "$0.05"),
            ("0.0506", "$0.051"),
            ("0.0000688", "$0.000069"),
            ("0.000000001", "$0.000000001"),
            ("0.996", "$1.00"),
            ("12.345", "$12.35"),
            ("1234", "$1234.00"),
        ];
        for (n, want) in cases {
            assert_eq!(plain_usd(usd(n)), want, "{n}");
        }
        assert_eq!(times(usd("0.41"), usd("0.045")), "9.1x");
        assert_eq!(times(usd("0.45"), usd("0.045")), "10x");
        assert_eq!(times(usd("0.09"), usd("0.03")), "3x");
        assert_eq!(times(usd("3.7"), usd("0.03")), "123x");
    }

    #[test]
    fn a_task_well_above_its_templates_usual_is_told_so() {
        let p = acme();
        let b = baselines(&[("support-refund@3", "0.05")], &[("support-reply", "0.08")]);
        let say = |template, so_far| advice(&p, &b, "support-reply", template, usd(so_far));
        assert_eq!(
            say(Some("support-refund@3"), "0.41").as_deref(),
            Some("this task has cost $0.41 so far, 8.2x the usual for support-refund@3 ($0.05)")
        );
        // Three times the usual is usual enough; only above it is advice.
        assert_eq!(say(Some("support-refund@3"), "0.15"), None);
        assert!(say(Some("support-refund@3"), "0.150000001").is_some());
        assert_eq!(say(Some("support-refund@3"), "0.01"), None);
    }

    #[test]
    fn without_an_approved_template_the_cheaper_approved_one_is_named() {
        let p = acme();
        let b = baselines(
            &[("support-refund@3", "0.05"), ("support-refund@4", "0.20")],
            &[("support-reply", "0.08"), ("code-review", "0.50")],
        );
        let say = |use_case, template, so_far| advice(&p, &b, use_case, template, usd(so_far));
        // No template: compared with the use case, and pointed at the approved one.
        assert_eq!(
            say("support-reply", None, "0.41").as_deref(),
            Some(
                "this task has cost $0.41 so far, 5.1x the usual for use case support-reply ($0.08); \
                 the approved template support-refund@3 usually costs $0.05"
            )
        );
        // An unapproved template with a baseline of its own.
        assert_eq!(
            say("support-reply", Some("support-refund@4"), "0.90").as_deref(),
            Some(
                "this task has cost $0.90 so far, 4.5x the usual for support-refund@4 ($0.20); \
                 the approved template support-refund@3 usually costs $0.05"
            )
        );
        // No approved template of the use case has a baseline: nothing to name.
        assert_eq!(
            say("code-review", None, "2").as_deref(),
            Some("this task has cost $2.00 so far, 4x the usual for use case code-review ($0.50)")
        );
        // No baseline at all: no advice.
        assert_eq!(say("ticket-summary", None, "100"), None);
        let all_ascii = say("support-reply", None, "0.41").unwrap().is_ascii();
        assert!(all_ascii);
    }

    #[test]
    fn an_approved_template_that_costs_more_is_not_advice() {
        let p = acme();
        let b = baselines(&[("support-refund@3", "0.10")], &[("support-reply", "0.08")]);
        assert_eq!(
            advice(&p, &b, "support-reply", None, usd("0.41")).as_deref(),
            Some("this task has cost $0.41 so far, 5.1x the usual for use case support-reply ($0.08)")
        );
    }

    #[test]
    fn groups_with_too_few_tasks_have_no_baseline() {
        let row = |of, tasks, median| TaskBaseline { of, tasks, median: Nanos(median) };
        let at = Timestamp::UNIX_EPOCH;
        let b = Baselines::from_rows(
            vec![
                row(BaselineOf::Template("support-refund@3".into()), 5, 50),
                row(BaselineOf::Template("support-refund@4".into()), 4, 10),
                row(BaselineOf::UseCase("support-reply".into()), 9, 80),
            ],
            5,
            at,
        );
        assert_eq!(b.templates.keys().collect::<Vec<_>>(), ["support-refund@3"]);
        assert_eq!(b.use_cases["support-reply"], Usual { median: Nanos(80), tasks: 9 });
        assert_eq!(b.at, Some(at));
    }
}
