//! Closed vocabularies shared by the policy, the scanner and the ledger.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`; known: {known}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    pub known: String,
}

/// A closed set of names with `as_str`, `Display`, `FromStr` (whose error
/// lists the known names), serde in snake_case and an OpenAPI schema (a
/// string enum of the names). Used for every enum that crosses a boundary
/// as text: files, headers, database columns, the JSON API.
#[macro_export]
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::__utoipa::PartialSchema for $name {
            fn schema() -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                $crate::__utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type($crate::__utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl $crate::__utoipa::ToSchema for $name {}

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, $crate::UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownName {
                        what: $what,
                        name: s.to_string(),
                        known: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

crate::named_enum!(
    /// What the DLP scanner can find. Names are part of the interface
    /// contract (`tokenwise scan --json`).
    FindingKind, "finding kind", {
        Email => "email",
        Phone => "phone",
        CreditCard => "credit_card",
        Iban => "iban",
        UsSsn => "us_ssn",
        IpAddress => "ip_address",
        AwsAccessKey => "aws_access_key",
        GithubToken => "github_token",
        OpenaiKey => "openai_key",
        AnthropicKey => "anthropic_key",
        SlackToken => "slack_token",
        PrivateKey => "private_key",
        Jwt => "jwt",
        /// A user name and password for HTTP Basic authentication: an
        /// `Authorization: Basic` header's value, curl's `-u user:password`.
        BasicAuth => "basic_auth",
        /// A webhook URL whose path is its own secret (Slack, Discord, Teams…).
        WebhookUrl => "webhook_url",
        PgpPrivateKey => "pgp_private_key",
        GenericSecret => "generic_secret",
        CustomTerm => "custom_term",
        ConfidentialityMarker => "confidentiality_marker",
    }
);

crate::named_enum!(
    /// Production work is scored on outcomes; exploration (sandbox) work
    /// has its own budgets and is scored on its own terms.
    Track, "track", {
        Production => "production",
        Exploration => "exploration",
    }
);

crate::named_enum!(
    /// What the policy decided about a prompt: the kind of its verdict, as
    /// the ledger records it.
    Decision, "decision", {
        Allow => "allow",
        Redact => "redact",
        Reroute => "reroute",
        Block => "block",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in FindingKind::ALL {
            assert_eq!(k.as_str().parse::<FindingKind>(), Ok(*k));
        }
        let err = "ssn".parse::<FindingKind>().unwrap_err();
        assert!(err.known.contains("us_ssn"));
    }

    /// The schema lists the names serde writes, so the OpenAPI document
    /// tells the truth about every `named_enum!`.
    #[test]
    fn serde_and_the_schema_say_the_names() {
        let schema = serde_json::to_value(<FindingKind as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<serde_json::Value> =
            FindingKind::ALL.iter().map(|k| serde_json::to_value(k).unwrap()).collect();
        assert_eq!(schema["enum"], serde_json::Value::Array(listed));
        for k in FindingKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for t in Track::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for d in Decision::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
}
