//! Connecting a QuickBooks Online company: Intuit's OAuth 2.0 authorization-code flow as library
//! calls, with no web framework, for a command line, a web page or any other host.
//!
//! 1. [`OAuthApp::consent`] gives the URL to send the merchant to (Intuit's authorize endpoint
//!    with the app's client id, `response_type=code`, the accounting scope, the redirect URI)
//!    and a fresh `state` from the operating system's random source, which the host keeps.
//! 2. Intuit sends the browser back to the redirect URI; [`parse_callback`] reads that URL (the
//!    code, `realmId` and `state`, or the `error` the merchant's refusal gives) and checks the
//!    `state` against the kept one.
//! 3. [`OAuthApp::exchange`] trades the code at the token endpoint (HTTP Basic client
//!    authentication, the same redirect URI) for the company's tokens, with the refresh token's
//!    expiries when QBO reports them ([`StoredToken::reconnect_by`]). The host saves them in its
//!    [`TokenStore`](crate::TokenStore) under the realm id, where [`QboClient`](crate::QboClient)
//!    finds them.
//! 4. [`OAuthApp::revoke`] disconnects the company; the host then forgets its tokens
//!    ([`TokenStore::forget_token`](crate::TokenStore::forget_token)), keeping the rest of its
//!    state, so that connecting it again carries on where it left off.
//!
//! The client secret, the code and the tokens never reach Debug output, logs or errors.
//!
//! ```
//! # futures_util::FutureExt::now_or_never(async {
//! use std::sync::Arc;
//! use qbo_ordoro::qbo::connect::{OAuthApp, parse_callback};
//! use qbo_ordoro::sim::qbo::QboSim;
//! use qbo_ordoro::{Clock, ManualClock, SharedTransport};
//!
//! let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(chrono::Utc::now()));
//! let sim = Arc::new(QboSim::new(clock.clone()));  // answers as Intuit would
//! sim.add_company("9130350000000001");
//! let app = OAuthApp::new("sim-client-id", "sim-client-secret".into(), "http://localhost:8765/callback")?;
//!
//! let consent = app.consent()?;                    // send the merchant to consent.url
//! let redirected = sim.consent(&consent.url)?;     // the URL the browser comes back to
//! let callback = parse_callback(&redirected, &consent.state)?;
//! let transport = SharedTransport::from_arc(sim.clone());
//! let connection = app.exchange(&transport, clock.as_ref(), &callback).await?;
//! assert_eq!(connection.realm_id, "9130350000000001");
//! assert!(connection.token.reconnect_by().is_some());
//! app.revoke(&transport, &connection.token.refresh_token).await?;
//! # Ok::<(), qbo_ordoro::Error>(())
//! # }).expect("the simulator does not wait")?;
//! # Ok::<(), qbo_ordoro::Error>(())
//! ```

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::http::oauth::{TokenCall, basic_auth, oauth_post, read_token_answer, token_call_failed};
use crate::error::{Error, ErrorKind, Service};
use crate::store::StoredToken;
use crate::transport::HttpTransport;
use crate::{Clock, QboEnvironment, Result};

/// Intuit's authorize endpoint, where the merchant consents (sandbox and production alike).
pub const AUTHORIZE_URL: &str = "https://appcenter.intuit.com/connect/oauth2";
/// Intuit's revoke endpoint (disconnect).
pub const REVOKE_URL: &str = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke";
/// The scope of the accounting API, the only one this crate needs.
pub const SCOPE: &str = "com.intuit.quickbooks.accounting";

/// An Intuit app as the OAuth flow sees it: its keys, its redirect URI and Intuit's endpoints.
/// Debug output hides the client secret.
#[derive(Clone)]
pub struct OAuthApp {
    client_id: String,
    client_secret: SecretString,
    redirect_uri: String,
    authorize_url: String,
    token_url: String,
    revoke_url: String,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .finish()
    }
}

/// Where to send the merchant, and the `state` to check when the browser comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The authorize URL with every parameter.
    pub url: String,
    /// The random `state` in it (32 hex digits); [`parse_callback`] wants it back.
    pub state: String,
}

/// What the redirect brought back once the merchant consented. Debug output hides the code.
#[derive(Clone)]
pub struct Callback {
    /// The company (realm) id.
    pub realm_id: String,
    /// The authorization code, good for one exchange within minutes.
    pub code: SecretString,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("realm_id", &self.realm_id)
            .field("code", &"[redacted]")
            .finish()
    }
}

/// A connected company: its realm id and its first tokens, to save in a
/// [`TokenStore`](crate::TokenStore).
#[derive(Debug, Clone)]
pub struct Connection {
    /// The company (realm) id.
    pub realm_id: String,
    /// The tokens; `grant_fingerprint` is the first refresh token's.
    pub token: StoredToken,
}

fn connect_error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_service(Service::Qbo)
}

