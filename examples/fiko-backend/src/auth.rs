//! Authentication: registration, login with Argon2id password hashes, logout, sessions.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::db::UserProfile;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, WelcomeEmail};
use crate::metrics::{
    LoginFailure, LoginFailureLabels, LoginLabels, LoginOutcome, RegistrationLabels,
    RegistrationOutcome, UserAction,
};
use crate::notifications::Notification;

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(3600);
/// How long a session's user id stays cached.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(60);

/// Hashes `password` with Argon2id (default parameters, random salt) off the async
/// runtime; the time spent is recorded.
#[fiko_metrics::timed(name = "hash_password")]
pub async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    let started = Instant::now();
    let hashed = tokio::task::spawn_blocking(move || {
        let mut salt = [0_u8; 16];
        getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal);
    state
        .metrics
        .auth
        .password_hash_duration_seconds
        .observe_since(started);
    hashed
}

/// A hash no password matches in practice, verified for unknown users so a login takes
/// as long whether or not the email exists.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"fiko-dummy-salt!").ok();
    salt.and_then(|salt| {
        Argon2::default()
            .hash_password(b"not a password anyone uses", &salt)
            .ok()
            .map(|hash| hash.to_string())
    })
    .unwrap_or_default()
});

/// Whether `password` matches `hash`, checked off the async runtime; without a hash (an
/// unknown user) it is checked against a dummy hash, so it takes as long.
#[fiko_metrics::timed(name = "verify_password")]
pub async fn verify_password(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let started = Instant::now();
    let matches = tokio::task::spawn_blocking(move || {
        // The dummy is hashed once, here, off the async runtime.
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(ApiError::internal);
    state
        .metrics
        .auth
        .password_hash_duration_seconds
        .observe_since(started);
    matches
}

/// A new session token: 32 random bytes, hex.
fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `POST /api/v1/auth/register`.
#[derive(Debug, Deserialize, Serialize)]
pub struct Register {
    /// The email address (the login).
    pub email: String,
    /// The display name.
    pub name: String,
    /// The password, at least 8 characters.
    pub password: String,
}

/// The answer to a registration.
#[derive(Debug, Deserialize, Serialize)]
pub struct Registered {
    /// The new user's id.
    pub id: i64,
}

/// Registers a user; 201, 409 when the email is taken, 422 for bad input.
pub async fn register(
    State(state): State<AppState>,
    Json(input): Json<Register>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let count = |outcome| {
        state
            .metrics
            .users
            .registrations
            .get_or_create(&RegistrationLabels { outcome })
            .inc();
    };
    let email = input.email.trim().to_ascii_lowercase();
    if !valid_email(&email) || input.password.chars().count() < 8 || input.name.trim().is_empty() {
        count(RegistrationOutcome::Invalid);
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a valid email, a name and a password of at least 8 characters are required",
        ));
    }
    let hash = hash_password(&state, input.password).await?;
    let Some(id) = state
        .db
        .create_user(&email, input.name.trim(), &hash)
        .await?
    else {
        count(RegistrationOutcome::Duplicate);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this email is registered already",
        ));
    };
    count(RegistrationOutcome::Created);
    // A lost welcome email must not fail the registration: the enqueue is counted.
    let _ = state
        .jobs
        .push(Job::WelcomeEmail(WelcomeEmail { user_id: id }))
        .await;
    state
        .notifications
        .publish(Notification::UserRegistered { user_id: id });
    Ok((StatusCode::CREATED, Json(Registered { id })))
}

fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && email.len() <= 254
        }
        None => false,
    }
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, Serialize)]
pub struct Login {
    /// The email address.
    pub email: String,
    /// The password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Deserialize, Serialize)]
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// The signed-in user.
    pub user_id: i64,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Signs in; 200 with a session, 401 for a wrong email or password.
pub async fn login(
    State(state): State<AppState>,
    Json(input): Json<Login>,
) -> ApiResult<Json<Session>> {
    let auth = &state.metrics.auth;
    let fail = |reason| {
        auth.login_attempts
            .get_or_create(&LoginLabels {
                outcome: LoginOutcome::Failure,
            })
            .inc();
        auth.login_failures
            .get_or_create(&LoginFailureLabels { reason })
            .inc();
    };
    let email = input.email.trim().to_ascii_lowercase();
    let credentials = match state.db.user_credentials(&email).await {
        Ok(credentials) => credentials,
        Err(error) => {
            fail(LoginFailure::Error);
            return Err(error.into());
        }
    };
    let (user_id, hash) = match credentials {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let matches = match verify_password(&state, input.password, hash).await {
        Ok(matches) => matches,
        Err(error) => {
            fail(LoginFailure::Error);
            return Err(error);
        }
    };
    let user_id = match (user_id, matches) {
        (Some(id), true) => id,
        (None, _) => {
            fail(LoginFailure::UnknownUser);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong email or password",
            ));
        }
        (Some(_), false) => {
            fail(LoginFailure::BadPassword);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong email or password",
            ));
        }
    };
    let token = new_token()?;
    if let Err(error) = state
        .db
        .create_session(&token, user_id, SESSION_TTL.as_secs() as i64)
        .await
    {
        fail(LoginFailure::Error);
        return Err(error.into());
    }
    auth.login_attempts
        .get_or_create(&LoginLabels {
            outcome: LoginOutcome::Success,
        })
        .inc();
    state.metrics.activity(UserAction::Login);
    Ok(Json(Session {
        token,
        user_id,
        expires_in: SESSION_TTL.as_secs(),
    }))
}

/// The signed-in user of a request (`Authorization: Bearer <token>`, or `?token=` for
/// WebSockets, which browsers cannot give headers).
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// The user's id.
    pub id: i64,
    /// The session token.
    pub token: String,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let id = session_user(state, &token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(CurrentUser { id, token })
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if let Some(token) = header {
        return Some(token.trim().to_owned());
    }
    parts.uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    })
}

/// The user of a session: the cache first, then the database.
async fn session_user(state: &AppState, token: &str) -> Result<Option<i64>, ApiError> {
    let key = format!("session:{token}");
    if let Some(id) = state.cache.get(&key).await.and_then(|v| v.parse().ok()) {
        return Ok(Some(id));
    }
    let id = state.db.session_user(token).await?;
    if let Some(id) = id {
        state
            .cache
            .set(&key, &id.to_string(), SESSION_CACHE_TTL)
            .await;
    }
    Ok(id)
}

/// Ends the session; 204.
pub async fn logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    state.db.delete_session(&user.token).await?;
    state.cache.delete(&format!("session:{}", user.token)).await;
    state.metrics.auth.logouts.inc();
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's profile.
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<UserProfile>> {
    profile(&state, user.id).await.map(Json)
}

/// A user's profile, through the cache.
pub async fn profile(state: &AppState, id: i64) -> ApiResult<UserProfile> {
    let key = format!("user:{id}");
    if let Some(profile) = state
        .cache
        .get(&key)
        .await
        .and_then(|json| serde_json::from_str(&json).ok())
    {
        return Ok(profile);
    }
    let profile = state
        .db
        .user_profile(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if let Ok(json) = serde_json::to_string(&profile) {
        state.cache.set(&key, &json, Duration::from_secs(300)).await;
    }
    Ok(profile)
}

/// `GET /api/v1/users/{id}`: a profile, for signed-in users.
pub async fn user(
    State(state): State<AppState>,
    _user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> ApiResult<Json<UserProfile>> {
    let profile = profile(&state, id).await?;
    state.metrics.activity(UserAction::ViewProfile);
    Ok(Json(profile))
}

/// Keeps `fiko_auth_active_sessions` equal to the database's count of live sessions,
/// refreshed every `every` until the state is dropped.
pub fn spawn_session_gauge(state: &AppState, every: Duration) {
    let weak = state.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            if let Ok(count) = state.db.active_sessions().await {
                state.metrics.auth.active_sessions.set(count);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(valid_email("ada@example.com"));
        assert!(!valid_email("ada@localhost"));
        assert!(!valid_email("@example.com"));
        assert!(!valid_email("ada.example.com"));
    }
}
