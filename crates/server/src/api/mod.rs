//! The JSON API under `/api/v1`, one route group per capability. Each
//! handler is thin: it extracts the caller and the typed request, calls
//! the application layer, and returns its typed answer as JSON. Who may
//! see or do what is decided in `tokenwise_app::access`, never here.

pub mod admin;
pub mod anomalies;
pub mod appeals;
pub mod budgets;
pub mod check;
pub mod events;
pub mod exceptions;
pub mod incidents;
pub mod outcomes;
pub mod scores;

use axum::Router;
use std::sync::Arc;
use tokenwise_app::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .merge(events::routes())
        .merge(check::routes())
        .merge(budgets::routes())
        .merge(exceptions::routes())
        .merge(scores::routes())
        .merge(outcomes::routes())
        .merge(appeals::routes())
        .merge(anomalies::routes())
        .merge(incidents::routes())
        .merge(admin::routes())
}
