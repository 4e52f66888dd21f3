//! The vocabulary of the request tables: what each field of a request is
//! (text, free-form JSON, opaque bytes, a nested shape), so that one walker
//! reads every format.

/// What a JSON value is, for the walker. Absent and `null` are always
/// accepted: optional fields are the rule, required ones are checked apart.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    /// A string the model reads.
    Text,
    /// Free-form JSON the model reads (tool input, a JSON schema): every
    /// string, number and object key inside it.
    Json,
    /// Data that is not text (images, audio, files, signatures): counted
    /// in bytes, never scanned.
    Opaque,
    /// Pre-tokenised input: a token id, or an array of them.
    Tokens,
    /// An object with these fields; others are not sent to the model.
    Object(&'static [Field]),
    /// An array whose every element follows the rule.
    Each(&'static Rule),
    /// A string the model reads, or else the rule.
    TextOr(&'static Rule),
    /// An object whose `type` says what it is.
    Typed(&'static Types),
}

/// A field of an object and what its value is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub key: &'static str,
    pub rule: Rule,
}

/// The kinds of a typed object (content blocks, parts, tools, sources).
#[derive(Debug)]
pub(crate) struct Types {
    /// What these objects are called in errors ("content block").
    pub what: &'static str,
    pub kinds: &'static [(&'static str, &'static [Field])],
    /// The fields of an object without `type`; None refuses it.
    pub untyped: Option<&'static [Field]>,
    /// How to read a type not listed; None refuses the request, since what
    /// it carries cannot be scanned.
    pub other: Option<Rule>,
}

/// A request format: the field it cannot do without, and what it carries.
#[derive(Debug)]
pub(crate) struct Spec {
    pub required: &'static str,
    /// What the required field must be, for its error message.
    pub hint: &'static str,
    pub fields: &'static [Field],
}

/// Shorthand for the tables.
pub(crate) const fn f(key: &'static str, rule: Rule) -> Field {
    Field { key, rule }
}
