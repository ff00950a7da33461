//! Bad input from the outside, through the real clients and the engine: truncated and non-JSON
//! bodies, HTML error pages, wrong types, huge strings, a 10,000-line invoice, negative and
//! fractional quantities, zero totals, unknown line types, every optional field missing, invalid
//! UTF-8 from the transport and a huge `Content-Length` header. Each must give a typed error (or,
//! through the engine, a logged failure or skip): never a panic, never a lost or second order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::Reason;
use qbo_ordoro::address::AddressErrorCode;
use qbo_ordoro::engine::{InitialSince, RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::ordoro::NewOrder;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::ordoro::api::OrderQuery;
use qbo_ordoro::qbo::api::UpdatedQuery;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::store::{Action, LogEntry, MemoryStore, StoredToken};
use qbo_ordoro::{
    Clock, ErrorKind, HttpRequest, HttpResponse, HttpTransport, ManualClock, OrdoroApi, QboApi,
    SharedTransport, Store, TokenStore, TokioClock, TransportError,
};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};
use qbo_ordoro::{QboClient, QboConfig, QboEnvironment};
use serde_json::{Value, json};

const REALM: &str = "4620816365000000001";
const CART: i64 = 77;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 20, 0, 0).single().expect("a valid instant")
}

/// The answer a scripted transport gives to a request.
type Script = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync>;

/// An [`HttpTransport`] that answers from a script and counts the requests.
struct Scripted {
    script: Script,
    requests: AtomicU64,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted").field("requests", &self.requests).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpTransport for Scripted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        (self.script)(&request)
    }
}

fn scripted(
    script: impl Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
) -> Arc<Scripted> {
    Arc::new(Scripted { script: Box::new(script), requests: AtomicU64::new(0) })
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("a valid response")
}

async fn qbo_client(transport: Arc<Scripted>, clock: Arc<dyn Clock>) -> QboClient {
    let store = Arc::new(MemoryStore::new());
    let token = StoredToken {
        access_token: Some("access".to_owned().into()),
        access_expires_at: Some(clock.now() + chrono::Duration::hours(1)),
        ..StoredToken::new("refresh".to_owned().into())
    };
    store.save_token(REALM, &token).await.expect("memory store");
    let config = QboConfig::new(
        REALM,
        QboEnvironment::Production,
        "client-id",
        "client-secret".to_owned().into(),
    );
    QboClient::new(config, SharedTransport::from_arc(transport), clock, store).expect("a client")
}

fn ordoro_client(transport: Arc<Scripted>, clock: Arc<dyn Clock>) -> OrdoroClient {
    OrdoroClient::new(
        OrdoroConfig::new("key", "secret".to_owned()),
        SharedTransport::from_arc(transport),
        clock,
    )
    .expect("a client")
}

fn manual_clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(now()))
}

fn window() -> UpdatedQuery {
    UpdatedQuery {
        entity: EntityKind::Invoice,
        from: now() - chrono::Duration::days(1),
        to: now(),
        start_position: 1,
        max_results: 1000,
    }
}

const HTML_PAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>upstream secret-host-7</p></body></html>";

/// A QBO page of raw transaction objects, stamped an hour before [`now`].
fn qbo_page(rows: Vec<Value>) -> Value {
    json!({"QueryResponse": {"Invoice": rows, "startPosition": 1, "maxResults": 1000},
           "time": "2026-03-02T12:00:00.000-08:00"})
}

fn stamp() -> Value {
    json!({"CreateTime": "2026-03-02T11:00:00-08:00", "LastUpdatedTime": "2026-03-02T11:00:00-08:00"})
}

/// A well-formed eligible invoice as raw JSON; cases change pieces of it.
fn raw_invoice(id: &str) -> Value {
    json!({
        "Id": id, "SyncToken": "0", "MetaData": stamp(), "DocNumber": format!("D-{id}"),
        "TxnDate": "2026-03-02", "ClassRef": {"value": "1", "name": "Ordoro"},
        "CustomerRef": {"value": "1", "name": "Kate Whelan"},
        "ShipAddr": {"Line1": "Kate Whelan", "Line2": "45 First St.", "Line3": "Menlo Park, CA  94304"},
        "TotalAmt": 25, "Line": [item_line("1", json!(1), json!(25), json!(25))]
    })
}

