//! Pacing and retries between a client and its transport: [`PacedTransport`] keeps a service's
//! rate budget (a hard sliding window and a cap on requests in flight, shared with a 429 cooldown)
//! and retries what is safe to retry, with capped exponential backoff and full jitter drawn from a
//! seeded generator, waiting only through the [`Clock`] so that tests run in virtual time.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::TransportErrorKind;
use super::{HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError};
use crate::Clock;

/// The sliding window the budget is counted over.
const WINDOW: Duration = Duration::from_secs(60);

/// The longest `Retry-After` the layer sleeps through itself; a longer one is handed back to the
/// caller (as the response) so that a run can stop cleanly instead of hanging.
pub const MAX_HONOURED_WAIT: Duration = Duration::from_secs(15 * 60);

/// How many requests a service accepts: at most `per_minute` sent in any 60 s window and at most
/// `max_in_flight` at once. A zero is read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests sent in any 60 s window, at most.
    pub per_minute: u32,
    /// Requests awaiting their response at once, at most.
    pub max_in_flight: u32,
}

impl RateBudget {
    /// QuickBooks Online's limit per company: 500 a minute, 10 at once.
    pub const QBO: RateBudget = RateBudget { per_minute: 500, max_in_flight: 10 };

    /// A budget of `per_minute` requests a minute and `max_in_flight` at once.
    pub fn new(per_minute: u32, max_in_flight: u32) -> Self {
        RateBudget { per_minute, max_in_flight }
    }
}

/// When and how often to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry; 0 is read as 1).
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; it doubles with each retry.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// How long to pause after a throttle that names no wait (QBO asks for 60 s); `None` uses the
    /// backoff.
    pub throttle_wait: Option<Duration>,
    /// Seed of the jitter, so that a simulated run replays exactly.
    pub seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            throttle_wait: None,
            seed: 0,
        }
    }
}

impl RetryPolicy {
    /// QuickBooks Online: five attempts, backoff from 1 s up to 60 s, 60 s of quiet after a 429.
    pub fn qbo(seed: u64) -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            throttle_wait: Some(Duration::from_secs(60)),
            seed,
        }
    }

    /// A single attempt: nothing is retried.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The backoff ceiling before retry number `retry` (1-based): `min(cap, base * 2^(retry-1))`.
    /// The wait itself is drawn uniformly from `[0, ceiling]` (full jitter).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// What a response means to the retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// A final answer (success or an error that retrying will not fix): hand it back.
    Done,
    /// The service asked us to slow down; the request was not processed. Pause the whole budget
    /// for `wait` (else `Retry-After`, else the policy's throttle wait, else the backoff), then retry.
    Throttled {
        /// The wait the response itself implies, if any (a `Retry-After` header still wins).
        wait: Option<Duration>,
    },
    /// A server failure (5xx): retried after a backoff when the request is idempotent.
    Retryable,
}

/// Tells the retry loop what a response means; each service plugs its own (QBO's throttle is a
/// 403 with an XML body, for instance).
pub type Classifier = Arc<dyn Fn(&HttpResponse) -> ResponseClass + Send + Sync>;

/// The classification of plain HTTP: 429 is a throttle; 500, 502, 503 and 504 are retryable;
/// everything else is final.
pub fn default_classifier(response: &HttpResponse) -> ResponseClass {
    match response.status().as_u16() {
        429 => ResponseClass::Throttled { wait: None },
        500 | 502 | 503 | 504 => ResponseClass::Retryable,
        _ => ResponseClass::Done,
    }
}

/// Marks a request as safe to repeat although its method is POST or PATCH (insert it into the
/// request's extensions). Without it, a POST that may have reached the service is never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Idempotent;

/// True when `request` may be sent twice without harm: every method but POST and PATCH, or any
/// request carrying the [`Idempotent`] marker.
pub fn is_idempotent(request: &HttpRequest) -> bool {
    request.extensions().get::<Idempotent>().is_some()
        || !matches!(*request.method(), http::Method::POST | http::Method::PATCH)
}

/// The wait a `Retry-After` header asks for, in seconds or as an HTTP date (read against `now`).
pub fn retry_after(response: &HttpResponse, now: DateTime<Utc>) -> Option<Duration> {
    let value = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// What a budget has seen, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetStats {
    /// Requests let through.
    pub sent: u64,
    /// Most requests let through in any 60 s window.
    pub peak_per_minute: u32,
    /// Most requests in flight at once.
    pub peak_in_flight: u32,
    /// Pauses ordered after a throttle.
    pub pauses: u64,
}

