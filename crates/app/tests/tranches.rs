//! Tranches unlock on a period's results: tested here with fixed results;
//! `crates/cli/tests/scores.rs` unlocks one on real scores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

use jiff::Timestamp;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::budgets::{Cover, PeriodFacts, ResultsSource};
use tokenwise_core::{Clock, Nanos, Track};
use tokenwise_ledger::{AuditAction, Store};
use tokenwise_policy::budgets::Subject;

/// Fixed results for one scope.
struct Fixed(&'static str, PeriodFacts);

#[async_trait::async_trait]
impl ResultsSource for Fixed {
    async fn facts(&self, _: &App, scope: &str, _: Timestamp, _: Timestamp) -> Option<PeriodFacts> {
        (scope == self.0).then_some(self.1)
    }
}

#[tokio::test]
async fn a_tranche_unlocks_on_results_raises_the_limit_and_is_audited_once() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml");
    let policy = tokenwise_policy::load_file(&path).unwrap().policy;
    let store: Arc<dyn Store> = Arc::new(tokenwise_store_sqlite::SqliteStore::open("sqlite://:memory:").unwrap());
    let now: Timestamp = "2026-11-18T10:00:00Z".parse().unwrap();
    let (app, writers) = App::start(policy, "policy text", store.clone(), Clock::manual(now)).await.unwrap();
    let chen = Subject {
        user: "chen.wei",
        team: "platform",
        project: Some("apollo"),
        use_case: "code-review",
        track: Track::Production,
    };
    let specs = app.budgets.specs(&app.policy, &chen, now);
    let cover =
        Cover { subject: &chen, model: &app.policy.models["gpt-4.1"], data_class: tokenwise_policy::DataClass(0) };
    app.hold("r1", &specs, Nanos(1_000), &cover).await.unwrap();
    let key = specs.iter().find(|e| e.budget_id == "platform-monthly").unwrap().key.clone();
    let limit = |a: &App| a.budgets.specs(&a.policy, &chen, now).into_iter().find(|e| e.key == key).unwrap().limit;
    assert_eq!(limit(&app), Nanos::from_whole_usd(12_000));

    // Results short of the tranche (80 validated hours of 120): nothing.
    let short = PeriodFacts { efficiency: Some(0.9), validated_hours: Some(80.0), compliance: None };
    app.unlock_tranches(&Fixed("team:platform", short), now).await.unwrap();
    assert_eq!(limit(&app), Nanos::from_whole_usd(12_000));
    // Results that meet it: $3,000 more, recorded and audited once.
    let good = PeriodFacts { efficiency: Some(0.82), validated_hours: Some(131.5), compliance: Some(0.97) };
    app.unlock_tranches(&Fixed("team:platform", good), now).await.unwrap();
    app.unlock_tranches(&Fixed("team:platform", good), now).await.unwrap();
    assert_eq!(limit(&app), Nanos::from_whole_usd(15_000));
    assert_eq!(store.budget_unlocks(std::slice::from_ref(&key)).await.unwrap(), vec![(key.clone(), 0)]);
    // Every App handle gone, the writers flush what is queued.
    drop(app);
    writers.flush().await.unwrap();
    let audit = store.audit_page(0, 100).await.unwrap();
    let unlocks: Vec<_> = audit.iter().filter(|e| e.action == AuditAction::BudgetUnlock.as_str()).collect();
    assert_eq!(unlocks.len(), 1);
    assert!(unlocks[0].details.contains("131.5"), "the facts behind it: {}", unlocks[0].details);
}
