//! Rows to ledger types, and the column lists they are read in.

use std::str::FromStr;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::budget::{EnvelopeSpec, EnvelopeState};
use tokenwise_ledger::{ApiKey, Appeal, AuditEntry, Award, Exception, Outcome, StoreError, UsageEvent, from_micros};
use tokio_postgres::Row;

pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn small(v: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v} is out of range")))
}

pub(crate) fn parse<T: FromStr>(text: &str, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) const EVENT_COLUMNS: &str = "id, ts_us, source, user_id, team_id, project_id, use_case, template, task, track, \
    destination, operation, requested_model, model, provider, input_tokens, output_tokens, cached_read_tokens, \
    cache_write_tokens, reasoning_tokens, cost_nanos, price_version, latency_ms, ttft_ms, streamed, status, \
    http_status, error_code, estimated, data_class, findings, decision, exception_id, prompt_hash, key_id, budget_keys, \
    prompt_minhash";

pub(crate) fn event_from_row(r: &Row) -> Result<UsageEvent, StoreError> {
    Ok(UsageEvent {
        id: get(r, 0)?,
        ts: from_micros(get(r, 1)?),
        source: parse(get(r, 2)?, "source")?,
        user_id: get(r, 3)?,
        team_id: get(r, 4)?,
        project_id: get(r, 5)?,
        use_case: get(r, 6)?,
        template: get(r, 7)?,
        task: get(r, 8)?,
        track: parse(get(r, 9)?, "track")?,
        destination: get(r, 10)?,
        operation: parse(get(r, 11)?, "operation")?,
        requested_model: get(r, 12)?,
        model: get(r, 13)?,
        provider: get(r, 14)?,
        usage: TokenUsage {
            input: uint(get(r, 15)?),
            output: uint(get(r, 16)?),
            cached_read: uint(get(r, 17)?),
            cache_write: uint(get(r, 18)?),
            reasoning: uint(get(r, 19)?),
        },
        cost: Nanos(get(r, 20)?),
        price_version: get(r, 21)?,
        latency_ms: small(get(r, 22)?, "latency_ms")?,
        ttft_ms: get::<Option<i64>>(r, 23)?.map(|v| small(v, "ttft_ms")).transpose()?,
        streamed: get(r, 24)?,
        status: parse(get(r, 25)?, "status")?,
        http_status: u16::try_from(get::<i64>(r, 26)?).map_err(|e| StoreError::Corrupt(format!("http_status: {e}")))?,
        error_code: get(r, 27)?,
        estimated: get(r, 28)?,
        data_class: get(r, 29)?,
        findings: UsageEvent::parse_findings(get(r, 30)?).map_err(StoreError::Corrupt)?,
        decision: parse(get(r, 31)?, "decision")?,
        exception_id: get(r, 32)?,
        prompt_hash: get(r, 33)?,
        key_id: get(r, 34)?,
        budget_keys: UsageEvent::parse_budget_keys(get(r, 35)?),
        prompt_minhash: get::<Option<i64>>(r, 36)?.map(|v| u64::from_ne_bytes(v.to_ne_bytes())),
    })
}

pub(crate) const KEY_COLUMNS: &str =
    "id, key_hash, prefix, user_id, use_case, project_id, track, label, created_us, revoked_us";

pub(crate) fn key_from_row(r: &Row) -> Result<ApiKey, StoreError> {
    let track: Option<String> = get(r, 6)?;
    Ok(ApiKey {
        id: get(r, 0)?,
        hash: get(r, 1)?,
        prefix: get(r, 2)?,
        user_id: get(r, 3)?,
        use_case: get(r, 4)?,
        project_id: get(r, 5)?,
        track: track.map(|t| parse(&t, "track")).transpose()?,
        label: get(r, 7)?,
        created_at: from_micros(get(r, 8)?),
        revoked_at: get::<Option<i64>>(r, 9)?.map(from_micros),
    })
}

pub(crate) const EXCEPTION_COLUMNS: &str = "id, scope, reason_code, justification, requested_by, status, cap_nanos, duration_secs, \
    models, data_class, created_us, decided_by, decided_us, valid_until_us";

pub(crate) fn exception_from_row(r: &Row) -> Result<Exception, StoreError> {
    Ok(Exception {
        id: get(r, 0)?,
        scope: parse(get(r, 1)?, "scope")?,
        reason_code: get(r, 2)?,
        justification: get(r, 3)?,
        requested_by: get(r, 4)?,
        status: parse(get(r, 5)?, "status")?,
        cap: Nanos(get(r, 6)?),
        duration_secs: get(r, 7)?,
        models: serde_json::from_str(get(r, 8)?).unwrap_or_default(),
        data_class: get(r, 9)?,
        created_at: from_micros(get(r, 10)?),
        decided_by: get(r, 11)?,
        decided_at: get::<Option<i64>>(r, 12)?.map(from_micros),
        valid_until: get::<Option<i64>>(r, 13)?.map(from_micros),
    })
}

