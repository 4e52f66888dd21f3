//! One gateway request, step by step: read → route → scan → hold, then the
//! call goes upstream and its answer, whole or streamed, is metered and
//! recorded before the client has it all. Every refusal on the way is recorded
//! on the ledger and, when the policy refused, in the audit log.

use crate::Gateway;
use crate::call::{Call, Translation};
use crate::endpoints::{Endpoint, Shaped};
use crate::upstream::UpstreamClient;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokenwise_app::budgets::{Cover, DEFAULT_MAX_OUTPUT, Held, worst_case};
use tokenwise_app::guard::Inspection;
use tokenwise_app::meta::{self, Meta};
use tokenwise_app::metering::{Draft, DraftInput};
use tokenwise_app::record::stamp;
use tokenwise_app::routing::{output_limit, reachable_formats, route};
use tokenwise_app::{App, AppError, Caller, Code};
use tokenwise_http::{body_or_error, error_response, headers, presented_key};
use tokenwise_ledger::{Decision, UsageEvent};
use tokenwise_policy::budgets::Subject;
use tokenwise_policy::decision::{Ruling, Verdict, decide};
use tokenwise_policy::{Model, PriceVersion};
use tokenwise_wire::{Dialect, OutputBound, translate};
use tracing::Instrument;

/// Serves one gateway request: mints its id, runs [`handle`] in a task of
/// its own inside the request's span, and turns an error into the
/// contract's error response, stamped with the request id.
pub(crate) async fn serve(
    g: Gateway,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    e: Endpoint,
    query: Option<String>,
) -> Response {
    let id = UsageEvent::new_id();
    let span = tracing::info_span!("request", request_id = %id, user = tracing::field::Empty,
                                   use_case = tracing::field::Empty, model = tracing::field::Empty);
    match tokio::spawn(handle(g, headers, body, id.clone(), e, query).instrument(span)).await {
        Ok(Ok(r)) => r,
        Ok(Err(err)) => error_response(&err.with_request_id(&id)),
        Err(err) => {
            tracing::error!(error = %err, request_id = %id, "gateway task failed");
            let err = AppError::failure("the gateway failed while handling this request");
            error_response(&err.with_request_id(&id))
        }
    }
}

/// The facts of a call known once it is read, which every step shares.
struct Facts<'a> {
    id: String,
    ts: Timestamp,
    started: Instant,
    caller: &'a Caller,
    meta: &'a Meta<'a>,
    endpoint: Endpoint,
    requested: &'a str,
    streamed: bool,
    /// The client's query string, passed on by the Anthropic endpoints.
    query: Option<&'a str>,
    prompt_key: &'a tokenwise_app::metering::PromptKey,
}

impl Facts<'_> {
    fn draft(&self, model: &Model, price: &PriceVersion, req: &Read) -> Draft {
        Draft::new(DraftInput {
            id: self.id.clone(),
            ts: self.ts,
            started: self.started,
            caller: self.caller,
            meta: self.meta,
            operation: self.endpoint.operation,
            requested_model: self.requested,
            model,
            price,
            streamed: self.streamed,
            prompt: &req.shaped.prompt.slots,
            prompt_key: self.prompt_key,
        })
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            user: &self.caller.user.id,
            team: &self.caller.user.team,
            project: self.meta.project.as_deref(),
            use_case: &self.meta.use_case.id,
            track: self.meta.track,
        }
    }
}

/// The request as read: its JSON body and what the endpoint found in it.
struct Read {
    body: Value,
    requested: String,
    shaped: Shaped,
}

/// The call's usage event as it stands once held, the hold, and the
/// output bound sent upstream.
struct Holding {
    draft: Draft,
    held: Option<Held>,
    output: OutputBound,
}

/// The model the call goes to, the policy's ruling on the prompt, and
/// what the scanner found.
struct Scanned<'p> {
    model: &'p Model,
    price: &'p PriceVersion,
    ruling: Ruling,
    inspection: Inspection,
}

impl Scanned<'_> {
    /// A decision goes to the audit log when the scanner found something
    /// (kept or allowed) or the policy changed the call.
    fn worth_auditing(&self) -> bool {
        !self.inspection.classified.is_empty()
            || !self.inspection.allowed.is_empty()
            || self.ruling.verdict != Verdict::Allow
    }
}

