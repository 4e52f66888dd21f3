//! Background work every replica runs: the budget upkeep pass (lease
//! renewal, expiry of dead replicas' holds, alert thresholds, tranche
//! unlocks) on a timer, delivery of alerts as signed webhooks, the
//! refresh of the usual cost of a task (each replica reads it from the
//! shared ledger, so they agree), and an anomaly detection pass every
//! `[anomalies] scan_minutes` whose new flags are announced once each,
//! the purge of prompts kept past their retention, and the usage digest
//! appended to the audit chain.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokenwise_app::App;
use tokenwise_app::budgets::ResultsSource;
use tokenwise_app::budgets::upkeep::{Alert, Upkeep};
use tokenwise_app::scores::Scored;

/// Runs [`tick`] every third of a lease (at most every 2 s) until the app
/// is dropped. Tranches are evaluated every 15th pass: they read the
/// scores of each envelope's period, afresh each time.
pub async fn budgets(app: Weak<App>) {
    let lease = app.upgrade().map_or(tokenwise_app::budgets::LEASE, |a| a.budgets.lease);
    let mut timer = tokio::time::interval((lease / 3).min(Duration::from_secs(2)).max(Duration::from_millis(100)));
    let mut n: u64 = 0;
    loop {
        timer.tick().await;
        let Some(app) = app.upgrade() else { return };
        n += 1;
        tick(&app, &Scored::default(), n % 15 == 1).await;
    }
}

/// How often the usual cost of a task is recomputed: it moves slowly (a
/// median over weeks of finished tasks).
pub const BASELINE_REFRESH: Duration = Duration::from_secs(300);

/// Recomputes the usual cost of a task at once, then every
/// [`BASELINE_REFRESH`], until the app is dropped.
pub async fn task_baselines(app: Weak<App>) {
    every(app, BASELINE_REFRESH, |app| async move { refresh_baselines(&app).await }).await;
}

/// Runs `job` at once, then every `period`, until the app is dropped (a
/// job holds the app only while it runs).
async fn every<F, Fut>(app: Weak<App>, period: Duration, job: F)
where
    F: Fn(Arc<App>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut timer = tokio::time::interval(period);
    loop {
        timer.tick().await;
        let Some(app) = app.upgrade() else { return };
        job(app).await;
    }
}

/// One refresh; a failure is logged and the baselines in force stay.
pub async fn refresh_baselines(app: &App) {
    match app.refresh_task_baselines().await {
        Ok(b) => tracing::debug!(templates = b.templates.len(), use_cases = b.use_cases.len(), "task baselines"),
        Err(e) => tracing::warn!(error = %e, "cannot compute the usual cost of tasks"),
    }
}

/// How often prompts past their retention are purged: retention is set
/// in days, so a prompt outlives its time by at most this.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Purges prompts past their retention at once, then every
/// [`PURGE_EVERY`], until the app is dropped.
pub async fn retention(app: Weak<App>) {
    every(app, PURGE_EVERY, |app| async move {
        purge_prompts(&app).await;
    })
    .await;
}

/// One purge; how many prompts it deleted (a failure is logged: none).
pub async fn purge_prompts(app: &App) -> u64 {
    match app.purge_prompts().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot purge prompts past their retention");
            0
        }
    }
}

/// How often the usage rows recorded since the last digest are digested
/// into the audit chain (`ledger.digest`).
pub const DIGEST_EVERY: Duration = Duration::from_secs(600);

// A digest's window must end further back than any hold can still be
// settled, and far past any insert's commit.
const _: () = assert!(tokenwise_ledger::digest::DEFAULT_LAG.as_secs() > 2 * tokenwise_app::budgets::LEASE.as_secs());

/// Digests the usage rows at once, then every [`DIGEST_EVERY`], until the
/// app is dropped. Off the request path: the writer only stamps each row's
/// `recorded_us`.
pub async fn usage_digest(app: Weak<App>) {
    every(app, DIGEST_EVERY, |app| async move {
        digest_usage(&app).await;
    })
    .await;
}

/// One digest of the rows recorded since the last one and more than
/// [`tokenwise_ledger::digest::DEFAULT_LAG`] ago (by the wall clock, which
/// stamps the rows); a failure is logged.
pub async fn digest_usage(app: &App) -> Option<tokenwise_ledger::digest::UsageDigest> {
    let now = tokenwise_ledger::to_micros(jiff::Timestamp::now());
    let lag = tokenwise_ledger::digest::DEFAULT_LAG;
    match tokenwise_ledger::digest::append(app.store.as_ref(), "tokenwise", now, lag).await {
        Ok(d) => d.map(|(_, d)| d),
        Err(e) => {
            tracing::warn!(error = %e, "cannot digest usage rows into the audit log");
            None
        }
    }
}

/// One upkeep pass, then its alerts delivered and audited.
pub async fn tick(app: &Arc<App>, results: &dyn ResultsSource, tranches: bool) -> Upkeep {
    let done = app.budget_upkeep(results, tranches).await;
    for a in &done.alerts {
        let delivered = deliver(app, a).await;
        app.audit_alert(a, delivered).await;
    }
    done
}

/// Runs a detection pass over the current period every `scan_minutes`
/// (the first at once), then announces its new flags, until the app is
/// dropped.
pub async fn anomalies(app: Weak<App>) {
    let minutes = app.upgrade().map_or(15, |a| a.policy.anomalies.scan_minutes);
    every(app, Duration::from_secs(60 * u64::from(minutes.max(1))), |app| async move {
        match app.scan_anomalies().await {
            Ok(period) => alert_anomalies(app, period).await,
            Err(e) => tracing::warn!(error = %e, "anomaly detection failed"),
        }
    })
    .await;
}

/// Announces the period's flags not yet announced (each claimed once,
/// across replicas) as signed webhooks, and audits each.
pub async fn alert_anomalies(app: Arc<App>, period: String) {
    let alerts = match app.claim_anomaly_alerts(&period).await {
        Ok(a) => a,
        Err(e) => return tracing::warn!(error = %e, "cannot claim anomaly alerts"),
    };
    for a in alerts {
        let delivered = post_signed(&app, &a).await;
        app.audit_anomaly_alert(&a, delivered).await;
    }
}

/// Posts an alert to the policy's webhook, signed; a few tries.
async fn deliver(app: &App, alert: &Alert) -> bool {
    post_signed(app, &alert.body).await
}

/// Posts a JSON body to the policy's webhook, signed with HMAC-SHA256
/// (`x-tokenwise-signature: sha256=HEX`); a few tries.
async fn post_signed(app: &App, body: &serde_json::Value) -> bool {
    let Some(url) = &app.policy.alerts.webhook_url else { return false };
    let payload = body.to_string();
    let signature =
        app.policy.alerts.secret_env.as_ref().and_then(|v| std::env::var(v).ok()).map(|secret| sign(&secret, &payload));
    let client = reqwest::Client::new();
    for attempt in 0..3u32 {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(5))
            .body(payload.clone());
        if let Some(sig) = &signature {
            req = req.header("x-tokenwise-signature", format!("sha256={sig}"));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => tracing::warn!(status = %r.status(), attempt, "alert webhook refused"),
            Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
        }
        tokio::time::sleep(Duration::from_millis(200 * 4u64.pow(attempt))).await;
    }
    false
}

/// HMAC-SHA256 of the body, hex.
pub fn sign(secret: &str, body: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}
