//! API keys: lookups by hash, revocation, and how soon every process sees one.

use crate::{Backend, ts};
use jiff::Timestamp;
use std::time::Duration;
use tokenwise_core::Track;
use tokenwise_ledger::*;

pub async fn api_keys_are_found_by_hash_and_revoked(b: &impl Backend) {
    let s = b.store();
    let now = Timestamp::now();
    let mut k = ApiKey::generate("ivan.petrov", now);
    k.record.use_case = Some("support-reply".into());
    k.record.track = Some(Track::Production);
    k.record.created_at = ts("2026-11-01T08:00:00Z");
    s.insert_api_key(&k.record).await.unwrap();
    let other = ApiKey::generate("ivan.petrov", now);
    s.insert_api_key(&other.record).await.unwrap();

    let found = s.api_key_by_hash(&ApiKey::hash_secret(&k.secret)).await.unwrap().unwrap();
    assert_eq!(found, k.record);
    assert!(s.api_key_by_hash(&ApiKey::hash_secret("tw_wrong")).await.unwrap().is_none());
    assert_eq!(s.api_keys_for_user("ivan.petrov").await.unwrap().len(), 2);
    let mut gone = ApiKey::generate("left.the.company", now);
    gone.record.created_at = ts("2026-10-01T08:00:00Z");
    s.insert_api_key(&gone.record).await.unwrap();
    let all = s.api_keys_all().await.unwrap();
    for id in [&k.record.id, &other.record.id, &gone.record.id] {
        assert!(all.iter().any(|a| &a.id == id), "every person's keys are listed");
    }
    let users: Vec<&str> = all.iter().map(|a| a.user_id.as_str()).collect();
    assert!(users.windows(2).all(|w| w[0] <= w[1]), "by person");

    // The same secret cannot be stored twice.
    let mut clash = other.record.clone();
    clash.id = "key_other".into();
    assert!(matches!(s.insert_api_key(&clash).await, Err(StoreError::Conflict(_))));

    assert!(s.revoke_api_key(&k.record.id, now).await.unwrap());
    assert!(!s.revoke_api_key(&k.record.id, now).await.unwrap(), "already revoked");
    let revoked = s.api_key_by_hash(&k.record.hash).await.unwrap().unwrap();
    assert!(!revoked.is_active());
}

/// How long a store may take to hear of another process's revocation: the
/// notification is on its way when the revoking commit returns, and
/// arrives within milliseconds; this bound only keeps a slow machine from
/// failing the test.
const HEARING: Duration = Duration::from_secs(5);

/// Polls `done` until it holds or `HEARING` has passed.
async fn within_hearing(mut done: impl AsyncFnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + HEARING;
    loop {
        if done().await {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A key `s` has looked up for a request (and cached, if it caches), once
/// its cache (if any) is listening.
async fn a_key_in_use(s: &dyn Store, user: &str) -> NewKey {
    let k = ApiKey::generate(user, Timestamp::now());
    s.insert_api_key(&k.record).await.unwrap();
    if let Some(cache) = s.key_cache() {
        assert!(within_hearing(async || cache.is_live()).await, "the {} key cache never started", s.backend());
    }
    for _ in 0..2 {
        let found = s.current_api_key(&k.record.hash).await.unwrap().unwrap();
        assert!(found.is_active());
    }
    if let Some(cache) = s.key_cache() {
        assert!(cache.get(&k.record.hash).is_some(), "a key in use is served from the cache");
    }
    k
}

/// `tokenwise keys revoke` runs as another process: the serving process
/// must refuse the key from its very next lookup.
pub async fn a_revocation_by_another_process_is_seen_at_once(b: &impl Backend) {
    let serving = b.store();
    let k = a_key_in_use(serving.as_ref(), "ivan.petrov").await;
    let other = a_key_in_use(serving.as_ref(), "ivan.petrov").await;
    let cli = b.reopen().await;
    assert!(cli.revoke_api_key(&k.record.id, Timestamp::now()).await.unwrap());
    let revoked = |s: std::sync::Arc<dyn Store>, hash: String| async move {
        !s.current_api_key(&hash).await.unwrap().unwrap().is_active()
    };
    match serving.key_cache() {
        // Nothing cached: the very next lookup reads the revocation.
        None => assert!(revoked(serving.clone(), k.record.hash.clone()).await),
        // Cached: the revocation's notification evicts the key.
        Some(cache) => {
            assert!(within_hearing(async || cache.get(&k.record.hash).is_none()).await, "the key was never evicted");
            assert!(revoked(serving.clone(), k.record.hash.clone()).await);
            assert!(cache.get(&other.record.hash).is_some(), "only the revoked key is evicted");
        }
    }
    assert!(serving.current_api_key(&other.record.hash).await.unwrap().unwrap().is_active());
    // Revoked in this process: seen here with no notification needed.
    assert!(serving.revoke_api_key(&other.record.id, Timestamp::now()).await.unwrap());
    assert!(revoked(serving.clone(), other.record.hash.clone()).await);
    assert!(serving.current_api_key(&ApiKey::hash_secret("tw_unknown")).await.unwrap().is_none());
}

/// While a store cannot hear of revocations its cache must not answer, and
/// once it hears again the cache starts empty: a revocation made while it
/// was deaf is seen at once.
pub async fn a_lost_revocation_listener_stops_the_key_cache(b: &impl Backend) {
    let serving = b.store();
    let k = a_key_in_use(serving.as_ref(), "jade.nguyen").await;
    if !b.cut_revocation_listener().await {
        assert!(serving.key_cache().is_none(), "{}: a cache that cannot be cut off", serving.backend());
        return;
    }
    let cache = serving.key_cache().unwrap();
    assert!(within_hearing(async || !cache.is_live()).await, "the lost listener went unnoticed");
    assert!(cache.get(&k.record.hash).is_none(), "a deaf cache answered");
    // Revoked while this store may be deaf: no notification reaches it.
    let cli = b.reopen().await;
    assert!(cli.revoke_api_key(&k.record.id, Timestamp::now()).await.unwrap());
    assert!(!serving.current_api_key(&k.record.hash).await.unwrap().unwrap().is_active());
    // It listens again, and still refuses the key.
    assert!(within_hearing(async || cache.is_live()).await, "the listener never came back");
    assert!(!serving.current_api_key(&k.record.hash).await.unwrap().unwrap().is_active());
    let fresh = a_key_in_use(serving.as_ref(), "jade.nguyen").await;
    assert!(cache.get(&fresh.record.hash).is_some(), "the cache answers again once it listens");
}
