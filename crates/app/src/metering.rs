//! From a request to its usage event: what is known before the upstream
//! call (`Draft`) and how the call ended (`CallEnd`, not to be confused with
//! the work outcomes people report). Reading each wire
//! format's usage is `tokenwise_wire::usage`.

use crate::auth::Caller;
use crate::meta::Meta;
use jiff::Timestamp;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokenwise_core::{FindingKind, Nanos, Rates, TokenUsage};
use tokenwise_ledger::{Decision, EventSource, Operation, Status, UsageEvent};
use tokenwise_policy::{Model, PriceVersion};
use tokenwise_wire::Slot;

/// Everything about a call that is known before the upstream answers.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub ts: Timestamp,
    pub started: Instant,
    pub user_id: String,
    pub team_id: String,
    pub key_id: String,
    pub project_id: Option<String>,
    pub use_case: String,
    pub template: Option<String>,
    pub task: Option<String>,
    pub track: tokenwise_core::Track,
    pub destination: Option<String>,
    pub operation: Operation,
    pub requested_model: String,
    pub model: String,
    pub provider: String,
    pub rates: Rates,
    pub price_version: String,
    pub streamed: bool,
    pub prompt_hash: Option<String>,
    /// The prompt's minhash sketch: near-duplicates without the text.
    pub prompt_minhash: Option<u64>,
    /// What the policy decided, and what the scanner found (kinds and
    /// counts only).
    pub decision: Decision,
    pub data_class: Option<String>,
    pub findings: BTreeMap<FindingKind, u32>,
    /// What the allowlist dropped (kinds and counts): audited, not a finding.
    pub allowed: BTreeMap<FindingKind, u32>,
    /// Budget envelopes held for the call (captured when its event is
    /// recorded), and the exception it runs under, if any.
    pub budget_keys: Vec<String>,
    pub exception_id: Option<String>,
}

/// How the call ended.
#[derive(Debug, Clone)]
pub struct CallEnd {
    pub usage: TokenUsage,
    pub estimated: bool,
    pub status: Status,
    pub http_status: u16,
    pub error_code: Option<&'static str>,
    pub ttft: Option<Duration>,
}

impl CallEnd {
    pub fn ok(usage: TokenUsage, estimated: bool) -> CallEnd {
        CallEnd { usage, estimated, status: Status::Ok, http_status: 200, error_code: None, ttft: None }
    }

    pub fn failed(status: Status, http_status: u16, code: &'static str, usage: TokenUsage, estimated: bool) -> CallEnd {
        CallEnd { usage, estimated, status, http_status, error_code: Some(code), ttft: None }
    }
}

pub struct DraftInput<'a> {
    pub id: String,
    pub ts: Timestamp,
    pub started: Instant,
    pub caller: &'a Caller,
    pub meta: &'a Meta<'a>,
    pub operation: Operation,
    pub requested_model: &'a str,
    pub model: &'a Model,
    pub price: &'a PriceVersion,
    pub streamed: bool,
    pub prompt: &'a [Slot],
    pub prompt_key: &'a PromptKey,
}

impl Draft {
    pub fn new(i: DraftInput<'_>) -> Draft {
        Draft {
            id: i.id,
            ts: i.ts,
            started: i.started,
            user_id: i.caller.user.id.clone(),
            team_id: i.caller.user.team.clone(),
            key_id: i.caller.key.id.clone(),
            project_id: i.meta.project.clone(),
            use_case: i.meta.use_case.id.clone(),
            template: i.meta.template.clone(),
            task: i.meta.task.clone(),
            track: i.meta.track,
            destination: i.meta.destination.clone(),
            operation: i.operation,
            requested_model: i.requested_model.to_string(),
            model: i.model.id.clone(),
            provider: i.model.upstream.clone(),
            rates: i.price.rates,
            price_version: i.price.id.clone(),
            streamed: i.streamed,
            prompt_hash: i.prompt_key.hash(i.prompt),
            prompt_minhash: prompt_minhash(i.prompt),
            decision: Decision::Allow,
            data_class: None,
            findings: BTreeMap::new(),
            allowed: BTreeMap::new(),
            budget_keys: Vec::new(),
            exception_id: None,
        }
    }

    pub fn cost(&self, usage: &TokenUsage) -> Nanos {
        usage.cost(&self.rates)
    }

    pub fn event(&self, o: &CallEnd) -> UsageEvent {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        UsageEvent::builder(
            &self.id,
            self.ts,
            EventSource::Gateway,
            &self.user_id,
            &self.team_id,
            &self.model,
            &self.provider,
        )
        .project(self.project_id.as_deref())
        .use_case(Some(&self.use_case))
        .template(self.template.as_deref())
        .task(self.task.as_deref())
        .track(self.track)
        .destination(self.destination.as_deref())
        .operation(self.operation)
        .requested_model(&self.requested_model)
        .priced(o.usage, self.cost(&o.usage), &self.price_version)
        .estimated(o.estimated)
        .timing(ms(self.started.elapsed()), o.ttft.map(ms))
        .streamed(self.streamed)
        .ended(o.status, o.http_status, o.error_code)
        .data_class(self.data_class.as_deref())
        .findings(self.findings.clone())
        .decision(self.decision)
        .exception(self.exception_id.as_deref())
        .prompt_hash(self.prompt_hash.as_deref())
        .prompt_minhash(self.prompt_minhash)
        .key(Some(&self.key_id))
        .budget_keys(self.budget_keys.clone())
        .build()
    }
}

