//! QBO OAuth 2.0 access tokens for one company: reused until shortly before they expire, refreshed
//! one at a time (an async mutex, runtime-agnostic), and the rotated refresh token saved through
//! the [`TokenStore`] before the new access token is ever used, so a crash can never lose it.
//! No token, client secret or `Authorization` header ever reaches a log, an error or Debug output.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::lock::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Service};
use crate::store::{StoredToken, TokenStore};
use crate::transport::{
    HttpRequest, HttpResponse, HttpTransport, PacedTransport, TransportError, TransportErrorKind,
};
use crate::{Clock, Result};

/// An access token is refreshed this long before QBO says it expires.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// The message of an `invalid_grant`: the refresh token is dead and only a person can fix it.
pub const RECONNECT_MESSAGE: &str = "reconnect needed: the refresh token was rejected; ask the \
     merchant to reconnect QuickBooks";

/// Hands out valid access tokens of one company and refreshes them when needed. Share one
/// (`Arc`) between every client of the same company so that only one refresh runs at a time.
pub struct TokenManager {
    realm: String,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    store: Arc<dyn TokenStore>,
    transport: PacedTransport,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<StoredToken>>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("realm", &self.realm)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Seconds the refresh token lives unless used (QBO: 100 days, rolling).
    #[serde(default)]
    x_refresh_token_expires_in: Option<u64>,
    /// Seconds until the connection ends whatever happens (QBO's 5-year limit).
    #[serde(default)]
    x_refresh_token_hard_expires_in: Option<u64>,
}

/// The token endpoint's error body: `{"error": "invalid_grant"}`.
#[derive(Deserialize)]
struct TokenError {
    error: String,
}

fn auth_error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_service(Service::Qbo)
}

/// Which call of the token endpoint, for the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCall {
    /// `grant_type=refresh_token`.
    Refresh,
    /// `grant_type=authorization_code`, after the merchant's consent.
    Exchange,
}

impl TokenCall {
    fn what(self) -> &'static str {
        match self {
            TokenCall::Refresh => "the QuickBooks token refresh",
            TokenCall::Exchange => "the QuickBooks authorization-code exchange",
        }
    }
}

