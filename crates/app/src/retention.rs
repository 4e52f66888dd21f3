//! Prompt retention, per use case (`[retention]`, or the use case's own
//! `retention`): by default (`prompts = "none"`) no prompt text is kept
//! anywhere — the ledger has its keyed hash and sketch only. `redacted`
//! keeps the texts sent upstream with every DLP finding masked, `full`
//! keeps them as sent; either for `days`, after which the purge job
//! (`serve`'s background task, `tokenwise retention purge`) deletes them.
//! Reading a kept prompt is for governance and admins, and each read is in
//! the audit log before the text is answered.

use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::metering::Draft;
use serde::Serialize;
use serde_json::json;
use tokenwise_ledger::StoredPrompt;
use tokenwise_ledger::audit::{AuditAction, AuditDraft};
use tokenwise_policy::{Policy, PromptRetention};
use tokenwise_wire::Slot;

/// `GET /api/v1/prompts/{event_id}`: a kept prompt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromptView {
    /// The usage event the prompt was sent with.
    pub event_id: String,
    pub user: String,
    pub use_case: String,
    /// `redacted` (every DLP finding masked) or `full`.
    pub mode: String,
    /// The texts sent upstream, joined by blank lines.
    pub text: String,
    /// RFC 3339: when the call was made.
    pub at: String,
    /// RFC 3339: when the purge job deletes it.
    pub purge_after: String,
}

/// What to keep of a call's prompt under its use case's policy, if anything.
pub fn kept_prompt(app: &App, draft: &Draft, slots: &[Slot]) -> Option<StoredPrompt> {
    let policy: &Policy = &app.policy;
    let retention = policy.use_cases.get(&draft.use_case)?.retention;
    let texts: Vec<String> = match retention.prompts {
        PromptRetention::None => return None,
        PromptRetention::Full => slots.iter().map(|s| s.text.clone()).collect(),
        PromptRetention::Redacted => slots
            .iter()
            .map(|s| {
                let found = app.guard.scan(&policy.dlp, &s.text);
                tokenwise_dlp::redact(&s.text, found.iter().map(|(f, _)| f))
            })
            .collect(),
    };
    let mode = if retention.prompts == PromptRetention::Full { "full" } else { "redacted" };
    Some(StoredPrompt {
        event_id: draft.id.clone(),
        ts: draft.ts,
        user_id: draft.user_id.clone(),
        use_case: draft.use_case.clone(),
        mode: mode.into(),
        text: texts.join("\n\n"),
        purge_after: draft
            .ts
            .checked_add(jiff::SignedDuration::from_hours(i64::from(retention.days) * 24))
            .unwrap_or(jiff::Timestamp::MAX),
    })
}

impl App {
    /// Keeps the call's prompt if its use case's retention says so, before
    /// it goes upstream (so a call answered is a prompt kept); a failure is
    /// logged (without the text), and the call goes on.
    pub async fn retain_prompt(&self, draft: &Draft, slots: &[Slot]) {
        let Some(kept) = kept_prompt(self, draft, slots) else { return };
        if let Err(e) = self.store.insert_prompt(&kept).await {
            tracing::error!(error = %e, request_id = %kept.event_id, "prompt not kept under its retention policy");
        }
    }

    /// A kept prompt, for governance and admins; the read is audited first.
    pub async fn read_prompt(&self, caller: &Caller, event_id: &str) -> AppResult<PromptView> {
        may_oversee(&caller.user)?;
        let now = self.clock.now();
        let p = self.store.prompt(event_id, now).await?.ok_or_else(|| {
            AppError::not_found(format!(
                "no prompt is kept for event `{event_id}`: its use case keeps none, or it was purged"
            ))
        })?;
        let entry = AuditDraft::new(
            &caller.user.id,
            AuditAction::PromptRead,
            &p.event_id,
            json!({"use_case": p.use_case, "user": p.user_id, "mode": p.mode}),
        );
        self.store.append_audit(&entry).await.map_err(|e| {
            tracing::error!(error = %e, "a prompt read could not be audited");
            AppError::internal("the read could not be audited, so the prompt is not shown")
        })?;
        Ok(PromptView {
            event_id: p.event_id,
            user: p.user_id,
            use_case: p.use_case,
            mode: p.mode,
            text: p.text,
            at: p.ts.to_string(),
            purge_after: p.purge_after.to_string(),
        })
    }

    /// Deletes the prompts past their retention at the clock's time, and
    /// audits how many (when any were).
    pub async fn purge_prompts(&self) -> AppResult<u64> {
        let n = self.store.purge_prompts(self.clock.now()).await?;
        if n > 0 {
            let entry = AuditDraft::new("tokenwise", AuditAction::RetentionPurge, "prompts", json!({"purged": n}));
            self.auditor.submit(entry).await;
        }
        Ok(n)
    }
}
