//! The metered gateway: authenticate, resolve metadata, route the model,
//! call the upstream, meter the answer, record it durably, answer.
//!
//! Each call runs in its own task, so a client that hangs up does not
//! abort the metering of a call the provider may already be billing: the
//! task finishes, records the event (marked `cancelled`), and only then ends.

pub mod anthropic;
pub mod openai;
mod stream;

use crate::AppState;
use crate::error::{ApiError, Code};
use crate::guard::Inspection;
use crate::metering::{Draft, DraftInput, Outcome};
use crate::upstream::{UpstreamClient, status_error, transport_error};
use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::Timestamp;
use std::sync::Arc;
use tokenwise_core::TokenUsage;
use tokenwise_ledger::{AuditAction, AuditDraft, Decision, Operation, Status, UsageEvent};
use tokenwise_policy::budgets::Subject;
use tokenwise_policy::decision::{Decision as PolicyDecision, Verdict, decide};
use tokenwise_policy::{Model, ModelKind, Policy, PriceVersion, WireFormat};
use tokenwise_wire::translate;
use tokenwise_wire::{Api, Dialect, OutputBound, Prompt, Slot};

pub const COST: &str = "x-tokenwise-cost-usd";
pub const NUDGE: &str = "x-tokenwise-nudge";
pub const REMAINING: &str = "x-tokenwise-budget-remaining-usd";

/// What differs between the gateway's endpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub operation: Operation,
    pub kind: ModelKind,
    pub format: WireFormat,
    /// The request format, for reading what it carries.
    pub api: Api,
    /// Appended to the upstream's base URL.
    pub path: &'static str,
}

/// What an endpoint reads from (and adjusts in) a request body.
pub(crate) struct Shaped {
    /// Everything the upstream will receive: the texts and where they are
    /// in the body (scanned, hashed, masked in place when the policy says
    /// so, used for estimates), and the bytes that are not text.
    pub prompt: Prompt,
    pub stream: bool,
    pub dialect: Dialect,
    /// Whether the request could be translated to the other wire format,
    /// so a reroute may pick a model that speaks it.
    pub translatable: bool,
}

pub(crate) type Shaper = fn(&mut serde_json::Value, Api) -> Result<Shaped, ApiError>;

/// Everything a request in format `api` sends the model; what cannot be
/// read is refused (it would go upstream unscanned).
pub(crate) fn read_prompt(api: Api, req: &serde_json::Value) -> Result<Prompt, ApiError> {
    tokenwise_wire::walk(api, req).map_err(|e| ApiError::invalid(e.to_string()))
}