/// The app's credentials as an HTTP Basic `Authorization` value, marked sensitive.
pub(crate) fn basic_auth(client_id: &str, secret: &SecretString) -> Result<http::HeaderValue> {
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{client_id}:{}", secret.expose_secret()));
    let mut value = http::HeaderValue::from_str(&format!("Basic {credentials}")).map_err(|_| {
        Error::config("the QuickBooks client id or secret holds characters not allowed in a header")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A POST of `body` (of `content_type`) to one of Intuit's OAuth endpoints at `url`.
pub(crate) fn oauth_post(
    url: &str,
    authorization: http::HeaderValue,
    content_type: &str,
    body: String,
) -> Result<HttpRequest> {
    http::Request::post(url)
        .header(http::header::AUTHORIZATION, authorization)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::from(body))
        .map_err(|_| Error::config(format!("the QuickBooks OAuth URL {url:?} is not a valid URL")))
}

/// A token call that got no response. A connection never made sent nothing, so the tokens are
/// as they were; any other failure may have reached Intuit (a refresh may have rotated).
pub(crate) fn token_call_failed(call: TokenCall, url: &str, e: TransportError) -> Error {
    let said = e.describe("the QuickBooks OAuth server", url);
    let (kind, next) = match (e.kind(), call) {
        (TransportErrorKind::Connect, _) => (
            ErrorKind::Transport,
            "the tokens are unchanged: check the network (DNS, firewall, proxy) and retry",
        ),
        (_, TokenCall::Refresh) => (
            ErrorKind::OutcomeUnknown,
            "the refresh may have rotated the token on the server: retry, and reconnect \
             QuickBooks if it then answers invalid_grant",
        ),
        (_, TokenCall::Exchange) => {
            (ErrorKind::OutcomeUnknown, "the code may be spent: connect QuickBooks again")
        }
    };
    auth_error(kind, format!("{} got no answer: {said}; {next}", call.what())).with_source(e)
}

/// Reads the token endpoint's `response` into tokens stamped from `now`, or the typed error it
/// means. `grant` is the fingerprint the new tokens keep (the grant they come from).
pub(crate) fn read_token_answer(
    call: TokenCall,
    response: &HttpResponse,
    now: DateTime<Utc>,
    grant: Option<String>,
) -> Result<StoredToken> {
    let status = response.status().as_u16();
    let request_id = super::fault::request_id(response);
    let with_id = |e: Error| match &request_id {
        Some(id) => e.with_status(status).with_request_id(id.clone()),
        None => e.with_status(status),
    };
    if !(200..300).contains(&status) {
        let code = serde_json::from_slice::<TokenError>(response.body()).ok().map(|e| e.error);
        return Err(with_id(token_error(call, code.as_deref(), status)));
    }
    let body: TokenResponse = serde_json::from_slice(response.body()).map_err(|_| {
        with_id(auth_error(
            ErrorKind::Service,
            format!("{} got an unreadable answer from the token endpoint", call.what()),
        ))
    })?;
    let after = |secs: u64| {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        chrono::Duration::try_seconds(secs).and_then(|d| now.checked_add_signed(d))
    };
    let refresh_token = SecretString::from(body.refresh_token);
    let grant = grant.unwrap_or_else(|| crate::store::token_fingerprint(&refresh_token));
    Ok(StoredToken {
        refresh_token,
        access_token: Some(SecretString::from(body.access_token)),
        access_expires_at: after(body.expires_in.unwrap_or(3600)),
        refresh_expires_at: body.x_refresh_token_expires_in.and_then(after),
        refresh_hard_expires_at: body.x_refresh_token_hard_expires_in.and_then(after),
        grant_fingerprint: Some(grant),
    })
}

fn token_error(call: TokenCall, code: Option<&str>, status: u16) -> Error {
    match (code, status, call) {
        (Some("invalid_grant"), _, TokenCall::Refresh) => {
            auth_error(ErrorKind::Authentication, RECONNECT_MESSAGE).with_code("invalid_grant")
        }
        (Some("invalid_grant"), _, TokenCall::Exchange) => auth_error(
            ErrorKind::Authentication,
            "QuickBooks refused the authorization code (invalid_grant): it was used already, \
             expired, or the redirect URI differs from the one of the consent; connect again",
        )
        .with_code("invalid_grant"),
        (Some("invalid_client"), _, _) => auth_error(
            ErrorKind::Config,
            "QuickBooks rejected the app's client id or secret (invalid_client): check the \
             app's keys (sandbox and production keys differ)",
        )
        .with_code("invalid_client"),
        (_, 429, _) => auth_error(
            ErrorKind::RateLimited,
            format!("QuickBooks throttled {}; wait and retry", call.what()),
        ),
        (_, s, _) if s >= 500 => auth_error(
            ErrorKind::Service,
            format!("the QuickBooks token endpoint failed {}; retry later", call.what()),
        ),
        (other, _, _) => {
            let error = auth_error(
                ErrorKind::Authentication,
                format!(
                    "QuickBooks refused {} ({}): reconnect QuickBooks",
                    call.what(),
                    other.unwrap_or("no error code")
                ),
            );
            match other {
                Some(code) => error.with_code(code),
                None => error,
            }
        }
    }
}

impl TokenManager {
    /// A manager for `realm` that refreshes at `token_url` with the app's credentials, through
    /// `transport` (paced and retried by the caller's choice), keeping tokens in `store`.
    pub fn new(
        realm: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        store: Arc<dyn TokenStore>,
        transport: PacedTransport,
    ) -> Self {
        let clock = transport.budget().clock().clone();
        TokenManager {
            realm: realm.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            store,
            transport,
            clock,
            current: Mutex::new(None),
        }
    }

    /// The company this manager serves.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn is_fresh(&self, token: &StoredToken) -> bool {
        let margin = chrono::Duration::from_std(EXPIRY_MARGIN).unwrap_or(chrono::Duration::zero());
        match (&token.access_token, token.access_expires_at) {
            (Some(_), Some(expires)) => expires - margin > self.clock.now(),
            _ => false,
        }
    }

    /// A valid access token: the one in memory, else the stored one, else a fresh one.
    pub async fn access_token(&self) -> Result<SecretString> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| self.is_fresh(t))
            && let Some(access) = &token.access_token
        {
            return Ok(access.clone());
        }
        let stored = self.load().await?;
        if self.is_fresh(&stored)
            && let Some(access) = &stored.access_token
        {
            let access = access.clone();
            *current = Some(stored);
            return Ok(access);
        }
        let refreshed = self.refresh_with(&stored).await?;
        let access = refreshed.access_token.clone();
        *current = Some(refreshed);
        access.ok_or_else(|| auth_error(ErrorKind::Authentication, "no access token"))
    }

    /// After QBO refused `rejected` (a 401): a newer token if another caller already refreshed,
    /// else exactly one refresh.
    pub async fn refresh_after_rejection(&self, rejected: &SecretString) -> Result<SecretString> {
        let mut current = self.current.lock().await;
        if let Some(access) = current.as_ref().and_then(|t| t.access_token.as_ref())
            && access.expose_secret() != rejected.expose_secret()
            && current.as_ref().is_some_and(|t| self.is_fresh(t))
        {
            return Ok(access.clone());
        }
        let stored = match current.take() {
            Some(token) => token,
            None => self.load().await?,
        };
        // Another process may have refreshed and saved a newer token meanwhile.
        if let Some(access) = stored.access_token.clone()
            && access.expose_secret() != rejected.expose_secret()
            && self.is_fresh(&stored)
        {
            *current = Some(stored);
            return Ok(access);
        }
        let refreshed = self.refresh_with(&stored).await?;
        let access = refreshed.access_token.clone();
        *current = Some(refreshed);
        access.ok_or_else(|| auth_error(ErrorKind::Authentication, "no access token"))
    }

    async fn load(&self) -> Result<StoredToken> {
        self.store.load_token(&self.realm).await?.ok_or_else(|| {
            auth_error(
                ErrorKind::Authentication,
                format!(
                    "no QuickBooks token is stored for company {}: connect QuickBooks first",
                    self.realm
                ),
            )
        })
    }

    /// Refreshes with `token`'s refresh token and saves the rotated pair before returning it.
    async fn refresh_with(&self, token: &StoredToken) -> Result<StoredToken> {
        tracing::info!(realm = %self.realm, "refreshing the QuickBooks access token");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", token.refresh_token.expose_secret())
            .finish();
        let authorization = basic_auth(&self.client_id, &self.client_secret)?;
        let request =
            oauth_post(&self.token_url, authorization, "application/x-www-form-urlencoded", form)?;
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|e| token_call_failed(TokenCall::Refresh, &self.token_url, e))?;
        // A rotation keeps the grant: the fingerprint of the token the chain started from.
        let grant = token
            .grant_fingerprint
            .clone()
            .unwrap_or_else(|| crate::store::token_fingerprint(&token.refresh_token));
        let refreshed = match read_token_answer(
            TokenCall::Refresh,
            &response,
            self.clock.now(),
            Some(grant),
        ) {
            Ok(refreshed) => refreshed,
            Err(e) => {
                tracing::warn!(realm = %self.realm, status = e.status(), "the QuickBooks token refresh failed");
                return Err(e);
            }
        };
        // Saved before use: the old refresh token may already be dead.
        self.store.save_token(&self.realm, &refreshed).await.map_err(|e| {
            Error::store(format!(
                "could not save the rotated QuickBooks refresh token ({}); the merchant may have \
                 to reconnect QuickBooks",
                e.message()
            ))
        })?;
        tracing::info!(realm = %self.realm, reconnect_by = ?refreshed.reconnect_by(), "the QuickBooks access token was refreshed and saved");
        Ok(refreshed)
    }

    /// When the access token in memory expires, if there is one.
    pub async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.current.lock().await.as_ref().and_then(|t| t.access_expires_at)
    }
}