fn item_line(id: &str, qty: Value, price: Value, amount: Value) -> Value {
    json!({"Id": id, "LineNum": 1, "Amount": amount, "DetailType": "SalesItemLineDetail",
           "SalesItemLineDetail": {"ItemRef": {"value": "5", "name": "Rock Fountain"},
                                   "Qty": qty, "UnitPrice": price}})
}

// ------------------------------------------------------------------------------------------
// QBO client

#[tokio::test]
async fn qbo_bodies_that_are_not_a_page_give_typed_errors() {
    let huge = "x".repeat(5 << 20);
    let cases: Vec<(&str, HttpResponse, ErrorKind)> = vec![
        (
            "truncated JSON",
            answer(
                200,
                "application/json",
                r#"{"QueryResponse": {"Invoice": [{"Id": "1", "Line": ["#,
            ),
            ErrorKind::Service,
        ),
        ("plain text", answer(200, "text/plain", "OK"), ErrorKind::Service),
        ("an empty body", answer(200, "application/json", ""), ErrorKind::Service),
        ("a proxy's HTML page with 200", answer(200, "text/html", HTML_PAGE), ErrorKind::Service),
        ("an HTML 502", answer(502, "text/html", HTML_PAGE), ErrorKind::Service),
        ("an HTML 404", answer(404, "text/html", HTML_PAGE), ErrorKind::NotFound),
        (
            "invalid UTF-8",
            answer(200, "application/json", &b"{\"QueryResponse\": {\"\xff\xfe\": 1}}"[..]),
            ErrorKind::Service,
        ),
        (
            "an array where an object belongs",
            answer(200, "application/json", r#"{"QueryResponse": []}"#),
            ErrorKind::BadInput,
        ),
        (
            "a string where rows belong",
            answer(200, "application/json", r#"{"QueryResponse": {"Invoice": "many"}}"#),
            ErrorKind::BadInput,
        ),
        ("a number as the document", answer(200, "application/json", "42"), ErrorKind::BadInput),
        (
            "a huge string that is not JSON",
            answer(200, "application/json", huge.clone()),
            ErrorKind::Service,
        ),
    ];
    for (what, response, kind) in cases {
        let transport = scripted(move |_| {
            let mut copy = http::Response::new(response.body().clone());
            *copy.status_mut() = response.status();
            *copy.headers_mut() = response.headers().clone();
            Ok(copy)
        });
        let client = qbo_client(transport.clone(), manual_clock()).await;
        let err = client.query_updated(&window()).await.expect_err(what);
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert!(
            !err.to_string().contains("secret-host-7"),
            "{what}: the page's text leaked: {err}"
        );
        assert!(err.to_string().len() < 2000, "{what}: the message quotes the body");
        if what == "an HTML 502" {
            assert!(transport.requests.load(Ordering::SeqCst) > 1, "a 502 on a read is retried");
        }
    }
}

#[tokio::test]
async fn qbo_pages_with_odd_content_still_decode() {
    let big = "é".repeat(1 << 20);
    let mut huge_row = raw_invoice("9");
    huge_row["PrivateNote"] = json!(big);
    let lines: Vec<Value> =
        (0..10_000).map(|i| item_line(&i.to_string(), json!(1), json!(1), json!(1))).collect();
    let mut long_invoice = raw_invoice("10");
    long_invoice["Line"] = json!(lines);
    let mut unknown = raw_invoice("11");
    unknown["Line"] = json!([{"Id": "1", "DetailType": "TeleportLineDetail", "Amount": 3, "TeleportLineDetail": {"x": [1, 2]}}]);
    let page = qbo_page(vec![huge_row, long_invoice, unknown, json!({"Id": "13"})]);
    let body = Bytes::from(serde_json::to_vec(&page).expect("json"));
    let transport = scripted(move |_| {
        let mut response = answer(200, "application/json", body.clone());
        // A length far beyond the body: the client reads the body it has, never the header.
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("99999999999999"));
        Ok(response)
    });
    let client = qbo_client(transport, manual_clock()).await;
    let page = client.query_updated(&window()).await.expect("a page with odd rows still decodes");
    let ids: Vec<&str> = page.transactions.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["9", "10", "11", "13"]);
    assert_eq!(page.transactions[1].line.len(), 10_000);
}