/// A rate budget shared by every [`PacedTransport`] that holds a clone (for example every client
/// of one QBO company). Requests wait their turn in order of arrival.
#[derive(Clone)]
pub struct SharedBudget {
    gate: Arc<Gate>,
}

struct Gate {
    budget: RateBudget,
    clock: Arc<dyn Clock>,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    next_ticket: u64,
    queue: VecDeque<u64>,
    wakers: HashMap<u64, Waker>,
    in_flight: u32,
    sent_at: VecDeque<DateTime<Utc>>,
    paused_until: Option<DateTime<Utc>>,
    stats: BudgetStats,
}

impl GateState {
    fn wake_head(&mut self) {
        if let Some(head) = self.queue.front()
            && let Some(waker) = self.wakers.remove(head)
        {
            waker.wake();
        }
    }

    fn forget_before(&mut self, now: DateTime<Utc>) {
        let horizon = now - chrono::Duration::from_std(WINDOW).unwrap_or(chrono::Duration::MAX);
        while self.sent_at.front().is_some_and(|t| *t <= horizon) {
            self.sent_at.pop_front();
        }
    }
}

impl fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBudget")
            .field("budget", &self.gate.budget)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Leave to send one request; dropping it frees its in-flight slot.
#[derive(Debug)]
pub struct Permit {
    gate: Option<Arc<Gate>>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").field("budget", &self.budget).finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            let mut state = gate.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.wake_head();
        }
    }
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the head of the queue must do next.
enum Step {
    Go,
    Sleep(Duration),
}

impl SharedBudget {
    /// A budget measured on `clock`.
    pub fn new(budget: RateBudget, clock: Arc<dyn Clock>) -> Self {
        let budget = RateBudget {
            per_minute: budget.per_minute.max(1),
            max_in_flight: budget.max_in_flight.max(1),
        };
        SharedBudget {
            gate: Arc::new(Gate { budget, clock, state: Mutex::new(GateState::default()) }),
        }
    }

    /// The limits.
    pub fn budget(&self) -> RateBudget {
        self.gate.budget
    }

    /// The clock the budget is measured on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.gate.clock
    }

    /// What the budget has let through so far.
    pub fn stats(&self) -> BudgetStats {
        self.gate.lock().stats
    }

    /// Holds every request of this budget until `wait` from now has passed (a throttle's quiet
    /// period). A longer pause already in force is kept.
    pub fn pause_for(&self, wait: Duration) {
        let until = self.gate.clock.now()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        let mut state = self.gate.lock();
        state.stats.pauses += 1;
        if state.paused_until.is_none_or(|t| t < until) {
            state.paused_until = Some(until);
        }
    }

    /// Waits until one more request may be sent, in order of arrival, and returns the leave to
    /// send it. The caller sends at once and drops the permit when the response is in.
    pub async fn acquire(&self) -> Permit {
        let ticket = {
            let mut state = self.gate.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            ticket
        };
        let mut place = QueuePlace { gate: &self.gate, ticket, served: false };
        loop {
            HeadOfQueue { gate: &self.gate, ticket }.await;
            match self.try_send(&mut place) {
                Some(Step::Go) => return Permit { gate: Some(self.gate.clone()) },
                Some(Step::Sleep(wait)) => self.gate.clock.sleep(wait).await,
                None => {}
            }
        }
    }

    /// At the head of the queue: either takes a slot now, or says how long until the window or a
    /// pause allows one; `None` when the in-flight slots filled up meanwhile.
    fn try_send(&self, place: &mut QueuePlace<'_>) -> Option<Step> {
        let budget = self.gate.budget;
        let now = self.gate.clock.now();
        let mut state = self.gate.lock();
        if state.in_flight >= budget.max_in_flight {
            return None;
        }
        state.forget_before(now);
        let window = chrono::Duration::from_std(WINDOW).unwrap_or(chrono::Duration::MAX);
        let per_minute = budget.per_minute as usize;
        let window_free_at = (state.sent_at.len() >= per_minute)
            .then(|| state.sent_at.get(state.sent_at.len() - per_minute).map(|t| *t + window))
            .flatten();
        let earliest = [window_free_at, state.paused_until].into_iter().flatten().max();
        if let Some(at) = earliest
            && at > now
        {
            return Some(Step::Sleep((at - now).to_std().unwrap_or(Duration::ZERO)));
        }
        state.queue.pop_front();
        place.served = true;
        state.in_flight += 1;
        state.sent_at.push_back(now);
        let in_window = u32::try_from(state.sent_at.len()).unwrap_or(u32::MAX);
        let in_flight = state.in_flight;
        let stats = &mut state.stats;
        stats.sent += 1;
        stats.peak_per_minute = stats.peak_per_minute.max(in_window);
        stats.peak_in_flight = stats.peak_in_flight.max(in_flight);
        state.wake_head();
        Some(Step::Go)
    }
}

