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
    /// This worker no longer holds the company's lease (it expired, or another worker took the
    /// company): the store refused a write fenced by the old lease, or a write to Ordoro was
    /// withheld because the lease had too little time left. Stop working on the company; its new
    /// holder carries on (see [`fleet`](crate::fleet)).
    LeaseLost,
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
            ErrorKind::LeaseLost => "lease lost",
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
///
/// The contents are boxed, so a [`Result`] is at most two words wide whatever `T` is (an error
/// is the rare path; the `Ok` path should not pay for its size).
///
/// ```
/// use qbo_ordoro::{Error, ErrorKind, Service};
///
/// let err = Error::bad_input("lines[0].sku is required")
///     .with_service(Service::Ordoro)
///     .with_status(400)
///     .with_code("lines");
/// assert_eq!(err.kind(), ErrorKind::BadInput);
/// assert!(!err.is_retryable());
/// assert_eq!(
///     err.to_string(),
///     "bad input: lines[0].sku is required (Ordoro, HTTP 400, code lines)"
/// );
/// ```
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<Service>,
    status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The fields, not the box: `Error { kind: .., message: .., .. }`.
        let i = &self.inner;
        f.debug_struct("Error")
            .field("kind", &i.kind)
            .field("message", &i.message)
            .field("service", &i.service)
            .field("status", &i.status)
            .field("code", &i.code)
            .field("request_id", &i.request_id)
            .field("retry_after", &i.retry_after)
            .field("source", &i.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        write!(f, "{}: {}", i.kind, i.message)?;
        let mut parts = Vec::new();
        if let Some(s) = i.service {
            parts.push(s.to_string());
        }
        if let Some(s) = i.status {
            parts.push(format!("HTTP {s}"));
        }
        if let Some(c) = &i.code {
            parts.push(format!("code {c}"));
        }
        if let Some(r) = &i.request_id {
            parts.push(format!("request id {r}"));
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// A new error of `kind` with a message that says what was wrong and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                service: None,
                status: None,
                code: None,
                request_id: None,
                retry_after: None,
                source: None,
            }),
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

    /// Shorthand for [`ErrorKind::LeaseLost`].
    pub fn lease_lost(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LeaseLost, message)
    }

    /// Names the service the error came from.
    pub fn with_service(mut self, service: Service) -> Self {
        self.inner.service = Some(service);
        self
    }

    /// Records the HTTP status of the failed response.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Records the service's own error code (a QBO fault code such as `3200`, an Ordoro `param`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// Records the service's request id (`intuit_tid`, `X-Ordoro-Request-Id`) for support.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.inner.request_id = Some(request_id.into());
        self
    }

    /// Records how long the service asked us to wait.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.inner.retry_after = Some(wait);
        self
    }

    /// Attaches the underlying cause, returned by [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Changes the kind and keeps everything else (message, service details, source): for
    /// example, a transport failure of a create becomes [`ErrorKind::OutcomeUnknown`], since
    /// the order may exist.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message alone, without the service details.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The service the error came from, if any.
    pub fn service(&self) -> Option<Service> {
        self.inner.service
    }

    /// The HTTP status of the failed response, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The service's own error code, if it gave one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The service's request id, if it gave one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// How long the service asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// True for [`ErrorKind::BadInput`].
    pub fn is_bad_input(&self) -> bool {
        self.inner.kind == ErrorKind::BadInput
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::NotFound
    }

    /// True for [`ErrorKind::RateLimited`].
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == ErrorKind::RateLimited
    }

    /// True for [`ErrorKind::Authentication`].
    pub fn is_auth(&self) -> bool {
        self.inner.kind == ErrorKind::Authentication
    }

    /// True for [`ErrorKind::OutcomeUnknown`]: settle by a lookup before any retry.
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.kind == ErrorKind::OutcomeUnknown
    }

    /// True when the same request may succeed later without any change: rate limits, service
    /// errors and transport failures. An [`ErrorKind::OutcomeUnknown`] is *not* retryable as is.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited | ErrorKind::Service | ErrorKind::Transport
        )
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::bad_input(format!("could not decode JSON: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_at_most_two_words_wide() {
        assert!(std::mem::size_of::<Error>() <= 16, "{}", std::mem::size_of::<Error>());
        assert!(std::mem::size_of::<Result<()>>() <= 16);
        assert!(std::mem::size_of::<Result<u64>>() <= 16);
    }

    #[test]
    fn with_kind_keeps_the_details_and_the_source() {
        let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        let err = Error::new(ErrorKind::Transport, "no answer")
            .with_service(Service::Ordoro)
            .with_request_id("r-1")
            .with_source(cause)
            .with_kind(ErrorKind::OutcomeUnknown);
        assert!(err.is_outcome_unknown());
        assert_eq!(err.request_id(), Some("r-1"));
        assert_eq!(err.service(), Some(Service::Ordoro));
        let source = std::error::Error::source(&err).expect("the cause is kept");
        assert_eq!(source.to_string(), "timed out");
    }

    #[test]
    fn display_lists_the_service_details_that_are_present() {
        assert_eq!(Error::config("no realm").to_string(), "configuration error: no realm");
        let err = Error::new(ErrorKind::Service, "down")
            .with_service(Service::Qbo)
            .with_status(503)
            .with_request_id("tid-9");
        assert_eq!(
            err.to_string(),
            "service error: down (QuickBooks Online, HTTP 503, request id tid-9)"
        );
    }
}