async fn handle(
    g: Gateway,
    hs: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: String,
    endpoint: Endpoint,
    query: Option<String>,
) -> Result<Response, AppError> {
    let (started, app) = (Instant::now(), g.app.clone());
    let ts = app.clock.now();
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    let caller = app.authenticate(presented_key(&hs)).await?;
    tracing::Span::current().record("user", caller.user.id.as_str());
    let mut req = read(&body, endpoint)?;
    let meta = meta::claimed(&app.policy, &caller, &headers::meta(&hs)?)?;
    tracing::Span::current().record("use_case", meta.use_case.id.as_str());
    let requested = req.requested.clone();
    let facts = Facts {
        id,
        ts,
        started,
        caller: &caller,
        meta: &meta,
        endpoint,
        requested: &requested,
        streamed: req.shaped.stream,
        query: query.as_deref(),
        prompt_key: &app.prompt_key,
    };
    let (model, price) = routed(&app, &facts, &req).await?;
    within_model_limit(endpoint, &req.body, model)?;
    let scanned = scan(&app, &facts, &mut req, model, price).await?;
    tracing::Span::current().record("model", scanned.model.id.as_str());
    if endpoint.count_only {
        return count(&g, &facts, req, &scanned, &hs).await;
    }
    let holding = hold(&app, &facts, &mut req, &scanned).await?;
    let call = prepare(&g, &facts, req, scanned, holding, hs)?;
    if call.stream {
        // A stream's headers leave before its usage is known: they say what
        // its task had cost before it, read while the provider is called.
        let (resp, before) = tokio::join!(call.send(), app.task_before(&call.draft));
        let before = call.task_note(before);
        return Ok(crate::stream::start(call, resp?, before));
    }
    let resp = call.send().await?;
    call.whole(resp).await
}

/// Read: a JSON object naming its model, whose every text can be read.
fn read(body: &[u8], endpoint: Endpoint) -> Result<Read, AppError> {
    let mut body: Value =
        serde_json::from_slice(body).map_err(|e| AppError::invalid(format!("the body is not valid JSON: {e}")))?;
    if !body.is_object() {
        return Err(AppError::invalid("the body must be a JSON object"));
    }
    let requested = body
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AppError::invalid("`model` is required"))?;
    let shaped = endpoint.shape(&mut body)?;
    Ok(Read { body, requested, shaped })
}

/// An output limit above what the model can produce is refused naming the
/// field, as the provider would, before anything is held for it.
fn within_model_limit(endpoint: Endpoint, body: &Value, model: &Model) -> Result<(), AppError> {
    let (Some(asked), Some(most)) =
        (tokenwise_wire::output_bound(endpoint.api, body).per_choice, model.max_output_tokens)
    else {
        return Ok(());
    };
    if asked <= most {
        return Ok(());
    }
    let field = match endpoint.api {
        tokenwise_wire::Api::OpenAiChat if body.get("max_completion_tokens").is_some_and(|v| !v.is_null()) => {
            "max_completion_tokens"
        }
        api => tokenwise_wire::output_field(api, body, false).unwrap_or("max_tokens"),
    };
    let message = format!("{field}: {asked} is more than model `{}` can produce ({most})", model.id);
    Err(AppError::invalid(message).with_field("param", field))
}

/// Route: a use case the caller may use, and a model it allows, of the
/// endpoint's kind and format, priced now. A policy refusal goes on the
/// ledger and into the audit log like any other.
async fn routed<'p>(app: &'p App, f: &Facts<'_>, req: &Read) -> Result<(&'p Model, &'p PriceVersion), AppError> {
    let policy = &app.policy;
    let routed = meta::permit(policy, &f.caller.user, f.meta.use_case)
        .and_then(|()| route(policy, f.meta.use_case, f.requested, f.endpoint.kind, f.endpoint.format, f.ts));
    let err = match routed {
        Ok(r) => return Ok(r),
        Err(err) => err,
    };
    let known = policy.models.get(f.requested).and_then(|m| m.prices.first().map(|p| (m, p)));
    if let Some((m, p)) = known.filter(|_| err.code == Code::PolicyViolation) {
        let mut draft = f.draft(m, p, req);
        draft.decision = Decision::Block;
        return Err(app.record_refusal(&draft, err, None).await?);
    }
    Err(err)
}

/// Scan: every text through the DLP scanner; the policy allows, masks in
/// place, reroutes to a model cleared for the data, or blocks with a nudge.
async fn scan<'p>(
    app: &'p App,
    f: &Facts<'_>,
    req: &mut Read,
    model: &'p Model,
    price: &'p PriceVersion,
) -> Result<Scanned<'p>, AppError> {
    let policy = &app.policy;
    let inspection = app.guard.inspect(policy, &req.shaped.prompt.slots);
    let formats = reachable_formats(f.endpoint.format, req.shaped.translatable);
    let ruling = decide(policy, f.meta.use_case, model, formats, &inspection.classified, f.ts);
    let mut s = Scanned { model, price, ruling, inspection };
    match &s.ruling.verdict {
        Verdict::Allow => {}
        Verdict::Redact { keep_up_to } => s.inspection.redact(&mut req.body, &mut req.shaped.prompt.slots, *keep_up_to),
        Verdict::Reroute { to } => {
            // `decide` only reroutes to a model with a price in effect.
            if let Some((m, p)) = policy.models.get(to).and_then(|m| m.price_at(f.ts).map(|p| (m, p))) {
                (s.model, s.price) = (m, p);
            }
        }
        Verdict::Block => {
            let mut draft = f.draft(model, price, req);
            stamp(&mut draft, &s.ruling, &s.inspection, policy);
            let message = s.ruling.nudge.clone().unwrap_or_else(|| s.ruling.reasons.join("; "));
            let err = app.record_refusal(&draft, AppError::denied(message), Some(&s.ruling)).await?;
            return Err(err.with_nudge(s.ruling.nudge.as_deref()));
        }
    }
    Ok(s)
}

