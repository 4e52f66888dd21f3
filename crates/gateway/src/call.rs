//! Call → meter → record: the request goes to its upstream; a JSON answer
//! is metered from its `usage` (or estimated with the tokenizer and marked
//! so), recorded durably, and only then answered with its cost (and, for a
//! call that names a task, the task's cost so far with it). Streams
//! are relayed and metered by `stream`. A failure at or before
//! the upstream is recorded too, at the cost the provider may bill.

use crate::upstream::{
    Capped, UpstreamClient, malformed, read_capped, status_error, status_of, too_large, transport_error,
    transport_status,
};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use std::sync::Arc;
use tokenwise_app::budgets::Held;
use tokenwise_app::metering::{CallEnd, Draft};
use tokenwise_app::tasks::TaskNote;
use tokenwise_app::{App, AppError, Code};
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_http::{headers, set};
use tokenwise_ledger::{Status, TaskSoFar};
use tokenwise_wire::{Dialect, Prompt, translate};

/// A call ready to go upstream.
pub(crate) struct Call {
    pub app: Arc<App>,
    pub draft: Draft,
    pub upstream: Arc<UpstreamClient>,
    /// Under the upstream's base URL, with the client's query string.
    pub path: String,
    pub body: Bytes,
    pub client_headers: HeaderMap,
    pub dialect: Dialect,
    pub stream: bool,
    /// What the upstream received, kept only to estimate tokens if it
    /// reports none.
    pub prompt: Prompt,
    /// Advice for the client (`x-tokenwise-nudge`), e.g. after a reroute.
    pub nudge: Option<String>,
    /// The budget hold placed for the call, if any budget applies.
    pub held: Option<Held>,
    /// Set when the upstream speaks another wire format than the client.
    pub translation: Option<Translation>,
}

/// An OpenAI client served by an Anthropic-format upstream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Translation {
    pub client_wants_usage: bool,
    pub created: i64,
}

impl Call {
    /// Tokenizer estimate of the prompt (runs off the async threads).
    pub async fn estimate_input(&self) -> u64 {
        let chat = !matches!(self.dialect, Dialect::OpenAiEmbeddings);
        let counted = tokenwise_app::tokenize::count_prompt_off_thread(self.prompt.texts(), chat).await;
        counted + self.prompt.tokens
    }

    /// Records how the call ended; with its task's totals including it.
    pub async fn record(&self, end: &CallEnd) -> Result<Option<TaskSoFar>, AppError> {
        self.app.record_call(&self.draft, end).await
    }

    /// What to say about the call's task at `so_far`.
    pub fn task_note(&self, so_far: Option<TaskSoFar>) -> Option<TaskNote> {
        so_far.map(|t| self.app.task_note(&self.draft, t))
    }

    /// What the tightest hard budget has left after this call.
    pub fn remaining_after(&self, cost: Nanos) -> Option<Nanos> {
        self.held.as_ref()?.remaining_after(cost)
    }

    /// Records a failure at or before the upstream, with the status its
    /// code says, then returns it.
    async fn fail(&self, err: AppError, usage: TokenUsage, estimated: bool) -> AppError {
        let status = status_of(&err);
        self.fail_as(err, status, usage, estimated).await
    }

    /// Records a failure that ended the call as `status`, then returns it.
    async fn fail_as(&self, err: AppError, status: Status, usage: TokenUsage, estimated: bool) -> AppError {
        let end = CallEnd::failed(status, err.code.status(), err.code.as_str(), usage, estimated);
        match self.record(&end).await {
            Ok(so_far) => err.with_task_cost(so_far),
            Err(record_err) => record_err,
        }
    }

    /// The prompt as the provider may bill it after a failure part-way.
    async fn billed_prompt(&self) -> TokenUsage {
        TokenUsage { input: self.estimate_input().await, ..Default::default() }
    }

    /// Sends the call upstream. A failure to connect, a timeout or a refusal
    /// by the provider is recorded (at what the provider may bill) and
    /// returned as the contract's error.
    pub async fn send(&self) -> Result<reqwest::Response, AppError> {
        let up = &self.upstream.cfg.id;
        let sent = self.upstream.post(&self.path, self.body.clone(), &self.client_headers, self.stream).send().await;
        let resp = match sent {
            Ok(r) => r,
            // One that never connected cost nothing; one that timed out may
            // still be processed (and billed) upstream: count its prompt.
            Err(e) if e.is_connect() => {
                return Err(self.fail(transport_error(&e, up), TokenUsage::default(), false).await);
            }
            Err(e) => {
                let status = transport_status(&e);
                return Err(self.fail_as(transport_error(&e, up), status, self.billed_prompt().await, true).await);
            }
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_capped(resp, self.upstream.cfg.max_response_bytes).await.unwrap_or_default();
            // Providers do not bill refused requests.
            return Err(self.fail(status_error(status, &headers, &body, up), TokenUsage::default(), false).await);
        }
        Ok(resp)
    }

