//! `tokenwise ingest --config F FILE --format jsonl|litellm|otlp-json`:
//! usage recorded elsewhere, into the ledger the policy (or `--database`)
//! names. The file is read in chunks, a pipeline of three: one chunk
//! parsed, the one before mapped and priced, the one before that written,
//! each as `POST /api/v1/events:batch` does it (`tokenwise_app::ingest`). Rejected
//! lines are printed with their reason and make the exit status 1; the
//! rest are stored, and running it again stores nothing twice.

use crate::store;
use anyhow::Context;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokenwise_app::ingest::{IngestReport, Ingester, audit_entry};
use tokenwise_ingest::{Format, Parsed};

/// Lines parsed and stored together.
const LINES_PER_CHUNK: usize = 20_000;

pub struct Args<'a> {
    pub config: &'a Path,
    pub database: Option<&'a str>,
    pub file: &'a Path,
    pub format: &'a str,
    pub json: bool,
}

fn format(name: &str) -> anyhow::Result<Format> {
    match name {
        "jsonl" => Ok(Format::Jsonl),
        "litellm" => Ok(Format::Litellm),
        "otlp-json" => Ok(Format::OtlpJson),
        other => anyhow::bail!("unknown format `{other}`: use jsonl, litellm or otlp-json"),
    }
}

/// Reads `path` and sends what each chunk holds: lines in chunks, or the
/// whole file when it is one JSON array or an OTLP request.
fn read_chunks(path: &Path, format: Format, tx: &tokio::sync::mpsc::Sender<Parsed>) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let head = r.fill_buf()?;
    let whole = format == Format::OtlpJson || head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if whole {
        let mut all = Vec::new();
        r.read_to_end(&mut all)?;
        let _ = tx.blocking_send(tokenwise_ingest::parse(format, &all, 0));
        return Ok(());
    }
    let (mut buf, mut lines, mut first) = (Vec::with_capacity(8 << 20), 0usize, 0u64);
    loop {
        let n = r.read_until(b'\n', &mut buf)?;
        if n > 0 {
            lines += 1;
        }
        if (n == 0 && !buf.is_empty()) || lines == LINES_PER_CHUNK {
            if tx.blocking_send(tokenwise_ingest::parse(format, &buf, first)).is_err() {
                return Ok(());
            }
            first += lines as u64;
            buf.clear();
            lines = 0;
        }
        if n == 0 {
            return Ok(());
        }
    }
}

fn print(report: &IngestReport, json: bool) -> anyhow::Result<()> {
    for line in report.rejection_lines() {
        eprintln!("rejected {line}");
    }
    if report.rejected > report.rejections.len() as u64 {
        eprintln!("… and {} more rejected", report.rejected - report.rejections.len() as u64);
    }
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!(
            "ingested {} records: {} stored, {} already stored, {} rejected, {} without usage; cost ${}{}",
            report.received,
            report.stored,
            report.duplicates,
            report.rejected,
            report.ignored,
            report.cost_usd,
            report.reported_cost_usd.as_ref().map(|r| format!(" (the sources reported ${r})")).unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn run(a: Args<'_>) -> anyhow::Result<ExitCode> {
    let policy = store::load_policy(a.config)?;
    let format = format(a.format)?;
    let (_, ledger) = store::for_policy(&policy, a.database).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(2);
    let path: PathBuf = a.file.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || read_chunks(&path, format, &tx));
    let envelopes = |s: &tokenwise_policy::budgets::Subject<'_>, at| policy.envelopes_for(s, at);
    // Alone on its ledger: each chunk read is one transaction.
    let ingester = Ingester { policy: &policy, store: ledger.as_ref(), envelopes: &envelopes, chunk: LINES_PER_CHUNK };
    let mut report = IngestReport::new(format);
    let fail = |e: tokenwise_app::AppError| anyhow::anyhow!("{}", e.message);
    // One chunk is written (on the store's writer thread) while the next
    // is mapped and priced, and the one after parsed: the writer is most
    // of the work, so on two cores the others hide behind it.
    let mut writing = None;
    while let Some(parsed) = rx.recv().await {
        let prepared = ingester.prepare(format, parsed).await.map_err(fail)?;
        if let Some(w) = writing.take() {
            report.merge(ingester.finish(w).await.map_err(fail)?);
        }
        writing = Some(ingester.write(prepared));
    }
    if let Some(w) = writing {
        report.merge(ingester.finish(w).await.map_err(fail)?);
    }
    reader.await.context("the reader failed")??;
    ledger.append_audit(&audit_entry("cli", "tokenwise ingest", &report)).await.context("cannot audit the ingest")?;
    print(&report, a.json)?;
    Ok(if report.rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