impl OAuthApp {
    /// The app with client id, secret and a redirect URI registered in its settings, at
    /// Intuit's endpoints. The redirect URI must be https, or plain http on `localhost` (which
    /// Intuit accepts for sandbox keys only).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
    ) -> Result<Self> {
        let app = OAuthApp {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            authorize_url: AUTHORIZE_URL.to_string(),
            token_url: crate::qbo::http::TOKEN_URL.to_string(),
            revoke_url: REVOKE_URL.to_string(),
        };
        app.validate()?;
        Ok(app)
    }

    /// The endpoints of `environment`: Intuit's for sandbox and production; for custom URLs (a
    /// simulator on loopback, a proxy) the token URL given and the authorize
    /// (`/connect/oauth2`) and revoke (`/v2/oauth2/tokens/revoke`) paths at its origin.
    pub fn with_environment(mut self, environment: &QboEnvironment) -> Self {
        if let QboEnvironment::Custom { token_url, .. } = environment {
            let origin = token_url
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| Some(format!("{}://{}", u.scheme_str()?, u.authority()?)))
                .unwrap_or_default();
            self.authorize_url = format!("{origin}/connect/oauth2");
            self.token_url = token_url.clone();
            self.revoke_url = format!("{origin}/v2/oauth2/tokens/revoke");
        }
        self
    }

    /// The redirect URI the consent and the exchange use.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    fn validate(&self) -> Result<()> {
        if self.client_id.trim().is_empty() {
            return Err(Error::config("the QuickBooks client id is empty"));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(Error::config("the QuickBooks client secret is empty"));
        }
        let uri: http::Uri = self.redirect_uri.parse().map_err(|_| {
            Error::config(format!("the redirect URI {:?} is not a URL", self.redirect_uri))
        })?;
        let host = uri.host().unwrap_or("");
        match uri.scheme_str() {
            Some("https") if !host.is_empty() => Ok(()),
            Some("http") if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err(Error::config(format!(
                "the redirect URI {:?} must be https (plain http only on localhost, which \
                 Intuit accepts for sandbox keys only)",
                self.redirect_uri
            ))),
        }
    }

    /// A consent URL with a fresh random `state`, to keep until the callback.
    pub fn consent(&self) -> Result<Consent> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::config(format!("the operating system's random source failed: {e}"))
        })?;
        let state: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Consent { url: self.consent_url(&state), state })
    }

    /// The consent URL for a `state` the caller made.
    pub fn consent_url(&self, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state)
            .finish();
        format!("{}?{query}", self.authorize_url)
    }

    /// Trades the callback's code for the company's tokens (one call, never repeated: a code
    /// is good once). The tokens' instants are read from `clock`.
    pub async fn exchange(
        &self,
        transport: &dyn HttpTransport,
        clock: &dyn Clock,
        callback: &Callback,
    ) -> Result<Connection> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", callback.code.expose_secret())
            .append_pair("redirect_uri", &self.redirect_uri)
            .finish();
        let authorization = basic_auth(&self.client_id, &self.client_secret)?;
        let request =
            oauth_post(&self.token_url, authorization, "application/x-www-form-urlencoded", form)?;
        let response = transport
            .send(request)
            .await
            .map_err(|e| token_call_failed(TokenCall::Exchange, &self.token_url, e))?;
        let token = read_token_answer(TokenCall::Exchange, &response, clock.now(), None)?;
        tracing::info!(realm = %callback.realm_id, reconnect_by = ?token.reconnect_by(), "QuickBooks company connected");
        Ok(Connection { realm_id: callback.realm_id.clone(), token })
    }

    /// Revokes `token` (a refresh or an access token), which disconnects the company: its
    /// tokens stop working at once.
    pub async fn revoke(&self, transport: &dyn HttpTransport, token: &SecretString) -> Result<()> {
        let body = serde_json::json!({ "token": token.expose_secret() }).to_string();
        let authorization = basic_auth(&self.client_id, &self.client_secret)?;
        let request = oauth_post(&self.revoke_url, authorization, "application/json", body)?;
        let response = transport.send(request).await.map_err(|e| {
            let said = e.describe("the QuickBooks OAuth server", &self.revoke_url);
            connect_error(ErrorKind::Transport, format!("the revoke got no answer: {said}"))
                .with_source(e)
        })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            tracing::info!("QuickBooks tokens revoked");
            return Ok(());
        }
        let kind = match status {
            401 => ErrorKind::Config,
            429 => ErrorKind::RateLimited,
            s if s >= 500 => ErrorKind::Service,
            _ => ErrorKind::Authentication,
        };
        Err(connect_error(kind, "QuickBooks refused to revoke the token").with_status(status))
    }
}

