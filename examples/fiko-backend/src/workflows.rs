//! Workflows: named lists of actions a user runs; executions and actions are recorded.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::ai;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{
    ActionKind, ActionLabels, ActionStatus, ExecutionLabels, ExecutionStatus, Model, UserAction,
    WorkflowMetrics,
};
use crate::notifications::Notification;

/// `POST /api/v1/workflows`.
#[derive(Debug, Deserialize, Serialize)]
pub struct NewWorkflow {
    /// The name (also the AI reply's prompt).
    pub name: String,
    /// The actions, in order: `send_message`, `tag_contact`, `ai_reply`, `delay`.
    pub actions: Vec<String>,
}

/// A created workflow or execution.
#[derive(Debug, Deserialize, Serialize)]
pub struct Created {
    /// Its id.
    pub id: i64,
}

/// The result of an execution.
#[derive(Debug, Deserialize, Serialize)]
pub struct Execution {
    /// The execution's id.
    pub id: i64,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Actions that ran.
    pub actions_run: usize,
}

fn parse_action(name: &str) -> Option<ActionKind> {
    match name {
        "send_message" => Some(ActionKind::SendMessage),
        "tag_contact" => Some(ActionKind::TagContact),
        "ai_reply" => Some(ActionKind::AiReply),
        "delay" => Some(ActionKind::Delay),
        _ => None,
    }
}

/// Creates a workflow; 201, 422 for an unknown action or none at all.
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<NewWorkflow>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let name = crate::validate::line("name", &input.name, crate::validate::MAX_NAME_CHARS)?;
    if input.actions.is_empty() || input.actions.len() > 20 || name.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a name and 1 to 20 actions are required",
        ));
    }
    if let Some(bad) = input.actions.iter().find(|a| parse_action(a).is_none()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unknown action `{bad}`"),
        ));
    }
    let id = state
        .db
        .create_workflow(user.id, name, &input.actions.join(","))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Runs a workflow's actions in order; the execution fails at the first failing action.
/// Recorded (by `#[timed]` too) unless the instrumentation is off.
async fn execute(
    state: &AppState,
    user_id: i64,
    name: &str,
    actions: &[ActionKind],
) -> (ExecutionStatus, usize) {
    match &state.metrics {
        Some(metrics) => execute_timed(state, &metrics.workflows, user_id, name, actions).await,
        None => execute_untimed(state, None, user_id, name, actions).await,
    }
}

#[fiko_metrics::timed(name = "execute_workflow", in_flight)]
async fn execute_timed(
    state: &AppState,
    metrics: &WorkflowMetrics,
    user_id: i64,
    name: &str,
    actions: &[ActionKind],
) -> (ExecutionStatus, usize) {
    execute_untimed(state, Some(metrics), user_id, name, actions).await
}

async fn execute_untimed(
    state: &AppState,
    metrics: Option<&WorkflowMetrics>,
    user_id: i64,
    name: &str,
    actions: &[ActionKind],
) -> (ExecutionStatus, usize) {
    let _running = metrics.map(|metrics| metrics.executions_running.track());
    let started = metrics.map(|_| Instant::now());
    let mut run = 0;
    let mut status = ExecutionStatus::Succeeded;
    for &action in actions {
        run += 1;
        let ok = match action {
            ActionKind::SendMessage => {
                state.notifications.publish(Notification::Message {
                    user_id,
                    text: format!("workflow `{name}` says hello"),
                });
                true
            }
            ActionKind::TagContact => {
                // Tags live in the cache for an hour; a failing cache is counted there.
                state
                    .cache
                    .set(&format!("tag:{user_id}"), name, Duration::from_secs(3600))
                    .await;
                true
            }
            ActionKind::AiReply => ai::complete(
                state.ai.as_ref(),
                state.metrics.as_ref().map(|metrics| &*metrics.ai),
                Model::LocalSmall,
                name,
            )
            .await
            .is_ok(),
            ActionKind::Delay => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                true
            }
        };
        let action_status = if ok {
            ActionStatus::Ok
        } else {
            ActionStatus::Error
        };
        if let Some(metrics) = metrics {
            metrics
                .actions
                .get_or_create(&ActionLabels {
                    action,
                    status: action_status,
                })
                .inc();
        }
        if !ok {
            status = ExecutionStatus::Failed;
            break;
        }
    }
    if let (Some(metrics), Some(started)) = (metrics, started) {
        metrics.execution_duration_seconds.observe_since(started);
        metrics
            .executions
            .get_or_create(&ExecutionLabels { status })
            .inc();
    }
    (status, run)
}

/// `POST /api/v1/workflows/{id}/executions`: runs a workflow; 201 with its status.
pub async fn run(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Execution>)> {
    let (name, actions) = state
        .db
        .workflow(id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow"))?;
    let actions: Vec<ActionKind> = actions.split(',').filter_map(parse_action).collect();
    state.activity(UserAction::RunWorkflow);
    let started = Instant::now();
    let (status, actions_run) = execute(&state, user.id, &name, &actions).await;
    let status = match status {
        ExecutionStatus::Succeeded => "succeeded",
        ExecutionStatus::Failed => "failed",
    };
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let execution = state.db.record_execution(id, status, elapsed).await?;
    Ok((
        StatusCode::CREATED,
        Json(Execution {
            id: execution,
            status: status.to_owned(),
            actions_run,
        }),
    ))
}