    /// A whole JSON answer: metered from its `usage` (else estimated and
    /// marked so), recorded, and only then answered.
    pub async fn whole(self, resp: reqwest::Response) -> Result<Response, AppError> {
        let up = self.upstream.cfg.id.clone();
        let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).cloned();
        let max = self.upstream.cfg.max_response_bytes;
        let bytes = match read_capped(resp, max).await {
            Ok(b) => b,
            Err(Capped::Transport(e)) => {
                let status = transport_status(&e);
                return Err(self.fail_as(transport_error(&e, &up), status, self.billed_prompt().await, true).await);
            }
            Err(Capped::TooLarge) => {
                let (err, usage) = (too_large(&up, max), self.billed_prompt().await);
                return Err(self.fail_as(err, Status::UpstreamTooLarge, usage, true).await);
            }
        };
        let (usage, estimated) = match self.dialect.body_usage(&bytes) {
            Ok(Some(u)) => (u, false),
            Ok(None) => {
                let output = tokenwise_app::tokenize::count_off_thread(self.dialect.body_text(&bytes)).await;
                (TokenUsage { output, ..self.billed_prompt().await }, true)
            }
            Err(tokenwise_wire::answer::NotJson) => {
                let err = malformed(&up, "a response");
                return Err(self.fail_as(err, Status::UpstreamMalformed, self.billed_prompt().await, true).await);
            }
        };
        let so_far = self.record(&CallEnd::ok(usage, estimated)).await?;
        let task = self.task_note(so_far);
        let bytes = self.scan_output(bytes).await;
        Ok(self.answer(bytes, content_type, &usage, task.as_ref()))
    }

    /// The reply's texts through output scanning, when the policy asks
    /// for it (in the upstream's format, before any translation).
    async fn scan_output(&self, bytes: Bytes) -> Bytes {
        let Some(rule) = self.app.output_rule(&self.draft.use_case) else { return bytes };
        let mut scan = self.app.output_scan(rule);
        let bytes = crate::outscan::whole(&mut scan, self.dialect, bytes);
        self.app.audit_output(&self.draft.user_id, &self.draft.id, &self.draft.use_case, &scan).await;
        bytes
    }

    /// The answer, translated back if need be, with the call's id, cost,
    /// advice, what the tightest budget has left and what its task has
    /// cost so far.
    fn answer(
        &self,
        bytes: Bytes,
        content_type: Option<reqwest::header::HeaderValue>,
        usage: &TokenUsage,
        task: Option<&TaskNote>,
    ) -> Response {
        let bytes = match self.translation {
            Some(t) => Bytes::from(translate::from_anthropic(&bytes, t.created).unwrap_or_default()),
            None => bytes,
        };
        let mut r = Response::new(Body::from(bytes));
        let h = r.headers_mut();
        let json = HeaderValue::from_static("application/json");
        h.insert(
            header::CONTENT_TYPE,
            content_type.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()).unwrap_or(json),
        );
        let cost = self.draft.cost(usage);
        set(h, headers::REQUEST_ID, Some(&self.draft.id));
        set(h, headers::COST, Some(&cost.to_usd_string()));
        set(h, headers::NUDGE, self.advice(task).as_deref());
        set(h, headers::REMAINING, self.remaining_after(cost).map(|n| n.to_usd_string()).as_deref());
        set(h, headers::TASK_COST, task.map(|t| t.cost.to_usd_string()).as_deref());
        r
    }

    /// `x-tokenwise-nudge`: the policy's advice (after a reroute) and the
    /// task's, in that order.
    pub fn advice(&self, task: Option<&TaskNote>) -> Option<String> {
        match (self.nudge.as_deref(), task.and_then(|t| t.nudge.as_deref())) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b).map(str::to_string),
        }
    }
}

/// A token count, relayed as the provider answered it once it has the
/// `input_tokens` a count must carry, with the request id and a cost of
/// zero: counting bills nothing. A failure is the contract's error.
pub(crate) async fn count(
    upstream: &UpstreamClient,
    path: &str,
    body: Bytes,
    client_headers: &HeaderMap,
    request_id: &str,
) -> Result<Response, AppError> {
    let up = &upstream.cfg.id;
    let resp = upstream.post(path, body, client_headers, false).send().await.map_err(|e| transport_error(&e, up))?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let max = upstream.cfg.max_response_bytes;
    let bytes = read_capped(resp, max).await.map_err(|e| match e {
        Capped::Transport(e) => transport_error(&e, up),
        Capped::TooLarge => too_large(up, max),
    })?;
    if !status.is_success() {
        return Err(status_error(status, &headers, &bytes, up));
    }
    let counted =
        serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v.get("input_tokens")?.as_u64());
    if counted.is_none() {
        let msg = format!("upstream `{up}` sent a token count without `input_tokens`");
        return Err(AppError::new(Code::UpstreamError, msg));
    }
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    set(h, headers::REQUEST_ID, Some(request_id));
    set(h, headers::COST, Some(&Nanos::ZERO.to_usd_string()));
    Ok(r)
}
