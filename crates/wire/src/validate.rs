//! The fields of a request that decide what the upstream does and what the
//! gateway holds for it, checked before anything else reads them: the
//! output limits (a whole number of tokens, at least 1, at most
//! [`MAX_OUTPUT_TOKENS`]), `n`, `stream`, and the conversation itself (a
//! non-empty `messages` whose every entry has a role of the format). A
//! value out of shape is refused naming its field — never defaulted,
//! never forwarded for the provider to guess at. Fields not named here
//! pass through untouched: SDKs add new ones all the time.

use crate::api::Api;
use serde_json::Value;
use std::fmt;

/// The most output tokens any request may ask for per answer, whatever its
/// model: far above every model's real limit (the largest are ~128k), so
/// only a mistake or an attack reaches it.
pub const MAX_OUTPUT_TOKENS: u64 = 1_048_576;

/// The most answers an OpenAI chat request may ask for (`n`).
pub const MAX_CHOICES: u64 = 128;

const OPENAI_ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];
const ANTHROPIC_ROLES: &[&str] = &["user", "assistant"];
const RESPONSES_ROLES: &[&str] = &["user", "assistant", "system", "developer"];

/// A field of a request that is out of shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Where, as a path: `messages[2].role`, `max_tokens`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for Invalid {}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), message: message.into() }
}

/// Checks the fields of a request in format `api` that the gateway acts
/// on. `body` is a JSON object.
pub fn validate(api: Api, body: &Value) -> Result<(), Invalid> {
    let limits: &[&str] = match api {
        Api::OpenAiChat => &["max_tokens", "max_completion_tokens"],
        Api::AnthropicMessages => &["max_tokens"],
        Api::OpenAiResponses => &["max_output_tokens"],
        Api::OpenAiEmbeddings => &[],
    };
    for field in limits {
        count(body, field, MAX_OUTPUT_TOKENS)?;
    }
    if api == Api::OpenAiChat {
        count(body, "n", MAX_CHOICES)?;
    }
    if api != Api::OpenAiEmbeddings {
        boolean(body, "stream")?;
    }
    match api {
        Api::OpenAiChat => messages(body, OPENAI_ROLES),
        Api::AnthropicMessages => messages(body, ANTHROPIC_ROLES),
        Api::OpenAiResponses => input_roles(body),
        Api::OpenAiEmbeddings => Ok(()),
    }
}

/// A count, when present and not null: an integer from 1 to `max`
/// (`2.5`, `-1`, `"100"` and `100.0` are not).
fn count(body: &Value, field: &str, max: u64) -> Result<(), Invalid> {
    let Some(v) = body.get(field).filter(|v| !v.is_null()) else { return Ok(()) };
    let Value::Number(n) = v else {
        return Err(invalid(field, format!("must be an integer, not {}", kind(v))));
    };
    if n.as_i64().is_some_and(|i| i < 0) || n.as_f64().is_some_and(|f| f < 0.0) {
        return Err(invalid(field, format!("must be at least 1, not {n}")));
    }
    if n.as_u64().is_none() && n.as_f64().is_some_and(|f| f.fract() != 0.0) {
        return Err(invalid(field, format!("must be a whole number, not {n}")));
    }
    // A whole float beyond u64 saturates: still more than `max`.
    let k = n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)).unwrap_or(u64::MAX);
    match k {
        0 => Err(invalid(field, "must be at least 1, not 0")),
        k if k > max => Err(invalid(field, format!("{n} is more than the gateway allows ({max})"))),
        // Providers read integers only: `1024.0` would reach them as no limit at all.
        k if n.as_u64().is_none() => Err(invalid(field, format!("must be an integer: write {k}, not {n}"))),
        _ => Ok(()),
    }
}

fn boolean(body: &Value, field: &str) -> Result<(), Invalid> {
    match body.get(field) {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(other) => Err(invalid(field, format!("must be true or false, not {}", kind(other)))),
    }
}

