//! The OpenAPI document's shared parts: title and version, the two ways to
//! present an API key, the contract's error shape and one reusable
//! response per error status. The paths come from the handlers'
//! `#[utoipa::path]` annotations as the route groups register them (see
//! `api/mod.rs`), so the document and the router cannot drift apart.

use serde::Deserialize;
use std::collections::BTreeSet;
use tokenwise_app::Code;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The contract's error body: `{"type": "error", "error": {"type", "code",
/// "message", …}}` (the top-level `type` makes it an Anthropic error too).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Always `error`.
    #[serde(rename = "type")]
    #[schema(rename = "type", examples("error"))]
    pub kind: String,
    pub error: ErrorDetail,
}

/// What went wrong. Refusals may carry structured fields beside these
/// (a budget refusal's `budget`, `scope`, `period`, `remaining_usd`,
/// `needed_usd`), so no client parses amounts out of the message.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// The error type, e.g. `invalid_request_error`, `permission_error`.
    #[serde(rename = "type")]
    #[schema(rename = "type", schema_with = error_types)]
    pub kind: String,
    /// The contract's error code.
    #[schema(schema_with = error_codes)]
    pub code: String,
    pub message: String,
    /// The request field at fault when one is (`messages[2].role`,
    /// `justification`), else null; as OpenAI clients expect.
    pub param: Option<String>,
}

fn names(pick: fn((u16, &'static str, &'static str)) -> &'static str) -> Schema {
    let names: BTreeSet<&str> = Code::ALL.iter().map(|c| pick(c.parts())).collect();
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).into()
}

fn error_codes() -> Schema {
    names(|(_, code, _)| code)
}

fn error_types() -> Schema {
    names(|(_, _, kind)| kind)
}

/// One reusable response per error status, each with the contract's
/// error body; a handler lists those it can answer, e.g.
/// `(status = 404, response = NotFound)`.
macro_rules! error_responses {
    ($($name:ident => $description:literal),+ $(,)?) => {
        $(
            #[doc = $description]
            #[derive(Debug)]
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($description))
                }
            }
        )+

        fn all_error_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as utoipa::ToResponse>::response()),+]
        }
    };
}

error_responses!(
    BadRequest => "The request is malformed: a bad body, query or parameter (`invalid_request`).",
    Unauthorized => "No API key, or an unknown, revoked or expired one (`unauthorized`).",
    Forbidden => "The caller's role or the policy does not allow it (`policy_violation`).",
    NotFound => "Nothing by that id that the caller may see (`not_found`).",
    Conflict => "No longer in a state that allows it, e.g. already decided (`conflict`).",
    NotInCohort => "Only the pilot's cohort answers its question (`not_in_cohort`, 403).",
    AlreadyAnswered => "Already answered about this subject of the pilot this week (`already_answered`, 409).",
    TooLarge => "The body is larger than `server.max_request_bytes` (`invalid_request`, type `request_too_large`).",
);

fn error_response(description: &str) -> RefOr<Response> {
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build();
    ResponseBuilder::new().description(description).content("application/json", body).build().into()
}

/// One tag per capability (a route group), each operation under one.
const TAGS: &[(&str, &str)] = &[
    ("check", "What the gateway would decide about a request, without the model call."),
    ("events", "The ledger's usage events: one per metered call."),
    ("budgets", "Budget envelopes of the current period: limits, spend, holds, forecasts."),
    ("exceptions", "Time-limited exceptions to a budget, model or data-class rule, and their approval."),
    ("outcomes", "Work results reported against tasks, and their validation."),
    ("appeals", "Appeals against rejected outcomes, and governance's ruling."),
    ("scores", "Scores under each reward model, their comparison, and the leaderboard."),
    ("reports", "Chargeback (JSON, CSV, FOCUS), program health, and reconciliation with a provider's export."),
    ("anomalies", "Anomaly flags with their evidence, and incident reviews."),
    (
        "feedback",
        "A pilot's question to its cohort: motivating, confusing or unfair? About the score, leaderboard, a nudge or a budget.",
    ),
    ("privacy", "Prompts kept under a use case's retention policy: read by governance, every read audited."),
    (
        "pilots",
        "Pilots of an incentive design: their report (cohort against control, before against during), promotion to the default, or their end.",
    ),
    ("admin", "Operations for tests and demos."),
];

/// The document before any path is added: info, security schemes (an API
/// key as `Authorization: Bearer KEY` or `x-api-key: KEY`, either one
/// required by default), the error schema and responses.
pub fn base() -> OpenApi {
    let info = InfoBuilder::new()
        .title("tokenwise")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("The JSON API of tokenwise, an AI-usage governance gateway. Every route answers errors in one shape (`Error`). Money is exact: decimal strings in US dollars (`*_usd`) and integer nano-dollars (`*_nanos`)."))
        .build();
    let mut doc = OpenApiBuilder::new()
        .info(info)
        .tags(Some(TAGS.iter().map(|(name, about)| TagBuilder::new().name(*name).description(Some(*about)).build())))
        .security(Some([
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]))
        .build();
    let components = doc.components.get_or_insert_default();
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("An API key made by `tokenwise keys create` (OpenAI SDKs send it this way)."))
        .build();
    components.security_schemes.insert("bearer".into(), SecurityScheme::Http(bearer).into());
    let mut header = ApiKeyValue::new("x-api-key");
    header.description = Some("The same API key (Anthropic SDKs send it this way).".into());
    components.security_schemes.insert("api_key".into(), SecurityScheme::ApiKey(ApiKey::Header(header)).into());
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components.responses.extend(all_error_responses().into_iter().map(|(name, r)| (name.to_string(), r)));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenwise_app::AppError;

    #[test]
    fn every_error_the_app_renders_has_the_documented_shape() {
        for code in Code::ALL {
            let body = AppError::new(code, "no").with_field("budget", "b").body();
            let parsed: ErrorBody = serde_json::from_value(body).unwrap();
            assert_eq!(parsed.kind, "error");
            assert_eq!((parsed.error.code.as_str(), parsed.error.kind.as_str()), (code.as_str(), code.parts().2));
        }
        let doc = serde_json::to_value(base()).unwrap();
        let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
        assert!(detail["code"]["enum"].as_array().unwrap().contains(&"budget_exceeded".into()), "{detail}");
        assert_eq!(doc["components"]["schemas"]["Error"]["properties"]["type"]["examples"][0], "error");
    }
}