/// The flow every endpoint shares: authenticate, read the body, resolve
/// metadata, route the model, scan the prompt and apply the policy's
/// decision, then call the upstream and meter the answer.
async fn handle(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: String,
    endpoint: Endpoint,
    shape: Shaper,
) -> Result<Response, ApiError> {
    let (started, ts) = (std::time::Instant::now(), Timestamp::now());
    let body = body_or_error(body, state.policy.server.max_request_bytes)?;
    let caller = crate::auth::authenticate(&state.policy, state.store.as_ref(), &headers).await?;
    let mut req: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    if !req.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    let requested = req
        .get("model")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("`model` is required"))?;
    let mut shaped = shape(&mut req, endpoint.api)?;
    let policy = state.policy.clone();
    let meta = crate::meta::claimed(&policy, &caller, &headers)?;
    let draft_for = |model: &Model, price: &PriceVersion, slots: &[Slot]| {
        Draft::new(DraftInput {
            id: id.clone(),
            ts,
            started,
            caller: &caller,
            meta: &meta,
            operation: endpoint.operation,
            requested_model: &requested,
            model,
            price,
            streamed: shaped.stream,
            prompt: slots,
        })
    };
    let routed = crate::meta::permit(&policy, &caller.user, meta.use_case)
        .and_then(|()| route(&policy, meta.use_case, &requested, endpoint.kind, endpoint.format, ts));
    let (mut model, mut price) = match routed {
        Ok(routed) => routed,
        Err(err) => {
            // A use case the caller may not use, or a model the use case
            // does not allow, is a policy refusal: it goes on the ledger and
            // into the audit log like any other.
            let known = policy.models.get(&requested).and_then(|m| m.prices.first().map(|p| (m, p)));
            if let Some((m, p)) = known.filter(|_| err.code == Code::PolicyViolation) {
                let mut draft = draft_for(m, p, &shaped.prompt.slots);
                draft.decision = Decision::Block;
                refuse(&state, &draft, &err, None).await?;
            }
            return Err(err);
        }
    };
    let inspection = state.guard.inspect(&policy, &shaped.prompt.slots);
    let formats = reachable_formats(endpoint.format, shaped.translatable);
    let decision = decide(&policy, meta.use_case, model, formats, &inspection.classified, ts);
    match &decision.verdict {
        Verdict::Allow => {}
        Verdict::Redact { keep_up_to } => inspection.redact(&mut req, &mut shaped.prompt.slots, *keep_up_to),
        Verdict::Reroute { to } => {
            // `decide` only reroutes to a model with a price in effect.
            if let Some((m, p)) = policy.models.get(to).and_then(|m| m.price_at(ts).map(|p| (m, p))) {
                (model, price) = (m, p);
            }
        }
        Verdict::Block => {
            let mut draft = draft_for(model, price, &shaped.prompt.slots);
            stamp(&mut draft, &decision, &inspection, &policy);
            let message = decision.nudge.clone().unwrap_or_else(|| decision.reasons.join("; "));
            let err = ApiError::new(Code::PolicyViolation, message);
            refuse(&state, &draft, &err, Some(&decision)).await?;
            return Err(err.with_nudge(decision.nudge.as_deref()));
        }
    }
    let upstream = state
        .upstreams
        .get(&model.upstream)
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Internal, format!("upstream `{}` is not configured", model.upstream)))?;
    // Budgets: hold the call's worst case on every envelope it draws on.
    let subject = Subject {
        user: &caller.user.id,
        team: &caller.user.team,
        project: meta.project.as_deref(),
        use_case: &meta.use_case.id,
        track: meta.track,
    };
    let specs = state.budgets.specs(&policy, &subject, ts);
    let output = output_limit(&mut req, endpoint.api, model, specs.iter().any(|e| e.hard));
    // Every byte the upstream receives, and every choice's output.
    let amount = crate::budgets::worst_case(
        &price.rates,
        shaped.prompt.input_bound(),
        shaped.prompt.slots.len() as u64,
        output.total(crate::budgets::DEFAULT_MAX_OUTPUT),
    );
    let cover = crate::budgets::Cover { subject: &subject, model, data_class: decision.data_class };
    let mut draft = draft_for(model, price, &shaped.prompt.slots);
    stamp(&mut draft, &decision, &inspection, &policy);
    let held = match state.budgets.hold(&state, &id, &specs, amount, &cover).await {
        Ok(h) => h,
        Err(err) if err.code == Code::BudgetExceeded => {
            let outcome = Outcome::failed(Status::Refused, 402, err.code.as_str(), TokenUsage::default(), false);
            if let Err(e) = state.recorder.record(draft.event(&outcome)).await {
                tracing::error!(error = %e, request_id = %draft.id, "budget refusal not recorded");
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    if let Some(h) = &held {
        draft.budget_keys = h.keys.clone();
        draft.exception_id = h.exception_id.clone();
    }
    if !inspection.classified.is_empty() || decision.verdict != Verdict::Allow {
        state.auditor.submit(decision_entry(&draft, &decision)).await;
    }
    req["model"] = serde_json::Value::String(model.upstream_model.clone());
    let crossing = upstream.cfg.format != endpoint.format;
    let (path, dialect, translate) = match shaped.dialect {
        // A reroute to a model only reachable in the Anthropic format: the
        // request goes out as Anthropic, the answer comes back as OpenAI.
        Dialect::OpenAiChat { client_wants_usage } if crossing => {
            // Translatable requests have one choice.
            let max = output.per_choice.filter(|n| *n > 0).unwrap_or(crate::budgets::DEFAULT_MAX_OUTPUT);
            req = translate::to_anthropic(&req, &model.upstream_model, max);
            ("/v1/messages", Dialect::Anthropic, Some(Translation { client_wants_usage, created: ts.as_second() }))
        }
        d => (endpoint.path, d, None),
    };
    let call = Call {
        state: state.clone(),
        draft,
        upstream,
        path,
        body: Bytes::from(serde_json::to_vec(&req).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?),
        client_headers: headers,
        dialect,
        prompt: shaped.prompt,
        nudge: decision.nudge,
        held,
        translate,
    };
    call.execute(shaped.stream).await
}

/// The most output the call may produce, per choice and in all. With a
/// hard budget in play and no limit in the request, the default is sent
/// upstream too, in the field the upstream obeys, so the hold is a real
/// bound.
fn output_limit(req: &mut serde_json::Value, api: Api, model: &Model, enforce: bool) -> OutputBound {
    let asked = tokenwise_wire::output_bound(api, req);
    if asked.per_choice.is_some() {
        return asked;
    }
    let n = default_output(model);
    if enforce && let Some(field) = tokenwise_wire::output_field(api, req, model.reasoning) {
        req[field] = serde_json::Value::from(n);
    }
    OutputBound { per_choice: Some(n), ..asked }
}

/// The output limit assumed when a request sets none.
pub(crate) fn default_output(model: &Model) -> u64 {
    model.max_output_tokens.unwrap_or(crate::budgets::DEFAULT_MAX_OUTPUT).min(crate::budgets::DEFAULT_MAX_OUTPUT)
}

/// The wire formats a request can reach: the client's own, and for a
/// translatable OpenAI chat request the Anthropic format too.
pub(crate) fn reachable_formats(client: WireFormat, translatable: bool) -> &'static [WireFormat] {
    match (client, translatable) {
        (WireFormat::Openai, true) => &[WireFormat::Openai, WireFormat::Anthropic],
        (WireFormat::Openai, false) => &[WireFormat::Openai],
        (WireFormat::Anthropic, _) => &[WireFormat::Anthropic],
    }
}

/// Puts the decision and what was found on the usage event.
fn stamp(draft: &mut Draft, decision: &PolicyDecision, inspection: &Inspection, policy: &Policy) {
    draft.decision = decision.verdict.kind();
    draft.data_class = Some(policy.class_name(decision.data_class).to_string());
    draft.findings = inspection.counts();
}

fn decision_entry(draft: &Draft, decision: &PolicyDecision) -> AuditDraft {
    AuditDraft::new(
        &draft.user_id,
        AuditAction::PolicyDecision,
        &draft.id,
        serde_json::json!({
            "decision": decision.name(),
            "use_case": draft.use_case,
            "requested_model": draft.requested_model,
            "model": draft.model,
            "data_class": draft.data_class,
            "findings": draft.findings,
            "reasons": decision.reasons,
        }),
    )
}

/// Records a call the policy refused before any model saw it, and audits it.
async fn refuse(
    state: &AppState,
    draft: &Draft,
    err: &ApiError,
    decision: Option<&PolicyDecision>,
) -> Result<(), ApiError> {
    let outcome =
        Outcome::failed(Status::Blocked, err.code.status().as_u16(), err.code.as_str(), TokenUsage::default(), false);
    state.recorder.record(draft.event(&outcome)).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %draft.id, "refusal not recorded");
        ApiError::new(Code::Internal, "the refusal could not be recorded in the ledger")
    })?;
    let entry = match decision {
        Some(d) => decision_entry(draft, d),
        None => AuditDraft::new(
            &draft.user_id,
            AuditAction::PolicyDecision,
            &draft.id,
            serde_json::json!({"decision": "block", "use_case": draft.use_case, "requested_model": draft.requested_model,
                               "reasons": [err.message]}),
        ),
    };
    state.auditor.submit(entry).await;
    Ok(())
}

