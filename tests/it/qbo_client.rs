//! The QBO client against the simulator, in virtual time: every port call, paging across a DST
//! change with ties and edits between pages, quoted class names, token rotation under
//! concurrency, and a 429 storm within the budget.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use qbo_ordoro::model::qbo::{EntityKind, MetaData, SalesTransaction};
use qbo_ordoro::qbo::api::{TxnDateQuery, UpdatedPager, UpdatedQuery};
use qbo_ordoro::sim::FaultPlan;
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, simple_sale};
use qbo_ordoro::transport::{RateBudget, RetryPolicy, SharedBudget};
use qbo_ordoro::{
    Clock, ErrorKind, HttpRequest, HttpResponse, HttpTransport, Service, SharedTransport,
    TokioClock, TransportError,
};
use qbo_ordoro::{QboApi, QboClient};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;

fn clock_at(at: DateTime<Utc>) -> Arc<dyn Clock> {
    Arc::new(TokioClock::starting_at(at))
}

fn sale_at(sim: &QboSim, kind: EntityKind, doc: &str, at: DateTime<Utc>) -> SalesTransaction {
    let mut txn = simple_sale(kind, doc, Some(("1", "Ordoro")), Decimal::new(1999, 2));
    txn.doc.meta_data =
        Some(MetaData { create_time: None, last_updated_time: Some(at.fixed_offset()) });
    sim.insert(REALM, txn)
}

#[tokio::test(start_paused = true)]
async fn every_port_call_works_against_the_simulator() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let ordoro = sim.add_class(REALM, "Ordoro", true, None);
    let t0 = start() - chrono::Duration::hours(2);
    let inv1 = sale_at(&sim, EntityKind::Invoice, "1001", t0);
    let inv2 = sale_at(&sim, EntityKind::Invoice, "1002", t0 + chrono::Duration::minutes(5));
    let sr = sale_at(&sim, EntityKind::SalesReceipt, "1002", t0 + chrono::Duration::minutes(7));
    let gone = sale_at(&sim, EntityKind::Invoice, "1003", t0 + chrono::Duration::minutes(9));
    let (client, _store) = client(&sim, clock.clone(), token);

    let page = client
        .query_updated(&UpdatedQuery {
            entity: EntityKind::Invoice,
            from: t0,
            to: start(),
            start_position: 1,
            max_results: 10,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = page.transactions.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [inv1.id.as_str(), inv2.id.as_str(), gone.id.as_str()]);
    assert!(page.server_time.is_some());
    assert_eq!(page.transactions[0].last_updated().unwrap().offset().local_minus_utc(), -8 * 3600);

    let by_date = client
        .query_txn_date(&TxnDateQuery {
            entity: EntityKind::SalesReceipt,
            from: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
            start_position: 1,
            max_results: 10,
        })
        .await
        .unwrap();
    assert_eq!(by_date.transactions.len(), 1);
    assert_eq!(by_date.transactions[0].id, sr.id);

    // QBO serves every sale with its subtotal line, which the stored document lacks.
    let inv2 = qbo_ordoro::sim::qbo::served(&inv2).into_owned();
    let got = client.get_transaction(EntityKind::Invoice, &inv2.id).await.unwrap().unwrap();
    assert_eq!(got, inv2);
    assert_eq!(client.get_transaction(EntityKind::Invoice, "999999").await.unwrap(), None);

    let by_doc = client.find_by_doc_number(EntityKind::Invoice, "1002").await.unwrap();
    assert_eq!(by_doc, vec![inv2.clone()]);
    assert!(client.find_by_doc_number(EntityKind::Invoice, "nope").await.unwrap().is_empty());

    let classes = client.find_classes("Ordoro").await.unwrap();
    assert_eq!(classes, vec![ordoro]);

    assert!(sim.delete(REALM, EntityKind::Invoice, &gone.id));
    sim.touch(REALM, EntityKind::Invoice, &inv1.id);
    let feed =
        client.changes_since(&[EntityKind::Invoice, EntityKind::SalesReceipt], t0).await.unwrap();
    let changed: BTreeSet<(EntityKind, String)> =
        feed.changed.iter().map(|t| (t.kind, t.doc.id.clone())).collect();
    assert_eq!(
        changed,
        BTreeSet::from([
            (EntityKind::Invoice, inv1.id.clone()),
            (EntityKind::Invoice, inv2.id.clone()),
            (EntityKind::SalesReceipt, sr.id.clone()),
        ])
    );
    assert_eq!(feed.deleted.len(), 1);
    assert_eq!(feed.deleted[0].id, gone.id);
    assert_eq!(feed.deleted[0].entity, EntityKind::Invoice);
    assert!(feed.deleted[0].deleted_at.is_some());

    let stats = sim.stats();
    assert_eq!(stats.missing_minor_version, 0, "minorversion=75 on every call");
    assert_eq!(stats.token_refreshes, 0, "the stored access token was still good");
}

