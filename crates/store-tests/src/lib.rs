//! The behaviour every `Store` backend must show, written once, one module
//! per capability (`events`, `keys`, `audit`, `budgets`, `exceptions`,
//! `outcomes`, `tasks`, `reports`…, and `reopening` for what must survive a
//! restart). Each backend's
//! `tests/suite.rs` implements [`Backend`] and calls [`store_suite!`], which
//! makes one test per case below.

// A test-suite reports failures by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anomalies;
mod audit;
mod budgets;
mod dashboard;
mod events;
mod exceptions;
mod keys;
mod outcomes;
mod prompts;
mod reopening;
mod reports;
mod scores;
mod tasks;

pub use anomalies::*;
pub use audit::*;
pub use budgets::*;
pub use dashboard::*;
pub use events::*;
pub use exceptions::*;
pub use keys::*;
pub use outcomes::*;
pub use prompts::*;
pub use reopening::*;
pub use reports::*;
pub use scores::*;
pub use tasks::*;

use async_trait::async_trait;
use jiff::Timestamp;
use std::sync::Arc;
use tokenwise_ledger::Store;

/// What a backend's test harness provides besides the store itself.
#[async_trait]
pub trait Backend: Send + Sync {
    fn store(&self) -> Arc<dyn Store>;
    /// A new store on the same database, as after a restart, or as another
    /// process (another replica, a CLI command) sees it.
    async fn reopen(&self) -> Arc<dyn Store>;
    /// Edits an audit row's subject directly in the database, the way an
    /// intruder with database access would (disabling the append-only guard).
    async fn tamper_audit_subject(&self, seq: i64, subject: &str);
    /// A plain `UPDATE` of an audit row; the guard must refuse it.
    async fn raw_update_audit(&self, seq: i64) -> Result<(), String>;
    /// Cuts the connection on which `store()` hears of revoked keys, as a
    /// network failure would; false if the backend has none.
    async fn cut_revocation_listener(&self) -> bool {
        false
    }
    /// Runs SQL statements on the database directly, outside the store (as
    /// an operator would); both dialects read what the cases send.
    async fn execute_raw(&self, sql: &str);
    /// Removes what the harness created (run after a passing case).
    async fn cleanup(&self) {}
}

/// Generates one `#[tokio::test]` per suite case. `$make` is an async fn
/// returning `Option<impl Backend>` (None: backend not available, skip).
#[macro_export]
macro_rules! store_suite {
    ($make:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                match $make().await {
                    Some(backend) => {
                        $crate::$case(&backend).await;
                        $crate::Backend::cleanup(&backend).await;
                    }
                    None => eprintln!("skipped {}: backend not available", stringify!($case)),
                }
            }
        )+
    };
    ($make:path) => {
        $crate::store_suite!($make;
            events_round_trip_every_field,
            a_repeated_event_id_is_stored_once,
            event_queries_filter_and_order,
            spend_groups_and_sums_exactly,
            group_commit_stores_every_event_once,
            api_keys_are_found_by_hash_and_revoked,
            a_revocation_by_another_process_is_seen_at_once,
            a_lost_revocation_listener_stops_the_key_cache,
            concurrent_audit_appends_form_one_chain,
            batched_audit_appends_continue_the_chain,
            a_hand_edited_audit_row_breaks_verification,
            usage_digests_cover_each_row_once_and_name_the_one_a_change_breaks,
            activity_sums_calls_per_person_day_use_case_and_template,
            rules_are_kept_once_per_version,
            activity_from_the_rollup_equals_the_events,
            rollups_count_each_event_once_with_writers_and_readers_at_once,
            tasks_are_read_by_person_and_task,
            a_server_secret_is_made_once_for_every_replica,
            the_audit_log_refuses_updates,
            data_survives_reopening,
            holds_are_all_or_nothing_and_events_capture_them,
            recorded_usage_is_captured_without_a_hold,
            concurrent_holds_never_overspend_a_hard_budget,
            holds_expire_and_alerts_are_claimed_once,
            exceptions_are_approved_once_and_expire,
            exceptions_are_listed_newest_first_by_status_and_scope,
            outcomes_round_trip_every_field,
            an_outcome_is_decided_once_and_a_race_has_one_winner,
            outcome_queries_filter_and_order,
            a_task_is_metered_by_its_users_calls,
            an_appeal_is_filed_once_and_decided_once,
            an_upheld_appeal_validates_its_outcome,
            a_badge_is_awarded_once,
            tasks_total_each_persons_calls_exactly,
            an_import_counts_tasks_as_a_commit_does,
            a_batch_counts_each_call_of_a_task_once,
            concurrent_writers_to_one_task_sum_exactly,
            task_baselines_are_medians_of_finished_tasks,
            the_tasks_migration_counts_events_recorded_before_it,
            usage_totals_sum_per_charge_period_and_group,
            usage_totals_of_whole_days_come_from_the_rollup,
            sums_past_the_largest_integer_stop_there,
            shared_prompts_are_those_of_several_teams,
            decision_counts_are_the_calls_the_policy_acted_on,
            the_usage_rollup_migration_counts_events_recorded_before_it,
            prompt_groups_and_model_days_come_from_the_database,
            the_calls_dlp_stopped_are_read_per_day_and_cited,
            anomalies_are_kept_once_alerted_once_and_suppressed_by_an_upheld_appeal,
            incidents_are_stored_updated_and_listed_newest_first,
            sessions_live_until_they_expire_or_end,
            feedback_is_kept_once_a_week_per_pilot_and_subject,
            a_pilot_is_decided_once,
            stored_prompts_are_read_until_purged,
        );
    };
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