/// Serves one gateway request: mints its id, runs [`handle`] in its own
/// task and turns an error into the contract's error response, stamped
/// with the request id.
pub(crate) async fn serve(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
    shape: Shaper,
) -> Response {
    let id = UsageEvent::new_id();
    match tokio::spawn(handle(state, headers, body, id.clone(), endpoint, shape)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.with_request_id(&id).into_response(),
        Err(e) => {
            tracing::error!(error = %e, request_id = %id, "gateway task failed");
            ApiError::new(Code::Internal, "the gateway failed while handling this request")
                .with_request_id(&id)
                .into_response()
        }
    }
}

pub(crate) fn body_or_error(body: Result<Bytes, BytesRejection>, limit: u64) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::TooLarge,
                format!("the request body is larger than {limit} bytes (server.max_request_bytes)"),
            )
        } else {
            ApiError::invalid(format!("cannot read the request body: {e}"))
        }
    })
}

/// Picks the model for a request: it must exist, be allowed for the use
/// case, suit the endpoint, speak the endpoint's wire format, and have a
/// price in effect now.
pub(crate) fn route<'p>(
    policy: &'p Policy,
    use_case: &tokenwise_policy::UseCase,
    requested: &str,
    kind: ModelKind,
    format: WireFormat,
    at: Timestamp,
) -> Result<(&'p Model, &'p PriceVersion), ApiError> {
    let allowed = || use_case.allowed_models.join(", ");
    let Some(model) = policy.models.get(requested) else {
        return Err(ApiError::invalid(format!(
            "unknown model `{requested}`; use case `{}` may use: {} (default `{}`)",
            use_case.id,
            allowed(),
            use_case.default_model
        )));
    };
    if !use_case.allowed_models.iter().any(|m| m == requested) {
        return Err(ApiError::new(
            Code::PolicyViolation,
            format!(
                "model `{requested}` is not allowed for use case `{}`; use one of: {} (default `{}`)",
                use_case.id,
                allowed(),
                use_case.default_model
            ),
        ));
    }
    if model.kind != kind {
        let want = match kind {
            ModelKind::Chat => "a chat model",
            ModelKind::Embedding => "an embedding model",
        };
        return Err(ApiError::invalid(format!("`{requested}` is not {want}")));
    }
    let upstream_format = policy.upstreams.get(&model.upstream).map(|u| u.format);
    if upstream_format != Some(format) {
        let endpoint = match upstream_format {
            Some(WireFormat::Anthropic) => "POST /v1/messages (the Anthropic format)",
            _ => "POST /v1/chat/completions (the OpenAI format)",
        };
        return Err(ApiError::invalid(format!("model `{requested}` is served through {endpoint}")));
    }
    let Some(price) = model.price_at(at) else {
        return Err(ApiError::new(
            Code::PolicyViolation,
            format!("model `{requested}` has no price in effect yet, so it cannot be metered"),
        ));
    };
    Ok((model, price))
}

