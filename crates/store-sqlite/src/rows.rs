//! Rows to ledger types, and the column lists they are read in.

use rusqlite::Row;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::budget::{EnvelopeSpec, EnvelopeState};
use tokenwise_ledger::{ApiKey, Appeal, AuditEntry, Award, Exception, Outcome, UsageEvent, from_micros};

pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) const EVENT_COLUMNS: &str = "id, ts_us, source, user_id, team_id, project_id, use_case, template, task, track, \
    destination, operation, requested_model, model, provider, input_tokens, output_tokens, cached_read_tokens, \
    cache_write_tokens, reasoning_tokens, cost_nanos, price_version, latency_ms, ttft_ms, streamed, status, \
    http_status, error_code, estimated, data_class, findings, decision, exception_id, prompt_hash, key_id, budget_keys, \
    prompt_minhash";

pub(crate) fn parse<T: std::str::FromStr>(text: String, column: &str) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| bad(format!("{column}: {e}")))
}

/// A stored value this version cannot read.
fn bad(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
}

pub(crate) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<UsageEvent> {
    Ok(UsageEvent {
        id: r.get(0)?,
        ts: from_micros(r.get(1)?),
        source: parse(r.get(2)?, "source")?,
        user_id: r.get(3)?,
        team_id: r.get(4)?,
        project_id: r.get(5)?,
        use_case: r.get(6)?,
        template: r.get(7)?,
        task: r.get(8)?,
        track: parse(r.get(9)?, "track")?,
        destination: r.get(10)?,
        operation: parse(r.get(11)?, "operation")?,
        requested_model: r.get(12)?,
        model: r.get(13)?,
        provider: r.get(14)?,
        usage: TokenUsage {
            input: uint(r.get(15)?),
            output: uint(r.get(16)?),
            cached_read: uint(r.get(17)?),
            cache_write: uint(r.get(18)?),
            reasoning: uint(r.get(19)?),
        },
        cost: Nanos(r.get(20)?),
        price_version: r.get(21)?,
        latency_ms: r.get(22)?,
        ttft_ms: r.get(23)?,
        streamed: r.get(24)?,
        status: parse(r.get(25)?, "status")?,
        http_status: r.get(26)?,
        error_code: r.get(27)?,
        estimated: r.get(28)?,
        data_class: r.get(29)?,
        findings: UsageEvent::parse_findings(&r.get::<_, String>(30)?).map_err(bad)?,
        decision: parse(r.get(31)?, "decision")?,
        exception_id: r.get(32)?,
        prompt_hash: r.get(33)?,
        key_id: r.get(34)?,
        budget_keys: UsageEvent::parse_budget_keys(&r.get::<_, String>(35)?),
        prompt_minhash: r.get::<_, Option<i64>>(36)?.map(|v| u64::from_ne_bytes(v.to_ne_bytes())),
    })
}

pub(crate) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let track: Option<String> = r.get(6)?;
    Ok(ApiKey {
        id: r.get(0)?,
        hash: r.get(1)?,
        prefix: r.get(2)?,
        user_id: r.get(3)?,
        use_case: r.get(4)?,
        project_id: r.get(5)?,
        track: track.map(|t| parse(t, "track")).transpose()?,
        label: r.get(7)?,
        created_at: from_micros(r.get(8)?),
        revoked_at: r.get::<_, Option<i64>>(9)?.map(from_micros),
    })
}

pub(crate) const KEY_COLUMNS: &str =
    "id, key_hash, prefix, user_id, use_case, project_id, track, label, created_us, revoked_us";

pub(crate) const EXCEPTION_COLUMNS: &str = "id, scope, reason_code, justification, requested_by, status, cap_nanos, duration_secs, \
    models, data_class, created_us, decided_by, decided_us, valid_until_us";

pub(crate) fn exception_from_row(r: &Row<'_>) -> rusqlite::Result<Exception> {
    Ok(Exception {
        id: r.get(0)?,
        scope: parse(r.get(1)?, "scope")?,
        reason_code: r.get(2)?,
        justification: r.get(3)?,
        requested_by: r.get(4)?,
        status: parse(r.get(5)?, "status")?,
        cap: Nanos(r.get(6)?),
        duration_secs: r.get(7)?,
        models: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        data_class: r.get(9)?,
        created_at: from_micros(r.get(10)?),
        decided_by: r.get(11)?,
        decided_at: r.get::<_, Option<i64>>(12)?.map(from_micros),
        valid_until: r.get::<_, Option<i64>>(13)?.map(from_micros),
    })
}