/// Reads the URL the browser was redirected to (or its query string alone) and checks its
/// `state` against `expected_state`. A refusal (`error=access_denied`), a `state` that differs
/// (a forged or stale callback) or a missing code or realm id is an error saying so; the code
/// never appears in it.
pub fn parse_callback(redirected: &str, expected_state: &str) -> Result<Callback> {
    let redirected = redirected.trim();
    let query = match redirected.split_once('?') {
        Some((_, query)) => query,
        None => redirected,
    };
    let query = query.split('#').next().unwrap_or("");
    let mut code = None;
    let mut realm_id = None;
    let mut state = None;
    let mut error = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "code" => code = Some(SecretString::from(value.into_owned())),
            "realmId" => realm_id = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            _ => {}
        }
    }
    let bad = |message: String| connect_error(ErrorKind::BadInput, message);
    if state.as_deref() != Some(expected_state) {
        return Err(bad("the callback's state is not the one of this consent (a stale or forged \
             redirect): start the connection again"
            .into()));
    }
    if let Some(error) = error {
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        return Err(connect_error(
            ErrorKind::Authentication,
            format!("QuickBooks did not connect ({error}): the merchant declined or the app is not allowed; start the connection again"),
        )
        .with_code(error));
    }
    let realm_id = realm_id
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| bad("the callback has no valid realmId (the company id)".into()))?;
    let code = code
        .filter(|c| !c.expose_secret().is_empty())
        .ok_or_else(|| bad("the callback has no authorization code".into()))?;
    Ok(Callback { realm_id, code })
}

/// Which refresh token a company's runs use, after [`choose_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChoice {
    /// The store had none: the configured one was saved.
    ConfiguredSaved,
    /// The store's, and none is configured.
    Stored,
    /// The configured one, which is the store's.
    Same,
    /// The store's, which QBO rotated from the configured one (the configured one is spent).
    Rotated,
    /// The store's, written by a version that kept no fingerprint: taken as rotated from the
    /// configured one, which is now its recorded origin.
    Adopted,
    /// The configured one, a new token (another consent): it replaced the store's.
    Replaced,
}

impl TokenChoice {
    /// A sentence for people saying which token is used, naming neither; `source` names where
    /// the configured token came from (`QBO_REFRESH_TOKEN`).
    pub fn describe(self, source: &str) -> String {
        match self {
            TokenChoice::ConfiguredSaved => {
                format!("the refresh token from {source}, saved into the store")
            }
            TokenChoice::Stored => "the refresh token saved in the store".into(),
            TokenChoice::Same => format!("the refresh token from {source} (the store's too)"),
            TokenChoice::Rotated => format!(
                "the store's refresh token, which QuickBooks rotated from the one in {source}"
            ),
            TokenChoice::Adopted => format!(
                "the store's refresh token, taken as rotated from the one in {source} (if {source} \
                 holds a token of a new consent, connect the company again)"
            ),
            TokenChoice::Replaced => {
                format!("the refresh token from {source}: a new one, which replaced the store's")
            }
        }
    }
}

/// Decides which refresh token `realm`'s runs use when a person configured one (`configured`)
/// and the store may hold another, and leaves that one in the store.
///
/// QBO rotates refresh tokens, so once the sync has refreshed, the configured token is spent
/// and the stored one is the live one: the store's is kept when it was rotated from the
/// configured token. A configured token of a new consent replaces it. The two are told apart by
/// the stored token's `grant_fingerprint` (a hash of the token its chain started from, never the
/// token itself).
pub async fn choose_refresh_token(
    store: &dyn crate::TokenStore,
    realm: &str,
    configured: Option<&SecretString>,
) -> Result<TokenChoice> {
    let stored = store.load_token(realm).await?;
    let Some(configured) = configured else {
        return match stored {
            Some(_) => Ok(TokenChoice::Stored),
            None => Err(connect_error(
                ErrorKind::Authentication,
                format!("no QuickBooks refresh token is saved for company {realm}: connect it"),
            )),
        };
    };
    let fingerprint = crate::store::token_fingerprint(configured);
    let Some(stored) = stored else {
        store.save_token(realm, &StoredToken::new(configured.clone())).await?;
        return Ok(TokenChoice::ConfiguredSaved);
    };
    if stored.refresh_token.expose_secret() == configured.expose_secret() {
        return Ok(TokenChoice::Same);
    }
    match stored.grant_fingerprint.as_deref() {
        Some(grant) if grant == fingerprint => Ok(TokenChoice::Rotated),
        None => {
            let adopted = StoredToken { grant_fingerprint: Some(fingerprint), ..stored };
            store.save_token(realm, &adopted).await?;
            Ok(TokenChoice::Adopted)
        }
        Some(_) => {
            store.save_token(realm, &StoredToken::new(configured.clone())).await?;
            tracing::info!(%realm, "a new configured QuickBooks refresh token replaced the stored one");
            Ok(TokenChoice::Replaced)
        }
    }
}
