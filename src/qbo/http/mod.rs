//! [`QboClient`], the HTTP client behind the [`QboApi`](super::api::QboApi) port: each port call
//! becomes a query-language statement or a change-feed request (`minorversion=75` on every
//! call), sent through the pacing layer with an access token from the [`TokenManager`], which
//! saves each rotated refresh token before using it; QBO's faults (JSON or XML) become typed
//! [`Error`](crate::Error)s.

pub(crate) mod client;
mod fault;
pub(crate) mod oauth;
mod query;

pub use client::{
    MINOR_VERSION, PRODUCTION_API_BASE, QboClient, QboConfig, QboEnvironment, SANDBOX_API_BASE,
    TOKEN_URL,
};
pub use oauth::TokenManager;
