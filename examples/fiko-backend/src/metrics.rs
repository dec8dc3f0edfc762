//! The Fiko Backend's own metric sets: authentication, users, AI, workflows, billing,
//! academy, Instagram and job enqueueing (namespace `fiko`).
//!
//! Every label is a closed enum, so every series exists (at zero) from the first scrape and
//! recording is an array index plus an atomic add. HTTP, database, cache, Redis client,
//! WebSocket, job and process metrics come from the integration crates.

use std::sync::Arc;

use fiko_metrics::{
    Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry, RegistryError,
};

/// Authentication: login attempts and failures, logouts, active sessions, hashing time.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "auth")]
pub struct AuthMetrics {
    /// Login attempts, by outcome.
    pub login_attempts: Family<LoginLabels, Counter>,
    /// Failed logins, by reason.
    pub login_failures: Family<LoginFailureLabels, Counter>,
    /// Logouts (sessions ended by the user).
    pub logouts: Counter,
    /// Sessions that have not expired or been logged out, counted in the database (the
    /// same value on every instance: aggregate with `max`).
    pub active_sessions: Gauge,
    /// Time spent hashing or verifying a password.
    #[metric(buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])]
    pub password_hash_duration_seconds: Histogram,
}

/// Labels of a login attempt.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct LoginLabels {
    /// How it ended.
    pub outcome: LoginOutcome,
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum LoginOutcome {
    /// A session was created.
    Success,
    /// Wrong email or password.
    Failure,
}

/// Labels of a failed login.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct LoginFailureLabels {
    /// Why it failed.
    pub reason: LoginFailure,
}

/// Why a login failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum LoginFailure {
    /// No user has this email.
    UnknownUser,
    /// The password did not match.
    BadPassword,
    /// The database or the hasher failed.
    Error,
}

/// Users: registrations and activity.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "users")]
pub struct UserMetrics {
    /// Registration attempts, by outcome.
    pub registrations: Family<RegistrationLabels, Counter>,
    /// User actions, by kind (what signed-in users do).
    pub activity: Family<ActivityLabels, Counter>,
}

/// Labels of a registration.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct RegistrationLabels {
    /// How it ended.
    pub outcome: RegistrationOutcome,
}

/// How a registration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum RegistrationOutcome {
    /// The user was created.
    Created,
    /// The email is taken.
    Duplicate,
    /// The input was refused (bad email, short password).
    Invalid,
}

/// Labels of a user action.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct ActivityLabels {
    /// What the user did.
    pub action: UserAction,
}

/// What a signed-in user did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum UserAction {
    /// Signed in.
    Login,
    /// Viewed a profile.
    ViewProfile,
    /// Asked the AI.
    AiRequest,
    /// Ran a workflow.
    RunWorkflow,
    /// Paid.
    Purchase,
    /// Watched an academy video.
    WatchVideo,
    /// Read Instagram media.
    Instagram,
}

/// AI model requests, token usage and cost.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "ai")]
pub struct AiMetrics {
    /// AI model requests, by model and status.
    pub requests: Family<AiLabels, Counter>,
    /// Tokens consumed, by model and kind (prompt or completion).
    #[metric(unit = "tokens")]
    pub tokens: Family<TokenLabels, Counter>,
    /// What the tokens cost, in US dollars, by model.
    #[metric(unit = "dollars")]
    pub cost: Family<ModelLabels, Counter<f64>>,
    /// Model call latency, by model.
    #[metric(buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])]
    pub request_duration_seconds: Family<ModelLabels, Histogram>,
}

/// Labels of an AI request.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct AiLabels {
    /// The model asked.
    pub model: Model,
    /// How the request ended.
    pub status: AiStatus,
}

/// Labels of token usage.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct TokenLabels {
    /// The model.
    pub model: Model,
    /// Prompt or completion tokens.
    pub kind: TokenKind,
}

/// A model label.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct ModelLabels {
    /// The model.
    pub model: Model,
}

/// The models the demo offers, all served by the deterministic local provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label_value(rename_all = "kebab-case")]
pub enum Model {
    /// A small, cheap model.
    LocalSmall,
    /// A large, more expensive model.
    LocalLarge,
}

/// How an AI request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum AiStatus {
    /// Answered.
    Ok,
    /// The provider refused or failed.
    Error,
    /// The provider did not answer in time.
    Timeout,
}

/// The kind of tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum TokenKind {
    /// Tokens of the prompt.
    Prompt,
    /// Tokens of the answer.
    Completion,
}

/// Workflow executions and their actions.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "workflow")]
pub struct WorkflowMetrics {
    /// Workflow executions, by status.
    pub executions: Family<ExecutionLabels, Counter>,
    /// Workflow actions run, by action and status.
    pub actions: Family<ActionLabels, Counter>,
    /// Workflow execution time.
    #[metric(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0])]
    pub execution_duration_seconds: Histogram,
    /// Workflow executions running now.
    pub executions_running: Gauge,
}

/// Labels of a workflow execution.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct ExecutionLabels {
    /// How it ended.
    pub status: ExecutionStatus,
}

/// How a workflow execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum ExecutionStatus {
    /// Every action succeeded.
    Succeeded,
    /// An action failed.
    Failed,
}

/// Labels of a workflow action.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct ActionLabels {
    /// The action.
    pub action: ActionKind,
    /// How it ended.
    pub status: ActionStatus,
}

