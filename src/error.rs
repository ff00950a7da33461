//! The crate's one error type.
//!
//! Every fallible call in the crate returns [`Error`]. Its [`ErrorKind`] tells a caller what to do
//! next: fix the input, reconnect, wait, retry, or settle an ambiguous write by a lookup. The
//! message says what was wrong; it never carries a secret (tokens, client secrets and API keys are
//! redacted before an error is built).

use std::fmt;
use std::time::Duration;

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, so that a caller can decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was malformed or rejected by validation (a bad document, a 400, a QBO
    /// `ValidationFault`). Retrying the same input will fail again.
    BadInput,
    /// The requested object does not exist (404, QBO fault 610).
    NotFound,
    /// A service asked us to slow down (429, QBO fault 3001). Wait [`Error::retry_after`] and retry.
    RateLimited,
    /// Credentials were refused or expired and could not be refreshed (401, `invalid_grant`).
    /// A person must reconnect or fix the credentials.
    Authentication,
    /// The service failed (5xx, QBO `SystemFault`). Usually worth retrying later.
    Service,
    /// No response arrived: connection refused, timeout, I/O. Usually worth retrying.
    Transport,
    /// A write may or may not have happened (the response to a create was lost). Do not retry
    /// blindly: look the object up first.
    OutcomeUnknown,
    /// Local configuration is invalid (a missing credential, an http:// base URL, ...).
    Config,
    /// The local state store failed.
    Store,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::BadInput => "bad input",
            ErrorKind::NotFound => "not found",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Authentication => "authentication failed",
            ErrorKind::Service => "service error",
            ErrorKind::Transport => "transport error",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::Config => "configuration error",
            ErrorKind::Store => "store error",
        };
        f.write_str(s)
    }
}

/// Which remote service an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// QuickBooks Online (the accounting API or its OAuth endpoint).
    Qbo,
    /// Ordoro.
    Ordoro,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Qbo => "QuickBooks Online",
            Service::Ordoro => "Ordoro",
        })
    }
}

/// The crate's error: a kind, a message that says what was wrong and what to do, and the details a
/// remote service gave (HTTP status, error code, request id) when there was one.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}{}", context_suffix(.service, .status, .code, .request_id))]
pub struct Error {
    kind: ErrorKind,
    message: String,
    service: Option<Service>,
    status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

fn context_suffix(
    service: &Option<Service>,
    status: &Option<u16>,
    code: &Option<String>,
    request_id: &Option<String>,
) -> String {
    let mut parts = Vec::new();
    if let Some(s) = service {
        parts.push(s.to_string());
    }
    if let Some(s) = status {
        parts.push(format!("HTTP {s}"));
    }
    if let Some(c) = code {
        parts.push(format!("code {c}"));
    }
    if let Some(r) = request_id {
        parts.push(format!("request id {r}"));
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

impl Error {
    /// A new error of `kind` with a message that says what was wrong and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            service: None,
            status: None,
            code: None,
            request_id: None,
            retry_after: None,
            source: None,
        }
    }

    /// Shorthand for [`ErrorKind::BadInput`].
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }

    /// Shorthand for [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Shorthand for [`ErrorKind::Store`].
    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Store, message)
    }

    /// Names the service the error came from.
    pub fn with_service(mut self, service: Service) -> Self {
        self.service = Some(service);
        self
    }

    /// Records the HTTP status of the failed response.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Records the service's own error code (a QBO fault code such as `3200`, an Ordoro `param`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Records the service's request id (`intuit_tid`, `X-Ordoro-Request-Id`) for support.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Records how long the service asked us to wait.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Returns a copy of this error with another kind (for example, a transport failure of a create
    /// becomes [`ErrorKind::OutcomeUnknown`]). The cause is kept as text.
    pub fn into_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message alone, without the service details.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The service the error came from, if any.
    pub fn service(&self) -> Option<Service> {
        self.service
    }

    /// The HTTP status of the failed response, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The service's own error code, if it gave one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The service's request id, if it gave one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// How long the service asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// True for [`ErrorKind::BadInput`].
    pub fn is_bad_input(&self) -> bool {
        self.kind == ErrorKind::BadInput
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// True for [`ErrorKind::RateLimited`].
    pub fn is_rate_limited(&self) -> bool {
        self.kind == ErrorKind::RateLimited
    }

    /// True for [`ErrorKind::Authentication`].
    pub fn is_auth(&self) -> bool {
        self.kind == ErrorKind::Authentication
    }

    /// True for [`ErrorKind::OutcomeUnknown`]: settle by a lookup before any retry.
    pub fn is_outcome_unknown(&self) -> bool {
        self.kind == ErrorKind::OutcomeUnknown
    }

    /// True when the same request may succeed later without any change: rate limits, service
    /// errors and transport failures. An [`ErrorKind::OutcomeUnknown`] is *not* retryable as is.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Service | ErrorKind::Transport)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::bad_input(format!("could not decode JSON: {e}")).with_source(e)
    }
}
