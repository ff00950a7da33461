//! The pacing layer in virtual time: the budget's hard window and in-flight cap under a burst,
//! fair queueing, `Retry-After`, no blind retry of a POST, backoff on 5xx, and the shared pause
//! after a 429.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::transport::pacing::{RateBudget, RetryPolicy};
use qbo_ordoro::transport::{Idempotent, PacedTransport};
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, SharedTransport, TokioClock, TransportError,
    TransportErrorKind,
};

type Responder =
    Box<dyn Fn(usize, DateTime<Utc>) -> Result<HttpResponse, TransportError> + Send + Sync>;

/// A service that records when each request arrived and answers through `respond(call, now)`
/// after `latency`.
struct Fake {
    clock: Arc<dyn Clock>,
    latency: Duration,
    arrivals: Mutex<Vec<(DateTime<Utc>, String)>>,
    answered: Mutex<Vec<(DateTime<Utc>, u16)>>,
    in_flight: AtomicU32,
    peak_in_flight: AtomicU32,
    respond: Responder,
}

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fake")
    }
}

impl Fake {
    fn new(clock: Arc<dyn Clock>, latency: Duration, respond: Responder) -> Arc<Self> {
        Arc::new(Fake {
            clock,
            latency,
            arrivals: Mutex::new(Vec::new()),
            answered: Mutex::new(Vec::new()),
            in_flight: AtomicU32::new(0),
            peak_in_flight: AtomicU32::new(0),
            respond,
        })
    }

    fn arrivals(&self) -> Vec<(DateTime<Utc>, String)> {
        self.arrivals.lock().unwrap().clone()
    }

    fn arrival_times(&self) -> Vec<DateTime<Utc>> {
        self.arrivals().into_iter().map(|(t, _)| t).collect()
    }
}

#[async_trait::async_trait]
impl HttpTransport for Fake {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let now = self.clock.now();
        let call = {
            let mut arrivals = self.arrivals.lock().unwrap();
            arrivals.push((now, request.uri().path().to_string()));
            arrivals.len() - 1
        };
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(n, Ordering::SeqCst);
        self.clock.sleep(self.latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let result = (self.respond)(call, now);
        if let Ok(r) = &result {
            self.answered.lock().unwrap().push((self.clock.now(), r.status().as_u16()));
        }
        result
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 8, 9, 0, 0).unwrap()
}

fn status(code: u16) -> HttpResponse {
    http::Response::builder().status(code).body(Bytes::from_static(b"{}")).unwrap()
}

fn get(path: &str) -> HttpRequest {
    http::Request::get(format!("https://api.example.test{path}")).body(Bytes::new()).unwrap()
}

fn post(path: &str) -> HttpRequest {
    http::Request::post(format!("https://api.example.test{path}"))
        .body(Bytes::from_static(b"{\"order_id\":\"x\"}"))
        .unwrap()
}

fn paced(
    fake: &Arc<Fake>,
    clock: Arc<dyn Clock>,
    budget: RateBudget,
    retry: RetryPolicy,
) -> Arc<PacedTransport> {
    Arc::new(PacedTransport::new(SharedTransport::from_arc(fake.clone()), clock, budget, retry))
}

/// The most arrivals in any half-open 60 s window `(t - 60 s, t]`.
fn peak_per_minute(times: &[DateTime<Utc>]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut peak = 0;
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[lo] <= sorted[hi] - chrono::Duration::seconds(60) {
            lo += 1;
        }
        peak = peak.max(hi - lo + 1);
    }
    peak
}

