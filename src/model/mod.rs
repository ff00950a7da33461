//! The two services' documents as Rust types: [`qbo`] for QuickBooks Online, [`ordoro`] for
//! Ordoro. Pure data with serde; no I/O. Every other module builds on these.

pub(crate) mod lenient;
pub mod ordoro;
pub mod qbo;
