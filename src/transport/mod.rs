//! The HTTP seam: one object-safe async method from [`HttpRequest`] to [`HttpResponse`].
//!
//! The crate never picks an HTTP client. A host plugs in `ReqwestTransport`
//! (feature `reqwest`), the simulators (feature `sim`), or its own client. A transport reports a
//! non-2xx status as a normal response; only "no response at all" is a [`TransportError`], whose
//! [`TransportErrorKind`] tells the retry layer what happened. [`pacing`] wraps any transport in
//! a service's rate budget and retry policy ([`PacedTransport`]).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, PercentEncode, utf8_percent_encode};

pub mod pacing;
#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "reqwest")]
pub use self::reqwest::ReqwestTransport;
pub use pacing::{
    BudgetStats, Classifier, Idempotent, PacedTransport, Permit, RateBudget, ResponseClass,
    RetryPolicy, SendFailure, SharedBudget, Signer,
};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` percent-encoded for one URL path segment or query value: everything but RFC 3986's
/// unreserved characters is escaped, so `/`, `?`, `#`, `%`, a space (`%20`) and a `+` (`%2B`)
/// cannot change what the URL means. Both clients build their URLs with it.
pub(crate) fn url_component(s: &str) -> PercentEncode<'_> {
    utf8_percent_encode(s, NOT_UNRESERVED)
}

/// A request with its whole body in memory (cheap to clone for a retry).
pub type HttpRequest = http::Request<Bytes>;
/// A response with its whole body in memory.
pub type HttpResponse = http::Response<Bytes>;

/// Why no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made; the request was not sent. Safe to retry.
    Connect,
    /// No answer in time; the request may or may not have been processed.
    Timeout,
    /// The connection failed mid-way; the request may or may not have been processed.
    Io,
    /// Anything else.
    Other,
    /// Not sent, on purpose: the sender withheld the request because it may no longer act for
    /// the company (a fleet worker whose lease has too little time left, see
    /// [`fleet::LeaseGate`](crate::fleet::LeaseGate)). Certainly not processed; not retried.
    Withheld,
}

/// A request that got no response.
#[derive(Debug, thiserror::Error)]
#[error("transport error ({kind:?}): {source}")]
pub struct TransportError {
    kind: TransportErrorKind,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl TransportError {
    /// A new transport error of `kind` caused by `source`.
    pub fn new(
        kind: TransportErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        TransportError { kind, source: source.into() }
    }

    /// What happened.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// True when the request certainly never reached the service.
    pub fn request_not_sent(&self) -> bool {
        matches!(self.kind, TransportErrorKind::Connect | TransportErrorKind::Withheld)
    }

    /// True when the sender withheld the request on purpose
    /// ([`TransportErrorKind::Withheld`]): it must not be retried either.
    pub fn is_withheld(&self) -> bool {
        self.kind == TransportErrorKind::Withheld
    }

    /// What went wrong, for people: every message down the source chain, each once, joined with
    /// `: ` (for example `error sending request: client error (Connect): dns error: failed to
    /// lookup address information`), since a client's top message alone rarely names the cause.
    pub fn cause(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self.source.as_ref());
        while let Some(error) = next {
            let text = error.to_string();
            if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            next = error.source();
        }
        parts.join(": ")
    }

    /// A sentence naming what failed, where, and why: `could not connect to QuickBooks at
    /// oauth.platform.intuit.com (nothing was sent): dns error: ...`.
    pub(crate) fn describe(&self, service: &str, url: &str) -> String {
        let host = url.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_owned));
        let at = host.map_or(String::new(), |h| format!(" at {h}"));
        let cause = self.cause();
        match self.kind {
            TransportErrorKind::Connect => {
                format!("could not connect to {service}{at} (nothing was sent): {cause}")
            }
            TransportErrorKind::Timeout => format!("{service}{at} did not answer in time: {cause}"),
            TransportErrorKind::Withheld => {
                format!("the request to {service}{at} was withheld (nothing was sent): {cause}")
            }
            _ => format!("the connection to {service}{at} failed mid-way: {cause}"),
        }
    }
}

/// Sends one HTTP request and returns its response, whatever its status.
///
/// ```
/// use qbo_ordoro::{HttpRequest, HttpResponse, HttpTransport, TransportError};
///
/// #[derive(Debug)]
/// struct AlwaysOk;
///
/// #[async_trait::async_trait]
/// impl HttpTransport for AlwaysOk {
///     async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
///         Ok(http::Response::new(bytes::Bytes::from_static(b"{}")))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait HttpTransport: fmt::Debug + Send + Sync {
    /// Sends `request`. Non-2xx statuses are `Ok`; only a missing response is `Err`.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// A cheaply clonable handle to any [`HttpTransport`].
#[derive(Clone, Debug)]
pub struct SharedTransport(Arc<dyn HttpTransport>);

impl SharedTransport {
    /// Wraps a transport.
    pub fn new(transport: impl HttpTransport + 'static) -> Self {
        SharedTransport(Arc::new(transport))
    }

    /// Wraps an already shared transport.
    pub fn from_arc(transport: Arc<dyn HttpTransport>) -> Self {
        SharedTransport(transport)
    }

    /// Sends a request through the wrapped transport.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.0.send(request).await
    }
}

#[async_trait::async_trait]
impl HttpTransport for SharedTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.0.send(request).await
    }
}

/// A transport that answers every request with the same response: the fuzz bodies feed arbitrary
/// bytes through the real clients with it.
#[derive(Debug)]
pub(crate) struct CannedTransport {
    response: HttpResponse,
}

impl CannedTransport {
    /// A transport that always answers `response`.
    pub(crate) fn new(response: HttpResponse) -> Self {
        CannedTransport { response }
    }
}

#[async_trait::async_trait]
impl HttpTransport for CannedTransport {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut copy = http::Response::new(self.response.body().clone());
        *copy.status_mut() = self.response.status();
        *copy.headers_mut() = self.response.headers().clone();
        Ok(copy)
    }
}
