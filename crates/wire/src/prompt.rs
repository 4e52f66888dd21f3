//! One walker for every text a request carries to the model: message
//! content in all its shapes, tool calls and results, documents, tool
//! definitions, names, embedding inputs. Each text comes with the JSON
//! pointer of where it sits, so a scan sees all of it and redaction writes
//! back in place; data that is not text (images, audio, files) is counted
//! in bytes. What a request format carries is in the tables (`tables`);
//! a typed object the tables do not know is an error, never skipped.

use crate::api::Api;
use crate::rules::{Field, Rule, Types};
use crate::tables;
use serde_json::Value;
use std::fmt;

/// A text of the request and where it is in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// JSON pointer to the string (or number) holding the text; for an
    /// object key, to the value under that key.
    pub pointer: String,
    pub text: String,
    /// The text is an object key inside free-form JSON (a tool's input),
    /// which the model reads as much as the values.
    pub key: bool,
}

impl Slot {
    /// Puts `new` in place of this text in `req` (renaming the key, for a
    /// key) and in the slot. False if `req` no longer holds it there.
    pub fn replace(&mut self, req: &mut Value, new: String) -> bool {
        let written = if self.key {
            let Some((parent, _)) = self.pointer.rsplit_once('/') else { return false };
            let parent = parent.to_string();
            let Some(Value::Object(map)) = req.pointer_mut(&parent) else { return false };
            let Some(v) = map.remove(&self.text) else { return false };
            map.insert(new.clone(), v);
            self.pointer = child(&parent, &new);
            true
        } else if let Some(v) = req.pointer_mut(&self.pointer) {
            *v = Value::String(new.clone());
            true
        } else {
            false
        };
        if written {
            self.text = new;
        }
        written
    }

    /// The index of the message (or Responses input item) this text
    /// belongs to, if any.
    pub fn message(&self) -> Option<usize> {
        let rest = self.pointer.strip_prefix("/messages/").or_else(|| self.pointer.strip_prefix("/input/"))?;
        rest.split('/').next()?.parse().ok()
    }
}

/// Everything a request sends the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompt {
    /// The texts, in the order of the body.
    pub slots: Vec<Slot>,
    /// Bytes of data that is not text (images, audio, files, signatures).
    pub opaque_bytes: u64,
    /// Token ids sent pre-tokenised (embedding inputs).
    pub tokens: u64,
}

impl Prompt {
    pub fn text_bytes(&self) -> u64 {
        self.slots.iter().map(|s| s.text.len() as u64).sum()
    }

    /// An upper bound of the input tokens: no token is shorter than a byte,
    /// whatever the bytes are, and pre-tokenised ids are one token each.
    pub fn input_bound(&self) -> u64 {
        self.text_bytes().saturating_add(self.opaque_bytes).saturating_add(self.tokens)
    }

    pub fn texts(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.text.clone()).collect()
    }
}

/// Why a request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkError {
    Missing {
        field: &'static str,
        hint: &'static str,
    },
    Shape {
        at: String,
        expected: &'static str,
    },
    /// A typed object of a type the gateway does not know.
    Unknown {
        what: &'static str,
        kind: String,
        at: String,
    },
    Untyped {
        what: &'static str,
        at: String,
    },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::Missing { field, hint } => write!(f, "`{field}` is required{hint}"),
            WalkError::Shape { at, expected } => write!(f, "`{at}` must be {expected}"),
            WalkError::Unknown { what, kind, at } => write!(
                f,
                "{what} type `{kind}` at `{at}` is not supported: the gateway cannot read it, so it cannot \
                 check it before a model sees it; send its text as a `text` {what} instead"
            ),
            WalkError::Untyped { what, at } => write!(f, "the {what} at `{at}` has no `type`"),
        }
    }
}

impl std::error::Error for WalkError {}

/// Every text and byte a request in format `api` sends the model.
pub fn walk(api: Api, req: &Value) -> Result<Prompt, WalkError> {
    let spec = tables::spec(api);
    if req.get(spec.required).is_none_or(Value::is_null) {
        return Err(WalkError::Missing { field: spec.required, hint: spec.hint });
    }
    let mut w = Walker { out: Prompt::default(), strict: true };
    w.fields(spec.fields, req, "")?;
    // Every other top-level field goes to the provider too (`metadata`,
    // `user`, `stop`, parameters a newer API adds): its strings are read
    // as free-form JSON, so none leaves unscanned. Known parameters hold
    // numbers, switches and names, not prompt text: reading them would
    // only inflate estimates.
    if let Some(object) = req.as_object() {
        for (key, v) in object {
            if !PARAMETERS.contains(&key.as_str()) && !spec.fields.iter().any(|f| f.key == key) {
                w.rule(Rule::Json, v, &child("", key))?;
            }
        }
    }
    Ok(w.out)
}

/// Top-level request fields of every format that carry no prompt text.
const PARAMETERS: &[&str] = &[
    "model",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "parallel_tool_calls",
    "tool_choice",
    "service_tier",
    "reasoning_effort",
    "thinking",
    "modalities",
    "encoding_format",
    "dimensions",
    "store",
    "verbosity",
    // The Responses API's: `previous_response_id` names state the provider
    // keeps (the gateway keeps none), `reasoning` and `include` are switches.
    "max_output_tokens",
    "previous_response_id",
    "reasoning",
    "include",
    "truncation",
    "background",
];