/// A client whose every query answers a page of a good invoice `1` and invoice `12` with
/// `field` set to `value`.
async fn client_with_odd_row(field: &str, value: Value) -> QboClient {
    let mut row = raw_invoice("12");
    row[field] = value;
    let body =
        Bytes::from(serde_json::to_vec(&qbo_page(vec![raw_invoice("1"), row])).expect("json"));
    let transport = scripted(move |_| Ok(answer(200, "application/json", body.clone())));
    qbo_client(transport, manual_clock()).await
}

/// A row whose fields have the wrong JSON types is kept, with those fields named: the rest of
/// the page reads as usual (the engine logs the row as failed; see the engine tests below).
#[tokio::test]
async fn a_row_of_wrong_types_is_kept_with_its_unreadable_fields_named() {
    for (field, value) in
        [("TotalAmt", json!({"amount": 25})), ("ShipAddr", json!(1234)), ("ClassRef", json!("x"))]
    {
        let client = client_with_odd_row(field, value).await;
        let page = client.query_updated(&window()).await.expect(field);
        let [good, odd] = page.transactions.as_slice() else { panic!("two rows: {page:?}") };
        assert_eq!((good.id.as_str(), good.unreadable.as_deref()), ("1", None));
        assert_eq!((odd.id.as_str(), odd.sync_token.as_str()), ("12", "0"));
        let why = odd.unreadable.as_deref().expect("the odd row says what it lacks");
        assert!(why.starts_with(&format!("{field}: ")), "{field}: {why}");
        if field != "ClassRef" {
            assert_eq!(odd.class_ref.as_ref().and_then(|c| c.name.as_deref()), Some("Ordoro"));
        }
        assert!(page.server_time.is_some(), "the server clock is still read");
    }
}

#[tokio::test]
async fn a_change_feed_with_an_odd_document_still_gives_its_deletes() {
    let mut odd = raw_invoice("12");
    odd["TotalAmt"] = json!({"amount": 25});
    let deleted = json!({"Id": "7", "status": "Deleted", "domain": "QBO",
                         "MetaData": {"LastUpdatedTime": "2026-03-02T10:00:00-08:00"}});
    let feed = json!({"CDCResponse": [{"QueryResponse": [{"Invoice": [odd, deleted]}]}],
                      "time": "2026-03-02T12:00:00.000-08:00"});
    let body = Bytes::from(serde_json::to_vec(&feed).expect("json"));
    let transport = scripted(move |_| Ok(answer(200, "application/json", body.clone())));
    let client = qbo_client(transport, manual_clock()).await;
    let since = now() - chrono::Duration::days(1);
    let feed = client.changes_since(&EntityKind::ALL, since).await.expect("a feed");
    let ids: Vec<&str> = feed.deleted.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["7"]);
    let [changed] = feed.changed.as_slice() else { panic!("one change: {feed:?}") };
    assert_eq!(changed.doc.id, "12");
    assert!(changed.doc.unreadable.as_deref().is_some_and(|w| w.starts_with("TotalAmt: ")));
}

/// A row that cannot be placed (no readable id, version or last-updated time) makes its page a
/// typed error: the page is not half-read, and the engine stops before the cursor.
#[tokio::test]
async fn a_row_without_a_readable_identity_makes_the_page_a_typed_error() {
    for (field, value) in [
        // An integer id reads as its text (QBO's own documents carry some); an object does not.
        ("Id", json!({"n": 12})),
        ("SyncToken", json!({"n": 0})),
        ("MetaData", json!({"LastUpdatedTime": "yesterday"})),
    ] {
        let client = client_with_odd_row(field, value).await;
        let err = client.query_updated(&window()).await.expect_err(field);
        assert_eq!(err.kind(), ErrorKind::BadInput, "{field}: {err}");
    }
}

