//! One subject's facts summed: a person's own, or a team's (the sum of its
//! people's, each person's outcomes credited on their own first, so
//! repetition earns less per person).

use crate::facts::{Activity, Facts, Identity, Outcome, Status};
use crate::rules::Rules;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub calls: u64,
    pub blocked: u64,
    pub flagged: u64,
    pub approved_template_calls: u64,
    pub exception_calls: u64,
    pub tokens: u64,
    /// Nano-dollars spent.
    pub cost: i128,
    pub exploration_cost: i128,
    /// Outcomes reported, by where they stand.
    pub pending: u64,
    pub validated: u64,
    pub rejected: u64,
    pub signed: u64,
    pub unmetered: u64,
    /// Outcomes of a kind their use case's track does not count: operational
    /// outcomes claimed in exploration, learning ones in production.
    pub off_track: u64,
    /// Credit of the outcomes that count (metered, not rejected): each outcome's
    /// status weight × its repetition factor.
    pub weight: f64,
    /// What the counted outcomes should have cost at their use cases'
    /// baselines (nano-dollars, credited), and what they were worth.
    pub baseline: f64,
    pub value: f64,
    /// Credit of counted outcomes made on an approved template.
    pub approved_weight: f64,
    pub escalated_weight: f64,
    pub error_weight: f64,
    pub rated: u64,
    /// Sum of (rating − 1) / 4 over rated counted outcomes.
    pub rating: f64,
    /// Days with calls and none blocked or flagged.
    pub clean_days: u32,
    /// Other teams that used a template this person wrote.
    pub reuse_teams: u32,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.calls += o.calls;
        self.blocked += o.blocked;
        self.flagged += o.flagged;
        self.approved_template_calls += o.approved_template_calls;
        self.exception_calls += o.exception_calls;
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.cost += o.cost;
        self.exploration_cost += o.exploration_cost;
        self.pending += o.pending;
        self.validated += o.validated;
        self.rejected += o.rejected;
        self.signed += o.signed;
        self.unmetered += o.unmetered;
        self.off_track += o.off_track;
        self.weight += o.weight;
        self.baseline += o.baseline;
        self.value += o.value;
        self.approved_weight += o.approved_weight;
        self.escalated_weight += o.escalated_weight;
        self.error_weight += o.error_weight;
        self.rated += o.rated;
        self.rating += o.rating;
    }

    fn add_activity(&mut self, a: &Activity, exploration: bool) {
        self.calls += a.calls;
        self.blocked += a.blocked;
        self.flagged += a.flagged;
        self.approved_template_calls += a.approved_template_calls;
        self.exception_calls += a.exception_calls;
        self.tokens = self.tokens.saturating_add(a.tokens);
        self.cost += i128::from(a.cost.0);
        if exploration {
            self.exploration_cost += i128::from(a.cost.0);
        }
    }

    /// Credits one outcome, the `n`-th of its identical actions.
    fn add_outcome(&mut self, o: &Outcome, n: u64, facts: &Facts, rules: &Rules) {
        // Off its track, an outcome that would otherwise count is set apart
        // entirely: it neither earns nor lifts the validation rate. A
        // rejected one still lowers that rate, wherever it was claimed.
        if o.status != Status::Rejected && o.metered && !on_track(o, facts, rules) {
            self.off_track += 1;
            return;
        }
        match o.status {
            Status::Pending => self.pending += 1,
            Status::Validated => self.validated += 1,
            Status::Rejected => self.rejected += 1,
        }
        self.signed += u64::from(o.signed);
        self.unmetered += u64::from(!o.metered);
        if !counts(o, facts, rules) {
            return;
        }
        let status = if o.status == Status::Validated || o.signed { 1.0 } else { rules.unvalidated_weight };
        let w = status * rules.repeat_factor(n);
        let (baseline, usual) = facts
            .use_cases
            .get(&o.use_case)
            .map_or((0.0, 0.0), |u| (u.baseline_cost.0 as f64, u.outcome_value.0 as f64));
        let multiple = if usual > 0.0 { (o.value.0 as f64 / usual).min(rules.max_value_multiple) } else { 1.0 };
        self.weight += w;
        self.baseline += w * multiple * baseline;
        let value = o.value.0 as f64;
        self.value += w * if usual > 0.0 { value.min(rules.max_value_multiple * usual) } else { value };
        let approved = o.template.as_ref().and_then(|t| facts.templates.get(t)).is_some_and(|t| t.approved);
        if approved {
            self.approved_weight += w;
        }
        if o.escalated {
            self.escalated_weight += w;
        }
        if o.error {
            self.error_weight += w;
        }
        if let Some(q) = o.quality.filter(|q| (1..=5).contains(q)) {
            self.rated += 1;
            self.rating += f64::from(q - 1) / 4.0;
        }
    }
}

