//! [`OrdoroClient`], the HTTP client behind the [`OrdoroApi`](super::api::OrdoroApi) port: each
//! port call becomes one of Ordoro's `/v3/order` routes (Basic auth with the API key's id and
//! secret, order numbers URL-encoded), sent through the pacing layer; Ordoro's error bodies
//! become typed [`Error`](crate::Error)s.

pub(crate) mod client;
mod config;
mod error;

pub use client::{OrdoroClient, ordoro_retry_policy};
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_ORDORO_BUDGET, ORDORO_REQUESTS_PER_MINUTE, OrdoroConfig,
};
pub use error::REQUEST_ID_HEADER;
