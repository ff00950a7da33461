//! Time as a port: the engine, the pacing layer and the simulators read the time and sleep only
//! through [`Clock`], so every test runs in virtual time and the core needs no async runtime.
//!
//! [`ManualClock`] is a virtual clock whose `sleep` advances time at once (for sequential tests).
//! `TokioClock` (feature `tokio`) follows tokio's timer: real time in production, and virtual
//! time with concurrency when a test pauses tokio's clock (`#[tokio::test(start_paused = true)]`).

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Reads the time and waits.
#[async_trait::async_trait]
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// A virtual clock: starts at a given instant and moves only when told to or when slept on.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock that reads `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }

    /// Sets the clock to `to` (never backwards).
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if to > *now {
            *now = to;
        }
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}

/// A clock over tokio's timer, anchored at a wall-clock instant.
///
/// With tokio's clock paused (tests), time is virtual: it jumps ahead whenever every task is
/// waiting on a timer, so concurrent sleeps overlap exactly as they would in real time.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone)]
pub struct TokioClock {
    anchor_wall: DateTime<Utc>,
    anchor: tokio::time::Instant,
}

#[cfg(feature = "tokio")]
impl TokioClock {
    /// A clock that reads the system time now and advances with tokio's timer.
    pub fn system() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `start` now and advances with tokio's timer.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        TokioClock { anchor_wall: start, anchor: tokio::time::Instant::now() }
    }
}

#[cfg(feature = "tokio")]
#[async_trait::async_trait]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.anchor);
        self.anchor_wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