#[tokio::test(start_paused = true)]
async fn page_arguments_out_of_range_are_refused_before_sending() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let (client, _) = client(&sim, clock, token);
    for (start_position, max_results) in [(0, 10), (1, 0), (1, 1001)] {
        let err = client
            .query_updated(&UpdatedQuery {
                entity: EntityKind::Invoice,
                from: start(),
                to: start(),
                start_position,
                max_results,
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadInput);
    }
    assert_eq!(sim.stats().queries, 0);
}

#[tokio::test(start_paused = true)]
async fn class_names_with_quotes_are_found_and_cannot_change_the_query() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let obrien = sim.add_class(REALM, "O'Brien's", true, None);
    sim.add_class(REALM, "x", true, None);
    sim.add_class(REALM, "y", true, None);
    let slash = sim.add_class(REALM, r"Back\slash", true, None);
    let old = sim.add_class(REALM, "Infusionsoft", false, None);
    let (client, _) = client(&sim, clock, token);

    assert_eq!(client.find_classes("O'Brien's").await.unwrap(), vec![obrien]);
    assert!(client.find_classes("x' OR Name = 'y").await.unwrap().is_empty());
    assert!(client.find_classes(r"x\' OR Name = \'y").await.unwrap().is_empty());
    assert_eq!(client.find_classes(r"Back\slash").await.unwrap(), vec![slash]);
    assert_eq!(client.find_classes("Infusionsoft").await.unwrap(), vec![old], "inactive too");
}

/// The scenario of the paging tests: 70 invoices whose times straddle the start of daylight
/// saving time on 10 March 2024 (10:00 UTC), 25 of them in one second, and edits between pages.
fn seed_dst_window(sim: &QboSim) -> (DateTime<Utc>, DateTime<Utc>) {
    let dst = chrono::DateTime::parse_from_rfc3339("2024-03-10T10:00:00Z").unwrap().to_utc();
    let from = dst - chrono::Duration::minutes(30);
    let mut n = 0;
    for i in 0..30i64 {
        // Two per second, so the pages cut through ties.
        sale_at(
            sim,
            EntityKind::Invoice,
            &format!("A{n}"),
            from + chrono::Duration::seconds(i / 2 * 60),
        );
        n += 1;
    }
    for _ in 0..25 {
        sale_at(sim, EntityKind::Invoice, &format!("B{n}"), dst);
        n += 1;
    }
    for i in 0..15i64 {
        sale_at(
            sim,
            EntityKind::Invoice,
            &format!("C{n}"),
            dst + chrono::Duration::seconds(1 + i * 7),
        );
        n += 1;
    }
    (from, dst + chrono::Duration::minutes(30))
}