#[tokio::test(start_paused = true)]
async fn a_burst_never_exceeds_the_window_or_the_in_flight_cap() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let fake =
        Fake::new(clock.clone(), Duration::from_millis(300), Box::new(|_, _| Ok(status(200))));
    let transport = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));

    let tasks: Vec<_> = (0..1300)
        .map(|i| {
            let t = transport.clone();
            tokio::spawn(async move { t.send(get(&format!("/r/{i}"))).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status(), 200);
    }

    let times = fake.arrival_times();
    assert_eq!(times.len(), 1300);
    assert_eq!(peak_per_minute(&times), 500, "the window is full but never over-full");
    assert_eq!(fake.peak_in_flight.load(Ordering::SeqCst), 10);
    let mut sorted = times.clone();
    sorted.sort();
    // Request 1001 cannot go before two whole windows have passed since the first.
    assert!(sorted[1000] >= start() + chrono::Duration::seconds(120), "{}", sorted[1000]);
    assert!(sorted[500] >= start() + chrono::Duration::seconds(60));
    let stats = transport.budget().stats();
    assert_eq!(stats.sent, 1300);
    assert_eq!(stats.peak_per_minute, 500);
    assert_eq!(stats.peak_in_flight, 10);
}

#[tokio::test(start_paused = true)]
async fn waiting_requests_are_served_in_arrival_order() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let fake =
        Fake::new(clock.clone(), Duration::from_millis(50), Box::new(|_, _| Ok(status(200))));
    let transport = paced(&fake, clock.clone(), RateBudget::new(1000, 1), RetryPolicy::none());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let t = transport.clone();
        tasks.push(tokio::spawn(async move { t.send(get(&format!("/{i}"))).await }));
        tokio::task::yield_now().await;
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let order: Vec<String> = fake.arrivals().into_iter().map(|(_, p)| p).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("/{i}")).collect();
    assert_eq!(order, expected);
    assert_eq!(fake.peak_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_honoured() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let fake = Fake::new(
        clock.clone(),
        Duration::ZERO,
        Box::new(|call, _| {
            Ok(if call == 0 {
                http::Response::builder()
                    .status(503)
                    .header("Retry-After", "7")
                    .body(Bytes::new())
                    .unwrap()
            } else {
                status(200)
            })
        }),
    );
    let transport = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(3));
    let response = transport.send(get("/x")).await.unwrap();
    assert_eq!(response.status(), 200);
    let times = fake.arrival_times();
    assert_eq!(times.len(), 2);
    assert_eq!(times[1] - times[0], chrono::Duration::seconds(7));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured_and_pauses_the_budget() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let fake = Fake::new(
        clock.clone(),
        Duration::ZERO,
        Box::new(|call, now| {
            Ok(if call == 0 {
                let at = (now + chrono::Duration::seconds(30)).format("%a, %d %b %Y %H:%M:%S GMT");
                http::Response::builder()
                    .status(429)
                    .header("Retry-After", at.to_string())
                    .body(Bytes::new())
                    .unwrap()
            } else {
                status(200)
            })
        }),
    );
    let transport = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(3));
    assert_eq!(transport.send(get("/x")).await.unwrap().status(), 200);
    // Another request of the same budget, sent meanwhile, also waited.
    let times = fake.arrival_times();
    assert_eq!(times[1] - times[0], chrono::Duration::seconds(30));
    assert_eq!(transport.budget().stats().pauses, 1);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_retried_once_it_may_have_been_sent() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));

    // 5xx on a POST: handed back at once.
    let fake = Fake::new(clock.clone(), Duration::ZERO, Box::new(|_, _| Ok(status(503))));
    let t = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));
    assert_eq!(t.send(post("/order")).await.unwrap().status(), 503);
    assert_eq!(fake.arrival_times().len(), 1);

    // A timeout and a broken connection on a POST: returned as is.
    for kind in [TransportErrorKind::Timeout, TransportErrorKind::Io] {
        let fake = Fake::new(
            clock.clone(),
            Duration::ZERO,
            Box::new(move |_, _| Err(TransportError::new(kind, "no answer"))),
        );
        let t = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));
        let err = t.send(post("/order")).await.unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(fake.arrival_times().len(), 1, "{kind:?} must not be retried");
    }

    // A connect error means nothing was sent: retried.
    let fake = Fake::new(
        clock.clone(),
        Duration::ZERO,
        Box::new(|call, _| {
            if call == 0 {
                Err(TransportError::new(TransportErrorKind::Connect, "refused"))
            } else {
                Ok(status(201))
            }
        }),
    );
    let t = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));
    assert_eq!(t.send(post("/order")).await.unwrap().status(), 201);
    assert_eq!(fake.arrival_times().len(), 2);

    // A throttled POST was not processed: retried.
    let fake = Fake::new(
        clock.clone(),
        Duration::ZERO,
        Box::new(|call, _| Ok(status(if call == 0 { 429 } else { 201 }))),
    );
    let t = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));
    assert_eq!(t.send(post("/order")).await.unwrap().status(), 201);
    assert_eq!(fake.arrival_times().len(), 2);

    // A POST marked idempotent is retried on 5xx and timeouts.
    let fake = Fake::new(
        clock.clone(),
        Duration::ZERO,
        Box::new(|call, _| match call {
            0 => Ok(status(502)),
            1 => Err(TransportError::new(TransportErrorKind::Timeout, "slow")),
            _ => Ok(status(200)),
        }),
    );
    let t = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(1));
    let mut request = post("/token");
    request.extensions_mut().insert(Idempotent);
    assert_eq!(t.send(request).await.unwrap().status(), 200);
    assert_eq!(fake.arrival_times().len(), 3);
}

