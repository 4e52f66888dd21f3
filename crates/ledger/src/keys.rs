//! API keys. The key is shown once, at creation; the ledger keeps only its
//! SHA-256. Keys carry over 250 random bits from a CSPRNG (rand's thread
//! generator: ChaCha, seeded from the OS), so a fast hash is the
//! right tool (a slow password hash protects guessable secrets, which these
//! are not) and lookup by hash stays one index probe per request.

use jiff::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenwise_core::Track;

pub const KEY_PREFIX: &str = "tw_";
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A stored key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// SHA-256 of the full key, hex.
    pub hash: String,
    /// The first characters, to tell keys apart in lists (`tw_AbC1…`).
    pub prefix: String,
    pub user_id: String,
    /// Defaults for requests that do not send the metadata headers.
    pub use_case: Option<String>,
    pub project_id: Option<String>,
    pub track: Option<Track>,
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A key just made: the secret to print once, and the record to store.
#[derive(Debug)]
pub struct NewKey {
    pub secret: String,
    pub record: ApiKey,
}

impl ApiKey {
    pub fn hash_secret(secret: &str) -> String {
        hex::encode(Sha256::digest(secret.as_bytes()))
    }

    /// Makes a new key for `user_id`.
    pub fn generate(user_id: &str, at: Timestamp) -> NewKey {
        let mut bytes = [0u8; 43];
        rand::rng().fill(&mut bytes);
        // 43 characters of 62: 256 bits before the small modulo bias
        // (256 % 62 = 8), which costs well under 0.1 bit per character.
        let body: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
        let secret = format!("{KEY_PREFIX}{body}");
        let record = ApiKey {
            id: format!("key_{}", uuid::Uuid::now_v7().simple()),
            hash: Self::hash_secret(&secret),
            prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
            user_id: user_id.to_string(),
            use_case: None,
            project_id: None,
            track: None,
            label: None,
            created_at: at,
            revoked_at: None,
        };
        NewKey { secret, record }
    }

    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_only_as_hashes() {
        let a = ApiKey::generate("u", Timestamp::now());
        let b = ApiKey::generate("u", Timestamp::now());
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("tw_") && a.secret.len() == 46);
        assert_eq!(a.record.hash, ApiKey::hash_secret(&a.secret));
        assert!(!a.record.hash.contains(&a.secret[3..]));
        assert!(a.secret.starts_with(&a.record.prefix));
    }
}
