//! `tokenwise demo`: Acme Corp's people, cast as honest and gaming
//! personas, work through one month on the real gateway — DLP, budgets,
//! outcomes, appeals, scoring all running — on a clock that moves a day at
//! a time; then what each reward model would have rewarded is printed, and
//! (unless `--no-serve`) the server stays up to be explored.

mod drive;
mod report;
mod world;

use anyhow::Context;
use jiff::civil::{Date, Weekday};
use jiff::{Timestamp, ToSpan};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokenwise_ledger::{GroupBy, SpendQuery};
use tokenwise_policy::Role;

/// The month simulated: fixed, so a seed always plans the same one.
const YEAR: i16 = 2026;
const MONTH: i8 = 11;
pub const DEFAULT_SEED: u64 = 20_261_101;

pub struct Args<'a> {
    pub json: bool,
    pub data_dir: Option<&'a Path>,
    pub listen: &'a str,
    pub no_serve: bool,
    pub seed: u64,
    /// Only the month's first N days (tests).
    pub days: Option<u8>,
}

/// `[#########.........] day 12/30 · 2345 requests`, redrawn in place.
fn bar(done: usize, of: usize, requests: u64) {
    const WIDTH: usize = 30;
    let filled = WIDTH * done / of.max(1);
    eprint!("\r[{}{}] day {done}/{of} · {requests} requests", "#".repeat(filled), ".".repeat(WIDTH - filled));
}

pub async fn run(a: Args<'_>) -> anyhow::Result<()> {
    let tmp;
    let dir: PathBuf = match a.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let first = Date::new(YEAR, MONTH, 1)?;
    let (policy, text) = world::mock_and_policy().await?;
    let tz = policy.org.time_zone.clone();
    let at = |d: Date, hour: i8| -> anyhow::Result<Timestamp> {
        Ok(d.to_zoned_datetime(tz.clone())?.timestamp() + i64::from(hour).hours())
    };
    let n =
        a.days.map_or(first.days_in_month(), |d| i8::try_from(d).unwrap_or(i8::MAX).clamp(1, first.days_in_month()));
    let days: Vec<Date> = (0..n).map(|i| first + i64::from(i).days()).collect();
    let working: Vec<bool> = days.iter().map(|d| !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)).collect();

    let mut company = tokenwise_simulator::cast(&policy, a.seed);
    company.start_pilots(&policy, first);
    let w = Arc::new(world::World::start(&dir, a.listen, (policy, text), at(first, 8)?).await?);
    let began = Instant::now();
    let mut tally = drive::Tally::default();
    let progress = std::io::stderr().is_terminal() && !a.json;
    for (i, (d, work)) in days.iter().zip(&working).enumerate() {
        let day = tokenwise_simulator::day(&company, &w.policy, a.seed, u16::try_from(i)?, *work);
        w.set_clock(at(*d, 9)?).await?;
        drive::day(&w, &company, &day, &mut tally).await?;
        if progress {
            bar(i + 1, days.len(), tally.requests);
        }
    }
    if progress {
        eprintln!();
    }
    // The last evening of the month: one more upkeep pass, tranches included.
    let last = *days.last().context("a month without days")?;
    w.set_clock(at(last, 22)?).await?;
    let elapsed = began.elapsed().as_secs_f64();

    let span = SpendQuery { group_by: GroupBy::Team, from: at(first, 0)?, to: at(last + 1.day(), 0)? };
    let period = format!("{YEAR:04}-{MONTH:02}");
    let mut r = report::gather(&w, &company, &tally, &period, span).await?;
    r.elapsed_s = (elapsed * 10.0).round() / 10.0;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        report::print(&r, &company);
    }
    let w = Arc::into_inner(w).context("the world is still in use")?;
    if a.no_serve {
        return w.stop().await;
    }
    if !a.json {
        println!();
        println!("Dashboard: {}/ (Ctrl-C stops). Log in with one of these keys, one per role:", w.base);
        for role in [Role::Member, Role::Manager, Role::Governance, Role::Finance, Role::Admin] {
            if let Some(u) = w.policy.users.values().find(|u| u.role == role) {
                println!("  {:<11} {:<16} {}", role.as_str(), u.id, w.keys.get(&u.id).map_or("", String::as_str));
            }
        }
        println!("Gateway: {}/v1 · API: {}/api/v1 (the same keys)", w.base, w.base);
    }
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    w.stop().await
}
