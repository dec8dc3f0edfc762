//! Authentication: registration, login with Argon2id password hashes, logout, sessions.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::db::UserProfile;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, WelcomeEmail};
use crate::limits::ClientAddr;
use crate::metrics::{
    LoginFailure, LoginFailureLabels, LoginLabels, LoginOutcome, RegistrationLabels,
    RegistrationOutcome, UserAction,
};
use crate::notifications::Notification;
use crate::password;
use crate::validate;

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(3600);
/// How long a session's user id stays cached.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(60);

/// Hashes `password` with Argon2id (default parameters, random salt) through the hashing
/// gate (at most `PASSWORD_HASH_CONCURRENCY` at once, in reused memory; 503 once the queue
/// wait ran out); the time spent hashing is recorded (the call by `#[timed]`, unless the
/// instrumentation is off).
pub async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    if state.metrics.is_some() {
        hash_password_timed(state, password).await
    } else {
        hash_password_untimed(state, password).await
    }
}

#[fiko_metrics::timed(name = "hash_password")]
async fn hash_password_timed(state: &AppState, password: String) -> Result<String, ApiError> {
    hash_password_untimed(state, password).await
}

async fn hash_password_untimed(state: &AppState, password: String) -> Result<String, ApiError> {
    let auth = state.metrics.as_ref().map(|metrics| metrics.auth.clone());
    state
        .guards
        .hashing
        .run(move |memory| {
            let started = Instant::now();
            let hashed = password::hash(password.as_bytes(), memory);
            if let Some(auth) = auth {
                auth.password_hash_duration_seconds.observe_since(started);
            }
            hashed
        })
        .await?
        .map_err(ApiError::internal)
}

/// Whether `password` matches `hash`, checked through the hashing gate like
/// [`hash_password`]; without a hash (an unknown user) it is checked against
/// [`password::DUMMY_HASH`], so it does the same work. Each verification is one
/// observation of `fiko_auth_password_hash_duration_seconds`.
pub async fn verify_password(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    if state.metrics.is_some() {
        verify_password_timed(state, password, hash).await
    } else {
        verify_password_untimed(state, password, hash).await
    }
}

#[fiko_metrics::timed(name = "verify_password")]
async fn verify_password_timed(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    verify_password_untimed(state, password, hash).await
}

async fn verify_password_untimed(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let auth = state.metrics.as_ref().map(|metrics| metrics.auth.clone());
    state
        .guards
        .hashing
        .run(move |memory| {
            let hash = hash.as_deref().unwrap_or(password::DUMMY_HASH);
            let started = Instant::now();
            let matches = password::verify(password.as_bytes(), hash, memory).unwrap_or(false);
            if let Some(auth) = auth {
                auth.password_hash_duration_seconds.observe_since(started);
            }
            matches
        })
        .await
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
    ClientAddr(client): ClientAddr,
    Json(input): Json<Register>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    state.guards.attempts.check(client)?;
    let count = |outcome| {
        if let Some(metrics) = &state.metrics {
            metrics
                .users
                .registrations
                .get_or_create(&RegistrationLabels { outcome })
                .inc();
        }
    };
    let (email, name) = match validate_registration(&input) {
        Ok((email, name)) => (email, name.to_owned()),
        Err(error) => {
            count(RegistrationOutcome::Invalid);
            return Err(error);
        }
    };
    let hash = hash_password(&state, input.password).await?;
    let Some(id) = state.db.create_user(&email, &name, &hash).await? else {
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

/// The registration's normalized email and trimmed name, or a 422 naming the bad field.
fn validate_registration(input: &Register) -> Result<(String, &str), ApiError> {
    let email = validate::email("email", &input.email)?;
    let name = validate::line("name", &input.name, validate::MAX_NAME_CHARS)?;
    if name.is_empty() {
        return Err(ApiError::invalid_field("name", "`name` must not be empty"));
    }
    validate::password("password", &input.password)?;
    Ok((email, name))
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
    ClientAddr(client): ClientAddr,
    Json(input): Json<Login>,
) -> ApiResult<Json<Session>> {
    state.guards.attempts.check(client)?;
    let auth = state.metrics.as_ref().map(|metrics| &metrics.auth);
    let fail = |reason| {
        if let Some(auth) = auth {
            auth.login_attempts
                .get_or_create(&LoginLabels {
                    outcome: LoginOutcome::Failure,
                })
                .inc();
            auth.login_failures
                .get_or_create(&LoginFailureLabels { reason })
                .inc();
        }
    };
    // Malformed credentials match no user: refused before any database or Argon2 work.
    let email = validate::email("email", &input.email)?;
    validate::text("password", &input.password, validate::MAX_PASSWORD_CHARS)?;
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
    if let Some(auth) = auth {
        auth.login_attempts
            .get_or_create(&LoginLabels {
                outcome: LoginOutcome::Success,
            })
            .inc();
    }
    state.activity(UserAction::Login);
    Ok(Json(Session {
        token,
        user_id,
        expires_in: SESSION_TTL.as_secs(),
    }))
}

/// The signed-in user of a request (`Authorization: Bearer <token>`; a `?token=` query
/// parameter is not accepted: query strings end up in logs and browser history. Only the
/// WebSocket upgrade, where browsers cannot send headers, takes it: [`SocketUser`]).
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
        CurrentUser::of_token(state, token).await
    }
}

