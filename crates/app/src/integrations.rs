//! Integrations: systems that post outcomes with no API key, each request
//! signed with a secret shared with tokenwise (`[[integrations]]` in the
//! policy names the environment variable holding it, read once when the
//! server starts).
//!
//! A signed request carries three headers:
//! `x-tokenwise-integration: ID`, `x-tokenwise-timestamp: UNIX_SECONDS` and
//! `x-tokenwise-signature: sha256=HEX`, where HEX is the HMAC-SHA256, under
//! the integration's secret, of `TIMESTAMP.BODY` (the timestamp's text, a
//! dot, then the raw body bytes). A timestamp more than five minutes from
//! the server's clock is refused, so a captured request cannot be replayed
//! later; within those minutes it could be (the outcome would be reported
//! twice, each still waiting for validation).

use crate::App;
use crate::error::{AppError, AppResult, Code};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use tokenwise_policy::{Integration, Policy};

/// How far a signed request's timestamp may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The signing secret of each integration, as read from the environment
/// at start; None when its variable was missing or empty (its signed posts
/// are then refused). Never printed.
#[derive(Default)]
pub struct Secrets {
    by_id: BTreeMap<String, Option<Vec<u8>>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: BTreeMap<&str, bool> = self.by_id.iter().map(|(k, v)| (k.as_str(), v.is_some())).collect();
        f.debug_struct("Secrets").field("set", &set).finish()
    }
}

impl Secrets {
    /// Reads each integration's secret with `lookup` (the process
    /// environment in production), warning about every one missing.
    pub fn load(policy: &Policy, lookup: impl Fn(&str) -> Option<String>) -> Secrets {
        let by_id = policy
            .integrations
            .values()
            .map(|i| {
                let secret = lookup(&i.secret_env).filter(|s| !s.is_empty()).map(String::into_bytes);
                if secret.is_none() {
                    tracing::warn!(
                        integration = %i.id,
                        variable = %i.secret_env,
                        "the integration's secret is not set: its signed outcomes will be refused"
                    );
                }
                (i.id.clone(), secret)
            })
            .collect();
        Secrets { by_id }
    }

    pub fn from_env(policy: &Policy) -> Secrets {
        Secrets::load(policy, |name| std::env::var(name).ok())
    }
}

/// The signature headers of a request, as sent (any may be missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'h> {
    pub integration: Option<&'h str>,
    pub timestamp: Option<&'h str>,
    pub signature: Option<&'h str>,
}

impl SignedHeaders<'_> {
    /// Whether the request claims to be signed (then it is judged as such,
    /// whatever else it carries).
    pub fn present(&self) -> bool {
        self.integration.is_some() || self.signature.is_some()
    }
}

/// `sha256=HEX`: the HMAC-SHA256 of `TIMESTAMP.BODY` under `secret`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    match mac(secret, timestamp, body) {
        Some(m) => format!("sha256={}", hex::encode(m.finalize().into_bytes())),
        None => String::new(),
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

/// Whether `signature` (`sha256=HEX`) signs `TIMESTAMP.BODY` under `secret`;
/// compared in constant time.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(sig) = signature.trim().strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    mac(secret, timestamp, body).is_some_and(|m| m.verify_slice(&sig).is_ok())
}

/// An integration whose signature over a request's body was checked: only
/// [`App::verify_signed`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct SignedBy<'p> {
    integration: &'p Integration,
}

impl SignedBy<'_> {
    pub fn integration(&self) -> &Integration {
        self.integration
    }

    /// Who its outcomes are reported by: `integration:ID`.
    pub fn reporter(&self) -> String {
        format!("integration:{}", self.integration.id)
    }
}

fn unauthorized(message: impl Into<String>) -> AppError {
    AppError::new(Code::Unauthorized, message)
}

impl App {
    /// The integration that signed `body`, or 401: unknown integration, no
    /// secret configured for it, a missing or wrong signature, or a
    /// timestamp more than [`MAX_SKEW_SECS`] from the clock.
    pub fn verify_signed(&self, h: &SignedHeaders<'_>, body: &[u8]) -> AppResult<SignedBy<'_>> {
        let Some(id) = h.integration else {
            return Err(unauthorized("a signed request names its integration in `x-tokenwise-integration`"));
        };
        let Some(integration) = self.policy.integrations.get(id) else {
            return Err(unauthorized(format!("unknown integration `{id}`")));
        };
        let Some(Some(secret)) = self.integration_secrets.by_id.get(id) else {
            return Err(unauthorized(format!(
                "integration `{id}` cannot post here: its secret (`{}`) was not set when the server started",
                integration.secret_env
            )));
        };
        let (Some(ts), Some(signature)) = (h.timestamp, h.signature) else {
            return Err(unauthorized(
                "a signed request carries `x-tokenwise-timestamp` (unix seconds) and `x-tokenwise-signature: sha256=HEX` (HMAC-SHA256 of `TIMESTAMP.BODY`)",
            ));
        };
        if !verify(secret, ts, body, signature) {
            return Err(unauthorized(format!("the signature does not match for integration `{id}`")));
        }
        let Ok(at) = ts.trim().parse::<i64>() else {
            return Err(unauthorized("`x-tokenwise-timestamp` must be unix seconds"));
        };
        let now = self.clock.now().as_second();
        if (now - at).abs() > MAX_SKEW_SECS {
            return Err(unauthorized(format!(
                "the timestamp is {}s from the server's clock (at most {MAX_SKEW_SECS}s): sign each request when it is sent",
                now - at
            )));
        }
        Ok(SignedBy { integration })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_the_timestamp_and_every_byte_of_the_body() {
        let (secret, ts, body) = (b"s3cret".as_slice(), "1767225600", br#"{"task":"T-1"}"#.as_slice());
        let sig = sign(secret, ts, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
        assert!(verify(secret, ts, body, &sig));
        assert!(!verify(secret, "1767225601", body, &sig), "another timestamp");
        assert!(!verify(secret, ts, br#"{"task":"T-2"}"#, &sig), "another body");
        assert!(!verify(b"other", ts, body, &sig), "another secret");
        assert!(!verify(secret, ts, body, sig.trim_start_matches("sha256=")), "the scheme is required");
        assert!(!verify(secret, ts, body, "sha256=zz"), "not hex");
        assert!(!verify(secret, ts, body, &sig[..sig.len() - 2]), "a truncated signature");
    }
}
