//! Usage recorded elsewhere, taken into the ledger (`POST
//! /api/v1/events:batch`, OTLP at `/otlp/v1/traces`, `tokenwise ingest`).
//! Each record is read (`tokenwise-ingest`), mapped to a person and a use
//! case by the policy's `[[ingest.sources]]` rules ([`mapping`]), priced
//! with the price book at its own time — a cost the record reports is only
//! a hint, summed apart for reconciliation — and stored as an `ingested`
//! usage event whose id derives from its source and id, so a record sent
//! twice is stored once. Its cost is captured on the budget envelopes of
//! its person, team, project and use case for its period, with no hold
//! (it already happened, so it is never refused, and counts even past a
//! hard limit), and the scores and task totals count it like gateway
//! usage. A record that cannot be read or mapped is rejected with its line
//! and reason; the rest are stored.

pub mod mapping;

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use tokenwise_core::{EnvelopeSpec, Nanos};
use tokenwise_ingest::{Format, Parsed, Record, Rejection};
use tokenwise_ledger::{AuditAction, AuditDraft, EventSource, Operation, Status, Store, UsageEvent};
use tokenwise_policy::Policy;
use tokenwise_policy::budgets::Subject;

/// Events committed per transaction by a server: one fsync serves many,
/// and a transaction stays short enough not to stall the gateway's commits
/// for long (they share the writer).
pub const CHUNK: usize = 4_096;
/// Rejections listed in an answer (the count is always complete).
pub const MAX_LISTED: usize = 1_000;

/// A record that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RejectedRecord {
    /// 1-based line of the input (or position in an array or OTLP request).
    pub line: u64,
    /// Its id at the source, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reason: String,
}

/// What an ingest did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub format: String,
    /// Records read: stored + duplicates + rejected + ignored.
    pub received: u64,
    /// New usage events in the ledger.
    pub stored: u64,
    /// Records already in the ledger (sent before), stored once.
    pub duplicates: u64,
    pub rejected: u64,
    /// Records with no model usage (spans without GenAI token counts,
    /// LiteLLM cache hits): skipped.
    pub ignored: u64,
    /// The price book's cost of the records taken in (stored or already
    /// stored): what the ledger counts.
    pub cost_usd: String,
    /// What the records themselves said they cost, where they did: a hint
    /// to reconcile with, never counted.
    pub reported_cost_usd: Option<String>,
    /// The first rejections (up to 1,000), in input order.
    pub rejections: Vec<RejectedRecord>,
    #[serde(skip)]
    cost: Nanos,
    #[serde(skip)]
    reported: Option<Nanos>,
}

impl IngestReport {
    pub fn new(format: Format) -> IngestReport {
        let mut r = IngestReport { format: format.as_str().to_string(), ..IngestReport::default() };
        r.finish();
        r
    }

    fn reject(&mut self, r: Rejection) {
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED {
            self.rejections.push(RejectedRecord { line: r.line, id: r.id, reason: r.reason });
        }
    }

    /// Adds another part's counts (a file read in chunks).
    pub fn merge(&mut self, o: IngestReport) {
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.ignored += o.ignored;
        self.cost = self.cost.saturating_add(o.cost);
        self.reported = match (self.reported, o.reported) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        // Rejections past the listed ones still count.
        let unlisted = o.rejected.saturating_sub(o.rejections.len() as u64);
        for r in o.rejections {
            self.reject(Rejection::new(r.line, r.id, r.reason));
        }
        self.rejected += unlisted;
        self.finish();
    }

    fn finish(&mut self) {
        self.rejections.sort_by_key(|r| r.line);
        self.received = self.stored + self.duplicates + self.rejected + self.ignored;
        self.cost_usd = self.cost.to_usd_string();
        self.reported_cost_usd = self.reported.map(Nanos::to_usd_string);
    }

    pub fn cost(&self) -> Nanos {
        self.cost
    }

    /// One line per rejection, for a terminal or an OTLP warning.
    pub fn rejection_lines(&self) -> Vec<String> {
        self.rejections.iter().map(|r| format!("line {}: {}", r.line, r.reason)).collect()
    }
}

/// Where each format's events are said to come from.
fn event_source(f: Format) -> EventSource {
    match f {
        Format::Jsonl => EventSource::IngestJsonl,
        Format::Litellm => EventSource::IngestLitellm,
        Format::OtlpJson | Format::OtlpProto => EventSource::IngestOtlp,
    }
}

/// The envelopes a subject's usage at a time draws on. Which they are may
/// change only at their periods' bounds (ingest caches them in between).
pub type Envelopes<'a> = dyn Fn(&Subject<'_>, Timestamp) -> Vec<EnvelopeSpec> + Sync + 'a;

