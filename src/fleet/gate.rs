//! The two transport layers a fleet worker puts under its Ordoro client: [`BudgetTransport`]
//! (each request waits for its slot of the account's shared budget) and, lowest, the
//! [`LeaseGate`]'s (no write leaves unless the lease lasts long enough for it to end).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Coordinator, lock};
use crate::{
    Clock, HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError,
    TransportErrorKind,
};

/// A worker's own reckoning of how long its lease on a company lasts, by its own clock: the
/// instant it asked for the lease (or its renewal) plus the lease's length. The coordinator's
/// clock started later, so this deadline is never later than the lease's end, whatever the two
/// clocks read (only their rates must agree, which [`margin`](Self::margin) also absorbs).
///
/// Its [`transport`](Self::transport) withholds every write (any method but `GET` and `HEAD`)
/// unless the lease has at least `margin` left when the request is sent.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use qbo_ordoro::fleet::LeaseGate;
/// use qbo_ordoro::{Clock, ManualClock};
///
/// let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
/// let gate = LeaseGate::new(clock.clone(), Duration::from_secs(10));
/// assert!(!gate.allows_write(), "no lease yet");
/// gate.held_until(clock.now() + chrono::Duration::seconds(30));
/// assert!(gate.allows_write());
/// clock.advance(Duration::from_secs(21));
/// assert!(!gate.allows_write(), "9 s left is less than the 10 s margin");
/// ```
#[derive(Clone)]
pub struct LeaseGate {
    clock: Arc<dyn Clock>,
    margin: Duration,
    deadline: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl fmt::Debug for LeaseGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseGate")
            .field("margin", &self.margin)
            .field("deadline", &self.deadline())
            .finish()
    }
}

impl LeaseGate {
    /// A gate with no lease yet (it withholds every write), reading `clock`, that lets a write
    /// through only with `margin` of the lease left.
    pub fn new(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        LeaseGate { clock, margin, deadline: Arc::new(Mutex::new(None)) }
    }

    /// The lease lasts until `deadline` by this worker's clock (after a claim or renewal).
    pub fn held_until(&self, deadline: DateTime<Utc>) {
        *lock(&self.deadline) = Some(deadline);
    }

    /// The lease is gone (lost or released): withhold every write from now on.
    pub fn revoke(&self) {
        *lock(&self.deadline) = None;
    }

    /// The deadline, if a lease is held.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        *lock(&self.deadline)
    }

    /// The margin a write needs.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// How long the lease lasts from now (zero when it is over or there is none).
    pub fn time_left(&self) -> Duration {
        self.deadline()
            .and_then(|deadline| (deadline - self.clock.now()).to_std().ok())
            .unwrap_or(Duration::ZERO)
    }

    /// True when a write may be sent now: the lease has at least the margin left.
    pub fn allows_write(&self) -> bool {
        self.deadline().is_some() && self.time_left() >= self.margin
    }

    /// `inner` behind this gate.
    pub fn transport(&self, inner: SharedTransport) -> SharedTransport {
        SharedTransport::new(Gated { gate: self.clone(), inner })
    }
}

#[derive(Debug)]
struct Gated {
    gate: LeaseGate,
    inner: SharedTransport,
}

#[async_trait::async_trait]
impl HttpTransport for Gated {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let read = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
        if !read && !self.gate.allows_write() {
            let left = self.gate.time_left();
            tracing::warn!(
                method = %request.method(), path = request.uri().path(),
                left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                "write withheld: the company's lease has too little time left"
            );
            return Err(TransportError::new(
                TransportErrorKind::Withheld,
                format!(
                    "the worker's lease on the company has {} ms left, less than the {} ms a \
                     write needs",
                    left.as_millis(),
                    self.gate.margin.as_millis()
                ),
            ));
        }
        self.inner.send(request).await
    }
}

/// Sends each request in the next slot of its Ordoro account's budget, shared by every worker
/// through the [`Coordinator`]: it reserves the slot, waits for it on the clock, then sends.
#[derive(Debug)]
pub struct BudgetTransport {
    coordinator: Arc<dyn Coordinator>,
    account: String,
    per_minute: u32,
    clock: Arc<dyn Clock>,
    inner: SharedTransport,
}

impl BudgetTransport {
    /// `inner`, each request of which waits for a slot of `account`'s budget of `per_minute`.
    pub fn new(
        coordinator: Arc<dyn Coordinator>,
        account: impl Into<String>,
        per_minute: u32,
        clock: Arc<dyn Clock>,
        inner: SharedTransport,
    ) -> Self {
        BudgetTransport { coordinator, account: account.into(), per_minute, clock, inner }
    }
}

#[async_trait::async_trait]
impl HttpTransport for BudgetTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let wait = self
            .coordinator
            .reserve_ordoro_request(&self.account, self.per_minute)
            .await
            .map_err(|e| {
                // Nothing was sent: the pacing layer above may try again.
                TransportError::new(
                    TransportErrorKind::Connect,
                    format!("could not reserve a request of Ordoro account {}: {e}", self.account),
                )
            })?;
        if !wait.is_zero() {
            self.clock.sleep(wait).await;
        }
        self.inner.send(request).await
    }
}
