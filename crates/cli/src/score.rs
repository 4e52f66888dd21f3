//! `tokenwise score`: a period's scores under a reward model, or every
//! model side by side, straight from the ledger.

use crate::store;
use std::path::Path;
use tokenwise_app::scores::{self, Period};

pub struct Args<'a> {
    pub config: &'a Path,
    pub database: Option<&'a str>,
    pub period: &'a str,
    pub model: Option<&'a str>,
    pub json: bool,
    pub compare: bool,
    pub rules_version: Option<&'a str>,
}

pub async fn run(a: Args<'_>) -> anyhow::Result<()> {
    let policy = store::load_policy(a.config)?;
    let period = Period::parse(&policy, a.period).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let model = scores::model(a.model).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let (_, ledger) = store::for_policy(&policy, a.database).await?;
    if a.compare {
        let c = scores::comparison(ledger.as_ref(), &policy, &period)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        if a.json {
            println!("{}", serde_json::to_string(&c)?);
            return Ok(());
        }
        let names: Vec<String> = c.models.iter().map(ToString::to_string).collect();
        println!("{} — ranks under each reward model (rules {})", c.period, c.rules_version);
        println!("{:<28} {}", "person", names.iter().map(|n| format!("{n:>20}")).collect::<String>());
        for r in &c.ranks {
            println!("{:<28} {}", r.subject, r.ranks.iter().map(|n| format!("{n:>20}")).collect::<String>());
        }
        println!("\nrank correlation (Spearman) between models:");
        for x in &c.correlations {
            println!("  {:<20} {:<20} {:>7.3}", x.a.to_string(), x.b.to_string(), x.spearman);
        }
        return Ok(());
    }
    let now = jiff::Timestamp::now();
    let scored = match a.rules_version {
        Some(v) => match scores::kept_rules(ledger.as_ref(), v).await {
            Ok(rules) => scores::board_under(ledger.as_ref(), &policy, &period, model, &rules, now).await,
            Err(e) => Err(e),
        },
        None => scores::board(ledger.as_ref(), &policy, &period, model, now).await,
    };
    let (board, _) = scored.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if a.json {
        println!("{}", serde_json::to_string(&board)?);
        return Ok(());
    }
    println!("{} — model {} (rules {})", board.period, board.model, board.rules_version);
    println!(
        "{:>4}  {:<28} {:>6} {:>10} {:>8} {:>10}  badges",
        "rank", "subject", "score", "efficiency", "quality", "compliance"
    );
    for s in &board.scores {
        println!(
            "{:>4}  {:<28} {:>6.1} {:>10.1} {:>8.1} {:>10.1}  {}",
            s.rank,
            s.subject,
            s.score,
            s.efficiency,
            s.quality,
            s.compliance,
            s.badges.join(", ")
        );
    }
    Ok(())
}