impl CurrentUser {
    async fn of_token(state: &AppState, token: String) -> Result<Self, ApiError> {
        let id = session_user(state, &token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(CurrentUser { id, token })
    }
}

/// The signed-in user of a WebSocket upgrade: `Authorization: Bearer <token>` or
/// `?token=<token>` (browsers cannot give a WebSocket headers).
#[derive(Clone, Debug)]
pub struct SocketUser(pub CurrentUser);

impl FromRequestParts<AppState> for SocketUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| {
                parts.uri.query().and_then(|query| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("token="))
                        .map(str::to_owned)
                })
            })
            .ok_or_else(ApiError::unauthorized)?;
        CurrentUser::of_token(state, token).await.map(SocketUser)
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned())
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
    if let Some(metrics) = &state.metrics {
        metrics.auth.logouts.inc();
    }
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
    state.activity(UserAction::ViewProfile);
    Ok(Json(profile))
}

/// Keeps `fiko_auth_active_sessions` equal to the database's count of live sessions,
/// refreshed every `every` until the state is dropped; with the instrumentation off,
/// nothing (no gauge, no query).
pub fn spawn_session_gauge(state: &AppState, every: Duration) {
    if state.metrics.is_none() {
        return;
    }
    let weak = state.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            if let Ok(count) = state.db.active_sessions().await
                && let Some(metrics) = &state.metrics
            {
                metrics.auth.active_sessions.set(count);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(email: &str, name: &str, password: &str) -> Register {
        Register {
            email: email.to_owned(),
            name: name.to_owned(),
            password: password.to_owned(),
        }
    }

    #[test]
    fn a_registration_is_refused_naming_its_first_bad_field() {
        let input = register(" Ada@Example.com ", " Ada ", "12345678");
        let ok = validate_registration(&input);
        assert_eq!(
            ok.map(|(email, name)| (email, name.to_owned())).unwrap(),
            ("ada@example.com".to_owned(), "Ada".to_owned())
        );
        for (input, field) in [
            (
                register("ada@example.com\r\nBcc: x", "Ada", "12345678"),
                "email",
            ),
            (register("ada@example.com", "Ada\u{0}", "12345678"), "name"),
            (register("ada@example.com", " ", "12345678"), "name"),
            (register("ada@example.com", "Ada", "short"), "password"),
            (register("ada@example.com", "Ada", "1234\n5678"), "password"),
        ] {
            let error = validate_registration(&input).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error.field, Some(field), "{input:?}: {}", error.message);
        }
    }
}
