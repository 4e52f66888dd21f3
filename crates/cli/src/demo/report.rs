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
    let budgets = w.get(&w.governance, "/api/v1/budgets").await?;
    let tranches_unlocked = unlocked(&budgets);
    let dlp = w
        .store
        .spend(&SpendQuery { group_by: GroupBy::Decision, ..span })
        .await?
        .into_iter()
        .map(|r| (r.key.unwrap_or_default(), r.calls))
        .collect();
    Ok(Report {
        requests: tally.requests,
        elapsed_s: 0.0,
        people,
        leaderboards,
        anomalies: Vec::new(),
        tranches_unlocked,
        dlp,
        nudges: tally.nudges.values().sum(),
    })
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
    println!("tokenwise demo — Acme Corp, one simulated month through the real gateway");
    println!();
    println!("{} requests in {:.1} s; {} answers carried a nudge", r.requests, r.elapsed_s, r.nudges);
    println!();
    println!("Rank of each person under each reward model (1 = best)");
    let models: Vec<&String> = r.leaderboards.keys().collect();
    print!("{:<18} {:<18}", "person", "persona");
    for m in &models {
        print!(" {:>12}", m.as_str());
    }
    println!();
    for p in &r.people {
        print!("{:<18} {:<18}", p.user, p.persona);
        for m in &models {
            let rank = r.leaderboards[*m].iter().find(|x| x.subject == format!("user:{}", p.user)).map(|x| x.rank);
            print!(" {:>12}", rank.map_or("—".to_string(), |x| x.to_string()));
        }
        println!();
    }
    println!();
    let gaming = company.people.iter().filter(|p| p.persona.gaming()).count();
    println!("{gaming} people play a gaming strategy; see where `balanced` puts them against `raw_tokens`.");
    println!();
    println!("DLP decisions: {}", r.dlp.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    println!(
        "Tranches unlocked: {}",
        if r.tranches_unlocked.is_empty() { "none".into() } else { r.tranches_unlocked.join("; ") }
    );
}
