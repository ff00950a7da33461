//! QuickBooks Online, in two parts that depend one way: [`api`], the [`QboApi`](api::QboApi)
//! port the engine reads through (its queries, pages, the change feed, and the pager that
//! reads a last-updated window without losing a row), and [`http`], the client that implements
//! the port over an [`HttpTransport`](crate::HttpTransport) (the query language, OAuth with a
//! rotating refresh token, QBO's faults). The engine uses only `api`; `http` uses `api`, never
//! the reverse. [`connect`] is the OAuth consent flow that obtains a company's first tokens (the
//! authorization URL, the callback, the code exchange, revoke), over the same token calls.

pub mod api;
pub mod connect;
pub mod http;
