//! Putting the policy's decisions on the record: the decision and the
//! findings' counts on the usage event, every decision with findings,
//! allowlisted values or a refusal in the audit log, and refused calls on the ledger at no cost.

use crate::App;
use crate::error::AppError;
use crate::guard::Inspection;
use crate::metering::{CallEnd, Draft};
use serde_json::json;
use tokenwise_core::TokenUsage;
use tokenwise_ledger::{AuditAction, AuditDraft, Status, StoreError, TaskSoFar};
use tokenwise_policy::Policy;
use tokenwise_policy::decision::Ruling;

/// Puts the decision and what was found on the usage event.
pub fn stamp(draft: &mut Draft, decision: &Ruling, inspection: &Inspection, policy: &Policy) {
    draft.decision = decision.verdict.kind();
    draft.data_class = Some(policy.class_name(decision.data_class).to_string());
    draft.findings = inspection.counts();
    draft.allowed = inspection.allowed.clone();
}

fn decision_entry(draft: &Draft, decision: &Ruling) -> AuditDraft {
    let mut details = json!({
            "decision": decision.name(),
            "use_case": draft.use_case,
            "requested_model": draft.requested_model,
            "model": draft.model,
            "data_class": draft.data_class,
            "findings": draft.findings,
            "reasons": decision.reasons,
    });
    // What the allowlist let through, so a reviewer sees it was there.
    if !draft.allowed.is_empty() {
        details["allowed"] = json!(draft.allowed);
    }
    AuditDraft::new(&draft.user_id, AuditAction::PolicyDecision, &draft.id, details)
}

impl App {
    /// The call's usage event, counted for `/metrics` and put on the ledger
    /// through group commit: every way a call ends goes through here.
    async fn record_event(&self, draft: &Draft, end: &CallEnd) -> Result<Option<TaskSoFar>, StoreError> {
        let event = draft.event(end);
        crate::telemetry::observe(&event);
        self.recorder.record(event).await
    }

    /// Audits a decision that found something, let something through on
    /// the allowlist, or changed the call.
    pub async fn audit_decision(&self, draft: &Draft, decision: &Ruling) {
        self.auditor.submit(decision_entry(draft, decision)).await;
    }

    /// Records a call the policy refused before any model saw it (at no
    /// cost), and audits it; the refusal comes back with what its task has
    /// cost so far, if it names one.
    pub async fn record_refusal(
        &self,
        draft: &Draft,
        err: AppError,
        decision: Option<&Ruling>,
    ) -> Result<AppError, AppError> {
        let end = CallEnd::failed(Status::Blocked, err.code.status(), err.code.as_str(), TokenUsage::default(), false);
        let recorded = self.record_event(draft, &end).await.map_err(|e| {
            tracing::error!(error = %e, request_id = %draft.id, "refusal not recorded");
            AppError::failure("the refusal could not be recorded in the ledger")
        })?;
        let entry = match decision {
            Some(d) => decision_entry(draft, d),
            None => AuditDraft::new(
                &draft.user_id,
                AuditAction::PolicyDecision,
                &draft.id,
                json!({"decision": "block", "use_case": draft.use_case, "requested_model": draft.requested_model,
                       "reasons": [err.message]}),
            ),
        };
        self.auditor.submit(entry).await;
        let so_far = self.task_after(draft, recorded).await;
        Ok(err.with_task_cost(so_far))
    }

    /// Records a call a budget refused (at no cost); the refusal comes back
    /// with what its task has cost so far. A failure to record is logged:
    /// the refusal stands either way.
    pub async fn record_budget_refusal(&self, draft: &Draft, err: AppError) -> AppError {
        let end = CallEnd::failed(Status::Refused, err.code.status(), err.code.as_str(), TokenUsage::default(), false);
        match self.record_event(draft, &end).await {
            Ok(recorded) => {
                let so_far = self.task_after(draft, recorded).await;
                err.with_task_cost(so_far)
            }
            Err(e) => {
                tracing::error!(error = %e, request_id = %draft.id, "budget refusal not recorded");
                err
            }
        }
    }

    /// Records how a call ended; the call is over either way, so its hold's
    /// lease is no longer renewed (a hold the ledger never captured then
    /// expires). Unrecorded, the call is not acknowledged. Recorded, it
    /// comes back with its task's calls and cost including it, if it names one.
    pub async fn record_call(&self, draft: &Draft, end: &CallEnd) -> Result<Option<TaskSoFar>, AppError> {
        let recorded = self.record_event(draft, end).await;
        self.budgets.done(&draft.id);
        let recorded = recorded.map_err(|e| {
            tracing::error!(error = %e, request_id = %draft.id, "usage event not recorded");
            AppError::failure("the call could not be recorded in the ledger, so it is not acknowledged")
        })?;
        Ok(self.task_after(draft, recorded).await)
    }
}
