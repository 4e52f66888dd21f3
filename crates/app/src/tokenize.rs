//! Counting tokens when the upstream reports none (a stream cut short, a
//! provider that omits usage): tiktoken's `o200k_base`, which the crate
//! carries inside itself, so nothing is downloaded. Events counted this way
//! are marked `estimated`.

use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();

fn bpe() -> Option<&'static CoreBPE> {
    BPE.get_or_init(|| match tiktoken_rs::o200k_base() {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!(error = %e, "cannot load the o200k tokenizer; estimates fall back to 4 bytes a token");
            None
        }
    })
    .as_ref()
}

/// Loads the tokenizer ahead of need (it takes a moment), off the hot path.
pub fn warm_up() {
    std::thread::spawn(|| {
        let _ = bpe();
    });
}

pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match bpe() {
        Some(b) => b.encode_ordinary(text).len() as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Chat prompts: each message's text plus the few tokens the chat format
/// adds per message and to prime the reply (OpenAI's published rule).
pub fn count_chat(texts: &[String]) -> u64 {
    texts.iter().map(|t| count(t) + 3).sum::<u64>() + 3
}

/// Counts a text off the async threads (a long text takes a while).
pub async fn count_off_thread(text: String) -> u64 {
    tokio::task::spawn_blocking(move || count(&text)).await.unwrap_or(0)
}

/// Counts a prompt's texts off the async threads: as a chat (with the
/// per-message overhead) or as plain inputs (embeddings).
pub async fn count_prompt_off_thread(texts: Vec<String>, chat: bool) -> u64 {
    tokio::task::spawn_blocking(move || if chat { count_chat(&texts) } else { texts.iter().map(|t| count(t)).sum() })
        .await
        .unwrap_or(0)
}