/// The gaps between the attempts of one GET that meets 503 until the attempts run out.
async fn backoff_gaps(seed: u64) -> Vec<Duration> {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let fake = Fake::new(clock.clone(), Duration::ZERO, Box::new(|_, _| Ok(status(503))));
    let policy = RetryPolicy { max_attempts: 5, seed, ..RetryPolicy::qbo(seed) };
    let t = paced(&fake, clock.clone(), RateBudget::QBO, policy);
    let response = t.send(get("/x")).await.unwrap();
    assert_eq!(response.status(), 503, "the last answer is handed back");
    let times = fake.arrival_times();
    assert_eq!(times.len(), 5);
    times.windows(2).map(|w| (w[1] - w[0]).to_std().unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_growing_jittered_waits() {
    let policy = RetryPolicy::qbo(0);
    let ceilings: Vec<Duration> = (1..=4).map(|n| policy.backoff_ceiling(n)).collect();
    assert_eq!(ceilings, [1, 2, 4, 8].map(Duration::from_secs));
    assert_eq!(policy.backoff_ceiling(30), Duration::from_secs(60), "capped");

    let mut sums = [Duration::ZERO; 4];
    for seed in 0..40 {
        let gaps = backoff_gaps(seed).await;
        for (i, gap) in gaps.iter().enumerate() {
            assert!(
                *gap <= ceilings[i],
                "seed {seed}: wait {gap:?} over ceiling {:?}",
                ceilings[i]
            );
            sums[i] += *gap;
        }
    }
    assert!(sums[0] < sums[1] && sums[1] < sums[2] && sums[2] < sums[3], "{sums:?}");

    // Seeded: the same seed replays the same waits; another seed draws others.
    assert_eq!(backoff_gaps(7).await, backoff_gaps(7).await);
    assert_ne!(backoff_gaps(7).await, backoff_gaps(8).await);
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_pauses_the_whole_budget_and_recovers() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let storm_end = start() + chrono::Duration::seconds(90);
    let fake = Fake::new(
        clock.clone(),
        Duration::from_millis(100),
        Box::new(move |_, arrived| Ok(status(if arrived < storm_end { 429 } else { 200 }))),
    );
    let transport = paced(&fake, clock.clone(), RateBudget::QBO, RetryPolicy::qbo(5));
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let t = transport.clone();
            tokio::spawn(async move { t.send(get(&format!("/{i}"))).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status(), 200);
    }

    // After any 429 was answered, nothing was sent for the next 60 s.
    let answered = fake.answered.lock().unwrap().clone();
    let arrivals = fake.arrival_times();
    for (at, code) in answered.iter().filter(|(_, c)| *c == 429) {
        assert_eq!(*code, 429);
        let quiet_end = *at + chrono::Duration::seconds(60);
        assert!(
            arrivals.iter().all(|a| *a <= *at || *a >= quiet_end),
            "a request was sent during the quiet period after the 429 answered at {at}"
        );
    }
    // Two rounds of 429 (10 in flight each), then the 30 successes.
    assert_eq!(answered.iter().filter(|(_, c)| *c == 429).count(), 20);
    assert_eq!(arrivals.len(), 50);
    assert!(fake.peak_in_flight.load(Ordering::SeqCst) <= 10);
}
