//! `tokenwise`: one binary, each subcommand a thin shell over the library
//! crates. Subcommands appear here only once they really work.

// The binary is where output to the terminal belongs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod check;
mod demo;
mod ingest;
mod keys;
mod report;
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
        /// Default track.
        #[arg(long, value_parser = parse_track)]
        track: Option<Track>,
        /// A note to tell keys apart.
        #[arg(long)]
        label: Option<String>,
        /// Ledger URL (default: the policy's `server.database`).
        #[arg(long)]
        database: Option<String>,
    },
    /// List a user's keys (never the secrets).
    List {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        user: String,
        #[arg(long)]
        database: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(long)]
        config: PathBuf,
        id: String,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain; name the first broken entry.
    Verify {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn parse_track(s: &str) -> Result<Track, String> {
    s.parse::<Track>().map_err(|e| e.to_string())
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
                track,
                label: label.as_deref(),
            })
            .await
            .map(|()| ExitCode::SUCCESS)
        }
        KeysCommand::List { config, user, database } => {
            keys::list(&config, database.as_deref(), &user).await.map(|()| ExitCode::SUCCESS)
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
            Command::Audit { command } => match command {
                AuditCommand::Verify { config, database, json } => {
                    audit::verify(&config, database.as_deref(), json).await
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
