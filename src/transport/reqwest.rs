//! [`ReqwestTransport`]: the [`HttpTransport`] over reqwest with rustls (feature `reqwest`).
//! It only moves bytes: statuses, headers and bodies pass through unchanged, redirects are not
//! followed (a 3xx is a response like any other), and reqwest's failures are sorted into
//! [`TransportErrorKind`]s so the pacing layer knows whether the request may have been sent.

use std::fmt;
use std::time::Duration;

use super::{HttpRequest, HttpResponse, HttpTransport, TransportError, TransportErrorKind};
use crate::{Error, Result};

/// An [`HttpTransport`] over a [`reqwest::Client`].
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport").finish_non_exhaustive()
    }
}

/// rustls over ring, with the platform's verifier, speaking HTTP/1.1 (the only version the
/// client is built with).
fn tls_config() -> Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| Error::config(format!("could not set up TLS: {e}")))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl ReqwestTransport {
    /// Time allowed for a whole request and its response, by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    /// Time allowed to open a connection, by default.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A transport with the default timeouts.
    pub fn new() -> Result<Self> {
        Self::with_timeouts(Self::DEFAULT_TIMEOUT, Self::DEFAULT_CONNECT_TIMEOUT)
    }

    /// A transport that gives up on a request after `timeout` and on a connection after
    /// `connect_timeout` (capped at `timeout`). TLS is rustls with the ring provider, verifying
    /// servers against the operating system's certificate roots.
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .timeout(timeout)
            .connect_timeout(connect_timeout.min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::config(format!("could not build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self::from_client(client))
    }

    /// A transport over a client the host configured itself (proxy, TLS roots, ...). A client
    /// built by the host needs a rustls crypto provider: this crate enables reqwest without one
    /// (see [`ReqwestTransport::with_timeouts`] for the one it uses).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

#[async_trait::async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let request = reqwest::Request::try_from(request).map_err(classify)?;
        let response = self.client.execute(request).await.map_err(classify)?;
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        // The request was sent and answered; a failure while reading the body is mid-way.
        let body = response
            .bytes()
            .await
            .map_err(|e| TransportError::new(TransportErrorKind::Io, e.without_url()))?;
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.version_mut() = version;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// Sorts a reqwest failure by what it says about the request: never sent, timed out, or broken
/// mid-way. The URL is dropped from the message (a query string can carry customer data).
fn classify(error: reqwest::Error) -> TransportError {
    let kind = if error.is_connect() {
        TransportErrorKind::Connect
    } else if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_request() || error.is_body() || error.is_decode() {
        TransportErrorKind::Io
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, error.without_url())
}
