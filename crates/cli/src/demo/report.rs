//! What the month showed, read back from the ledger and the API after the
//! simulation: spend by person and team, each reward model's board, the
//! tranches unlocked, the policy's DLP decisions, the nudges shown.

use super::drive::Tally;
use super::world::World;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tokenwise_core::Nanos;
use tokenwise_ledger::{GroupBy, SpendQuery};
use tokenwise_scoring::Model;
use tokenwise_simulator::Company;

#[derive(Debug, Serialize)]
pub struct PersonLine {
    pub user: String,
    pub team: String,
    pub persona: String,
    pub spend_usd: f64,
    /// Validated outcomes.
    pub outcomes: u64,
}

#[derive(Debug, Serialize)]
pub struct Placing {
    pub subject: String,
    pub rank: u64,
    pub score: f64,
}

#[derive(Debug, Serialize)]
pub struct Flag {
    pub subject: String,
    pub kind: String,
}

/// The demo's JSON (its shape is fixed by the contract).
#[derive(Debug, Serialize)]
pub struct Report {
    pub requests: u64,
    pub elapsed_s: f64,
    pub people: Vec<PersonLine>,
    pub leaderboards: BTreeMap<String, Vec<Placing>>,
    pub anomalies: Vec<Flag>,
    pub tranches_unlocked: Vec<String>,
    pub dlp: BTreeMap<String, u64>,
    pub nudges: u64,
    /// For the printed report only: (team, spend, validated outcomes).
    #[serde(skip)]
    pub teams: Vec<(String, Nanos, u64)>,
    /// For the printed report only: who was nudged most.
    #[serde(skip)]
    pub nudged: Vec<(String, u64)>,
    /// For the printed report only: each pilot's report in a sentence,
    /// and its feedback counted.
    #[serde(skip)]
    pub pilots: Vec<String>,
}

/// Dollars for display: the ledger's nano-dollars rounded to the cent's hundredth.
fn usd(n: Nanos) -> f64 {
    (n.0 as f64 / 1e5).round() / 1e4
}

pub async fn gather(
    w: &World,
    company: &Company,
    tally: &Tally,
    period: &str,
    span: SpendQuery,
) -> anyhow::Result<Report> {
    let spend: BTreeMap<String, Nanos> = w
        .store
        .spend(&SpendQuery { group_by: GroupBy::User, ..span })
        .await?
        .into_iter()
        .filter_map(|r| r.key.map(|k| (k, r.cost)))
        .collect();
    let people = company
        .people
        .iter()
        .map(|p| PersonLine {
            user: p.user.clone(),
            team: p.team.clone(),
            persona: p.persona.as_str().into(),
            spend_usd: usd(spend.get(&p.user).copied().unwrap_or(Nanos::ZERO)),
            outcomes: tally.outcomes_validated.get(&p.user).copied().unwrap_or(0),
        })
        .collect();
    let mut leaderboards = BTreeMap::new();
    for model in Model::ALL {
        let board = w.get(&w.governance, &format!("/api/v1/scores?period={period}&model={model}")).await?;
        let placings = board["scores"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter(|s| s["subject"].as_str().is_some_and(|x| x.starts_with("user:")))
                    .map(placing)
                    .collect()
            })
            .unwrap_or_default();
        leaderboards.insert(model.to_string(), placings);
    }
    let anomalies = flags(w, period).await?;
    let budgets = w.get(&w.governance, "/api/v1/budgets").await?;
    let tranches_unlocked = unlocked(&budgets);
    let dlp = w
        .store
        .spend(&SpendQuery { group_by: GroupBy::Decision, ..span })
        .await?
        .into_iter()
        .map(|r| (r.key.unwrap_or_default(), r.calls))
        .collect();
    let mut outcomes_of: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &company.people {
        *outcomes_of.entry(p.team.as_str()).or_default() += tally.outcomes_validated.get(&p.user).copied().unwrap_or(0);
    }
    let teams = w
        .store
        .spend(&SpendQuery { group_by: GroupBy::Team, ..span })
        .await?
        .into_iter()
        .filter_map(|r| r.key.map(|k| (outcomes_of.get(k.as_str()).copied().unwrap_or(0), k, r.cost)))
        .map(|(n, k, cost)| (k, cost, n))
        .collect();
    let mut nudged: Vec<(String, u64)> = tally.nudges.iter().map(|(u, n)| (u.clone(), *n)).collect();
    nudged.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    nudged.truncate(3);
    let mut pilots = Vec::new();
    for p in &w.policy.pilots {
        let r = w.get(&w.governance, &format!("/api/v1/reports/pilots/{}", p.id)).await?;
        pilots.push(pilot_line(&r["report"]));
    }
    Ok(Report {
        teams,
        nudged,
        pilots,
        requests: tally.requests,
        elapsed_s: 0.0,
        people,
        leaderboards,
        anomalies,
        tranches_unlocked,
        dlp,
        nudges: tally.nudges.values().sum(),
    })
}

