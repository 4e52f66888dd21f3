//! Who a budget, an exception or a score is about, and the key of a budget
//! envelope. Both cross boundaries as text (`user:ivan.petrov`,
//! `per-person-daily|user:ivan.petrov|2026-11-28`); these types parse and
//! print that text in one place, so nobody splits it by hand.

use jiff::civil::Date;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// One concrete scope: the whole organisation, or one team, project, use
/// case or person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Org,
    Team(String),
    Project(String),
    UseCase(String),
    User(String),
}

/// Why a text is not a scope or an envelope key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not {what}; {hint}")]
pub struct ParseScopeError {
    pub text: String,
    pub what: &'static str,
    pub hint: &'static str,
}

const SCOPE_HINT: &str = "write `org`, `team:ID`, `project:ID`, `use_case:ID` or `user:ID`";
const KEY_HINT: &str = "write `BUDGET|SCOPE|YYYY-MM-DD` or `exception|SCOPE|ID`";

impl Scope {
    /// `team`, `user`… (`org` for the organisation).
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Org => "org",
            Scope::Team(_) => "team",
            Scope::Project(_) => "project",
            Scope::UseCase(_) => "use_case",
            Scope::User(_) => "user",
        }
    }

    /// The id after the colon; None for `org`.
    pub fn id(&self) -> Option<&str> {
        match self {
            Scope::Org => None,
            Scope::Team(id) | Scope::Project(id) | Scope::UseCase(id) | Scope::User(id) => Some(id),
        }
    }

    /// The person this scope is, if it is one.
    pub fn user(&self) -> Option<&str> {
        match self {
            Scope::User(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            None => f.write_str("org"),
            Some(id) => write!(f, "{}:{id}", self.kind()),
        }
    }
}

impl FromStr for Scope {
    type Err = ParseScopeError;

    fn from_str(s: &str) -> Result<Scope, ParseScopeError> {
        let bad = || ParseScopeError { text: s.to_string(), what: "a scope", hint: SCOPE_HINT };
        if s == "org" {
            return Ok(Scope::Org);
        }
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        // Ids never hold the separators of an envelope key or a scope.
        if id.is_empty() || id.contains(['|', ':']) || id.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let id = id.to_string();
        match kind {
            "team" => Ok(Scope::Team(id)),
            "project" => Ok(Scope::Project(id)),
            "use_case" => Ok(Scope::UseCase(id)),
            "user" => Ok(Scope::User(id)),
            _ => Err(bad()),
        }
    }
}

/// Which allowance a hold draws on: one budget's envelope for one scope in
/// the period starting on a date (in the org's time zone), or an approved
/// exception's own envelope (its cap).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnvelopeKey {
    Budget { budget: String, scope: Scope, period: Date },
    Exception { scope: Scope, id: String },
}

impl EnvelopeKey {
    pub fn scope(&self) -> &Scope {
        match self {
            EnvelopeKey::Budget { scope, .. } | EnvelopeKey::Exception { scope, .. } => scope,
        }
    }

    /// The budget's id, or `exception` for an exception's envelope.
    pub fn budget(&self) -> &str {
        match self {
            EnvelopeKey::Budget { budget, .. } => budget,
            EnvelopeKey::Exception { .. } => "exception",
        }
    }

    /// The first day of the budget period; None for an exception.
    pub fn period(&self) -> Option<Date> {
        match self {
            EnvelopeKey::Budget { period, .. } => Some(*period),
            EnvelopeKey::Exception { .. } => None,
        }
    }
}

impl fmt::Display for EnvelopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeKey::Budget { budget, scope, period } => write!(f, "{budget}|{scope}|{period}"),
            EnvelopeKey::Exception { scope, id } => write!(f, "exception|{scope}|{id}"),
        }
    }
}

impl FromStr for EnvelopeKey {
    type Err = ParseScopeError;

    fn from_str(s: &str) -> Result<EnvelopeKey, ParseScopeError> {
        let bad = || ParseScopeError { text: s.to_string(), what: "an envelope key", hint: KEY_HINT };
        let mut parts = s.split('|');
        let (Some(first), Some(scope), Some(last), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let scope: Scope = scope.parse().map_err(|_| bad())?;
        if first == "exception" {
            if last.is_empty() {
                return Err(bad());
            }
            return Ok(EnvelopeKey::Exception { scope, id: last.to_string() });
        }
        if first.is_empty() {
            return Err(bad());
        }
        let period: Date = last.parse().map_err(|_| bad())?;
        Ok(EnvelopeKey::Budget { budget: first.to_string(), scope, period })
    }
}

/// Both travel as their text, so JSON, database columns and audit entries
/// are unchanged by having a type.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(Scope);
serde_as_text!(EnvelopeKey);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scopes_and_keys_read_and_print_the_same_text() {
        for text in ["org", "team:support", "user:ivan.petrov", "project:atlas", "use_case:support-reply"] {
            assert_eq!(text.parse::<Scope>().unwrap().to_string(), text);
        }
        let k: EnvelopeKey = "per-person-daily|user:ivan.petrov|2026-11-28".parse().unwrap();
        assert_eq!(k.budget(), "per-person-daily");
        assert_eq!(k.scope(), &Scope::User("ivan.petrov".into()));
        assert_eq!(k.period().map(|d| d.to_string()).as_deref(), Some("2026-11-28"));
        let e: EnvelopeKey = "exception|team:support|exc_01".parse().unwrap();
        assert_eq!(e.to_string(), "exception|team:support|exc_01");
        assert_eq!(e.period(), None);
    }

    #[test]
    fn malformed_text_is_refused_with_a_hint() {
        for bad in ["", "person:x", "user:", "user:a b", "team:a|b", "org:x"] {
            let err = bad.parse::<Scope>().unwrap_err();
            assert!(err.to_string().contains("team:ID"), "{err}");
        }
        for bad in ["b|user:x", "b|user:x|2026-13-01", "|org|2026-01-01", "b|org|2026-01-01|x", "exception|org|"] {
            assert!(bad.parse::<EnvelopeKey>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn keys_round_trip(budget in "[a-z][a-z0-9-]{0,20}", id in "[a-z][a-z0-9._-]{0,20}", kind in 0..5u8,
                           y in 2000i16..2100, m in 1i8..=12, d in 1i8..=28) {
            let scope = match kind {
                0 => Scope::Org,
                1 => Scope::Team(id.clone()),
                2 => Scope::Project(id.clone()),
                3 => Scope::UseCase(id.clone()),
                _ => Scope::User(id.clone()),
            };
            let period = jiff::civil::date(y, m, d);
            let k = EnvelopeKey::Budget { budget, scope: scope.clone(), period };
            prop_assert_eq!(k.to_string().parse::<EnvelopeKey>().unwrap(), k);
            let json = serde_json::to_string(&scope).unwrap();
            prop_assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
    }
}
