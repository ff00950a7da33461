//! Simulated QuickBooks Online and Ordoro services (feature `sim`).
//!
//! Each simulator is an [`HttpTransport`](crate::HttpTransport) that speaks the real wire format
//! and keeps the real rules (paging, limits, faults, time zones), in virtual time through a
//! [`Clock`](crate::Clock). They serve the tests, the benchmarks and the `sync` example's
//! embedded default. Fault injection is seeded, so a run replays exactly from its seed.
//! [`loopback`] serves one on a real socket when another process or a browser must reach it.

pub mod loopback;
pub mod ordoro;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How often each fault happens, per request, and how slow answers are. All probabilities are in
/// `[0, 1]`; the default injects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultPlan {
    /// Seed of the fault decisions.
    pub seed: u64,
    /// Answer 500/502/503 without doing anything.
    pub server_error: f64,
    /// Answer nothing (a transport timeout) without doing anything.
    pub timeout: f64,
    /// Do the write, then lose the response (a transport timeout after a successful write).
    pub lost_response: f64,
    /// Answer `slow_latency` late.
    pub slow: f64,
    /// Latency of a slow answer.
    pub slow_latency: Duration,
    /// Answer 429 although the limit was not reached.
    pub spurious_throttle: f64,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// A moderate mix of every fault, seeded.
    pub fn chaos(seed: u64) -> Self {
        FaultPlan {
            seed,
            server_error: 0.03,
            timeout: 0.02,
            lost_response: 0.03,
            slow: 0.05,
            slow_latency: Duration::from_secs(5),
            spurious_throttle: 0.01,
        }
    }
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve normally.
    None,
    /// Answer with this 5xx status.
    ServerError(u16),
    /// No answer; nothing done.
    Timeout,
    /// Do the work, then no answer.
    LostResponse,
    /// Answer 429.
    Throttle,
}

/// Draws faults from a [`FaultPlan`] with a seeded generator.
#[derive(Debug)]
pub struct FaultDice {
    plan: FaultPlan,
    rng: Mutex<SmallRng>,
    calm: AtomicBool,
}

impl FaultDice {
    /// Dice for `plan`.
    pub fn new(plan: FaultPlan) -> Self {
        let rng = Mutex::new(SmallRng::seed_from_u64(plan.seed));
        FaultDice { plan, rng, calm: AtomicBool::new(false) }
    }

    /// Turns the faults off (`true`) or back on: a calm service still answers every request
    /// normally, and the dice keep their sequence for when the faults resume. Simulations calm
    /// the services at the end to check that the sync converges.
    pub fn set_calm(&self, calm: bool) {
        self.calm.store(calm, Ordering::SeqCst);
    }

    /// The plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Draws the fault for the next request, and its extra latency.
    pub fn roll(&self) -> (Fault, Duration) {
        if self.calm.load(Ordering::SeqCst) {
            return (Fault::None, Duration::ZERO);
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let p = &self.plan;
        let mut pick = |prob: f64| prob > 0.0 && rng.random::<f64>() < prob;
        let fault = if pick(p.server_error) {
            Fault::ServerError(0)
        } else if pick(p.timeout) {
            Fault::Timeout
        } else if pick(p.lost_response) {
            Fault::LostResponse
        } else if pick(p.spurious_throttle) {
            Fault::Throttle
        } else {
            Fault::None
        };
        let extra = if pick(p.slow) { p.slow_latency } else { Duration::ZERO };
        let fault = match fault {
            Fault::ServerError(_) => {
                Fault::ServerError([500, 502, 503][rng.random_range(0..3usize)])
            }
            other => other,
        };
        (fault, extra)
    }
}

/// Counts requests in a sliding window to enforce a service's limit and to report whether a
/// client ever exceeded it.
#[derive(Debug)]
pub struct RateMeter {
    window: Duration,
    limit: usize,
    state: Mutex<RateState>,
}

#[derive(Debug, Default)]
struct RateState {
    recent: VecDeque<DateTime<Utc>>,
    peak: usize,
    rejected: u64,
    total: u64,
}

impl RateMeter {
    /// A meter allowing `limit` requests in any `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        RateMeter { window, limit, state: Mutex::new(RateState::default()) }
    }

    /// Records a request at `now`; returns false (and does not count it as served) when it is
    /// over the limit, as the real service would answer 429.
    pub fn admit(&self, now: DateTime<Utc>) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        while s.recent.front().is_some_and(|t| *t <= now - window) {
            s.recent.pop_front();
        }
        s.total += 1;
        if s.recent.len() >= self.limit {
            s.rejected += 1;
            return false;
        }
        s.recent.push_back(now);
        s.peak = s.peak.max(s.recent.len());
        true
    }

    /// The most requests served in any window so far.
    pub fn peak(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).peak
    }

    /// How many requests were refused for being over the limit.
    pub fn rejected(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).rejected
    }

    /// How many requests arrived in all.
    pub fn total(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

pub mod qbo;
pub mod sample;