/// Edits, between pages, rows that early pages have already returned (rows 1, 12, 31 and 40 by
/// id): each leaves the window and every later row moves up one place.
fn edit_between_pages(sim: &QboSim) {
    for (k, id) in [(2u64, "1"), (3, "12"), (4, "31"), (6, "40")] {
        sim.on_query(k, move |sim| {
            sim.touch(REALM, EntityKind::Invoice, id);
        });
    }
}

async fn read_with_pager(
    client: &QboClient,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<SalesTransaction> {
    let mut pager = UpdatedPager::new(EntityKind::Invoice, from, to, 10);
    let mut rows = Vec::new();
    while let Some(q) = pager.next_query() {
        let page = client.query_updated(&q).await.unwrap();
        rows.extend(pager.accept(&page));
    }
    rows
}

/// Rows that were in the window when paging started and are still there: every one must be read.
fn must_read(sim: &QboSim, to: DateTime<Utc>) -> BTreeSet<String> {
    sim.all(REALM, EntityKind::Invoice)
        .into_iter()
        .filter(|t| t.last_updated().unwrap().to_utc() <= to)
        .map(|t| t.id)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn paging_across_dst_with_ties_and_edits_between_pages_loses_nothing() {
    for overfill in [false, true] {
        let clock = clock_at(start() + chrono::Duration::hours(3));
        let sim = Arc::new(QboSim::with_config(
            clock.clone(),
            QboSimConfig { overfill, ..Default::default() },
        ));
        let token = sim.connect(REALM);
        let (from, to) = seed_dst_window(&sim);
        edit_between_pages(&sim);
        let (client, _) = client(&sim, clock, token);

        let rows = read_with_pager(&client, from, to).await;
        let read: BTreeSet<String> = rows.iter().map(|t| t.id.clone()).collect();
        let expected = must_read(&sim, to);
        assert_eq!(expected.len(), 66, "four rows left the window");
        let missing: Vec<_> = expected.difference(&read).collect();
        assert!(missing.is_empty(), "overfill={overfill}: rows skipped: {missing:?}");
        let keys: BTreeSet<(String, String)> =
            rows.iter().map(|t| (t.id.clone(), t.sync_token.clone())).collect();
        assert_eq!(keys.len(), rows.len(), "no row returned twice");
        // Offsets in both DST offsets came back.
        let offsets: BTreeSet<i32> =
            rows.iter().map(|t| t.last_updated().unwrap().offset().local_minus_utc()).collect();
        assert_eq!(offsets, BTreeSet::from([-8 * 3600, -7 * 3600]));
    }
}

#[tokio::test(start_paused = true)]
async fn plain_offset_paging_of_the_same_scenario_does_skip_rows() {
    // The control: proves the scenario above really moves rows under the pages.
    let clock = clock_at(start() + chrono::Duration::hours(3));
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let (from, to) = seed_dst_window(&sim);
    edit_between_pages(&sim);
    let (client, _) = client(&sim, clock, token);
    let mut read = BTreeSet::new();
    let mut start_position = 1;
    loop {
        let q =
            UpdatedQuery { entity: EntityKind::Invoice, from, to, start_position, max_results: 10 };
        let page = client.query_updated(&q).await.unwrap();
        let n = page.transactions.len() as u32;
        read.extend(page.transactions.into_iter().map(|t| t.id));
        if n < 10 {
            break;
        }
        start_position += n;
    }
    let missing = must_read(&sim, to).difference(&read).count();
    assert!(missing > 0, "offset paging should have skipped rows here");
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_share_one_refresh_and_the_store_keeps_the_newest_token() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let inv = sale_at(&sim, EntityKind::Invoice, "1", start() - chrono::Duration::hours(1));
    let (client, store) = client(&sim, clock.clone(), refresh_only(&token));
    let client = Arc::new(client);

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            let id = inv.id.clone();
            tokio::spawn(async move { c.get_transaction(EntityKind::Invoice, &id).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().unwrap().is_some());
    }
    assert_eq!(sim.stats().token_refreshes, 1, "one refresh for twenty calls");
    let saved = store.current(REALM).unwrap();
    assert!(sim.is_refresh_token_valid(saved.refresh_token.expose_secret()));
    assert!(
        !sim.is_refresh_token_valid(token.refresh_token.expose_secret()),
        "the old one is dead"
    );

    // Every access token dies (an hour passed on QBO's side): the concurrent 401s lead to one
    // more refresh, and every call retries once and succeeds.
    sim.expire_access_tokens(REALM);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            let id = inv.id.clone();
            tokio::spawn(async move { c.get_transaction(EntityKind::Invoice, &id).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().unwrap().is_some());
    }
    let stats = sim.stats();
    assert_eq!(stats.token_refreshes, 2);
    assert_eq!(stats.invalid_grants, 0);
    assert!(stats.unauthorized >= 1 && stats.unauthorized <= 10);
    assert_eq!(store.saved_refresh_tokens.lock().unwrap().len(), 2);
    let saved = store.current(REALM).unwrap();
    assert!(sim.is_refresh_token_valid(saved.refresh_token.expose_secret()));

    // An hour later the client refreshes before using a token that is about to expire.
    tokio::time::sleep(Duration::from_secs(3500)).await;
    client.get_transaction(EntityKind::Invoice, &inv.id).await.unwrap();
    assert_eq!(sim.stats().token_refreshes, 3);
    assert_eq!(sim.stats().unauthorized, stats.unauthorized, "no 401 this time");
}

/// Logs the access token of each API call, next to the store's saves.
#[derive(Debug)]
struct Recorder {
    inner: Arc<QboSim>,
    events: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl HttpTransport for Recorder {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if let Some(bearer) = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            self.events.lock().unwrap().push(format!("used {bearer}"));
        }
        self.inner.send(request).await
    }
}

#[tokio::test(start_paused = true)]
async fn the_rotated_token_is_saved_before_the_new_access_token_is_used() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    sim.add_class(REALM, "Ordoro", true, None);
    let events = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::new(MemTokens { events: Some(events.clone()), ..Default::default() });
    store.save_token(REALM, &refresh_only(&token)).await.unwrap();
    events.lock().unwrap().clear();
    let transport = SharedTransport::new(Recorder { inner: sim.clone(), events: events.clone() });
    let client =
        QboClient::new(config("sim-client-secret"), transport, clock, store.clone()).unwrap();
    client.find_classes("Ordoro").await.unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].starts_with("saved "));
    assert_eq!(events[0].trim_start_matches("saved "), events[1].trim_start_matches("used "));
}

