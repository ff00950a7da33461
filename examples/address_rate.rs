//! Address blocks parsed per second on one core, counted in CPU time as well as wall time, so that
//! the figure holds on a machine shared with other work (criterion's `benches/address.rs`
//! measures wall time only).
//!
//! `cargo run --release --example address_rate -- [SECONDS] [us|intl|structured]` (default: 3
//! seconds for each mix)
//!
//! The mixes are those of `benches/address.rs`. CPU time is this thread's time on a CPU, read
//! from `/proc/thread-self/schedstat` (Linux); where that is missing only wall time is shown.

use std::hint::black_box;
use std::time::{Duration, Instant};

use qbo_ordoro::address::{CustomerContext, parse_address, parse_lines};
use qbo_ordoro::model::qbo::PhysicalAddress;

const US_MIX: &[&[&str]] = &[
    &["Kate Whelan", "45 First St.", "Menlo Park, CA  94304 USA"],
    &["Grace Pariente", "Cool Cars", "65 Ocean Dr.", "Half Moon Bay, CA  94213"],
    &["John Smith", "123 Main St.", "Watertown, MA  02472"],
    &["Jane Doe", "1600 Amphitheatre Pkwy", "Suite 200", "Mountain View, CA 94043-1351"],
    &["Robert Brown", "742 Evergreen Terrace", "Springfield, Illinois 62704"],
    &["Maria Garcia", "1 Gateway Arch", "St. Louis, MO 63102", "USA"],
    &["Ann Lee", "Empire State Realty", "350 Fifth Avenue", "New York, NY 10118"],
    &["Sam O'Neil", "PO Box 123", "Anchorage AK 99501"],
    &["Luis Rivera", "1050 Ave Ponce de Leon", "San Juan PR 00907"],
    &["SGT John Doe", "Unit 2050 Box 4190", "APO AP 96278-2050"],
    &["ACME Corp", "Attn: Jane Doe", "500 Market St", "San Francisco, CA 94105"],
    &["Zoe Hart", "85 Boylston St", "Boston, Massachusetts 02116-4123"],
];

const INTL_MIX: &[&[&str]] = &[
    &["Emma Tremblay", "290 Bremner Blvd", "Toronto ON M5V 3L9", "Canada"],
    &["Oliver Smith", "10 Downing Street", "London SW1A 2AA", "United Kingdom"],
    &["Hans Müller", "Unter den Linden 77", "10117 Berlin", "Deutschland"],
    &["Camille Martin", "8 Rue du Faubourg Saint-Honoré", "75008 Paris", "France"],
    &["Lotte de Vries", "Damrak 1", "1012 LG Amsterdam", "Netherlands"],
    &["Jack Wilson", "1 Macquarie St", "Sydney NSW 2000", "Australia"],
    &["Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku, Tokyo 100-0001", "Japan"],
    &["Sofía Hernández", "Paseo de la Reforma 222", "06600 Ciudad de México, CDMX", "México"],
    &["Pedro Souza", "Av. Paulista, 1578", "01310-200 São Paulo - SP", "Brasil"],
    &["Lukas Meier", "Bahnhofstrasse 1", "8001 Zürich", "Schweiz"],
    &["Wei Tan", "10 Bayfront Avenue", "Singapore 018956"],
    &["Siobhan Murphy", "1 Grafton Street", "Dublin 2 D02 X285", "Ireland"],
];

fn structured() -> Vec<PhysicalAddress> {
    let a = |line1: &str, city: &str, state: Option<&str>, zip: &str, country: Option<&str>| {
        PhysicalAddress {
            line1: Some(line1.into()),
            city: Some(city.into()),
            country_sub_division_code: state.map(Into::into),
            postal_code: Some(zip.into()),
            country: country.map(Into::into),
            ..Default::default()
        }
    };
    vec![
        a("36 Willow Rd", "Menlo Park", Some("CA"), "94304", None),
        a("45 First St.", "Menlo Park", Some("CA"), "94304", Some("USA")),
        a("350 Mountain View Dr.", "South Orange", Some("New Jersey"), "07079-1234", None),
        a("290 Bremner Blvd", "Toronto", Some("ON"), "M5V3L9", Some("Canada")),
        a("10 Downing Street", "London", None, "SW1A 2AA", Some("United Kingdom")),
        a("Unter den Linden 77", "Berlin", None, "10117", Some("Germany")),
    ]
}

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

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let only = std::env::args().nth(2);
    let wanted = |mix: &str| only.as_deref().is_none_or(|o| o == mix);
    let ctx = CustomerContext::default();
    if wanted("us") {
        measure("address/us_mix", US_MIX.len(), seconds, || {
            for block in US_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        });
    }
    if wanted("intl") {
        measure("address/intl_mix", INTL_MIX.len(), seconds, || {
            for block in INTL_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        });
    }
    if !wanted("structured") {
        return;
    }
    let addrs = structured();
    measure("address/structured", addrs.len(), seconds, || {
        for a in &addrs {
            let _ = black_box(parse_address(black_box(a), &ctx));
        }
    });
}
