//! `tokenwise keys create|list|revoke`

use crate::store;
use anyhow::{Context, bail};
use jiff::Timestamp;
use std::path::Path;
use tokenwise_core::Track;
use tokenwise_ledger::{ApiKey, AuditAction, AuditDraft};

pub struct CreateArgs<'a> {
    pub config: &'a Path,
    pub database: Option<&'a str>,
    pub user: &'a str,
    pub use_case: Option<&'a str>,
    pub project: Option<&'a str>,
    pub track: Option<Track>,
    pub label: Option<&'a str>,
}

/// Prints the new key on stdout, alone, so scripts can capture it.
pub async fn create(a: CreateArgs<'_>) -> anyhow::Result<()> {
    let p = store::load_policy(a.config)?;
    let Some(user) = p.users.get(a.user) else {
        bail!("unknown user `{}`; users are declared in {}", a.user, a.config.display());
    };
    if let Some(uc) = a.use_case {
        let Some(use_case) = p.use_cases.get(uc) else {
            bail!("unknown use case `{uc}`; known: {}", p.use_cases.keys().cloned().collect::<Vec<_>>().join(", "));
        };
        // A key is no way around the use case's audience: the gateway would
        // refuse every call made with it.
        if let Some(r) = p.use_case_refusal(user, use_case) {
            bail!("{}\n(who may use it is set by use_cases.{uc}.available_to in {})", r.message, a.config.display());
        }
    }
    if let Some(pr) = a.project.filter(|pr| !p.projects.contains_key(*pr)) {
        bail!("unknown project `{pr}`; known: {}", p.projects.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    let (_, ledger) = store::for_policy(&p, a.database).await?;
    let mut key = ApiKey::generate(a.user, Timestamp::now());
    key.record.use_case = a.use_case.map(str::to_string);
    key.record.project_id = a.project.map(str::to_string);
    key.record.track = a.track;
    key.record.label = a.label.map(str::to_string);
    ledger.insert_api_key(&key.record).await.context("cannot store the key")?;
    ledger
        .append_audit(&AuditDraft::new(
            "cli",
            AuditAction::KeyCreate,
            &key.record.id,
            serde_json::json!({"user": a.user, "prefix": key.record.prefix, "use_case": a.use_case, "project": a.project}),
        ))
        .await
        .context("cannot audit the new key")?;
    eprintln!(
        "created {} for {} ({}…); it is shown once, only its SHA-256 is stored",
        key.record.id, a.user, key.record.prefix
    );
    println!("{}", key.secret);
    Ok(())
}

/// One person's keys, or (no `user`) every key in the ledger.
pub async fn list(config: &Path, database: Option<&str>, user: Option<&str>) -> anyhow::Result<()> {
    let p = store::load_policy(config)?;
    let (_, ledger) = store::for_policy(&p, database).await?;
    let keys = match user {
        Some(u) => ledger.api_keys_for_user(u).await?,
        None => ledger.api_keys_all().await?,
    };
    if keys.is_empty() {
        println!("no keys for {}", user.unwrap_or("anyone"));
    }
    for k in keys {
        let state = match k.revoked_at {
            Some(t) => format!("revoked {t}"),
            None => "active".into(),
        };
        println!(
            "{}  {}  {}…  created {}  {}  use_case={} project={}",
            k.id,
            k.user_id,
            k.prefix,
            k.created_at,
            state,
            k.use_case.as_deref().unwrap_or("-"),
            k.project_id.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

pub async fn revoke(config: &Path, database: Option<&str>, id: &str) -> anyhow::Result<()> {
    let p = store::load_policy(config)?;
    let (_, ledger) = store::for_policy(&p, database).await?;
    if !ledger.revoke_api_key(id, Timestamp::now()).await? {
        bail!("no active key `{id}`");
    }
    ledger.append_audit(&AuditDraft::new("cli", AuditAction::KeyRevoke, id, serde_json::json!({}))).await?;
    println!("revoked {id}");
    Ok(())
}