use qbo_ordoro::TokenStore;

use crate::support::fakes::MemTokens;
use crate::support::sim::client::{REALM, client, config, refresh_only, start};

#[tokio::test(start_paused = true)]
async fn a_rejected_refresh_token_asks_for_a_reconnect() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    sim.revoke(REALM);
    let (client, _) = client(&sim, clock, refresh_only(&token));
    let err = client.find_classes("Ordoro").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication);
    assert_eq!(err.code(), Some("invalid_grant"));
    assert_eq!(err.service(), Some(Service::Qbo));
    assert!(err.message().contains("reconnect QuickBooks"), "{err}");
    assert_eq!(sim.stats().invalid_grants, 1);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_client_secret_is_a_clear_configuration_error() {
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let token = sim.connect(REALM);
    let store = MemTokens::with(REALM, refresh_only(&token));
    let client = QboClient::new(
        config("wrong-secret"),
        SharedTransport::from_arc(sim.clone()),
        clock,
        store,
    )
    .unwrap();
    let err = client.find_classes("Ordoro").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.code(), Some("invalid_client"));
    assert!(err.message().contains("client id or secret"));
}

async fn storm(sim: Arc<QboSim>, client: Arc<QboClient>, ids: Vec<String>) {
    let calls: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let c = client.clone();
            tokio::spawn(async move { c.get_transaction(EntityKind::Invoice, &id).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().unwrap().is_some(), "every call returns its data");
    }
    let meter = sim.rate_meter(REALM);
    assert!(meter.peak() <= 500, "peak {} a minute", meter.peak());
    assert!(sim.stats().peak_in_flight <= 10);
}