/// The sketch of the request's last message (or Responses input item; the
/// whole prompt when it has none): what the person asked this time. The
/// whole conversation would make every step of an agent's loop — the same
/// history plus a little — a near-duplicate of the one before; exact
/// repeats of the whole prompt are the prompt hash's job.
fn prompt_minhash(slots: &[Slot]) -> Option<u64> {
    let last = slots.iter().filter_map(Slot::message).max();
    let texts = slots.iter().filter(|s| !s.key && (last.is_none() || s.message() == last)).map(|s| s.text.as_str());
    tokenwise_anomalies::minhash::of_texts(texts)
}

/// The server secret that keys `prompt_hash`: an unkeyed hash of a short
/// prompt ("approve refund for order 1234") can be confirmed by anyone who
/// reads the ledger and guesses the text; keyed, only the server can. Kept
/// once per database (`server_secret("prompt-hash")`), so every replica
/// hashes a prompt alike and repeats are found across replicas. Ledgers
/// from before the key (unkeyed SHA-256) keep their hashes, which are not
/// comparable with the keyed ones: a prompt repeated across the switch is
/// two prompts to the detectors.
#[derive(Clone)]
pub struct PromptKey(Vec<u8>);

impl std::fmt::Debug for PromptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PromptKey(..)")
    }
}

impl PromptKey {
    pub fn new(secret: &[u8]) -> PromptKey {
        PromptKey(secret.to_vec())
    }

    /// The database's key, made (256 random bits) by the first replica to ask.
    pub async fn of_store(store: &dyn tokenwise_ledger::Store) -> Result<PromptKey, tokenwise_ledger::StoreError> {
        let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Ok(PromptKey(store.server_secret("prompt-hash", &fresh).await?.into_bytes()))
    }

    /// HMAC-SHA256 over the prompt's texts, each length-prefixed: spots
    /// repeated prompts without keeping them, and cannot be checked
    /// against a guess without the key.
    pub fn hash(&self, slots: &[Slot]) -> Option<String> {
        use hmac::Mac;
        if slots.is_empty() {
            return None;
        }
        let mut h = hmac::Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        for s in slots {
            h.update(&(s.text.len() as u64).to_be_bytes());
            h.update(s.text.as_bytes());
        }
        Some(hex::encode(h.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn slot(pointer: &str, text: &str) -> Slot {
        Slot { pointer: pointer.into(), text: text.into(), key: false }
    }

    #[test]
    fn the_sketch_is_of_the_last_message_and_the_hash_of_everything() {
        let ask = "draft a polite reply about the late parcel and offer a refund";
        let short = [slot("/messages/0/content", "You are Acme's support assistant"), slot("/messages/1/content", ask)];
        let long = [
            slot("/messages/0/content", "You are Acme's support assistant"),
            slot("/messages/1/content", "an earlier question"),
            slot("/messages/2/content", "an earlier answer"),
            slot("/messages/3/content", ask),
        ];
        assert_eq!(prompt_minhash(&short), prompt_minhash(&long), "the same ask after another history");
        assert_eq!(prompt_minhash(&short), tokenwise_anomalies::minhash::of_text(ask));
        let key = PromptKey::new(b"k1");
        assert_ne!(key.hash(&short), key.hash(&long));
        let other = [
            slot("/messages/0/content", "You are Acme's support assistant"),
            slot("/messages/1/content", "review PR 12"),
        ];
        assert_ne!(prompt_minhash(&short), prompt_minhash(&other));
        // No messages (an embeddings input): the whole prompt.
        assert_eq!(prompt_minhash(&[slot("/input", ask)]), tokenwise_anomalies::minhash::of_text(ask));
        assert_eq!(prompt_minhash(&[]), None);
    }

    #[test]
    fn the_prompt_hash_is_keyed() {
        let prompt = [slot("/messages/0/content", "approve refund for order 1234")];
        let (a, b) = (PromptKey::new(b"secret one"), PromptKey::new(b"secret two"));
        assert_eq!(a.hash(&prompt), a.hash(&prompt), "the same key finds the repeat");
        assert_ne!(a.hash(&prompt), b.hash(&prompt), "another key, another hash");
        // Not the unkeyed SHA-256 anyone could compute from a guess.
        let mut plain = Sha256::new();
        plain.update((prompt[0].text.len() as u64).to_be_bytes());
        plain.update(prompt[0].text.as_bytes());
        assert_ne!(a.hash(&prompt), Some(hex::encode(plain.finalize())));
        assert_eq!(a.hash(&[]), None);
    }
}