/// Maps, prices and stores parsed records on a store, for a policy.
pub struct Ingester<'a> {
    pub policy: &'a Policy,
    pub store: &'a dyn Store,
    /// The envelopes usage draws on (a server adds its unlocked tranches).
    pub envelopes: &'a Envelopes<'a>,
    /// Events per transaction ([`CHUNK`] on a server; a CLI run, alone on
    /// its ledger, commits more at once).
    pub chunk: usize,
}

/// Envelope keys per person, project and use case, with the span of time
/// they hold for: the envelopes a subject draws on change only when one of
/// their periods ends (the budgets that cover it do not depend on time),
/// so the keys hold from the latest period start to the earliest period
/// end among them — for ever when the subject is under no budget.
type KeyCache<'p> = HashMap<(&'p str, Option<&'p str>, &'p str), CachedKeys>;

#[derive(Debug)]
struct CachedKeys {
    from: Timestamp,
    until: Timestamp,
    keys: Vec<String>,
}

impl CachedKeys {
    fn of(envelopes: &[EnvelopeSpec]) -> CachedKeys {
        CachedKeys {
            from: envelopes.iter().map(|e| e.period_start).max().unwrap_or(Timestamp::MIN),
            until: envelopes.iter().map(|e| e.period_end).min().unwrap_or(Timestamp::MAX),
            keys: envelopes.iter().map(|e| e.key.clone()).collect(),
        }
    }

    fn holds_at(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.until
    }
}

/// Records mapped and priced, their envelopes made sure of: ready to write.
#[derive(Debug)]
pub struct Prepared {
    report: IngestReport,
    events: Vec<UsageEvent>,
}

/// A write under way: on a blocking thread already (SQLite), or still to run.
#[derive(Debug)]
pub enum Pending {
    Started(IngestReport, tokio::task::JoinHandle<Result<(u64, Vec<UsageEvent>), tokenwise_ledger::StoreError>>),
    Waiting(Prepared),
}

impl<'a> Ingester<'a> {
    /// Stores what was parsed: every record mapped and priced, or rejected
    /// with its reason; the envelopes they draw on created first; events
    /// committed in chunks, each one transaction (a record already stored
    /// is skipped, so sending again is safe).
    pub async fn store(&self, format: Format, parsed: Parsed) -> AppResult<IngestReport> {
        let prepared = self.prepare(format, parsed).await?;
        self.finish(self.write(prepared)).await
    }

    /// Maps and prices the records (rejecting those that cannot be), and
    /// creates the envelopes they draw on.
    pub async fn prepare(&self, format: Format, parsed: Parsed) -> AppResult<Prepared> {
        let mut report = IngestReport::new(format);
        report.ignored = parsed.ignored;
        for r in parsed.rejected {
            report.reject(r);
        }
        let mut mapped = Vec::with_capacity(parsed.records.len());
        let mut specs: BTreeMap<String, EnvelopeSpec> = BTreeMap::new();
        let mut cache = KeyCache::new();
        for mut rec in parsed.records {
            match self.event(&mut rec, &mut specs, &mut cache) {
                Ok(e) => mapped.push((e, rec.reported_cost)),
                Err(reason) => report.reject(Rejection::new(rec.line, Some(rec.id), reason)),
            }
        }
        // A record sent twice in one body is stored once (its ids borrowed
        // from the events, not copied).
        let mut seen = HashSet::with_capacity(mapped.len());
        let first: Vec<bool> = mapped.iter().map(|(e, _)| seen.insert(e.id.as_str())).collect();
        drop(seen);
        let mut events = Vec::with_capacity(mapped.len());
        for ((e, reported), first) in mapped.into_iter().zip(first) {
            if !first {
                report.duplicates += 1;
                continue;
            }
            report.cost = report.cost.saturating_add(e.cost);
            if let Some(c) = reported {
                report.reported = Some(report.reported.unwrap_or(Nanos::ZERO).saturating_add(c));
            }
            events.push(e);
        }
        let specs: Vec<EnvelopeSpec> = specs.into_values().collect();
        self.store.budget_ensure(&specs).await?;
        Ok(Prepared { report, events })
    }