#[tokio::test(start_paused = true)]
async fn under_a_storm_of_spurious_429s_the_client_stays_within_its_budget_and_recovers() {
    let clock = clock_at(start());
    let faults = FaultPlan { seed: 11, spurious_throttle: 0.2, ..FaultPlan::none() };
    let sim = Arc::new(QboSim::with_config(
        clock.clone(),
        QboSimConfig { faults, latency: Duration::from_millis(300), ..Default::default() },
    ));
    let token = sim.connect(REALM);
    let ids: Vec<String> =
        (0..1200).map(|i| sale_at(&sim, EntityKind::Invoice, &i.to_string(), start()).id).collect();
    let (client, _) = client(&sim, clock, token);
    let client =
        Arc::new(client.with_retry_policy(RetryPolicy { max_attempts: 12, ..RetryPolicy::qbo(5) }));
    storm(sim.clone(), client.clone(), ids).await;
    let meter = sim.rate_meter(REALM);
    assert_eq!(meter.rejected(), 0, "the client never went over the limit");
    assert!(sim.stats().throttled > 100, "it was a storm: {}", sim.stats().throttled);
    assert!(client.budget().stats().pauses > 100);
}

#[tokio::test(start_paused = true)]
async fn a_client_over_its_real_limit_is_throttled_pauses_and_recovers() {
    // Two hosts' clients of one company that do not share a budget: together they go over
    // QBO's limit, meet real 429s, pause 60 s each time and still return every row.
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::with_config(
        clock.clone(),
        QboSimConfig { latency: Duration::from_millis(100), ..Default::default() },
    ));
    let token = sim.connect(REALM);
    let ids: Vec<String> =
        (0..700).map(|i| sale_at(&sim, EntityKind::Invoice, &i.to_string(), start()).id).collect();
    let (a, _) = client(&sim, clock.clone(), token.clone());
    let (b, _) = client(&sim, clock.clone(), token);
    let retry = RetryPolicy { max_attempts: 10, ..RetryPolicy::qbo(9) };
    let a = Arc::new(a.with_retry_policy(retry.clone()));
    let b = Arc::new(b.with_retry_policy(retry));
    let (first, second) = ids.split_at(350);
    tokio::join!(
        storm(sim.clone(), a.clone(), first.to_vec()),
        storm(sim.clone(), b.clone(), second.to_vec())
    );
    assert!(sim.stats().throttled > 0, "the two budgets together went over the limits");

    // Sharing one budget, the same two clients never do.
    let clock = clock_at(start());
    let sim = Arc::new(QboSim::with_config(
        clock.clone(),
        QboSimConfig { latency: Duration::from_millis(100), ..Default::default() },
    ));
    let token = sim.connect(REALM);
    let ids: Vec<String> =
        (0..700).map(|i| sale_at(&sim, EntityKind::Invoice, &i.to_string(), start()).id).collect();
    let shared = SharedBudget::new(RateBudget::QBO, clock.clone());
    let (a, _) = client(&sim, clock.clone(), token.clone());
    let (b, _) = client(&sim, clock.clone(), token);
    let a = Arc::new(a.with_budget(shared.clone()));
    let b = Arc::new(b.with_budget(shared.clone()).with_token_manager(a.token_manager().clone()));
    let (first, second) = ids.split_at(350);
    tokio::join!(
        storm(sim.clone(), a.clone(), first.to_vec()),
        storm(sim.clone(), b.clone(), second.to_vec())
    );
    assert_eq!(sim.rate_meter(REALM).rejected(), 0);
    assert_eq!(sim.stats().throttled, 0);
    assert_eq!(shared.stats().sent, 700);
}
