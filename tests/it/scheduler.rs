//! The per-company `Scheduler` (issue 15's foundation), against the simulators in virtual time:
//! a notified sale becomes an order within seconds, notifications arriving during a run are
//! merged into one next run, the poll runs at its interval with webhooks off and the catch-up
//! daily with them on (an idle company within the daily catch-up's requests), commands answer
//! with their reports, a changed setting applies to the next run, a failed run is retried with
//! backoff, runs never overlap, and shutdown finishes the current run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunRange, RunScope, SyncConfig, TxnRef};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind::{self, Invoice, SalesReceipt};
use qbo_ordoro::schedule::{RunKind, Scheduler, SchedulerConfig};
use qbo_ordoro::sim::ordoro::OrdoroSimConfig;
use qbo_ordoro::sim::qbo::{
    QboSimConfig, WebhookConfig, WebhookDelivery, WebhookSink, simple_sale,
};
use qbo_ordoro::store::{CompanySettings, LogQuery};
use qbo_ordoro::transport::{
    HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError, TransportErrorKind,
};
use qbo_ordoro::webhook::{self, ChangeEvent, Operation, VerifierToken};
use qbo_ordoro::{Clock, ErrorKind, Store};
use rust_decimal::Decimal;

use crate::support::sim::CART;
use crate::support::sim::services::{REALM, Services};

const ORDORO_CLASS: (&str, &str) = ("5000000000000000001", "Ordoro");
const WHOLESALE_CLASS: (&str, &str) = ("5000000000000000002", "Wholesale");

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
}

fn base() -> SyncConfig {
    SyncConfig { mapping: MappingConfig::default().with_cart(Some(CART)), ..SyncConfig::default() }
}

fn webhooks_on() -> CompanySettings {
    CompanySettings { webhooks: true, ..CompanySettings::default() }
}

/// Services whose QBO answers each request after `latency` (so that a run takes a while).
async fn slow_services(latency: Duration) -> Services {
    let qbo = QboSimConfig { latency, ..QboSimConfig::default() };
    Services::start_with(start(), qbo, OrdoroSimConfig::default()).await
}

/// The company's settings saved, then its scheduler started over the simulators.
async fn scheduler(s: &Services, settings: CompanySettings, base: SyncConfig) -> Arc<Scheduler> {
    s.store.save_company_settings(REALM, &settings).await.unwrap();
    let builder = s.builder_over(s.qbo_wire(), s.ordoro_wire(), base);
    let config = SchedulerConfig { history: 100, ..SchedulerConfig::default() };
    Arc::new(Scheduler::start(builder, config).await.unwrap())
}

/// A sale of `class`, saved in QBO now; returns its id.
fn sale(s: &Services, kind: EntityKind, doc_number: &str, class: (&str, &str)) -> String {
    let txn = simple_sale(kind, doc_number, Some(class), Decimal::from(25));
    s.seed_at(txn, s.clock.now())
}

fn created(s: &Services, id: &str) -> ChangeEvent {
    ChangeEvent {
        realm_id: REALM.into(),
        entity: "Invoice".into(),
        qbo_id: id.into(),
        operation: Operation::Create,
        event_id: Some(format!("ev-{id}")),
        occurred_at: Some(s.clock.now()),
        deleted_id: None,
    }
}