    /// Starts writing: on a backend that writes on a thread of its own
    /// (SQLite) the events move to a blocking thread now, so the caller
    /// can prepare the next part meanwhile; each chunk is one transaction.
    pub fn write(&self, p: Prepared) -> Pending {
        let size = self.chunk.max(1);
        let Some(mut w) = self.store.blocking_writer() else { return Pending::Waiting(p) };
        let Prepared { report, events } = p;
        let handle = tokio::task::spawn_blocking(move || {
            let new = events.chunks(size).try_fold(0, |n, c| w.import_events_blocking(c).map(|new| n + new))?;
            // Freed by the caller, off the writer's path.
            Ok((new, events))
        });
        Pending::Started(report, handle)
    }

    /// Waits for a write and completes its report.
    pub async fn finish(&self, pending: Pending) -> AppResult<IngestReport> {
        let (mut report, sent, new) = match pending {
            Pending::Started(report, handle) => {
                let joined = handle.await.map_err(|e| AppError::internal(format!("the ledger writer failed: {e}")))?;
                let (new, events) = joined?;
                (report, events.len() as u64, new)
            }
            Pending::Waiting(Prepared { report, events }) => {
                let mut new = 0;
                for chunk in events.chunks(self.chunk.max(1)) {
                    new += self.store.commit_events(chunk).await?.new;
                }
                (report, events.len() as u64, new)
            }
        };
        report.stored += new;
        report.duplicates += sent - new;
        report.finish();
        Ok(report)
    }

    fn event(
        &self,
        r: &mut Record,
        specs: &mut BTreeMap<String, EnvelopeSpec>,
        cache: &mut KeyCache<'a>,
    ) -> Result<UsageEvent, String> {
        let m = mapping::map(self.policy, r)?;
        let cost = mapping::cost(&r.usage, &m)?;
        let key = (m.user.id.as_str(), m.project, m.use_case.id.as_str());
        let keys = match cache.get(&key) {
            Some(c) if c.holds_at(r.ts) => c.keys.clone(),
            _ => {
                let subject = Subject {
                    user: &m.user.id,
                    team: &m.user.team,
                    project: m.project,
                    use_case: &m.use_case.id,
                    track: m.use_case.track,
                };
                let envelopes = (self.envelopes)(&subject, r.ts);
                let cached = CachedKeys::of(&envelopes);
                let keys = cached.keys.clone();
                for e in envelopes {
                    specs.entry(e.key.clone()).or_insert(e);
                }
                cache.insert(key, cached);
                keys
            }
        };
        // Mapped: the record's own texts move into its event.
        let (status, http, code) =
            if r.failed { (Status::UpstreamError, 502, Some("upstream_error")) } else { (Status::Ok, 200, None) };
        Ok(UsageEvent::builder(
            r.ledger_id(),
            r.ts,
            event_source(r.format),
            &m.user.id,
            &m.user.team,
            &m.model.id,
            &m.model.upstream,
        )
        .project(m.project)
        .use_case(Some(&m.use_case.id))
        .template(r.facts.template.take())
        .task(r.facts.task.take())
        .track(m.use_case.track)
        .operation(Operation::Ingested)
        .requested_model(std::mem::take(&mut r.model))
        .priced(r.usage, cost, &m.price.id)
        .timing(r.latency_ms, None)
        .ended(status, http, code)
        .budget_keys(keys)
        .build())
    }
}

/// The audit entry of an ingest: who, which format, the counts.
pub fn audit_entry(actor: &str, via: &str, report: &IngestReport) -> AuditDraft {
    let details = json!({
        "via": via,
        "format": report.format,
        "stored": report.stored,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "ignored": report.ignored,
        "cost_usd": report.cost_usd,
    });
    AuditDraft::new(actor, AuditAction::IngestBatch, &report.format, details)
}

impl App {
    /// Takes in a body of usage records in `format`, for an admin or
    /// governance caller ([`crate::access::may_ingest`]).
    pub async fn ingest(&self, caller: &Caller, format: Format, body: Vec<u8>, via: &str) -> AppResult<IngestReport> {
        if !crate::access::may_ingest(&caller.user) {
            return Err(AppError::denied(format!(
                "`{}` may not ingest usage: it is recorded by an admin's or governance's key, so nobody books usage for others",
                caller.user.id
            )));
        }
        let parsed = tokio::task::spawn_blocking(move || tokenwise_ingest::parse(format, &body, 0))
            .await
            .map_err(|e| AppError::internal(format!("reading the records failed: {e}")))?;
        let envelopes = |s: &Subject<'_>, at: Timestamp| self.budgets.specs(&self.policy, s, at);
        let ingester =
            Ingester { policy: &self.policy, store: self.store.as_ref(), envelopes: &envelopes, chunk: CHUNK };
        let report = ingester.store(format, parsed).await?;
        self.auditor.submit(audit_entry(&caller.user.id, via, &report)).await;
        Ok(report)
    }
}
