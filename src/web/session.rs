//! Sessions, the admin login, CSRF tokens and the security headers: everything the router checks
//! before a handler runs ([`guard`]).
//!
//! Every browser gets a session (a random id in an `HttpOnly`, `SameSite=Strict` cookie, `Secure`
//! behind TLS) holding its CSRF token, a message for the next page, and whether it logged in. Sessions live in memory: a restart logs everyone
//! out, which is what an admin page of one process wants.
//!
//! - **Login.** With an [`AdminLogin`] configured, every route but the public ones
//!   ([`is_public`]: the webhook route, the OAuth callback, the health check, the style sheet)
//!   needs a logged-in session; the others are sent to `/login`. Logging in gives a new
//!   session id (no fixation).
//! - **Loopback.** Without a login, only requests addressed to a loopback host are answered
//!   (the `Host` header): a loopback bind put behind a public reverse proxy, or reached through
//!   DNS rebinding, does not expose the pages.
//! - **CSRF.** Every `POST` form carries the session's token in a `csrf` field (the
//!   synchronizer-token pattern); one that does not gets 403, before any handler reads it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretString};

use super::Shared;
use crate::{Error, Result};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "qbo_ordoro_session";
/// A session unused for this long is forgotten.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; the least recently used go first.
const MAX_SESSIONS: usize = 10_000;
/// The largest form a page posts.
const MAX_FORM: usize = 64 * 1024;

/// The Content-Security-Policy of every answer: no script at all, styles and images from the
/// connector only, forms posted to it only, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The admin password, kept as its argon2 hash (PHC string). Debug output hides it.
#[derive(Clone)]
pub struct AdminLogin {
    hash: SecretString,
}

impl std::fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminLogin(<redacted>)")
    }
}

impl AdminLogin {
    /// A login from the PHC string of an argon2 hash (`$argon2id$v=19$...`), as
    /// [`AdminLogin::hash_password`] or the `argon2` command line make it.
    pub fn from_hash(phc: &str) -> Result<AdminLogin> {
        PasswordHash::new(phc.trim()).map_err(|e| {
            Error::config(format!(
                "the admin password hash is not an argon2 PHC string ({e}): it starts with \
                 `$argon2id$`; make one with `AdminLogin::hash_password`"
            ))
        })?;
        Ok(AdminLogin { hash: SecretString::from(phc.trim().to_owned()) })
    }

    /// A login from the password itself, hashed here (argon2id, a random salt).
    pub fn from_password(password: &SecretString) -> Result<AdminLogin> {
        AdminLogin::from_hash(&AdminLogin::hash_password(password)?)
    }

    /// The argon2id PHC string of `password`, to keep in a configuration instead of it.
    pub fn hash_password(password: &SecretString) -> Result<String> {
        if password.expose_secret().trim().is_empty() {
            return Err(Error::config("the admin password is empty: choose one"));
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| {
            Error::config(format!("the operating system's random source failed: {e}"))
        })?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::config(format!("cannot encode the password's salt: {e}")))?;
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::config(format!("cannot hash the admin password: {e}")))
    }

    /// True when `password` is the admin password. Slow on purpose (argon2).
    pub fn verifies(&self, password: &str) -> bool {
        PasswordHash::new(self.hash.expose_secret())
            .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
    }
}

/// What the server keeps of one browser.
#[derive(Debug, Clone)]
pub struct SessionData {
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// Logged in with the admin password.
    pub logged_in: bool,
    /// A message for the next page.
    pub flash: Option<Flash>,
    last_seen: Instant,
}

/// A message shown once, on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// The text.
    pub text: String,
    /// True for a failure.
    pub error: bool,
}

/// The sessions of every browser, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, SessionData>>,
}

/// The OAuth `state`s this connector gave out and that were not used yet (each good for one
/// callback within 10 minutes).
#[derive(Debug, Default)]
pub struct Consents {
    issued: Mutex<HashMap<String, Instant>>,
}