/// A place in the queue; leaving it (a dropped future) lets the next request move up.
struct QueuePlace<'a> {
    gate: &'a Gate,
    ticket: u64,
    served: bool,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        if !self.served {
            let mut state = self.gate.lock();
            state.queue.retain(|t| *t != self.ticket);
            state.wakers.remove(&self.ticket);
            state.wake_head();
        }
    }
}

/// Ready when `ticket` is at the head of the queue and a slot is free.
struct HeadOfQueue<'a> {
    gate: &'a Gate,
    ticket: u64,
}

impl Future for HeadOfQueue<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.gate.lock();
        let at_head = state.queue.front() == Some(&self.ticket);
        if at_head && state.in_flight < self.gate.budget.max_in_flight {
            state.wakers.remove(&self.ticket);
            return Poll::Ready(());
        }
        state.wakers.insert(self.ticket, cx.waker().clone());
        Poll::Pending
    }
}

/// An [`HttpTransport`] that keeps a [`SharedBudget`] and retries by a [`RetryPolicy`].
///
/// - Every attempt waits its turn in the budget: never more than `per_minute` requests sent in
///   any 60 s window, never more than `max_in_flight` at once.
/// - A throttle (per the [`Classifier`]) pauses the whole budget for `Retry-After`, else the
///   policy's `throttle_wait`, else the backoff; then the request is retried. A throttled request
///   was not processed, so this holds for a POST too.
/// - A 5xx, a timeout or a broken connection is retried after a backoff with full jitter, but only
///   when the request is idempotent ([`is_idempotent`]): a POST that may have been sent comes back
///   as is, and the client reports its outcome as unknown. A connect error (nothing sent) is
///   always retried.
/// - When the attempts run out, the last response or error is returned.
///
/// The loop is written here rather than with `backon`: the waits come from three places (the
/// backoff, `Retry-After`, and a pause shared by every request of the budget), which backon's
/// stream-of-delays model does not express, and the whole loop is a few lines.
pub struct PacedTransport {
    inner: SharedTransport,
    budget: SharedBudget,
    retry: RetryPolicy,
    rng: Mutex<SmallRng>,
    classify: Classifier,
}

