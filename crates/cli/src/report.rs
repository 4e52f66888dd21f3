//! `tokenwise report`: finance's reports straight from the ledger —
//! chargeback as CSV, FOCUS or JSON, and a provider's export reconciled
//! with the ledger.

use crate::store;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use tokenwise_app::pilots::report::GuardLevel;
use tokenwise_app::reports::health;
use tokenwise_app::reports::reconcile::{self, ReconcileRequest};
use tokenwise_app::reports::{self, ChargebackReport, Format};
use tokenwise_app::scores::Period;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Spend by team, project, cost centre and use case for a month.
    Chargeback {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The month, YYYY-MM, in the org's time zone.
        #[arg(long)]
        period: String,
        /// csv (one row per team, project and use case), focus (a FinOps
        /// FOCUS dataset, one row per UTC day, team, project, use case,
        /// template, model and token kind) or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Program health for a month, as JSON (what GET /api/v1/reports/health answers governance).
    Health {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The month, YYYY-MM, in the org's time zone.
        #[arg(long)]
        period: String,
        /// week or day: the step of spend per outcome over time.
        #[arg(long, default_value = "week")]
        bucket: String,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Compare a provider's usage/cost export with the ledger per UTC day,
    /// model and token kind; exits 3 when a day drifts beyond the tolerance.
    Reconcile {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The export: OpenAI usage/costs JSON, Anthropic usage/cost report
        /// JSON, or a FOCUS CSV.
        file: PathBuf,
        /// openai, anthropic or focus.
        #[arg(long)]
        format: String,
        /// A UTC month, YYYY-MM (default: the days the export covers).
        #[arg(long)]
        period: Option<String>,
        /// Overrides the policy's `[reports] reconcile_tolerance_percent`.
        #[arg(long)]
        tolerance_percent: Option<f64>,
        /// The upstream the export bills (default: the one named like the provider).
        #[arg(long)]
        upstream: Option<String>,
        /// Print the whole reconciliation as JSON.
        #[arg(long)]
        json: bool,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// A pilot's report: cohort against control, before against during,
    /// per week; the effect with its 95% interval; guard metrics; feedback.
    Pilot {
        /// The policy file (TOML) that names the pilot.
        #[arg(long)]
        config: PathBuf,
        /// The pilot's id (`[[pilots]] id`).
        #[arg(long)]
        pilot: String,
        /// Print the whole report as JSON (what GET /api/v1/reports/pilots/{id} answers).
        #[arg(long)]
        json: bool,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
}

/// Exit status of a reconciliation that found drift beyond the tolerance.
const DRIFT: u8 = 3;

fn app_err(e: tokenwise_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

pub async fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Chargeback { config, period, format, database } => {
            let policy = store::load_policy(&config)?;
            let period = Period::parse(&policy, &period).map_err(app_err)?;
            let format = Format::parse(Some(&format)).map_err(app_err)?;
            let (_, ledger) = store::for_policy(&policy, database.as_deref()).await?;
            match reports::chargeback_report(ledger.as_ref(), &policy, &period, None, format).await.map_err(app_err)? {
                ChargebackReport::Json(c) => println!("{}", serde_json::to_string(&c)?),
                ChargebackReport::Csv { text, .. } => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Health { config, period, bucket, database } => {
            let policy = store::load_policy(&config)?;
            let period = Period::parse(&policy, &period).map_err(app_err)?;
            let step = health::bucket(Some(&bucket)).map_err(app_err)?;
            let (_, ledger) = store::for_policy(&policy, database.as_deref()).await?;
            let input = health::input(ledger.as_ref(), &policy, &period, None, step).await.map_err(app_err)?;
            println!("{}", serde_json::to_string(&tokenwise_reports::health::health(&input))?);
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Reconcile { config, file, format, period, tolerance_percent, upstream, json, database } => {
            let policy = store::load_policy(&config)?;
            let text =
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let export = serde_json::Value::String(text);
            let request = ReconcileRequest { format, export, period, tolerance_percent, upstream };
            let compare = reconcile::prepare(&policy, &request).map_err(app_err)?;
            let (_, ledger) = store::for_policy(&policy, database.as_deref()).await?;
            let r = reconcile::run(ledger.as_ref(), &policy, &compare).await.map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                print_reconciliation(&r);
            }
            Ok(if r.reconciled { ExitCode::SUCCESS } else { ExitCode::from(DRIFT) })
        }
        ReportCommand::Pilot { config, pilot, json, database } => {
            let policy = store::load_policy(&config)?;
            let (_, ledger) = store::for_policy(&policy, database.as_deref()).await?;
            let now = jiff::Timestamp::now();
            let r =
                tokenwise_app::pilots::report::report(ledger.as_ref(), &policy, &pilot, now).await.map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                print_pilot(&r);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn cell(v: Option<f64>, scale: f64, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{:.decimals$}", x * scale))
}

fn print_pilot(v: &tokenwise_app::pilots::report::PilotReportView) {
    let (p, r) = (&v.pilot, &v.report);
    println!(
        "pilot {} ({}): {} to {}, reward model {}, rules {}; cohort {} people, control {}",
        p.id, p.status, p.start, p.end, p.reward_model, p.rules_version, r.cohort_size, r.control_size
    );
    println!("{}", r.summary);
    println!(
        "{:>5}  {:<10} {:<7} {:>16} {:>16} {:>12} {:>12}",
        "week", "from", "phase", "cohort $/outcome", "control $/outc.", "cohort drift", "control drift"
    );
    for w in &r.weeks {
        let spend = |m: &std::collections::BTreeMap<String, Option<f64>>| {
            cell(m.get("spend_per_outcome").copied().flatten(), 1.0, 4)
        };
        let drift = |m: &std::collections::BTreeMap<String, Option<f64>>| {
            cell(m.get("latest_template_share").copied().flatten().map(|s| 1.0 - s), 100.0, 1)
        };
        println!(
            "{:>5}  {:<10} {:<7} {:>16} {:>16} {:>11}% {:>11}%",
            w.week,
            w.start,
            w.phase,
            spend(&w.cohort_metrics),
            spend(&w.control_metrics),
            drift(&w.cohort_metrics),
            drift(&w.control_metrics)
        );
    }
    for g in &r.guards {
        let mark = match g.level {
            GuardLevel::Flagged => "  FLAGGED",
            GuardLevel::Watch => "  WATCH",
            GuardLevel::Within | GuardLevel::Unknown => "",
        };
        println!("guard {:<24} {}{mark}", g.estimate.metric.as_str(), g.sentence);
    }
    for t in &r.feedback {
        println!(
            "feedback week {:>3} about {:<12} motivating {:>3}  confusing {:>3}  unfair {:>3}",
            t.week, t.about, t.motivating, t.confusing, t.unfair
        );
    }
    for c in &r.comments {
        println!("comment week {:>3} ({}, {}): {}", c.week, c.about, c.answer, c.comment.as_deref().unwrap_or(""));
    }
}

fn print_reconciliation(r: &tokenwise_reports::reconcile::Reconciliation) {
    let provider = r.provider_cost_usd.as_deref().unwrap_or("-");
    println!(
        "{} .. {} (UTC days): ledger ${}, provider ${provider}, tolerance {}%",
        r.from, r.to, r.ledger_cost_usd, r.tolerance_percent
    );
    if r.reconciled {
        println!("reconciled: no day, model or token kind beyond the tolerance");
    } else {
        println!("drift beyond the tolerance on {}", r.flagged_days.join(", "));
    }
    println!(
        "{:<10}  {:<32} {:<13} {:>12} {:>12} {:>10} {:>16}",
        "day", "model", "kind", "ledger", "provider", "drift", "cost drift $"
    );
    for l in &r.lines {
        println!(
            "{:<10}  {:<32} {:<13} {:>12} {:>12} {:>10} {:>16}{}",
            l.day,
            l.model,
            l.kind,
            l.ledger_tokens,
            l.provider_tokens.map_or_else(|| "-".to_string(), |n| n.to_string()),
            l.token_drift,
            l.cost_drift_usd,
            if l.flagged { "  FLAGGED" } else { "" }
        );
    }
    if !r.unknown_models.is_empty() {
        println!("models the ledger never saw: {}", r.unknown_models.join(", "));
    }
}