/// `messages`: a non-empty array of objects, each with a known role.
fn messages(body: &Value, roles: &[&str]) -> Result<(), Invalid> {
    let list = match body.get("messages") {
        // A missing field is the walker's to report, with its hint.
        None => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(invalid("messages", format!("must be an array of messages, not {}", kind(other)))),
    };
    if list.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    for (i, m) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Some(obj) = m.as_object() else {
            return Err(invalid(at, format!("must be an object, not {}", kind(m))));
        };
        match obj.get("role") {
            Some(role) => role_of(&format!("{at}.role"), role, roles)?,
            None => {
                return Err(invalid(
                    format!("{at}.role"),
                    format!("is required; expected one of {}", roles.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

/// Responses input items that carry a role (messages, long or short form).
fn input_roles(body: &Value) -> Result<(), Invalid> {
    let Some(Value::Array(items)) = body.get("input") else { return Ok(()) };
    for (i, item) in items.iter().enumerate() {
        if let Some(role) = item.get("role") {
            role_of(&format!("input[{i}].role"), role, RESPONSES_ROLES)?;
        }
    }
    Ok(())
}

fn role_of(at: &str, role: &Value, roles: &[&str]) -> Result<(), Invalid> {
    match role.as_str() {
        Some(r) if roles.contains(&r) => Ok(()),
        Some(r) => Err(invalid(at, format!("unknown role '{}'; expected one of {}", clip(r), roles.join(", ")))),
        None => Err(invalid(at, format!("must be a string, not {}; expected one of {}", kind(role), roles.join(", ")))),
    }
}

/// At most 40 characters of a client's text in a message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(extra: Value) -> Value {
        let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    #[test]
    fn output_limits_are_whole_positive_and_bounded() {
        for (extra, field) in [
            (json!({"max_tokens": -1}), "max_tokens"),
            (json!({"max_tokens": "100"}), "max_tokens"),
            (json!({"max_tokens": 2.5}), "max_tokens"),
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"max_tokens": 1e300}), "max_tokens"),
            (json!({"max_completion_tokens": 99_999_999_999u64}), "max_completion_tokens"),
            (json!({"n": 0}), "n"),
            (json!({"n": 1000}), "n"),
            (json!({"stream": "yes"}), "stream"),
        ] {
            let err = validate(Api::OpenAiChat, &chat(extra.clone())).expect_err(&extra.to_string());
            assert_eq!(err.field, field, "{extra}");
        }
        assert_eq!(
            validate(Api::OpenAiChat, &chat(json!({"max_tokens": 100.0}))).map_err(|e| e.to_string()),
            Err("max_tokens: must be an integer: write 100, not 100.0".into())
        );
        for extra in [
            json!({"max_tokens": 1}),
            json!({"max_tokens": null}),
            json!({"max_completion_tokens": MAX_OUTPUT_TOKENS, "n": 2, "stream": true}),
            json!({"some_new_sdk_field": {"x": [1]}}),
        ] {
            assert_eq!(validate(Api::OpenAiChat, &chat(extra.clone())), Ok(()), "{extra}");
        }
        let r = json!({"model": "m", "input": "hi", "max_output_tokens": -5});
        assert_eq!(validate(Api::OpenAiResponses, &r).map_err(|e| e.field), Err("max_output_tokens".into()));
    }

    #[test]
    fn conversations_need_messages_with_known_roles() {
        let empty = json!({"model": "m", "messages": []});
        assert_eq!(validate(Api::OpenAiChat, &empty).map_err(|e| e.field), Err("messages".into()));
        let wizard = json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                         {"role": "wizard", "content": "c"}]});
        let err = validate(Api::OpenAiChat, &wizard).unwrap_err();
        assert_eq!(
            err.to_string(),
            "messages[2].role: unknown role 'wizard'; expected one of system, developer, user, assistant, tool, function"
        );
        // Anthropic puts the system prompt beside the messages.
        let sys = json!({"messages": [{"role": "system", "content": "a"}]});
        assert_eq!(validate(Api::AnthropicMessages, &sys).map_err(|e| e.field), Err("messages[0].role".into()));
        let no_role = json!({"messages": [{"content": "a"}]});
        assert_eq!(validate(Api::AnthropicMessages, &no_role).map_err(|e| e.field), Err("messages[0].role".into()));
        let items = json!({"input": [{"role": "user", "content": "a"}, {"type": "function_call_output", "output": "x"},
                                     {"role": 7, "content": "b"}]});
        assert_eq!(validate(Api::OpenAiResponses, &items).map_err(|e| e.field), Err("input[2].role".into()));
    }
}
