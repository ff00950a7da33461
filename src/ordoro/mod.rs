//! Ordoro, in two parts that depend one way: [`api`], the [`OrdoroApi`](api::OrdoroApi) port the
//! engine writes through (with the lookup that settles an ambiguous create), and [`http`], the
//! client that implements it over an [`HttpTransport`](crate::HttpTransport) (Basic auth,
//! Ordoro's routes and error bodies). The engine uses only `api`; `http` uses `api`, never the
//! reverse.

pub mod api;
pub mod http;