/// A call ready to go upstream.
pub(crate) struct Call {
    pub state: Arc<AppState>,
    pub draft: Draft,
    pub upstream: Arc<UpstreamClient>,
    pub path: &'static str,
    pub body: Bytes,
    pub client_headers: HeaderMap,
    pub dialect: Dialect,
    /// What the upstream received, kept only to estimate tokens if it
    /// reports none.
    pub prompt: Prompt,
    /// Advice for the client (`x-tokenwise-nudge`), e.g. after a reroute.
    pub nudge: Option<String>,
    /// The budget hold placed for the call, if any budget applies.
    pub held: Option<crate::budgets::Held>,
    /// Set when the upstream speaks another wire format than the client.
    pub translate: Option<Translation>,
}

/// An OpenAI client served by an Anthropic-format upstream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Translation {
    pub client_wants_usage: bool,
    pub created: i64,
}

impl Call {
    /// Tokenizer estimate of the prompt (runs off the async threads).
    async fn estimate_input(&self) -> u64 {
        let chat = !matches!(self.dialect, Dialect::OpenAiEmbeddings);
        let counted = crate::tokenize::count_prompt_off_thread(self.prompt.texts(), chat).await;
        counted + self.prompt.tokens
    }

    async fn record(&self, outcome: &Outcome) -> Result<(), ApiError> {
        let recorded = self.state.recorder.record(self.draft.event(outcome)).await;
        // Recorded or not, the call is over: its hold's lease is no longer
        // renewed (a hold the ledger never captured then expires).
        self.state.budgets.done(&self.draft.id);
        recorded.map_err(|e| {
            tracing::error!(error = %e, request_id = %self.draft.id, "usage event not recorded");
            ApiError::new(Code::Internal, "the call could not be recorded in the ledger, so it is not acknowledged")
        })
    }