pub(crate) fn envelope_from_row(r: &Row) -> Result<EnvelopeState, StoreError> {
    Ok(EnvelopeState {
        spec: EnvelopeSpec {
            key: get(r, 0)?,
            budget_id: get(r, 1)?,
            scope: get(r, 2)?,
            period_start: from_micros(get(r, 3)?),
            period_end: from_micros(get(r, 4)?),
            limit: Nanos(get(r, 5)?),
            hard: get(r, 6)?,
            alert_at_percent: serde_json::from_str(get(r, 7)?).unwrap_or_default(),
        },
        captured: Nanos(get(r, 8)?),
        held: Nanos(get(r, 9)?),
        alerted: u32::try_from(get::<i32>(r, 10)?).unwrap_or(0),
    })
}

pub(crate) fn audit_from_row(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: get(r, 0)?,
        ts_us: get(r, 1)?,
        actor: get(r, 2)?,
        action: get(r, 3)?,
        subject: get(r, 4)?,
        details: get(r, 5)?,
        prev_hash: get(r, 6)?,
        hash: get(r, 7)?,
    })
}

pub(crate) const OUTCOME_COLUMNS: &str = "id, task, user_id, team_id, use_case, kind, value_nanos, value_hours_milli, \
    evidence, quality, escalated, error, status, reported_by, signed, reported_us, decided_by, decided_us, \
    decided_quality, metered";

/// A 1–5 rating as stored.
fn rating(r: &Row, i: usize, column: &str) -> Result<Option<u8>, StoreError> {
    get::<Option<i32>>(r, i)?
        .map(|q| u8::try_from(q).map_err(|_| StoreError::Corrupt(format!("{column} = {q} is out of range"))))
        .transpose()
}

pub(crate) fn outcome_from_row(r: &Row) -> Result<Outcome, StoreError> {
    Ok(Outcome {
        id: get(r, 0)?,
        task: get(r, 1)?,
        user_id: get(r, 2)?,
        team_id: get(r, 3)?,
        use_case: get(r, 4)?,
        kind: get(r, 5)?,
        value: Nanos(get(r, 6)?),
        value_hours_milli: get(r, 7)?,
        evidence: get(r, 8)?,
        quality: rating(r, 9, "quality")?,
        escalated: get(r, 10)?,
        error: get(r, 11)?,
        status: parse(get(r, 12)?, "status")?,
        reported_by: get(r, 13)?,
        signed: get(r, 14)?,
        reported_at: from_micros(get(r, 15)?),
        decided_by: get(r, 16)?,
        decided_at: get::<Option<i64>>(r, 17)?.map(from_micros),
        decided_quality: rating(r, 18, "decided_quality")?,
        metered: get(r, 19)?,
    })
}

pub(crate) const APPEAL_COLUMNS: &str =
    "id, subject_kind, subject_id, appellant, comment, status, filed_us, decided_by, decided_us, decision_comment";

pub(crate) fn appeal_from_row(r: &Row) -> Result<Appeal, StoreError> {
    Ok(Appeal {
        id: get(r, 0)?,
        subject_kind: parse(get(r, 1)?, "subject_kind")?,
        subject_id: get(r, 2)?,
        appellant: get(r, 3)?,
        comment: get(r, 4)?,
        status: parse(get(r, 5)?, "status")?,
        filed_at: from_micros(get(r, 6)?),
        decided_by: get(r, 7)?,
        decided_at: get::<Option<i64>>(r, 8)?.map(from_micros),
        decision_comment: get(r, 9)?,
    })
}

pub(crate) const AWARD_COLUMNS: &str = "subject, badge, key, period, awarded_us, explanation";

pub(crate) fn award_from_row(r: &Row) -> Result<Award, StoreError> {
    Ok(Award {
        subject: get(r, 0)?,
        badge: get(r, 1)?,
        key: get(r, 2)?,
        period: get(r, 3)?,
        awarded_at: from_micros(get(r, 4)?),
        explanation: get(r, 5)?,
    })
}

pub(crate) const TASK_COLUMNS: &str = "user_id, task, team_id, use_case, template, prompt_hash, first_ts_us, \
    last_ts_us, calls, cost_nanos, input_tokens, output_tokens";

pub(crate) fn task_from_row(r: &Row) -> Result<tokenwise_ledger::TaskTotals, StoreError> {
    Ok(tokenwise_ledger::TaskTotals {
        user_id: get(r, 0)?,
        task: get(r, 1)?,
        team_id: get(r, 2)?,
        use_case: get(r, 3)?,
        template: get(r, 4)?,
        prompt_hash: get(r, 5)?,
        first_ts: from_micros(get(r, 6)?),
        last_ts: from_micros(get(r, 7)?),
        calls: uint(get(r, 8)?),
        cost: Nanos(get(r, 9)?),
        input_tokens: uint(get(r, 10)?),
        output_tokens: uint(get(r, 11)?),
    })
}