// ------------------------------------------------------------------------------------------
// Ordoro client

#[tokio::test]
async fn ordoro_bodies_that_are_not_an_order_give_typed_errors() {
    let order = NewOrder { order_id: "QBO-INV-1".into(), cart: Some(CART), ..NewOrder::default() };
    let creates: Vec<(&str, HttpResponse, ErrorKind)> = vec![
        (
            "truncated JSON after a create",
            answer(201, "application/json", r#"{"order_number": "1-QBO"#),
            ErrorKind::OutcomeUnknown,
        ),
        ("HTML after a create", answer(200, "text/html", HTML_PAGE), ErrorKind::OutcomeUnknown),
        (
            "invalid UTF-8 after a create",
            answer(201, "application/json", &b"{\"order_number\": \"\xff\"}"[..]),
            ErrorKind::OutcomeUnknown,
        ),
        (
            "wrong types after a create",
            answer(201, "application/json", r#"{"order_number": 17, "lines": "none"}"#),
            ErrorKind::OutcomeUnknown,
        ),
        ("an HTML 502 to a create", answer(502, "text/html", HTML_PAGE), ErrorKind::OutcomeUnknown),
        ("an HTML 400 to a create", answer(400, "text/html", HTML_PAGE), ErrorKind::BadInput),
        ("an HTML 401", answer(401, "text/html", HTML_PAGE), ErrorKind::Authentication),
        ("a non-JSON 422", answer(422, "text/plain", "nope"), ErrorKind::BadInput),
    ];
    for (what, response, kind) in creates {
        let transport = scripted(move |_| {
            let mut copy = http::Response::new(response.body().clone());
            *copy.status_mut() = response.status();
            *copy.headers_mut() = response.headers().clone();
            Ok(copy)
        });
        let client = ordoro_client(transport.clone(), manual_clock());
        let err = client.create_order(&order).await.expect_err(what);
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert!(
            !err.to_string().contains("secret-host-7"),
            "{what}: the page's text leaked: {err}"
        );
        assert_eq!(
            transport.requests.load(Ordering::SeqCst),
            1,
            "{what}: a create is never sent twice"
        );
    }
    let reads: Vec<(&str, HttpResponse)> = vec![
        (
            "an order of wrong types",
            answer(200, "application/json", r#"{"order_number": ["a"], "status": 3}"#),
        ),
        (
            "a truncated order",
            answer(200, "application/json", r#"{"order_number": "1-QBO-INV-1", "lines": [{"#),
        ),
        ("invalid UTF-8", answer(200, "application/json", &b"\xc3\x28"[..])),
        ("an HTML 503", answer(503, "text/html", HTML_PAGE)),
    ];
    for (what, response) in reads {
        let transport = scripted(move |_| {
            let mut copy = http::Response::new(response.body().clone());
            *copy.status_mut() = response.status();
            *copy.headers_mut() = response.headers().clone();
            Ok(copy)
        });
        let client = ordoro_client(transport, manual_clock());
        let err = client.get_order("1-QBO-INV-1").await.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Service, "{what}: {err}");
        let list = client.find_orders(&OrderQuery::default()).await.expect_err(what);
        assert_eq!(list.kind(), ErrorKind::Service, "{what}: {list}");
    }
}

#[tokio::test]
async fn ordoro_orders_with_huge_strings_and_a_lying_length_decode() {
    let name = "N".repeat(2 << 20);
    let body = json!({"order_number": "1-QBO-INV-1", "status": "awaiting_fulfillment",
                      "shipping_address": {"name": name}, "lines": []});
    let bytes = Bytes::from(serde_json::to_vec(&body).expect("json"));
    let transport = scripted(move |_| {
        let mut response = answer(200, "application/json", bytes.clone());
        response.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("18446744073709551615"),
        );
        Ok(response)
    });
    let client = ordoro_client(transport, manual_clock());
    let order = client.get_order("1-QBO-INV-1").await.expect("decodes").expect("found");
    assert_eq!(order.shipping_address.and_then(|a| a.name).map(|n| n.len()), Some(2 << 20));
}

// ------------------------------------------------------------------------------------------
// Through the engine

/// Serves `page` to every invoice query and empty pages otherwise; everything else is 404.
fn qbo_serving(page: Value) -> Arc<Scripted> {
    let body = Bytes::from(serde_json::to_vec(&page).expect("json"));
    let empty =
        Bytes::from_static(br#"{"QueryResponse": {}, "time": "2026-03-02T12:00:00.000-08:00"}"#);
    scripted(move |request| {
        let query = request.uri().query().unwrap_or("");
        let is_invoice_query =
            request.uri().path().ends_with("/query") && query.contains("Invoice");
        Ok(answer(
            200,
            "application/json",
            if is_invoice_query { body.clone() } else { empty.clone() },
        ))
    })
}

struct Harness {
    ordoro: Arc<OrdoroSim>,
    store: Arc<MemoryStore>,
    engine: SyncEngine,
}

async fn harness(
    qbo: Arc<Scripted>,
    ordoro_wrap: Option<Arc<dyn HttpTransport>>,
    ordoro: Arc<OrdoroSim>,
    clock: Arc<TokioClock>,
) -> Harness {
    let clock_dyn: Arc<dyn Clock> = clock.clone();
    ordoro.add_sales_channel(CART);
    let qbo = qbo_client(qbo, clock_dyn.clone()).await;
    // The engine keeps its own store; the QBO client's tokens live in the one made above.
    let store = Arc::new(MemoryStore::new());
    let ordoro_transport = match ordoro_wrap {
        Some(wrap) => SharedTransport::from_arc(wrap),
        None => SharedTransport::from_arc(ordoro.clone()),
    };
    let ordoro_client =
        OrdoroClient::new(ordoro.client_config(), ordoro_transport, clock_dyn.clone())
            .expect("a client");
    let config = SyncConfig {
        mapping: MappingConfig::default().with_cart(Some(CART)),
        initial_since: InitialSince::At(now() - chrono::Duration::days(2)),
        ..SyncConfig::default()
    };
    let engine = SyncEngine::builder()
        .qbo(Arc::new(qbo))
        .ordoro(Arc::new(ordoro_client))
        .store(store.clone())
        .clock(clock_dyn)
        .config(config)
        .build()
        .expect("an engine");
    Harness { ordoro, store, engine }
}

fn sim(clock: &Arc<TokioClock>) -> Arc<OrdoroSim> {
    Arc::new(OrdoroSim::with_config(
        clock.clone(),
        OrdoroSimConfig { latency: SimLatency::zero(), ..OrdoroSimConfig::default() },
    ))
}

fn entry<'a>(report: &'a RunReport, id: &str) -> &'a LogEntry {
    report
        .entries
        .iter()
        .find(|e| e.qbo_id == id)
        .unwrap_or_else(|| panic!("no log entry for {id}: {:?}", report.entries))
}

#[tokio::test(start_paused = true)]
async fn odd_transactions_are_logged_as_created_skipped_or_failed_once() {
    let clock = Arc::new(TokioClock::starting_at(now()));
    let mut negative = raw_invoice("2");
    negative["Line"] = json!([item_line("1", json!(-2), json!(10), json!(-20))]);
    negative["TotalAmt"] = json!(-20);
    let mut fractional = raw_invoice("3");
    fractional["Line"] = json!([item_line("1", json!(2.5), json!(4), json!(10))]);
    fractional["TotalAmt"] = json!(10);
    let mut zero = raw_invoice("4");
    zero["Line"] = json!([item_line("1", json!(1), json!(0), json!(0))]);
    zero["TotalAmt"] = json!(0);
    let mut unknown = raw_invoice("5");
    unknown["Line"] = json!([
        item_line("1", json!(1), json!(25), json!(25)),
        {"Id": "2", "DetailType": "TeleportLineDetail", "Amount": 3, "TeleportLineDetail": {"x": 1}}
    ]);
    let bare = json!({"Id": "6", "SyncToken": "0", "MetaData": stamp(), "ClassRef": {"value": "1", "name": "Ordoro"}});
    let mut long_street = raw_invoice("7");
    long_street["ShipAddr"]["Line2"] = json!("9".repeat(100_000));
    let mut huge_note = raw_invoice("8");
    huge_note["PrivateNote"] = json!("note ".repeat(200_000));
    let mut many_lines = raw_invoice("9");
    many_lines["Line"] = json!(
        (0..10_000)
            .map(|i| item_line(&i.to_string(), json!(1), json!(1), json!(1)))
            .collect::<Vec<_>>()
    );
    many_lines["TotalAmt"] = json!(10_000);
    let mut wrong_total = raw_invoice("10");
    wrong_total["TotalAmt"] = json!({"amount": 25});
    let mut wrong_lines = raw_invoice("11");
    wrong_lines["Line"] = json!("none");
    let mut wrong_class = raw_invoice("12");
    wrong_class["ClassRef"] = json!(42);
    let mut huge_wrong = raw_invoice("13");
    huge_wrong["TotalAmt"] = json!("9".repeat(1_000_000));
    let rows = vec![
        wrong_total,
        wrong_lines,
        wrong_class,
        huge_wrong,
        raw_invoice("1"),
        negative,
        fractional,
        zero,
        unknown,
        bare,
        long_street,
        huge_note,
        many_lines,
    ];
    let ids: Vec<String> =
        rows.iter().map(|r| r["Id"].as_str().unwrap_or_default().to_string()).collect();
    let h = harness(qbo_serving(qbo_page(rows)), None, sim(&clock), clock.clone()).await;

    let first = h.engine.run_incremental(&RunOptions::default()).await.expect("a run");
    assert_eq!(first.aborted, None, "{:?}", first.entries);
    assert_eq!(first.entries.len(), ids.len(), "one entry per transaction: {:?}", first.entries);
    for id in &ids {
        let e = entry(&first, id);
        match e.action {
            Action::Created => assert!(e.order_number.is_some(), "{e:?}"),
            Action::Skipped | Action::Failed => {
                assert!(e.reason.is_some(), "an unexplained {}: {e:?}", e.action)
            }
            Action::Updated => panic!("nothing to update: {e:?}"),
        }
        let orders = h.ordoro.count_by_order_id(&format!("QBO-INV-{id}"));
        assert_eq!(orders, usize::from(e.action == Action::Created), "{id}: {e:?}");
    }
    assert_eq!(entry(&first, "1").action, Action::Created);
    assert_eq!(entry(&first, "2").action, Action::Failed, "a negative quantity is refused");
    assert_eq!(
        entry(&first, "3").action,
        Action::Created,
        "a fractional quantity ships as one unit"
    );
    assert_eq!(
        entry(&first, "4").action,
        Action::Created,
        "a zero total without a void note ships"
    );
    assert_eq!(entry(&first, "5").action, Action::Created, "an unknown line type is not a product");
    assert_eq!(entry(&first, "6").action, Action::Skipped, "nothing to ship");
    assert_eq!(entry(&first, "7").action, Action::Failed, "a 100,000-character street");
    assert_eq!(entry(&first, "7").reason, Some(Reason::Address(AddressErrorCode::LineTooLong)));
    assert_eq!(entry(&first, "9").action, Action::Created, "10,000 lines");
    assert_eq!(h.ordoro.order("1-QBO-INV-9").map(|o| o.lines.len()), Some(10_000));
    for id in ["10", "11", "12", "13"] {
        let e = entry(&first, id);
        assert_eq!(e.action, Action::Failed, "fields of the wrong type: {e:?}");
        // A `Line` that is not a line object is a line that cannot be read, never dropped.
        let reason =
            if id == "11" { Reason::UnreadableLine } else { Reason::UnreadableTransaction };
        assert_eq!(e.reason, Some(reason), "{e:?}");
        assert!(e.detail.as_deref().is_some_and(|d| d.len() < 1000), "a short detail: {e:?}");
    }
    assert!(h.store.cursors().values().all(|&c| c >= now() - chrono::Duration::hours(1)));

    tokio::time::sleep(Duration::from_secs(900)).await;
    let writes = h.ordoro.stats().writes;
    let second = h.engine.run_incremental(&RunOptions::default()).await.expect("a run");
    assert_eq!(second.summary.created, 0, "{:?}", second.entries);
    assert_eq!(h.ordoro.stats().writes, writes, "nothing is written twice");
    assert!(h.store.pending_entries(REALM).await.expect("memory").is_empty());
}

#[tokio::test(start_paused = true)]
async fn unreadable_qbo_pages_stop_the_run_before_the_cursor() {
    let mut no_identity = raw_invoice("10");
    no_identity["Id"] = json!({"n": 10});
    let no_identity = Bytes::from(
        serde_json::to_vec(&qbo_page(vec![raw_invoice("1"), no_identity])).expect("json"),
    );
    for body in [
        Bytes::from_static(br#"{"QueryResponse": {"Invoice": [{"Id": "1", "#),
        Bytes::from_static(b"\xff\xfe\xfd"),
        Bytes::from_static(HTML_PAGE.as_bytes()),
        no_identity,
    ] {
        let clock = Arc::new(TokioClock::starting_at(now()));
        let qbo = scripted(move |_| Ok(answer(200, "application/json", body.clone())));
        let h = harness(qbo, None, sim(&clock), clock.clone()).await;
        let report = h.engine.run_incremental(&RunOptions::default()).await.expect("a run");
        let why = report.aborted.expect("the run stops");
        assert!(why.contains("QBO"), "{why}");
        assert!(h.store.cursors().is_empty(), "the cursor stays where it was");
        assert_eq!(h.ordoro.stats().requests, 0);
    }
}

/// Passes Ordoro requests to the simulator but garbles the answer to the first create: the
/// order exists, the client cannot read that it does.
#[derive(Debug)]
struct GarbleFirstCreate {
    sim: Arc<OrdoroSim>,
    garble: Bytes,
    done: Mutex<bool>,
}

#[async_trait::async_trait]
impl HttpTransport for GarbleFirstCreate {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let is_create =
            request.method() == http::Method::POST && request.uri().path() == "/v3/order";
        let response = self.sim.send(request).await?;
        let mut done = self.done.lock().expect("lock");
        if is_create && !*done {
            *done = true;
            let mut garbled = http::Response::new(self.garble.clone());
            *garbled.status_mut() = response.status();
            return Ok(garbled);
        }
        Ok(response)
    }
}

#[tokio::test(start_paused = true)]
async fn a_garbled_create_answer_is_settled_by_lookup_into_one_order() {
    for garble in [
        Bytes::from_static(br#"{"order_number": "1-QBO-INV-1", "lines": [{"#),
        Bytes::from_static(b"\xff\xfe not utf-8"),
        Bytes::from_static(HTML_PAGE.as_bytes()),
    ] {
        let clock = Arc::new(TokioClock::starting_at(now()));
        let ordoro = sim(&clock);
        let wrap: Arc<dyn HttpTransport> =
            Arc::new(GarbleFirstCreate { sim: ordoro.clone(), garble, done: Mutex::new(false) });
        let h =
            harness(qbo_serving(qbo_page(vec![raw_invoice("1")])), Some(wrap), ordoro, clock).await;
        let report = h.engine.run_incremental(&RunOptions::default()).await.expect("a run");
        let e = entry(&report, "1");
        assert_eq!(e.action, Action::Created, "{e:?}");
        assert!(e.detail.as_deref().unwrap_or("").contains("found by lookup"), "{e:?}");
        assert_eq!(h.ordoro.count_by_order_id("QBO-INV-1"), 1);
        assert!(h.ordoro.duplicate_creates().is_empty(), "the create was not sent again");
    }
}