/// The texts of an answer, for estimates: what is not understood is
/// skipped, since nothing is forwarded on the strength of it.
pub(crate) fn answer_texts(fields: &'static [Field], answer: &Value) -> Vec<String> {
    let mut w = Walker { out: Prompt::default(), strict: false };
    // Lenient walks do not fail.
    let _ = w.fields(fields, answer, "");
    w.out.texts()
}

struct Walker {
    out: Prompt,
    /// Whether what is not understood fails the walk (requests) or is
    /// skipped (answers).
    strict: bool,
}

impl Walker {
    fn fields(&mut self, fields: &[Field], object: &Value, at: &str) -> Result<(), WalkError> {
        for field in fields {
            if let Some(v) = object.get(field.key) {
                self.rule(field.rule, v, &child(at, field.key))?;
            }
        }
        Ok(())
    }

    fn rule(&mut self, rule: Rule, v: &Value, at: &str) -> Result<(), WalkError> {
        if v.is_null() {
            return Ok(());
        }
        if !fits(rule, v) {
            return self.fail(WalkError::Shape { at: at.to_string(), expected: expects(rule) });
        }
        match (rule, v) {
            (Rule::Text | Rule::TextOr(_), Value::String(s)) => self.push(at, s, false),
            (Rule::TextOr(inner), _) => return self.rule(*inner, v, at),
            (Rule::Json, _) => self.json(v, at),
            (Rule::Opaque, _) => self.out.opaque_bytes = self.out.opaque_bytes.saturating_add(opaque_len(v)),
            (Rule::Tokens, Value::Array(ids)) => self.out.tokens += ids.len() as u64,
            (Rule::Tokens, _) => self.out.tokens += 1,
            (Rule::Object(fields), _) => return self.fields(fields, v, at),
            (Rule::Each(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.rule(*inner, item, &format!("{at}/{i}"))?;
                }
            }
            (Rule::Typed(types), _) => return self.typed(types, v, at),
            // `fits` let nothing else through.
            (Rule::Text | Rule::Each(_), _) => {}
        }
        Ok(())
    }

    fn typed(&mut self, types: &Types, v: &Value, at: &str) -> Result<(), WalkError> {
        let fields = match v.get("type") {
            None | Some(Value::Null) => match types.untyped {
                Some(fields) => fields,
                None => return self.fail(WalkError::Untyped { what: types.what, at: at.to_string() }),
            },
            Some(Value::String(kind)) => match types.kinds.iter().find(|(k, _)| k == kind) {
                Some((_, fields)) => fields,
                None => {
                    return match types.other {
                        Some(rule) => self.rule(rule, v, at),
                        None => {
                            self.fail(WalkError::Unknown { what: types.what, kind: kind.clone(), at: at.to_string() })
                        }
                    };
                }
            },
            Some(_) => return self.fail(WalkError::Shape { at: child(at, "type"), expected: "a string" }),
        };
        self.fields(fields, v, at)
    }

    /// Every string, number and key of free-form JSON. A key comes after
    /// what is under it, so redaction rewrites the inside before it renames
    /// the key (and the inside's pointers stay valid).
    fn json(&mut self, v: &Value, at: &str) {
        match v {
            Value::String(s) => self.push(at, s, false),
            Value::Number(n) => self.push(at, &n.to_string(), false),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json(item, &format!("{at}/{i}"));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let pointer = child(at, k);
                    self.json(item, &pointer);
                    self.push(&pointer, k, true);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn push(&mut self, pointer: &str, text: &str, key: bool) {
        self.out.slots.push(Slot { pointer: pointer.to_string(), text: text.to_string(), key });
    }

    fn fail(&self, e: WalkError) -> Result<(), WalkError> {
        if self.strict { Err(e) } else { Ok(()) }
    }
}

/// Whether a (non-null) value has the shape the rule reads.
fn fits(rule: Rule, v: &Value) -> bool {
    match rule {
        Rule::Text => v.is_string(),
        Rule::Json | Rule::Opaque => true,
        Rule::Tokens => v.is_number() || v.as_array().is_some_and(|ids| ids.iter().all(Value::is_number)),
        Rule::Object(_) | Rule::Typed(_) => v.is_object(),
        Rule::Each(_) => v.is_array(),
        Rule::TextOr(inner) => v.is_string() || fits(*inner, v),
    }
}

fn expects(rule: Rule) -> &'static str {
    match rule {
        Rule::Text => "a string",
        Rule::Json | Rule::Opaque => "JSON",
        Rule::Tokens => "a token id or an array of token ids",
        Rule::Object(_) | Rule::Typed(_) => "an object",
        Rule::Each(_) => "an array",
        Rule::TextOr(inner) => match *inner {
            Rule::Each(_) => "a string or an array",
            Rule::Tokens => "a string or token ids",
            _ => "a string or an object",
        },
    }
}

/// The pointer of `key` under `at` (RFC 6901 escapes).
fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Bytes of a value as sent.
fn opaque_len(v: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    match v {
        Value::String(s) => s.len() as u64,
        other => {
            let mut c = Count(0);
            // Writing a Value to a counter cannot fail.
            let _ = serde_json::to_writer(&mut c, other);
            c.0
        }
    }
}

#[cfg(test)]
mod tests;
