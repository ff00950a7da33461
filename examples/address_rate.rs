//! Address blocks parsed per second on one core, counted in CPU time as well as wall time, so that
//! the figure holds on a machine shared with other work (criterion's `benches/address.rs`
//! measures wall time only).
//!
//! `cargo run --release --example address_rate -- [SECONDS] [us|intl|structured]` (default: 3
//! seconds for each mix; `--help` for the usage)
//!
//! The mixes are those of `benches/address.rs`. CPU time is this thread's time on a CPU, read
//! from `/proc/thread-self/schedstat` (Linux); where that is missing only wall time is shown.

#[path = "../benches/support/address_mixes.rs"]
mod address_mixes;

use std::hint::black_box;
use std::time::{Duration, Instant};

use address_mixes::{INTL_MIX, US_MIX, structured};
use clap::{Parser, ValueEnum};
use qbo_ordoro::address::{AddressContext, parse_address, parse_lines};

/// This thread's CPU time so far, if the kernel says.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `round` (which parses `per_round` blocks) for about `seconds`; prints the rates.
fn measure(name: &str, per_round: usize, seconds: f64, mut round: impl FnMut()) {
    for _ in 0..2_000 {
        round(); // warm up: tables built, caches filled
    }
    let wall = Instant::now();
    let cpu = thread_cpu();
    let mut blocks = 0u64;
    while wall.elapsed().as_secs_f64() < seconds {
        for _ in 0..1_000 {
            round();
        }
        blocks += 1_000 * per_round as u64;
    }
    let wall = wall.elapsed().as_secs_f64();
    let per_wall = blocks as f64 / wall;
    match (cpu, thread_cpu()) {
        (Some(a), Some(b)) => {
            let cpu = b.saturating_sub(a).as_secs_f64();
            println!(
                "{name:<18} {:>10.0} blocks per CPU-second ({:>7.1} ns a block); {per_wall:>10.0} \
                 per wall-second ({:.0}% of a core)",
                blocks as f64 / cpu,
                cpu * 1e9 / blocks as f64,
                100.0 * cpu / wall,
            )
        }
        _ => println!("{name:<18} {per_wall:>10.0} blocks per wall-second"),
    }
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "address_rate",
    about = "Address blocks parsed per second on one core, in CPU time as well as wall time."
)]
struct Cli {
    /// Seconds to measure each mix for
    #[arg(default_value_t = 3.0, value_parser = seconds)]
    seconds: f64,
    /// The one mix to measure (default: all three)
    #[arg(value_enum)]
    mix: Option<Mix>,
}

/// The mixes of `benches/address.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mix {
    Us,
    Intl,
    Structured,
}

fn seconds(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err("expected a number of seconds above zero".into()),
    }
}

fn main() {
    // `--help` exits 0 here, a bad command line 2.
    let Cli { seconds, mix } = Cli::parse();
    let wanted = |one: Mix| mix.is_none_or(|m| m == one);
    let ctx = AddressContext::default();
    if wanted(Mix::Us) {
        measure("address/us_mix", US_MIX.len(), seconds, || {
            for block in US_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        });
    }
    if wanted(Mix::Intl) {
        measure("address/intl_mix", INTL_MIX.len(), seconds, || {
            for block in INTL_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        });
    }
    if !wanted(Mix::Structured) {
        return;
    }
    let addrs = structured();
    measure("address/structured", addrs.len(), seconds, || {
        for a in &addrs {
            let _ = black_box(parse_address(black_box(a), &ctx));
        }
    });
}