/// The actions a workflow can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum ActionKind {
    /// Sends a message to the contact (a notification).
    SendMessage,
    /// Tags the contact.
    TagContact,
    /// Asks the AI for a reply.
    AiReply,
    /// Waits a few milliseconds.
    Delay,
}

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum ActionStatus {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
}

/// Billing transactions and revenue.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "billing")]
pub struct BillingMetrics {
    /// Payment transactions, by plan and status.
    pub transactions: Family<TransactionLabels, Counter>,
    /// Revenue of succeeded transactions, in the currency's main unit, by plan and currency.
    pub revenue: Family<RevenueLabels, Counter<f64>>,
}

/// Labels of a transaction.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct TransactionLabels {
    /// The plan bought.
    pub plan: Plan,
    /// How it ended.
    pub status: TransactionStatus,
}

/// Labels of revenue.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct RevenueLabels {
    /// The plan bought.
    pub plan: Plan,
    /// The currency paid in.
    pub currency: Currency,
}

/// The plans on sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum Plan {
    /// Starter.
    Starter,
    /// Pro.
    Pro,
    /// Business.
    Business,
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum TransactionStatus {
    /// Paid.
    Succeeded,
    /// The card was declined.
    Declined,
}

/// A currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum Currency {
    /// US dollars.
    Usd,
    /// Euros.
    Eur,
}

/// Academy video views.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "academy")]
pub struct AcademyMetrics {
    /// Video views, by course.
    pub video_views: Family<CourseLabels, Counter>,
    /// Seconds of video watched, by course.
    pub watch_seconds: Family<CourseLabels, Counter<f64>>,
}

/// Labels of an academy video.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct CourseLabels {
    /// The course the video belongs to.
    pub course: Course,
}

/// The academy's courses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum Course {
    /// Getting started.
    GettingStarted,
    /// Automations.
    Automations,
    /// Growth.
    Growth,
}

/// Instagram Graph API calls.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "instagram")]
pub struct InstagramMetrics {
    /// Instagram API calls, by endpoint and result.
    pub api_calls: Family<InstagramCallLabels, Counter>,
    /// Instagram API call latency, by endpoint.
    #[metric(buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
    pub api_call_duration_seconds: Family<InstagramEndpointLabels, Histogram>,
}

/// Labels of an Instagram API call.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct InstagramCallLabels {
    /// The API endpoint.
    pub endpoint: InstagramEndpoint,
    /// The result.
    pub result: InstagramResult,
}

/// An Instagram endpoint label.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct InstagramEndpointLabels {
    /// The API endpoint.
    pub endpoint: InstagramEndpoint,
}

/// The Instagram endpoints the demo calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum InstagramEndpoint {
    /// `GET /me/media`.
    Media,
}

/// The result of an Instagram API call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum InstagramResult {
    /// 2xx.
    Ok,
    /// 4xx (rate limited, bad token).
    ClientError,
    /// 5xx.
    ServerError,
    /// No HTTP answer: connection refused, timeout, unreadable body.
    Transport,
}

/// Jobs handed to the queue by the web application.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "queue")]
pub struct EnqueueMetrics {
    /// Jobs enqueued, by task and outcome (a failed enqueue loses the job; the request
    /// still succeeds).
    pub enqueued: Family<EnqueueLabels, Counter>,
}

/// Labels of an enqueue.
#[derive(Clone, Copy, Debug, LabelSet)]
pub struct EnqueueLabels {
    /// The task.
    pub task: Task,
    /// How it ended.
    pub outcome: EnqueueOutcome,
}

/// The demo's background tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum Task {
    /// Sends the welcome email of a new user.
    WelcomeEmail,
    /// Renders the invoice of a transaction.
    Invoice,
}

impl Task {
    /// The task's name, as the `task` label of the job metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::WelcomeEmail => "welcome_email",
            Self::Invoice => "invoice",
        }
    }
}

/// How an enqueue ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum EnqueueOutcome {
    /// The queue accepted the job.
    Ok,
    /// The queue was unreachable.
    Error,
}

/// Every business set of the demo, registered in one registry.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Authentication.
    pub auth: Arc<AuthMetrics>,
    /// Users.
    pub users: Arc<UserMetrics>,
    /// AI.
    pub ai: Arc<AiMetrics>,
    /// Workflows.
    pub workflows: Arc<WorkflowMetrics>,
    /// Billing.
    pub billing: Arc<BillingMetrics>,
    /// Academy.
    pub academy: Arc<AcademyMetrics>,
    /// Instagram.
    pub instagram: Arc<InstagramMetrics>,
    /// Cache (the set of `fiko-metrics-redis`, recorded by both cache backends).
    pub cache: Arc<fiko_metrics_redis::CacheMetrics>,
    /// Job enqueueing.
    pub enqueue: Arc<EnqueueMetrics>,
}

impl Metrics {
    /// Registers every set in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            auth: AuthMetrics::register(registry)?,
            users: UserMetrics::register(registry)?,
            ai: AiMetrics::register(registry)?,
            workflows: WorkflowMetrics::register(registry)?,
            billing: BillingMetrics::register(registry)?,
            academy: AcademyMetrics::register(registry)?,
            instagram: InstagramMetrics::register(registry)?,
            cache: fiko_metrics_redis::CacheMetrics::register(registry)?,
            enqueue: EnqueueMetrics::register(registry)?,
        })
    }

    /// Counts a signed-in user's action.
    pub fn activity(&self, action: UserAction) {
        self.users
            .activity
            .get_or_create(&ActivityLabels { action })
            .inc();
    }
}
