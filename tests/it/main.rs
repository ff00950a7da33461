//! The integration tests, in one binary: one module per area (the files beside this one), sharing
//! the helpers in [`support`]. One binary links the crate and its dev-dependencies once instead of
//! once per test file, and every helper is compiled once, so one nobody uses is dead code.
//!
//! Every test runs alongside the others on the harness's threads: none may set process-wide state
//! (a global tracing subscriber, an environment variable) or rely on running alone.
//!
//! Run one area with a filter on its module path, e.g. `cargo test --all-features --test it
//! simulation::` or `cargo test --all-features --test it engine_sim::`.

mod support;

mod address_props;
mod address_snapshots;
mod address_table;
mod bad_input;
mod browser;
mod class_filter;
mod company;
mod crash_sweep;
mod e2e_budget;
mod engine;
mod engine_changes;
mod engine_concurrency;
mod engine_inspect;
mod engine_partial;
mod engine_sim;
mod fleet;
mod fleet_kill;
mod fleet_sim;
mod fleet_store;
mod fuzz_corpus;
mod lease_gate;
mod mapping_props;
mod mapping_rules;
mod mapping_schema;
mod model_fixtures;
mod ordoro_client;
mod ordoro_schema;
mod ordoro_secrets;
mod ordoro_sim;
mod pacing;
mod parse_address_example;
mod preview;
mod qbo_client;
mod qbo_connect;
mod qbo_faults;
mod qbo_secrets;
mod qbo_sim;
mod qbo_sim_webhooks;
mod real_shapes;
mod reqwest_transport;
mod scheduler;
mod serve_example;
mod shipping;
mod sim_sample;
mod simulation;
mod skus;
mod store;
mod sync_example;
mod sync_progress;
mod web;
mod webhook_example;
mod webhook_props;
