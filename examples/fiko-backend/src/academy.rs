//! The academy: video views by course.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{Course, CourseLabels, UserAction};

/// `POST /api/v1/academy/videos/{id}/views`.
#[derive(Debug, Deserialize, Serialize)]
pub struct View {
    /// Seconds watched.
    pub seconds: u32,
}

/// The course of a video: videos 1–99 belong to the first, 100–199 to the second,
/// 200–299 to the third.
pub fn course_of(video: i64) -> Option<Course> {
    match video {
        1..=99 => Some(Course::GettingStarted),
        100..=199 => Some(Course::Automations),
        200..=299 => Some(Course::Growth),
        _ => None,
    }
}

fn course_name(course: Course) -> &'static str {
    match course {
        Course::GettingStarted => "getting_started",
        Course::Automations => "automations",
        Course::Growth => "growth",
    }
}

/// Records a view; 201, 404 for an unknown video.
pub async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(video): Path<i64>,
    Json(input): Json<View>,
) -> ApiResult<StatusCode> {
    let course = course_of(video).ok_or_else(|| ApiError::not_found("video"))?;
    state
        .db
        .insert_view(
            user.id,
            video,
            course_name(course),
            i64::from(input.seconds),
        )
        .await?;
    if let Some(metrics) = &state.metrics {
        let academy = &metrics.academy;
        academy
            .video_views
            .get_or_create(&CourseLabels { course })
            .inc();
        academy
            .watch_seconds
            .get_or_create(&CourseLabels { course })
            .inc_by(f64::from(input.seconds));
    }
    state.activity(UserAction::WatchVideo);
    Ok(StatusCode::CREATED)
}