impl fmt::Debug for PacedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacedTransport")
            .field("inner", &self.inner)
            .field("budget", &self.budget)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl PacedTransport {
    /// Paces `inner` with a budget of its own, measured on `clock`.
    pub fn new(
        inner: SharedTransport,
        clock: Arc<dyn Clock>,
        budget: RateBudget,
        retry: RetryPolicy,
    ) -> Self {
        Self::with_budget(inner, SharedBudget::new(budget, clock), retry)
    }

    /// Paces `inner` with a budget shared with other transports (clients of one company).
    pub fn with_budget(inner: SharedTransport, budget: SharedBudget, retry: RetryPolicy) -> Self {
        let rng = Mutex::new(SmallRng::seed_from_u64(retry.seed));
        PacedTransport { inner, budget, retry, rng, classify: Arc::new(default_classifier) }
    }

    /// Replaces the response classification (the default is [`default_classifier`]).
    pub fn with_classifier(mut self, classify: Classifier) -> Self {
        self.classify = classify;
        self
    }

    /// The budget this transport draws on.
    pub fn budget(&self) -> &SharedBudget {
        &self.budget
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        self.budget.clock()
    }

    /// A wait drawn uniformly from `[0, ceiling(retry)]`.
    fn jittered_backoff(&self, retry: u32) -> Duration {
        let ceiling = self.retry.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// A copy of a request for one attempt (bodies are `Bytes`, so this is cheap).
fn rebuild(parts: &http::request::Parts, body: &bytes::Bytes) -> HttpRequest {
    let mut request = http::Request::new(body.clone());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

/// Where a request goes, for logs: host and path only (no query, no headers, no body).
fn target_of(parts: &http::request::Parts) -> String {
    format!("{}{}", parts.uri.host().unwrap_or(""), parts.uri.path())
}

/// Adds credentials to a request once it has waited its turn, just before each attempt is sent,
/// so that a request queued behind a long pause never goes out with a token that expired
/// meanwhile.
#[async_trait::async_trait]
pub trait Signer: Send + Sync {
    /// Signs `request` (for example sets its `Authorization` header).
    async fn sign(&self, request: &mut HttpRequest) -> crate::Result<()>;
}

/// Why [`PacedTransport::send_signed`] got no response.
#[derive(Debug)]
pub enum SendFailure {
    /// No response arrived.
    Transport(TransportError),
    /// The signer failed (for example the token could not be refreshed).
    Sign(crate::Error),
}

impl From<TransportError> for SendFailure {
    fn from(e: TransportError) -> Self {
        SendFailure::Transport(e)
    }
}

#[async_trait::async_trait]
impl HttpTransport for PacedTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        match self.send_paced(request, None).await {
            Ok(response) => Ok(response),
            Err(SendFailure::Transport(e)) => Err(e),
            Err(SendFailure::Sign(e)) => Err(TransportError::new(TransportErrorKind::Other, e)),
        }
    }
}

impl PacedTransport {
    /// Sends like [`HttpTransport::send`], letting `signer` sign each attempt after it has waited
    /// its turn.
    pub async fn send_signed(
        &self,
        request: HttpRequest,
        signer: &dyn Signer,
    ) -> Result<HttpResponse, SendFailure> {
        self.send_paced(request, Some(signer)).await
    }

    async fn send_paced(
        &self,
        request: HttpRequest,
        signer: Option<&dyn Signer>,
    ) -> Result<HttpResponse, SendFailure> {
        let idempotent = is_idempotent(&request);
        let (parts, body) = request.into_parts();
        let attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let permit = self.budget.acquire().await;
            let mut attempt_request = rebuild(&parts, &body);
            if let Some(signer) = signer {
                signer.sign(&mut attempt_request).await.map_err(SendFailure::Sign)?;
            }
            let result = self.inner.send(attempt_request).await;
            drop(permit);
            let wait = match result {
                Ok(response) => match (self.classify)(&response) {
                    ResponseClass::Done => return Ok(response),
                    ResponseClass::Throttled { wait } => {
                        let wait = retry_after(&response, self.clock().now())
                            .or(wait)
                            .or(self.retry.throttle_wait)
                            .unwrap_or_else(|| self.jittered_backoff(attempt));
                        self.budget.pause_for(wait.min(MAX_HONOURED_WAIT));
                        if last || wait > MAX_HONOURED_WAIT {
                            return Ok(response);
                        }
                        tracing::warn!(
                            method = %parts.method, target = %target_of(&parts),
                            status = response.status().as_u16(), attempt,
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "throttled; pausing every request of this budget, then retrying"
                        );
                        // The pause is in the budget: the next acquire waits it out.
                        Duration::ZERO
                    }
                    ResponseClass::Retryable => {
                        if !idempotent || last {
                            return Ok(response);
                        }
                        let wait = retry_after(&response, self.clock().now())
                            .unwrap_or_else(|| self.jittered_backoff(attempt));
                        if wait > MAX_HONOURED_WAIT {
                            return Ok(response);
                        }
                        tracing::warn!(
                            method = %parts.method, target = %target_of(&parts),
                            status = response.status().as_u16(), attempt,
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "server error; retrying after a backoff"
                        );
                        wait
                    }
                },
                Err(error) => {
                    let may_retry = (error.request_not_sent() && !error.is_withheld())
                        || (idempotent
                            && matches!(
                                error.kind(),
                                TransportErrorKind::Timeout | TransportErrorKind::Io
                            ));
                    if !may_retry || last {
                        return Err(SendFailure::Transport(error));
                    }
                    let wait = self.jittered_backoff(attempt);
                    tracing::warn!(
                        method = %parts.method, target = %target_of(&parts),
                        kind = ?error.kind(), attempt,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "no response; retrying after a backoff"
                    );
                    wait
                }
            };
            if !wait.is_zero() {
                self.clock().sleep(wait).await;
            }
        }
    }
}