/// "efficiency-first: spend per outcome fell 31% (95% CI …) against the
/// control group; token burn did not rise · feedback 12 motivating, …".
fn pilot_line(r: &Value) -> String {
    let count =
        |k: &str| -> u64 { r["feedback"].as_array().into_iter().flatten().map(|t| t[k].as_u64().unwrap_or(0)).sum() };
    format!(
        "{} ({} in the cohort, {} in control): {} · feedback: {} motivating, {} confusing, {} unfair",
        r["pilot"].as_str().unwrap_or_default(),
        r["cohort_size"],
        r["control_size"],
        r["summary"].as_str().unwrap_or_default(),
        count("motivating"),
        count("confusing"),
        count("unfair")
    )
}

/// Who was flagged for what, once each.
async fn flags(w: &World, period: &str) -> anyhow::Result<Vec<Flag>> {
    let flags = w.get(&w.governance, &format!("/api/v1/anomalies?period={period}")).await?;
    let mut out: Vec<Flag> = flags["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| Flag {
            subject: a["subject"].as_str().unwrap_or_default().into(),
            kind: a["detector"].as_str().unwrap_or_default().into(),
        })
        .collect();
    out.sort_by(|a, b| (&a.subject, &a.kind).cmp(&(&b.subject, &b.kind)));
    out.dedup_by(|a, b| a.subject == b.subject && a.kind == b.kind);
    Ok(out)
}

fn placing(s: &Value) -> Placing {
    Placing {
        subject: s["subject"].as_str().unwrap_or_default().into(),
        rank: s["rank"].as_u64().unwrap_or(0),
        score: s["score"].as_f64().unwrap_or(0.0),
    }
}

/// `budget scope`, for each envelope with a tranche unlocked.
fn unlocked(budgets: &Value) -> Vec<String> {
    let mut out: Vec<String> = budgets["envelopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["tranches"].as_array().is_some_and(|t| t.iter().any(|t| t["unlocked"] == true)))
        .map(|e| format!("{} {}", e["budget"].as_str().unwrap_or_default(), e["scope"].as_str().unwrap_or_default()))
        .collect();
    out.sort();
    out
}

/// The report for a person at a terminal.
pub fn print(r: &Report, company: &Company) {
    println!("tokenwise demo — Acme Corp: {} people, one simulated month through the real gateway", r.people.len());
    println!("{} requests in {:.1} s", r.requests, r.elapsed_s);
    println!();
    println!("Spend and spend per validated outcome by team (USD)");
    println!("{:<10} {:>10} {:>9} {:>12}", "team", "spend", "outcomes", "per outcome");
    for (team, cost, n) in &r.teams {
        let per =
            if *n > 0 { Nanos(cost.0 / i64::try_from(*n).unwrap_or(i64::MAX)).to_usd_rounded(4) } else { "—".into() };
        println!("{team:<10} {:>10} {n:>9} {per:>12}", cost.to_usd_rounded(2));
    }
    println!();
    println!("Rank under each reward model (1 = best), by balanced rank");
    let models: Vec<&String> = r.leaderboards.keys().collect();
    print!("{:<16} {:<18}", "person", "persona");
    for m in &models {
        print!(" {:>11}", m.as_str());
    }
    println!();
    let rank = |m: &str, user: &str| {
        r.leaderboards.get(m).and_then(|b| b.iter().find(|x| x.subject == format!("user:{user}"))).map(|x| x.rank)
    };
    let mut people: Vec<&PersonLine> = r.people.iter().collect();
    people.sort_by_key(|p| (rank("balanced", &p.user).unwrap_or(u64::MAX), p.user.clone()));
    for p in people {
        let mark = if company.person(&p.user).is_some_and(|x| x.persona.gaming()) { "!" } else { " " };
        print!("{:<16} {mark}{:<17}", p.user, p.persona);
        for m in &models {
            print!(" {:>11}", rank(m, &p.user).map_or("—".to_string(), |x| x.to_string()));
        }
        println!();
    }
    println!("(! plays a gaming strategy)");
    println!();
    if r.anomalies.is_empty() {
        println!("Anomalies: none");
    } else {
        println!("Anomalies");
        for a in &r.anomalies {
            println!("  {:<24} {}", a.subject, a.kind);
        }
    }
    println!(
        "Tranches unlocked: {}",
        if r.tranches_unlocked.is_empty() { "none".into() } else { r.tranches_unlocked.len().to_string() }
    );
    println!("DLP decisions: {}", r.dlp.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let most: Vec<String> = r.nudged.iter().map(|(u, n)| format!("{u} {n}")).collect();
    println!("Nudges shown: {} (most: {})", r.nudges, most.join(", "));
    for p in &r.pilots {
        println!("Pilot {p}");
    }
}
