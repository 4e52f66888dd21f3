//! Scores as a budget's results: a tranche unlocks when its envelope's
//! scope (a person, a team, the org) shows the efficiency, compliance and
//! validated hours it asks for over the envelope's period.

use super::facts::Period;
use crate::App;
use crate::budgets::{PeriodFacts, ResultsSource};
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;
use tokenwise_core::Scope;
use tokenwise_scoring::axes::Axes;
use tokenwise_scoring::tally::{self, Tally};
use tokenwise_scoring::{Facts, Status};
use tokio::sync::Mutex;

/// A period's facts, by its bounds in microseconds (None: unreadable).
type Seen = HashMap<(i64, i64), Option<Arc<Facts>>>;

/// Reads each period's facts once per upkeep pass, however many
/// envelopes share the period.
#[derive(Debug, Default)]
pub struct Scored {
    seen: Mutex<Seen>,
}

impl Scored {
    async fn facts(&self, app: &App, start: Timestamp, end: Timestamp) -> Option<Arc<Facts>> {
        let key = (start.as_microsecond(), end.as_microsecond());
        let mut seen = self.seen.lock().await;
        if let Some(f) = seen.get(&key) {
            return f.clone();
        }
        let period = Period::between(start, end);
        let read = super::read_facts(app.store.as_ref(), &app.policy, &period).await;
        if let Err(e) = &read {
            tracing::warn!(error = %e.message, "cannot read results for tranches");
        }
        let f = read.ok().map(Arc::new);
        seen.insert(key, f.clone());
        f
    }
}

#[async_trait::async_trait]
impl ResultsSource for Scored {
    async fn facts(&self, app: &App, scope: &str, start: Timestamp, end: Timestamp) -> Option<PeriodFacts> {
        let scope: Scope = scope.parse().ok()?;
        let facts = self.facts(app, start, end).await?;
        let member = |user: &str| match &scope {
            Scope::User(u) => u == user,
            Scope::Team(t) => facts.team_of(user) == Some(t.as_str()),
            Scope::Org => true,
            Scope::Project(_) | Scope::UseCase(_) => false,
        };
        if matches!(scope, Scope::Project(_) | Scope::UseCase(_)) {
            return None;
        }
        let mut sum = Tally::default();
        for (user, t) in tally::people(&facts, &app.policy.scoring.rules) {
            if member(&user) {
                sum.add(&t);
            }
        }
        let hour = app.policy.org.hour_value.0 as f64;
        let validated_hours: f64 = facts
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Validated && o.metered && member(&o.user))
            .map(|o| if hour > 0.0 { o.value.0 as f64 / hour } else { 0.0 })
            .sum();
        let axes = Axes::of(&sum);
        Some(PeriodFacts {
            efficiency: Some(axes.efficiency),
            validated_hours: Some(validated_hours),
            compliance: Some(axes.compliance),
        })
    }
}