/// Lets virtual time pass (the scheduler's worker runs meanwhile).
async fn later(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// The host's webhook endpoint: verifies each delivery and hands its events to the scheduler.
#[derive(Debug)]
struct Endpoint {
    scheduler: Arc<Scheduler>,
    token: VerifierToken,
}

impl WebhookSink for Endpoint {
    fn deliver(&self, delivery: WebhookDelivery) {
        let events = webhook::receive(delivery.signature(), delivery.body.as_bytes(), &self.token)
            .expect("the simulator signs genuine deliveries");
        self.scheduler.notify(events);
    }
}

#[tokio::test(start_paused = true)]
async fn a_notified_sale_becomes_an_order_within_seconds() {
    let s = Services::start(start()).await;
    let hooks = WebhookConfig {
        delay: (Duration::from_secs(1), Duration::from_secs(3)),
        ..WebhookConfig::default()
    };
    let token = VerifierToken::from(hooks.verifier_token.as_str());
    s.qbo.enable_webhooks(hooks);
    let scheduler = scheduler(&s, webhooks_on(), base()).await;
    s.qbo.set_webhook_sink(Arc::new(Endpoint { scheduler: scheduler.clone(), token }));
    later(60).await;
    assert!(s.ordoro.orders().is_empty());

    let saved = s.clock.now();
    sale(&s, Invoice, "1001", ORDORO_CLASS);
    while s.ordoro.orders().is_empty() {
        assert!(s.clock.now() - saved < chrono::Duration::seconds(30), "no order after 30 s");
        later(1).await;
        s.qbo.deliver_due();
    }
    let waited = s.clock.now() - saved;
    assert!(waited <= chrono::Duration::seconds(6), "the order came {waited} after the save");
    later(5).await;
    let status = scheduler.status();
    let last = &status.last_runs[0];
    assert_eq!(last.kind, RunKind::Changes);
    assert_eq!(last.scope, Some(RunScope::Changes { events: 1 }));
    assert_eq!(last.summary.created, 1);
    assert_eq!(s.ordoro.orders().len(), 1);
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn notifications_during_a_run_are_merged_into_one_next_run() {
    let s = slow_services(Duration::from_secs(2)).await;
    let scheduler = scheduler(&s, webhooks_on(), base()).await;
    later(60).await;
    let first = sale(&s, Invoice, "1001", ORDORO_CLASS);
    scheduler.notify(vec![created(&s, &first)]);
    later(1).await;
    assert_eq!(scheduler.status().running.map(|(kind, _)| kind), Some(RunKind::Changes));
    for n in 2..=4 {
        let id = sale(&s, Invoice, &format!("100{n}"), ORDORO_CLASS);
        scheduler.notify(vec![created(&s, &id)]);
    }
    let mut other_company = created(&s, "77");
    other_company.realm_id = "123".into();
    scheduler.notify(vec![other_company]);
    let status = scheduler.status();
    assert!(status.running.is_some(), "the first batch is still running");
    assert_eq!(status.queued_events, 3, "another company's event is not queued");

    later(120).await;
    let status = scheduler.status();
    let batches: Vec<_> = status
        .last_runs
        .iter()
        .filter(|r| r.kind == RunKind::Changes)
        .map(|r| r.scope.clone())
        .collect();
    assert_eq!(
        batches,
        [Some(RunScope::Changes { events: 3 }), Some(RunScope::Changes { events: 1 })],
        "newest first: the three queued during the first run made one run"
    );
    assert_eq!(s.ordoro.orders().len(), 4);
    assert_eq!(status.queued_events, 0);
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn with_webhooks_off_the_poll_runs_at_its_interval() {
    let s = Services::start(start()).await;
    let settings =
        CompanySettings { poll_interval: Duration::from_secs(300), ..Default::default() };
    let scheduler = scheduler(&s, settings, base()).await;
    later(3600 - 1).await;
    let status = scheduler.status();
    let starts: Vec<_> = status.last_runs.iter().rev().map(|r| r.started_at).collect();
    let expected: Vec<_> = (0..12).map(|n| start() + chrono::Duration::seconds(300 * n)).collect();
    assert_eq!(starts, expected, "a poll at start, then every 5 minutes");
    assert!(status.last_runs.iter().all(|r| r.kind == RunKind::Poll && r.problem.is_none()));
    let next = status.next.expect("a next run");
    assert_eq!((next.kind, next.at), (RunKind::Poll, start() + chrono::Duration::seconds(3600)));
    // A sale saved meanwhile is picked up by the next poll.
    sale(&s, SalesReceipt, "2001", ORDORO_CLASS);
    later(2).await;
    assert_eq!(s.ordoro.orders().len(), 1);
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn with_webhooks_on_an_idle_company_costs_one_catch_up_a_day() {
    let s = Services::start(start()).await;
    let scheduler = scheduler(&s, webhooks_on(), base()).await;
    later(60).await;
    let before = s.qbo.stats();
    later(24 * 3600).await;
    let after = s.qbo.stats();
    let requests = after.requests - before.requests;
    assert!((1..=3).contains(&requests), "{requests} QBO requests over an idle day");
    assert_eq!(after.cdc - before.cdc, 1, "one change-feed catch-up");
    assert_eq!(after.queries, before.queries, "no poll");
    let status = scheduler.status();
    let kinds: Vec<_> = status.last_runs.iter().map(|r| r.kind.clone()).collect();
    assert_eq!(kinds, [RunKind::CatchUp, RunKind::CatchUp], "one at start, one a day later");
    let next = status.next.expect("a next run");
    assert_eq!((next.kind, next.at), (RunKind::CatchUp, start() + chrono::Duration::hours(48)));
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn sync_now_resync_and_sync_one_answer_with_their_reports() {
    let s = Services::start(start()).await;
    let scheduler = scheduler(&s, webhooks_on(), base()).await;
    later(60).await;
    let id = sale(&s, Invoice, "1001", ORDORO_CLASS);
    later(1).await;

    let report = scheduler.sync_now().await.unwrap();
    assert_eq!(report.scope, RunScope::Incremental);
    assert_eq!(report.summary.created, 1);
    let status = scheduler.status();
    assert_eq!(status.last_runs[0].kind, RunKind::SyncNow);
    assert_eq!(status.last_runs[0].run_id.as_deref(), Some(report.run_id.as_str()));

    let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 8).unwrap(); // simple_sale's TxnDate
    let range = RunRange::TxnDate { from: day, to: day };
    let report = scheduler.resync(range.clone()).await.unwrap();
    assert_eq!(report.scope, RunScope::Range(range.clone()));
    assert_eq!(report.summary.total(), 1, "{:?}", report.entries);
    assert_eq!(report.summary.created, 0, "exactly one order per sale");

    let target = TxnRef::Id { entity: Some(Invoice), id: id.clone() };
    let report = scheduler.sync_one(target.clone()).await.unwrap();
    assert_eq!(report.scope, RunScope::One(target.clone()));
    assert_eq!(s.ordoro.orders().len(), 1);
    let kinds: Vec<_> =
        scheduler.status().last_runs.iter().take(3).map(|r| r.kind.clone()).collect();
    assert_eq!(kinds, [RunKind::SyncOne(target), RunKind::Resync(range), RunKind::SyncNow]);

    // A command's run happens even if nobody awaits its answer.
    drop(scheduler.sync_now());
    later(5).await;
    assert_eq!(scheduler.status().last_runs[0].kind, RunKind::SyncNow);
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_setting_applies_to_the_next_run() {
    let s = Services::start(start()).await;
    let settings =
        CompanySettings { poll_interval: Duration::from_secs(600), ..Default::default() };
    let scheduler = scheduler(&s, settings.clone(), base()).await;
    later(60).await;
    sale(&s, Invoice, "1001", WHOLESALE_CLASS);
    later(600).await;
    assert!(s.ordoro.orders().is_empty(), "Wholesale is not an accepted class yet");
    assert_eq!(scheduler.status().last_runs[0].summary.skipped, 1);

    let refused = CompanySettings { classes: Vec::new(), ..settings.clone() };
    let err = scheduler.save_settings(&refused).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let wholesale = CompanySettings {
        classes: vec!["Wholesale".into()],
        poll_interval: Duration::from_secs(60),
        ..settings
    };
    scheduler.save_settings(&wholesale).await.unwrap();
    later(1).await;
    let status = scheduler.status();
    assert_eq!(status.settings, wholesale);
    let last_start = status.last_runs[0].started_at;
    let next = status.next.expect("a next run");
    assert_eq!(next.at, last_start + chrono::Duration::seconds(60), "the new interval at once");

    sale(&s, Invoice, "1002", WHOLESALE_CLASS);
    later(60).await;
    let orders = s.ordoro.orders();
    assert_eq!(orders.len(), 1, "the next poll accepts Wholesale");
    let log = s.store.query_log(&LogQuery::default()).await.unwrap();
    let created: Vec<_> = log.iter().filter(|e| e.order_number.is_some()).collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].doc_number.as_deref(), Some("1002"));
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn runs_of_one_company_never_overlap() {
    let s = slow_services(Duration::from_secs(1)).await;
    let config = SyncConfig { max_concurrency: 1, ..base() };
    let settings = CompanySettings { poll_interval: Duration::from_secs(20), ..Default::default() };
    let scheduler = scheduler(&s, settings, config).await;
    let mut answers = Vec::new();
    for round in 0..6u32 {
        let id = sale(&s, Invoice, &format!("10{round}"), ORDORO_CLASS);
        scheduler.notify(vec![created(&s, &id)]);
        answers.push(tokio::spawn(scheduler.sync_now()));
        let one = TxnRef::Id { entity: Some(Invoice), id };
        answers.push(tokio::spawn(scheduler.sync_one(one)));
        later(3).await;
    }
    for answer in answers {
        answer.await.unwrap().unwrap();
    }
    later(120).await;
    let status = scheduler.status();
    assert!(status.last_runs.len() >= 12, "{} runs", status.last_runs.len());
    // One request at a time in every run, so two requests at once would mean two runs at once.
    assert_eq!(s.qbo.stats().peak_in_flight, 1);
    let mut runs: Vec<_> = status.last_runs.iter().map(|r| (r.started_at, r.finished_at)).collect();
    runs.sort();
    for pair in runs.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {pair:?}");
    }
    assert_eq!(s.ordoro.orders().len(), 6);
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_current_run_then_returns() {
    let s = slow_services(Duration::from_secs(2)).await;
    let scheduler = scheduler(&s, webhooks_on(), base()).await;
    later(60).await;
    let id = sale(&s, Invoice, "1001", ORDORO_CLASS);
    scheduler.notify(vec![created(&s, &id)]);
    later(1).await;
    assert!(scheduler.status().running.is_some());
    let queued = scheduler.sync_now();

    scheduler.shutdown().await;
    let status = scheduler.status();
    assert_eq!(status.running, None);
    assert_eq!(status.next, None);
    assert_eq!(status.last_runs[0].kind, RunKind::Changes);
    assert_eq!(status.last_runs[0].summary.created, 1, "the run in progress finished");
    assert_eq!(s.ordoro.orders().len(), 1);
    let err = queued.await.unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    assert!(scheduler.sync_now().await.is_err(), "nothing runs after shutdown");
    let requests = s.qbo.stats().requests;
    later(3 * 24 * 3600).await;
    assert_eq!(s.qbo.stats().requests, requests, "no run after shutdown");
    scheduler.shutdown().await;
}

/// QBO's API unreachable while `down` is set (the token endpoint stays up).
#[derive(Debug)]
struct Outage {
    inner: SharedTransport,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl HttpTransport for Outage {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if self.down.load(Ordering::SeqCst) && request.uri().path().starts_with("/v3/company/") {
            return Err(TransportError::new(TransportErrorKind::Connect, "connection refused"));
        }
        self.inner.send(request).await
    }
}

/// The status once the scheduler has made `n` runs (an hour of virtual time at most).
async fn until_runs(scheduler: &Scheduler, n: usize) -> qbo_ordoro::schedule::SchedulerStatus {
    for _ in 0..3600 {
        let status = scheduler.status();
        if status.last_runs.len() >= n {
            return status;
        }
        later(1).await;
    }
    panic!("fewer than {n} runs in an hour: {:?}", scheduler.status());
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_tried_again_after_a_minute_then_twice_as_long() {
    let s = Services::start(start()).await;
    let down = Arc::new(AtomicBool::new(true));
    let qbo = SharedTransport::new(Outage { inner: s.qbo_wire(), down: down.clone() });
    let settings =
        CompanySettings { poll_interval: Duration::from_secs(3600), ..Default::default() };
    s.store.save_company_settings(REALM, &settings).await.unwrap();
    let builder = s.builder_over(qbo, s.ordoro_wire(), base());
    let scheduler = Scheduler::start(builder, SchedulerConfig::default()).await.unwrap();

    let status = until_runs(&scheduler, 1).await;
    let failed = &status.last_runs[0];
    assert_eq!(failed.kind, RunKind::Poll);
    assert!(failed.problem.is_some(), "{failed:?}");
    let next = status.next.expect("a next run");
    assert_eq!(
        (next.kind, next.at),
        (RunKind::Retry, failed.finished_at + chrono::Duration::seconds(60))
    );

    let status = until_runs(&scheduler, 2).await;
    let again = &status.last_runs[0];
    assert!(again.started_at >= failed.finished_at + chrono::Duration::seconds(60));
    assert_eq!(again.kind, RunKind::Retry);
    assert!(again.problem.is_some());
    let next = status.next.expect("a next run");
    assert_eq!(next.at, again.finished_at + chrono::Duration::seconds(120), "twice as long");

    down.store(false, Ordering::SeqCst);
    sale(&s, Invoice, "1001", ORDORO_CLASS);
    let status = until_runs(&scheduler, 3).await;
    let clean = &status.last_runs[0];
    assert_eq!((clean.kind.clone(), clean.problem.clone()), (RunKind::Retry, None));
    assert_eq!(s.ordoro.orders().len(), 1);
    let next = status.next.expect("a next run");
    assert_eq!(next.kind, RunKind::Poll, "back to the poll once a run is clean");
    assert_eq!(next.at, clean.started_at + chrono::Duration::seconds(3600));
    scheduler.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_scheduler_stops_its_worker() {
    let s = Services::start(start()).await;
    let settings = CompanySettings { poll_interval: Duration::from_secs(60), ..Default::default() };
    let scheduler = scheduler(&s, settings, base()).await;
    later(30).await;
    assert_eq!(scheduler.status().last_runs.len(), 1);
    drop(scheduler);
    later(1).await;
    let requests = s.qbo.stats().requests;
    later(3600).await;
    assert_eq!(s.qbo.stats().requests, requests, "no poll once the handle is gone");
}

#[tokio::test(start_paused = true)]
async fn without_a_run_at_start_the_first_safety_net_waits_its_interval_and_commands_do_not() {
    let s = Services::start(start()).await;
    let first = sale(&s, Invoice, "1001", ORDORO_CLASS);
    let config = SchedulerConfig { run_at_start: false, ..SchedulerConfig::default() };
    let builder = s.builder_over(s.qbo_wire(), s.ordoro_wire(), base());
    let scheduler = Scheduler::start(builder, config).await.unwrap();
    let next = scheduler.status().next.expect("a next run");
    assert_eq!(next.kind, RunKind::Poll);
    assert_eq!(next.at, s.clock.now() + chrono::Duration::minutes(5));
    later(60).await;
    assert!(s.ordoro.orders().is_empty(), "nothing ran at start");
    assert!(scheduler.status().last_runs.is_empty());

    let report = scheduler.sync_now().await.unwrap();
    assert_eq!(report.summary.created, 1, "{first} was created by the person's Sync now");
    later(5 * 60).await;
    let kinds: Vec<RunKind> = scheduler.status().last_runs.iter().map(|r| r.kind.clone()).collect();
    assert_eq!(kinds.first(), Some(&RunKind::Poll), "the poll came at its interval: {kinds:?}");
    scheduler.shutdown().await;
}
