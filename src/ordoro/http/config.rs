//! How to reach one Ordoro account: base URL, API key and request budget, checked before any
//! request is built so that a bad setting fails early with a [`Config`](crate::ErrorKind::Config)
//! error instead of leaking credentials over plain HTTP.

use std::fmt;

use secrecy::SecretString;

use crate::transport::RateBudget;
use crate::{Error, Result};

/// Ordoro's public API endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.ordoro.com";

/// Ordoro's documented limit, per account, across all keys and methods.
pub const ORDORO_REQUESTS_PER_MINUTE: u32 = 500;

/// The client's default budget per Ordoro account: 400 requests a minute (a fifth of Ordoro's
/// 500 left free for the merchant's other tools, since the limit is account-wide) and 8 in
/// flight.
pub const DEFAULT_ORDORO_BUDGET: RateBudget =
    RateBudget { per_minute: ORDORO_REQUESTS_PER_MINUTE * 4 / 5, max_in_flight: 8 };

fn validate_budget(budget: &RateBudget) -> Result<()> {
    if budget.per_minute == 0 || budget.max_in_flight == 0 {
        return Err(Error::config(
            "the Ordoro budget must allow at least one request a minute and one in flight",
        ));
    }
    Ok(())
}

/// The settings of an [`OrdoroClient`](super::OrdoroClient).
///
/// `Debug` never shows the key secret.
#[derive(Clone)]
pub struct OrdoroConfig {
    /// Scheme, host and optional path prefix, without `/v3` (default [`DEFAULT_BASE_URL`]).
    pub base_url: String,
    /// The API key's client id (the Basic auth user name).
    pub key_id: String,
    /// The API key's client secret (the Basic auth password).
    pub key_secret: SecretString,
    /// Request budget for the account (default [`DEFAULT_ORDORO_BUDGET`]).
    pub budget: RateBudget,
    /// Allows `http://` for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`): for a
    /// simulator served locally. Any other `http://` URL is refused.
    pub allow_insecure_loopback: bool,
}

impl OrdoroConfig {
    /// Settings for the public Ordoro API with the default budget.
    pub fn new(key_id: impl Into<String>, key_secret: impl Into<SecretString>) -> Self {
        OrdoroConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            key_id: key_id.into(),
            key_secret: key_secret.into(),
            budget: DEFAULT_ORDORO_BUDGET,
            allow_insecure_loopback: false,
        }
    }

    /// Replaces the base URL.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Replaces the budget.
    pub fn with_budget(mut self, budget: RateBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Allows plain `http://` to a loopback host.
    pub fn allowing_insecure_loopback(mut self) -> Self {
        self.allow_insecure_loopback = true;
        self
    }

    /// Checks every setting; returns the base URL without its trailing slashes.
    pub(crate) fn validated_base(&self) -> Result<String> {
        if self.key_id.trim().is_empty() {
            return Err(Error::config("the Ordoro API key id is empty"));
        }
        if secrecy::ExposeSecret::expose_secret(&self.key_secret).is_empty() {
            return Err(Error::config("the Ordoro API key secret is empty"));
        }
        validate_budget(&self.budget)?;
        validate_base_url(&self.base_url, self.allow_insecure_loopback)
    }
}

impl fmt::Debug for OrdoroConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrdoroConfig")
            .field("base_url", &self.base_url)
            .field("key_id", &self.key_id)
            .field("key_secret", &"<redacted>")
            .field("budget", &self.budget)
            .field("allow_insecure_loopback", &self.allow_insecure_loopback)
            .finish()
    }
}

fn validate_base_url(raw: &str, allow_insecure_loopback: bool) -> Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|e| Error::config(format!("the Ordoro base URL {trimmed:?} is not a URL: {e}")))?;
    if uri.query().is_some() {
        return Err(Error::config("the Ordoro base URL must not carry a query string"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(Error::config("the Ordoro base URL must not embed credentials"));
    }
    let host = uri
        .host()
        .ok_or_else(|| Error::config(format!("the Ordoro base URL {trimmed:?} has no host")))?;
    match uri.scheme_str() {
        Some("https") => Ok(trimmed.to_owned()),
        Some("http") if allow_insecure_loopback && is_loopback(host) => Ok(trimmed.to_owned()),
        Some("http") => Err(Error::config(format!(
            "the Ordoro base URL {trimmed:?} uses plain http; use https (plain http is allowed \
             only for a loopback host with allow_insecure_loopback)"
        ))),
        _ => {
            Err(Error::config(format!("the Ordoro base URL {trimmed:?} must start with https://")))
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn config(url: &str) -> OrdoroConfig {
        OrdoroConfig::new("id", "secret".to_owned()).with_base_url(url)
    }

    #[test]
    fn https_is_accepted_and_trailing_slash_dropped() {
        assert_eq!(config("https://api.ordoro.com/").validated_base().unwrap(), DEFAULT_BASE_URL);
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_is_allowed() {
        let err = config("http://127.0.0.1:8080").validated_base().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        for ok in ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"] {
            assert!(config(ok).allowing_insecure_loopback().validated_base().is_ok(), "{ok}");
        }
        let remote = config("http://api.ordoro.com").allowing_insecure_loopback();
        assert_eq!(remote.validated_base().unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn other_schemes_and_embedded_credentials_are_refused() {
        for bad in ["ftp://api.ordoro.com", "api.ordoro.com", "https://u:p@api.ordoro.com", ""] {
            assert_eq!(
                config(bad).validated_base().unwrap_err().kind(),
                ErrorKind::Config,
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_credentials_and_zero_budget_are_refused() {
        let no_secret = OrdoroConfig::new("id", String::new());
        assert_eq!(no_secret.validated_base().unwrap_err().kind(), ErrorKind::Config);
        let zero = config(DEFAULT_BASE_URL).with_budget(RateBudget::new(0, 1));
        assert_eq!(zero.validated_base().unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", OrdoroConfig::new("id", "s3cr3t-value".to_owned()));
        assert!(!shown.contains("s3cr3t-value"));
        assert!(shown.contains("<redacted>"));
    }
}
