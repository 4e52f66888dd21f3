//! Prompts kept under a retention policy: read back until their purge
//! time, never after, and deleted by the purge.

use crate::Backend;
use jiff::{Timestamp, ToSpan};
use tokenwise_ledger::*;

pub async fn stored_prompts_are_read_until_purged(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let tag = t0.as_microsecond().to_string();
    let one = |n: &str, days: i64, mode: &str| StoredPrompt {
        event_id: format!("evt-{tag}-{n}"),
        ts: t0,
        user_id: "ivan.petrov".into(),
        use_case: "support-replies".into(),
        mode: mode.into(),
        text: format!("refund order {n} for [EMAIL]"),
        purge_after: t0 + (days * 24).hours(),
    };
    let (short, long) = (one("short", 1, "redacted"), one("long", 30, "full"));
    s.insert_prompt(&short).await.unwrap();
    s.insert_prompt(&long).await.unwrap();
    // A second write for the same event keeps the first.
    s.insert_prompt(&StoredPrompt { text: "other".into(), ..short.clone() }).await.unwrap();
    assert_eq!(s.prompt(&short.event_id, t0).await.unwrap(), Some(short.clone()));
    let other = b.reopen().await;
    assert_eq!(other.prompt(&long.event_id, t0).await.unwrap(), Some(long.clone()));
    assert_eq!(s.prompt(&short.event_id, t0 + 24.hours()).await.unwrap(), None, "never read once due");
    assert_eq!(s.prompt("evt-none", t0).await.unwrap(), None);
    let purged = s.purge_prompts(t0 + 48.hours()).await.unwrap();
    assert!(purged >= 1, "the one-day prompt is purged");
    assert_eq!(s.prompt(&short.event_id, t0).await.unwrap(), None, "gone, even read as of before");
    assert_eq!(s.prompt(&long.event_id, t0).await.unwrap(), Some(long.clone()), "the 30-day one stays");
    s.purge_prompts(t0 + (31 * 24).hours()).await.unwrap();
    assert_eq!(s.prompt(&long.event_id, t0).await.unwrap(), None);
}