pub(crate) fn envelope_from_row(r: &Row<'_>) -> rusqlite::Result<EnvelopeState> {
    Ok(EnvelopeState {
        spec: EnvelopeSpec {
            key: r.get(0)?,
            budget_id: r.get(1)?,
            scope: r.get(2)?,
            period_start: from_micros(r.get(3)?),
            period_end: from_micros(r.get(4)?),
            limit: Nanos(r.get(5)?),
            hard: r.get(6)?,
            alert_at_percent: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
        },
        captured: Nanos(r.get(8)?),
        held: Nanos::ZERO,
        alerted: u32::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
    })
}

pub(crate) fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        ts_us: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        details: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

pub(crate) const OUTCOME_COLUMNS: &str = "id, task, user_id, team_id, use_case, kind, value_nanos, value_hours_milli, \
    evidence, quality, escalated, error, status, reported_by, signed, reported_us, decided_by, decided_us, \
    decided_quality, metered";

/// A 1–5 rating as stored.
fn rating(v: Option<i64>, column: &str) -> rusqlite::Result<Option<u8>> {
    v.map(|q| u8::try_from(q).map_err(|_| bad(format!("{column} = {q} is out of range")))).transpose()
}

pub(crate) fn outcome_from_row(r: &Row<'_>) -> rusqlite::Result<Outcome> {
    Ok(Outcome {
        id: r.get(0)?,
        task: r.get(1)?,
        user_id: r.get(2)?,
        team_id: r.get(3)?,
        use_case: r.get(4)?,
        kind: r.get(5)?,
        value: Nanos(r.get(6)?),
        value_hours_milli: r.get(7)?,
        evidence: r.get(8)?,
        quality: rating(r.get(9)?, "quality")?,
        escalated: r.get(10)?,
        error: r.get(11)?,
        status: parse(r.get(12)?, "status")?,
        reported_by: r.get(13)?,
        signed: r.get(14)?,
        reported_at: from_micros(r.get(15)?),
        decided_by: r.get(16)?,
        decided_at: r.get::<_, Option<i64>>(17)?.map(from_micros),
        decided_quality: rating(r.get(18)?, "decided_quality")?,
        metered: r.get(19)?,
    })
}

pub(crate) const APPEAL_COLUMNS: &str =
    "id, subject_kind, subject_id, appellant, comment, status, filed_us, decided_by, decided_us, decision_comment";

pub(crate) fn appeal_from_row(r: &Row<'_>) -> rusqlite::Result<Appeal> {
    Ok(Appeal {
        id: r.get(0)?,
        subject_kind: parse(r.get(1)?, "subject_kind")?,
        subject_id: r.get(2)?,
        appellant: r.get(3)?,
        comment: r.get(4)?,
        status: parse(r.get(5)?, "status")?,
        filed_at: from_micros(r.get(6)?),
        decided_by: r.get(7)?,
        decided_at: r.get::<_, Option<i64>>(8)?.map(from_micros),
        decision_comment: r.get(9)?,
    })
}

pub(crate) const AWARD_COLUMNS: &str = "subject, badge, key, period, awarded_us, explanation";

pub(crate) fn award_from_row(r: &Row<'_>) -> rusqlite::Result<Award> {
    Ok(Award {
        subject: r.get(0)?,
        badge: r.get(1)?,
        key: r.get(2)?,
        period: r.get(3)?,
        awarded_at: from_micros(r.get(4)?),
        explanation: r.get(5)?,
    })
}

pub(crate) const TASK_COLUMNS: &str = "user_id, task, team_id, use_case, template, prompt_hash, first_ts_us, \
    last_ts_us, calls, cost_nanos, input_tokens, output_tokens";

pub(crate) fn task_from_row(r: &Row<'_>) -> rusqlite::Result<tokenwise_ledger::TaskTotals> {
    Ok(tokenwise_ledger::TaskTotals {
        user_id: r.get(0)?,
        task: r.get(1)?,
        team_id: r.get(2)?,
        use_case: r.get(3)?,
        template: r.get(4)?,
        prompt_hash: r.get(5)?,
        first_ts: from_micros(r.get(6)?),
        last_ts: from_micros(r.get(7)?),
        calls: uint(r.get(8)?),
        cost: Nanos(r.get(9)?),
        input_tokens: uint(r.get(10)?),
        output_tokens: uint(r.get(11)?),
    })
}
