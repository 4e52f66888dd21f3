//! `tokenwise`: one binary, each subcommand a thin shell over the library
//! crates. Subcommands appear here only once they really work.

// The binary is where output to the terminal belongs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

// jemalloc for Rust's allocations (SQLite keeps the system's malloc): 15%
// less CPU a gateway call than glibc's at 1,000 req/s on SQLite, 20% on
// PostgreSQL, where allocation was up to a quarter of the gateway's time
// (docs/benchmarks.md).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod audit;
mod check;
mod demo;
mod ingest;
mod keys;
mod report;
mod retention;
mod scan;
mod score;
mod serve;
mod store;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokenwise_core::Track;

#[derive(Parser)]
#[command(name = "tokenwise", version, about = "Govern, meter and fairly reward how a company uses AI models.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo: Acme Corp's honest and gaming people through the real gateway for a month.
    Demo {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Keep the demo ledger in this folder (default: a temporary one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Where to serve the gateway, the API and the dashboard.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Stop after the report instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Seed of the simulation: the same seed plans the same month.
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// For tests: simulate only the month's first N days.
        #[arg(long, hide = true)]
        days: Option<u8>,
    },
    /// Run the gateway and the API.
    Serve {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Address to listen on (default: the policy's `server.listen`); port 0 picks a free port.
        #[arg(long)]
        listen: Option<String>,
        /// Ledger URL, sqlite://PATH or postgres://… (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
        /// For tests and demos: run on a manual clock starting at this instant
        /// (RFC 3339, or `now`), moved by an admin with POST /api/v1/admin/clock.
        #[arg(long, hide = true, value_name = "START")]
        manual_clock: Option<String>,
    },
    /// A local OpenAI- and Anthropic-compatible model server for demos, tests and benchmarks.
    MockUpstream {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        /// Delay before the first token (overridable per request with `x-mock-ttft-ms`).
        #[arg(long, default_value_t = 0)]
        ttft_ms: u64,
        /// Delay between streamed tokens (per request: `x-mock-token-ms`).
        #[arg(long, default_value_t = 0)]
        token_ms: u64,
    },
    /// Validate a policy file; every error is reported with file, line and a fix.
    CheckConfig {
        /// The policy file (TOML).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Scan text for personal data, credentials and the policy's terms.
    Scan {
        /// A file, or `-` (the default) for standard input.
        file: Option<PathBuf>,
        /// One JSON object: {"data_class", "findings": [{"kind", "start", "end", "class"}]}.
        #[arg(long)]
        json: bool,
        /// Scan each line on its own; offsets are into that line.
        #[arg(long)]
        lines: bool,
        /// Use this policy's data classes and terms (default: built-in classes).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// A month's scores under a reward model (default `balanced`), or all six side by side.
    Score {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The month, YYYY-MM, in the org's time zone.
        #[arg(long)]
        period: String,
        /// raw_tokens, efficiency, outcome, compliance_weighted, team or balanced.
        #[arg(long)]
        model: Option<String>,
        /// Print {"model", "period", "rules_version", "scores": [...]} as JSON.
        #[arg(long)]
        json: bool,
        /// Every reward model side by side: ranks, winners and losers, rank correlations.
        #[arg(long)]
        compare: bool,
        /// Score under the rules a past version stood for (as `rules_version` names them).
        #[arg(long, value_name = "VERSION")]
        rules_version: Option<String>,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Take in usage recorded elsewhere: JSON lines of events or CloudEvents,
    /// LiteLLM spend-log rows, or OpenTelemetry GenAI spans (OTLP/JSON).
    Ingest {
        /// The policy file (TOML); its `[[ingest.sources]]` say whose each record is.
        #[arg(long)]
        config: PathBuf,
        /// The file to read.
        file: PathBuf,
        /// jsonl, litellm or otlp-json.
        #[arg(long)]
        format: String,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Prompts kept under a use case's `[retention]` policy.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Reports: chargeback (CSV, FOCUS, JSON), health, reconciliation with a provider's export, a pilot's report.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new API key once; only its hash is stored.
    Create {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The user the key belongs to.
        #[arg(long)]
        user: String,
        /// Default use case for requests without `x-tokenwise-use-case`.
        #[arg(long)]
        use_case: Option<String>,
        /// Default project.
        #[arg(long)]
        project: Option<String>,
        /// Default track for requests without `x-tokenwise-track`.
        #[arg(long, value_enum)]
        track: Option<TrackArg>,
        /// A note to tell keys apart.
        #[arg(long)]
        label: Option<String>,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// List a user's keys, or every key with --all (never the secrets).
    List {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Whose keys to list.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        user: Option<String>,
        /// Every key in the ledger, of every person (also people no longer in the policy).
        #[arg(long)]
        all: bool,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The key's id, as `keys list` shows it.
        id: String,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain; name the first broken entry.
    Verify {
        /// The policy file (its `server.database` is the ledger read).
        #[arg(long)]
        config: PathBuf,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
        /// A head printed earlier by `audit head` or `audit verify` (SEQ:HASH) and kept
        /// elsewhere: fails unless entry SEQ still has that hash, so a chain rewritten from
        /// before it or truncated below it is caught.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
    /// Append a usage digest to the chain: the usage rows recorded since the last digest
    /// and more than --lag-secs ago, counted and hashed (`serve` does this every 10 minutes).
    Digest {
        /// The policy file (its `server.database` is the ledger read).
        #[arg(long)]
        config: PathBuf,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
        /// Digest only rows recorded at least this many seconds ago (longer than any insert
        /// takes to commit; 0 only when nothing writes the ledger).
        #[arg(long, default_value_t = 600)]
        lag_secs: u64,
    },
    /// Verify the chain and print its head as SEQ:HASH, to keep outside the database.
    Head {
        /// The policy file (its `server.database` is the ledger read).
        #[arg(long)]
        config: PathBuf,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Delete the prompts kept past their use case's retention (`serve` does this every 10 minutes).
    Purge {
        /// The policy file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
}

/// A track, as `--track` takes it.
#[derive(Clone, Copy, clap::ValueEnum)]
enum TrackArg {
    /// Work that ships: scored on operational outcomes.
    Production,
    /// A sandbox: scored on learning outcomes.
    Exploration,
}

impl From<TrackArg> for Track {
    fn from(t: TrackArg) -> Track {
        match t {
            TrackArg::Production => Track::Production,
            TrackArg::Exploration => Track::Exploration,
        }
    }
}

/// `tokenwise keys …`.
async fn keys_command(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create { config, user, use_case, project, track, label, database } => {
            keys::create(keys::CreateArgs {
                config: &config,
                database: database.as_deref(),
                user: &user,
                use_case: use_case.as_deref(),
                project: project.as_deref(),
                track: track.map(Track::from),
                label: label.as_deref(),
            })
            .await
            .map(|()| ExitCode::SUCCESS)
        }
        KeysCommand::List { config, user, all: _, database } => {
            keys::list(&config, database.as_deref(), user.as_deref()).await.map(|()| ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { config, id, database } => {
            keys::revoke(&config, database.as_deref(), &id).await.map(|()| ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TOKENWISE_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo { json, data_dir, listen, no_serve, seed, days } => {
                let args = demo::Args { json, data_dir: data_dir.as_deref(), listen: &listen, no_serve, seed, days };
                demo::run(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::CheckConfig { file, json } => check::run(&file, json),
            Command::Scan { file, json, lines, config } => {
                scan::run(file.as_deref(), json, lines, config.as_deref()).map(|()| ExitCode::SUCCESS)
            }
            Command::Serve { config, listen, database, manual_clock } => {
                serve::serve(&config, listen.as_deref(), database.as_deref(), manual_clock.as_deref())
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::MockUpstream { listen, ttft_ms, token_ms } => {
                serve::mock_upstream(&listen, ttft_ms, token_ms).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Score { config, period, model, json, compare, database, rules_version } => {
                score::run(score::Args {
                    config: &config,
                    database: database.as_deref(),
                    period: &period,
                    model: model.as_deref(),
                    json,
                    compare,
                    rules_version: rules_version.as_deref(),
                })
                .await
                .map(|()| ExitCode::SUCCESS)
            }
            Command::Ingest { config, file, format, json, database } => {
                ingest::run(ingest::Args {
                    config: &config,
                    database: database.as_deref(),
                    file: &file,
                    format: &format,
                    json,
                })
                .await
            }
            Command::Keys { command } => keys_command(command).await,
            Command::Report { command } => report::run(command).await,
            Command::Retention { command: RetentionCommand::Purge { config, database } } => {
                retention::purge(&config, database.as_deref()).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Audit { command } => match command {
                AuditCommand::Verify { config, database, json, expect_head } => {
                    audit::verify(&config, database.as_deref(), json, expect_head.as_deref()).await
                }
                AuditCommand::Head { config, database } => audit::head(&config, database.as_deref()).await,
                AuditCommand::Digest { config, database, lag_secs } => {
                    audit::digest(&config, database.as_deref(), lag_secs).await
                }
            },
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    /// Every visible argument of every subcommand, with the path to it.
    fn args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            out.push((format!("{path} {}", a.get_id()), a.clone()));
        }
        for sub in cmd.get_subcommands() {
            args(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_subcommand_and_flag_says_what_it_does() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut all = Vec::new();
        args(&cmd, "tokenwise", &mut all);
        let bare: Vec<&str> = all
            .iter()
            .filter(|(_, a)| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|(_, a)| a.get_help().is_none_or(|h| h.to_string().trim().is_empty()))
            .map(|(p, _)| p.as_str())
            .collect();
        assert!(bare.is_empty(), "arguments without a help line: {bare:?}");
        fn subs(cmd: &clap::Command, path: &str, bare: &mut Vec<String>) {
            for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                if s.get_about().is_none() {
                    bare.push(format!("{path} {}", s.get_name()));
                }
                subs(s, &format!("{path} {}", s.get_name()), bare);
            }
        }
        let mut bare = Vec::new();
        subs(&cmd, "tokenwise", &mut bare);
        assert!(bare.is_empty(), "subcommands without an about line: {bare:?}");
    }

    #[test]
    fn track_lists_its_values_and_takes_only_them() {
        let mut cmd = Cli::command();
        let help = cmd.find_subcommand_mut("keys").unwrap().find_subcommand_mut("create").unwrap().render_long_help();
        let help = help.to_string();
        for t in Track::ALL {
            assert!(help.contains(t.as_str()), "--track lists `{}`: {help}", t.as_str());
        }
        let parse = |track: &str| {
            Cli::try_parse_from(["tokenwise", "keys", "create", "--config", "p.toml", "--user", "u", "--track", track])
        };
        assert!(parse("exploration").is_ok());
        let err = parse("sandbox").err().unwrap().to_string();
        assert!(err.contains("production") && err.contains("exploration"), "{err}");
    }

    #[test]
    fn keys_list_takes_a_user_or_all() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["tokenwise", "keys", "list", "--config", "p.toml"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
        };
        assert!(parse(&["--user", "ivan.petrov"]).is_ok());
        assert!(parse(&["--all"]).is_ok());
        assert!(parse(&[]).is_err(), "one of them is needed");
        assert!(parse(&["--all", "--user", "ivan.petrov"]).is_err(), "not both");
    }
}