    /// What the tightest hard budget has left after this call.
    fn remaining_after(&self, cost: tokenwise_core::Nanos) -> Option<tokenwise_core::Nanos> {
        let h = self.held.as_ref()?;
        Some(h.room?.saturating_add(h.amount.saturating_sub(cost)))
    }

    /// Records a refusal that happened at or before the upstream, then
    /// returns it.
    async fn fail(&self, err: ApiError, usage: TokenUsage, estimated: bool) -> ApiError {
        let outcome =
            Outcome::failed(Status::UpstreamError, err.code.status().as_u16(), err.code.as_str(), usage, estimated);
        match self.record(&outcome).await {
            Ok(()) => err,
            Err(record_err) => record_err,
        }
    }

    pub async fn execute(self, stream: bool) -> Result<Response, ApiError> {
        let up_name = self.upstream.cfg.id.clone();
        let sent = self.upstream.post(self.path, self.body.clone(), &self.client_headers, stream).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let err = transport_error(&e, &up_name);
                // A request that timed out may still be processed (and
                // billed) upstream: count its prompt. One that never
                // connected cost nothing.
                return Err(if e.is_connect() {
                    self.fail(err, TokenUsage::default(), false).await
                } else {
                    let input = self.estimate_input().await;
                    self.fail(err, TokenUsage { input, ..Default::default() }, true).await
                });
            }
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            // Providers do not bill refused requests.
            return Err(self.fail(status_error(status, &headers, &body, &up_name), TokenUsage::default(), false).await);
        }
        if stream {
            return Ok(stream::start(self, resp));
        }
        let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).cloned();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let input = self.estimate_input().await;
                return Err(self
                    .fail(transport_error(&e, &up_name), TokenUsage { input, ..Default::default() }, true)
                    .await);
            }
        };
        let (usage, estimated) = match self.dialect.body_usage(&bytes) {
            Ok(Some(u)) => (u, false),
            Ok(None) => {
                let input = self.estimate_input().await;
                let output = crate::tokenize::count_off_thread(self.dialect.body_text(&bytes)).await;
                (TokenUsage { input, output, ..Default::default() }, true)
            }
            Err(tokenwise_wire::answer::NotJson) => {
                let input = self.estimate_input().await;
                let err = ApiError::new(
                    Code::UpstreamError,
                    format!("upstream `{up_name}` sent a response that is not JSON"),
                );
                return Err(self.fail(err, TokenUsage { input, ..Default::default() }, true).await);
            }
        };
        let outcome = Outcome::ok(usage, estimated);
        self.record(&outcome).await?;
        let bytes = match self.translate {
            Some(t) => Bytes::from(translate::from_anthropic(&bytes, t.created).unwrap_or_default()),
            None => bytes,
        };
        let mut r = Response::new(Body::from(bytes));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            content_type
                .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
                .unwrap_or(HeaderValue::from_static("application/json")),
        );
        insert(h, crate::REQUEST_ID, &self.draft.id);
        insert(h, COST, &self.draft.cost(&usage).to_usd_string());
        if let Some(n) = &self.nudge {
            insert(h, NUDGE, n);
        }
        if let Some(left) = self.remaining_after(self.draft.cost(&usage)) {
            insert(h, REMAINING, &left.to_usd_string());
        }
        Ok(r)
    }
}

pub(crate) fn insert(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}