/// Whether an outcome earns anything. A rejected outcome counts for nothing;
/// so does one with no metered call behind its task (nothing shows AI work
/// went into it), and one of a kind its use case's track does not score.
pub(crate) fn counts(o: &Outcome, facts: &Facts, rules: &Rules) -> bool {
    o.status != Status::Rejected && o.metered && on_track(o, facts, rules)
}

fn on_track(o: &Outcome, facts: &Facts, rules: &Rules) -> bool {
    let exploration = facts.use_cases.get(&o.use_case).is_some_and(|u| u.exploration);
    rules.on_track(exploration, &o.kind)
}

/// Every person's tally, by person id.
pub fn people(facts: &Facts, rules: &Rules) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    let mut days: BTreeMap<(&str, u16), bool> = BTreeMap::new();
    for a in &facts.activity {
        let exploration = a.use_case.as_ref().and_then(|u| facts.use_cases.get(u)).is_some_and(|u| u.exploration);
        out.entry(a.user.clone()).or_default().add_activity(a, exploration);
        let clean = days.entry((a.user.as_str(), a.day)).or_insert(true);
        *clean &= a.blocked == 0 && a.flagged == 0 && a.calls > 0;
    }
    for ((user, _), clean) in days {
        if clean {
            out.entry(user.to_string()).or_default().clean_days += 1;
        }
    }
    let mut outcomes: Vec<&Outcome> = facts.outcomes.iter().collect();
    outcomes.sort_by(|a, b| (&a.user, a.at, &a.id).cmp(&(&b.user, b.at, &b.id)));
    let mut seen: BTreeMap<(&str, Identity), u64> = BTreeMap::new();
    for o in outcomes {
        let n = if !counts(o, facts, rules) {
            1
        } else {
            let count = seen.entry((o.user.as_str(), o.identity())).or_insert(0);
            *count += 1;
            *count
        };
        out.entry(o.user.clone()).or_default().add_outcome(o, n, facts, rules);
    }
    for (author, teams) in reuse(facts) {
        if let Some(t) = out.get_mut(&author) {
            t.reuse_teams = u32::try_from(teams.len()).unwrap_or(u32::MAX);
        }
    }
    out
}

/// For each template author, the other teams that made an allowed call
/// on one of their templates: teams, not runs.
pub fn reuse(facts: &Facts) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in &facts.activity {
        let Some(t) = a.template.as_ref().and_then(|t| facts.templates.get(t)) else { continue };
        if a.calls <= a.blocked {
            continue;
        }
        let (Some(team), author_team) = (facts.team_of(&a.user), facts.team_of(&t.author)) else { continue };
        if Some(team) != author_team {
            out.entry(t.author.clone()).or_default().insert(team.to_string());
        }
    }
    out
}

/// Every team's tally: the sum of its people's.
pub fn teams(facts: &Facts, people: &BTreeMap<String, Tally>) -> BTreeMap<String, (Tally, u32)> {
    let mut out: BTreeMap<String, (Tally, u32)> = BTreeMap::new();
    for (user, t) in people {
        if let Some(team) = facts.team_of(user) {
            let e = out.entry(team.to_string()).or_default();
            e.0.add(t);
            e.1 += 1;
        }
    }
    out
}