/// How long a consent's `state` waits for its callback.
const CONSENT_TTL: Duration = Duration::from_secs(600);

impl Consents {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.issued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers `state`, forgetting those too old to be used.
    pub fn issue(&self, state: &str) {
        let now = Instant::now();
        let mut issued = self.lock();
        issued.retain(|_, at| now.duration_since(*at) < CONSENT_TTL);
        issued.insert(state.to_owned(), now);
    }

    /// True, once, for a `state` given out less than 10 minutes ago.
    pub fn take(&self, state: &str) -> bool {
        self.lock().remove(state).is_some_and(|at| at.elapsed() < CONSENT_TTL)
    }
}

/// The session of the request being handled: its id, and a copy of its data when it came in.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its id (the cookie's value).
    pub id: String,
    /// Its data as the request found it.
    pub data: SessionData,
}

/// 32 hex digits from the operating system's random source.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // A failing random source leaves zeros, which the length check below turns into a refusal to
    // go on rather than a guessable token.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, SessionData>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session `id` names, touched; or a new one (`true` when new).
    fn open(&self, id: Option<&str>) -> (Session, bool) {
        let now = Instant::now();
        let mut map = self.lock();
        if let Some(id) = id
            && let Some(data) = map.get_mut(id)
            && now.duration_since(data.last_seen) < IDLE
        {
            data.last_seen = now;
            return (Session { id: id.to_owned(), data: data.clone() }, false);
        }
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, d| now.duration_since(d.last_seen) < IDLE);
            if let Some(oldest) =
                map.iter().min_by_key(|(_, d)| d.last_seen).map(|(id, _)| id.clone())
            {
                map.remove(&oldest);
            }
        }
        let data =
            SessionData { csrf: random_token(), logged_in: false, flash: None, last_seen: now };
        let id = random_token();
        map.insert(id.clone(), data.clone());
        (Session { id, data }, true)
    }

    /// Changes the session `id`'s data.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut SessionData)) {
        if let Some(data) = self.lock().get_mut(id) {
            f(data);
        }
    }

    /// Takes the session's message for the page being drawn.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.lock().get_mut(id).and_then(|d| d.flash.take())
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, id: &str, text: impl Into<String>, error: bool) {
        let text = text.into();
        self.update(id, |d| d.flash = Some(Flash { text, error }));
    }

    /// Logs the session in under a new id (the old one is forgotten) and returns the new id.
    pub fn log_in(&self, old: &str) -> String {
        let mut map = self.lock();
        let mut data = map.remove(old).unwrap_or_else(|| SessionData {
            csrf: random_token(),
            logged_in: false,
            flash: None,
            last_seen: Instant::now(),
        });
        data.logged_in = true;
        data.csrf = random_token();
        let id = random_token();
        map.insert(id.clone(), data);
        id
    }

    /// Forgets the session.
    pub fn log_out(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Routes answered without a login (each protects itself: the webhook by its signature, the
/// callback by the session's OAuth `state`) and without the loopback check (Intuit reaches
/// them through the public address).
pub fn is_public(path: &str) -> bool {
    matches!(path, "/webhooks/qbo" | "/oauth/callback" | "/healthz" | "/static/style.css")
}

/// Routes that never use a session, so none is opened for them: a webhook delivery or a health
/// probe must not fill the session table, and the OAuth callback arrives from Intuit's site,
/// without the `SameSite=Strict` session cookie, where opening a session would replace the
/// browser's own (it checks the consent by its own cookie, [`CONSENT_COOKIE`]).
fn sessionless(path: &str) -> bool {
    matches!(path, "/webhooks/qbo" | "/healthz" | "/static/style.css" | "/oauth/callback")
}

/// The cookie that carries a consent's OAuth `state` back to the callback. `SameSite=Lax`, unlike
/// the session's: the callback is a top-level navigation from Intuit's site, which a Lax cookie
/// follows and a Strict one does not. Scoped to the callback's path, gone after 10 minutes.
pub const CONSENT_COOKIE: &str = "qbo_ordoro_consent";

/// The `Set-Cookie` value that gives the browser `state` (or, with `None`, takes it back).
pub fn consent_cookie(state: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let (value, age) = match state {
        Some(state) => (state, 600),
        None => ("", 0),
    };
    let cookie = format!(
        "{CONSENT_COOKIE}={value}; Path=/oauth/callback; HttpOnly; SameSite=Lax; Max-Age={age}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// The session id in the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The `Set-Cookie` value of session `id`.
pub fn set_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}");
    // The id is hex and the rest is fixed text, so the value is always a valid header.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// True when the request's `Host` is a loopback name or address.
fn addressed_to_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `csrf` field of a form body.
fn csrf_field(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned())
}

/// The router's first layer: the session, the loopback or login check, the CSRF check of every
/// form, and the security headers of every answer.
pub async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let public = is_public(&path);
    if shared.login.is_none() && !public && !addressed_to_loopback(request.headers()) {
        return secured(
            (
                StatusCode::FORBIDDEN,
                "this connector has no admin login configured, so it answers only on a loopback \
                 address: configure an admin password to serve it on another",
            )
                .into_response(),
        );
    }
    if sessionless(&path) {
        return secured(next.run(request).await);
    }
    let (session, new) = shared.sessions.open(session_cookie(request.headers()).as_deref());
    let needs_login = shared.login.is_some() && !public && !path.starts_with("/login");
    if needs_login && !session.data.logged_in {
        return finish(Redirect::to("/login").into_response(), &session.id, new, &shared);
    }
    let mut request = request;
    if request.method() == Method::POST {
        match checked_form(request, &session).await {
            Ok(checked) => request = checked,
            Err(refused) => return finish(refused, &session.id, new, &shared),
        }
    }
    request.extensions_mut().insert(session.clone());
    let response = next.run(request).await;
    finish(response, &session.id, new, &shared)
}

/// The request again with its body, when the form carries the session's CSRF token.
async fn checked_form(request: Request, session: &Session) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response())?;
    let token = csrf_field(&bytes);
    let valid =
        !session.data.csrf.is_empty() && token.is_some_and(|t| same_token(&t, &session.data.csrf));
    if !valid {
        return Err((
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or stale: reload the page and submit it again",
        )
            .into_response());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Sets the cookie of a new session and the security headers.
fn finish(mut response: Response, id: &str, new: bool, shared: &Shared) -> Response {
    if new && !response.headers().contains_key(header::SET_COOKIE) {
        response.headers_mut().insert(header::SET_COOKIE, set_cookie(id, shared.secure_cookies));
    }
    secured(response)
}

/// The headers every answer carries.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_and_nothing_else() {
        let login = AdminLogin::from_password(&SecretString::from("correct horse")).unwrap();
        assert!(login.verifies("correct horse"));
        assert!(!login.verifies("correct horse "));
        assert!(!login.verifies(""));
        assert_eq!(format!("{login:?}"), "AdminLogin(<redacted>)");
        assert!(AdminLogin::from_hash("not a hash").is_err());
        assert!(AdminLogin::from_password(&SecretString::from("  ")).is_err());
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        let host = |h: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            addressed_to_loopback(&headers)
        };
        assert!(host("127.0.0.1:8080"));
        assert!(host("localhost:8080"));
        assert!(host("[::1]:8080"));
        assert!(host("127.0.0.1"));
        assert!(!host("example.com"));
        assert!(!host("10.0.0.5:8080"));
        assert!(!host("localhost.evil.example:8080"));
        assert!(!addressed_to_loopback(&HeaderMap::new()));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::COOKIE, HeaderValue::from_static("a=1; qbo_ordoro_session=abc; b=2"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        let cookie = set_cookie("abc", true);
        let cookie = cookie.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!set_cookie("abc", false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert_eq!(csrf_field(b"a=1&csrf=xyz").as_deref(), Some("xyz"));
        assert_eq!(random_token().len(), 32);
    }
}