/// Hold: the call's worst case — every byte the upstream receives, and the
/// output it may produce in every choice — on every envelope it draws on,
/// all or nothing. A refusal is recorded and answered 402.
async fn hold(app: &App, f: &Facts<'_>, req: &mut Read, s: &Scanned<'_>) -> Result<Holding, AppError> {
    let subject = f.subject();
    let specs = app.budgets.specs(&app.policy, &subject, f.ts);
    let output = output_limit(&mut req.body, f.endpoint.api, s.model, specs.iter().any(|e| e.hard));
    let prompt = &req.shaped.prompt;
    let amount =
        worst_case(&s.price.rates, prompt.input_bound(), prompt.slots.len() as u64, output.total(DEFAULT_MAX_OUTPUT));
    let cover = Cover { subject: &subject, model: s.model, data_class: s.ruling.data_class };
    let mut draft = f.draft(s.model, s.price, req);
    stamp(&mut draft, &s.ruling, &s.inspection, &app.policy);
    let held = match app.hold(&f.id, &specs, amount, &cover).await {
        Ok(h) => h,
        Err(err) if err.code == Code::BudgetExceeded => return Err(app.record_budget_refusal(&draft, err).await),
        Err(err) => return Err(err),
    };
    if let Some(h) = &held {
        draft.budget_keys = h.keys.clone();
        draft.exception_id = h.exception_id.clone();
    }
    if s.worth_auditing() {
        app.audit_decision(&draft, &s.ruling).await;
    }
    // Kept only if the use case's retention says so (none by default).
    app.retain_prompt(&draft, &req.shaped.prompt.slots).await;
    Ok(Holding { draft, held, output })
}

/// The call as it goes upstream: to the model's upstream model id, and —
/// for a reroute to a model only reachable in the Anthropic format — as
/// Anthropic messages, its answer translated back to OpenAI.
fn prepare(
    g: &Gateway,
    f: &Facts<'_>,
    mut req: Read,
    s: Scanned<'_>,
    h: Holding,
    client_headers: HeaderMap,
) -> Result<Call, AppError> {
    let upstream = upstream_of(g, s.model)?;
    req.body["model"] = Value::String(s.model.upstream_model.clone());
    let crossing = upstream.cfg.format != f.endpoint.format;
    let (path, dialect, translation) = match req.shaped.dialect {
        Dialect::OpenAiChat { client_wants_usage } if crossing => {
            // Translatable requests have one choice.
            let max = h.output.per_choice.filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_OUTPUT);
            req.body = translate::to_anthropic(&req.body, &s.model.upstream_model, max);
            let path = "/v1/messages".to_string();
            (path, Dialect::Anthropic, Some(Translation { client_wants_usage, created: f.ts.as_second() }))
        }
        d => (with_query(f.endpoint.path, f.query), d, None),
    };
    let body = serde_json::to_vec(&req.body).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(Call {
        app: g.app.clone(),
        draft: h.draft,
        upstream,
        path,
        body: Bytes::from(body),
        client_headers,
        dialect,
        stream: req.shaped.stream,
        prompt: req.shaped.prompt,
        nudge: s.ruling.nudge,
        held: h.held,
        translation,
    })
}

fn upstream_of(g: &Gateway, model: &Model) -> Result<Arc<UpstreamClient>, AppError> {
    g.upstreams
        .get(&model.upstream)
        .cloned()
        .ok_or_else(|| AppError::internal(format!("upstream `{}` is not configured", model.upstream)))
}

/// The upstream path with the client's query string, as received.
fn with_query(path: &str, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

/// Count: the provider counts the prompt's tokens, once it has passed the
/// scanner like any prompt (counting sends every text to the provider).
/// Nothing is held: a count bills nothing. An answered count goes on no
/// ledger row: it is not a model call, and a zero-cost row for each would
/// skew every per-call figure (volumes, averages, anomaly baselines).
/// What the scanner found is audited, and a refusal is recorded, as for
/// any call.
async fn count(
    g: &Gateway,
    f: &Facts<'_>,
    mut req: Read,
    s: &Scanned<'_>,
    hs: &HeaderMap,
) -> Result<Response, AppError> {
    if s.worth_auditing() {
        let mut draft = f.draft(s.model, s.price, &req);
        stamp(&mut draft, &s.ruling, &s.inspection, &g.app.policy);
        g.app.audit_decision(&draft, &s.ruling).await;
    }
    let upstream = upstream_of(g, s.model)?;
    req.body["model"] = Value::String(s.model.upstream_model.clone());
    let body = serde_json::to_vec(&req.body).map_err(|e| AppError::internal(e.to_string()))?;
    let path = with_query(f.endpoint.path, f.query);
    crate::call::count(&upstream, &path, Bytes::from(body), hs, &f.id).await
}
