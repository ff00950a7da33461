//! The simulated Ordoro at the wire: raw HTTP requests in, Ordoro's status codes, bodies and
//! headers out. Checks the create schema rules, order numbering, paging, the rate limit, the
//! seeded faults, latency in virtual time and the test hooks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use qbo_ordoro::model::ordoro::NewOrder;
use qbo_ordoro::ordoro::api::OrdoroApiExt;
use qbo_ordoro::sim::ordoro::{DuplicatePolicy, OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::{Fault, FaultPlan};
use qbo_ordoro::{
    Clock, ErrorKind, HttpResponse, HttpTransport, OrdoroApi, OrdoroClient, SharedTransport,
    TokioClock, TransportErrorKind,
};
use serde_json::{Value, json};

fn clock() -> Arc<TokioClock> {
    Arc::new(TokioClock::starting_at("2026-03-02T15:00:00Z".parse().unwrap()))
}

fn sim_with(config: OrdoroSimConfig) -> (Arc<TokioClock>, OrdoroSim) {
    let clock = clock();
    let sim = OrdoroSim::with_config(clock.clone(), config);
    (clock, sim)
}

fn sim() -> OrdoroSim {
    sim_with(OrdoroSimConfig::default()).1
}

fn request(method: &str, path: &str, body: Option<Value>) -> http::Request<Bytes> {
    let builder = http::Request::builder().method(method).uri(format!("https://ordoro.sim{path}"));
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap(),
        None => builder.body(Bytes::new()).unwrap(),
    }
}

async fn call(sim: &OrdoroSim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = sim.send(request(method, path, body)).await.unwrap();
    assert!(response.headers().contains_key("x-ordoro-request-id"), "every answer has an id");
    (response.status().as_u16(), json_of(&response))
}

fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn minimal(order_id: &str) -> Value {
    json!({
        "order_id": order_id,
        "billing_address": {"name": "Jane Buyer"},
        "shipping_address": {"name": "Charlie Shipper"},
        "lines": [{"product": {"sku": "Product 1", "name": "This is the description"}}]
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

#[tokio::test(start_paused = true)]
async fn the_official_example_creates_an_order_numbered_by_the_cart_index() {
    let sim = sim();
    sim.add_sales_channel(55);
    assert_eq!(sim.add_sales_channel(100), 2);
    assert_eq!(sim.add_sales_channel(100), 2, "adding a known channel keeps its index");
    let path = concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/.."),
        "/tests/fixtures/ordoro/examples/ordoro-post-v3-order.json"
    );
    let example: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body = example["example"]["example"]["value"].clone();
    let (status, order) = call(&sim, "POST", "/v3/order", Some(body)).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["order_number"], "2-i-want-my-order-1234");
    assert_eq!(order["status"], "awaiting_fulfillment");
    assert_eq!(order["sales_channel"]["id"], 100);
    assert_eq!(order["shipping_address"]["state"], "TX");
    assert_eq!(order["shipping_address"]["country"], "US");
    assert_eq!(order["financial"]["grand_total"], 123.45);
    assert_eq!(order["lines"][0]["sku"], "sku1");
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert!(order["lines"][0]["id"].is_i64());
    assert_eq!(order["link"], "/order/2-i-want-my-order-1234");
}

#[tokio::test(start_paused = true)]
async fn the_minimal_body_makes_a_manual_order() {
    let sim = sim();
    let (status, order) = call(&sim, "POST", "/v3/order", Some(minimal("1234"))).await;
    assert_eq!((status, order["order_number"].as_str()), (201, Some("M-1234")));
    assert_eq!(order["lines"][0]["quantity"], 1, "quantity defaults to 1");
}

#[tokio::test(start_paused = true)]
async fn schema_violations_are_400_with_the_param() {
    let sim = sim();
    let cases = [
        (
            with(minimal("a"), "requested_shipping_method", json!("UPS")),
            "requested_shipping_method",
        ),
        (with(minimal("a"), "grand_total", json!("12.50")), "grand_total"),
        (with(minimal("a"), "cart", json!(999)), "cart"),
        (with(minimal("a"), "status", json!("new")), "status"),
        (with(minimal("a"), "order_id", json!(17)), "order_id"),
        (
            with(
                minimal("a"),
                "lines",
                json!([{"quantity": 2.5, "product": {"sku": "x", "name": "y"}}]),
            ),
            "lines.0.quantity",
        ),
        (with(minimal("a"), "lines", json!([{"product": {"sku": "x"}}])), "lines.0.product.name"),
        (with(minimal("a"), "lines", json!([{"quantity": 1, "product": 7}])), "lines.0.product"),
    ];
    for (body, param) in cases {
        let (status, error) = call(&sim, "POST", "/v3/order", Some(body)).await;
        assert_eq!(status, 400, "{param}");
        assert_eq!(error["param"], param, "{error}");
        assert!(error["error_message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // What the document allows is accepted: a line without `product` (it requires nothing of a
    // line) and an integer past 64 bits.
    let loose = json!([{"quantity": 1.8446744073709552e19, "product_name": "Loose"}]);
    let (status, order) =
        call(&sim, "POST", "/v3/order", Some(with(minimal("b"), "lines", loose))).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["lines"][0]["quantity"], json!(1.8446744073709552e19));
    let mut no_lines = minimal("a");
    no_lines.as_object_mut().unwrap().remove("lines");
    let (status, error) = call(&sim, "POST", "/v3/order", Some(no_lines)).await;
    assert_eq!((status, error["param"].as_str()), (400, Some("lines")));
    assert_eq!(sim.orders().len(), 1, "only the loose order");
}

#[tokio::test(start_paused = true)]
async fn a_body_that_is_not_json_or_not_labelled_json_is_refused() {
    let sim = sim();
    let raw = http::Request::post("https://ordoro.sim/v3/order")
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{not json"))
        .unwrap();
    assert_eq!(sim.send(raw).await.unwrap().status(), 400);
    let unlabelled = http::Request::post("https://ordoro.sim/v3/order")
        .body(Bytes::from(minimal("a").to_string()))
        .unwrap();
    assert_eq!(sim.send(unlabelled).await.unwrap().status(), 400);
    assert!(sim.orders().is_empty());
}

#[tokio::test(start_paused = true)]
async fn duplicates_are_refused_or_revised_by_policy() {
    let sim = sim();
    call(&sim, "POST", "/v3/order", Some(minimal("7"))).await;
    let (status, error) = call(&sim, "POST", "/v3/order", Some(minimal("7"))).await;
    assert_eq!(status, 400);
    assert_eq!(error, json!({"error_message": "Order M-7 already exists", "param": "order_id"}));
    assert_eq!(sim.count_by_order_id("7"), 1);

    let (_, revising) = sim_with(OrdoroSimConfig {
        duplicate_policy: DuplicatePolicy::AcceptAsRevision,
        ..OrdoroSimConfig::default()
    });
    call(&revising, "POST", "/v3/order", Some(minimal("7"))).await;
    let changed = with(minimal("7"), "internal_notes", json!("second"));
    let (status, order) = call(&revising, "POST", "/v3/order", Some(changed)).await;
    assert_eq!((status, order["internal_notes"].as_str()), (200, Some("second")));
    assert_eq!(revising.count_by_order_id("7"), 1);
    assert_eq!(revising.writes_for("M-7"), 2);

    assert!(revising.mark_shipped("M-7"));
    let late = with(minimal("7"), "internal_notes", json!("third"));
    let (_, order) = call(&revising, "POST", "/v3/order", Some(late)).await;
    assert_eq!(order["internal_notes"], "second", "a shipped order is not revised");
}

#[tokio::test(start_paused = true)]
async fn unknown_orders_routes_and_trailing_slashes_are_404() {
    let sim = sim();
    let (status, error) = call(&sim, "GET", "/v3/order/M-404", None).await;
    assert_eq!((status, error["error_message"].as_str()), (404, Some("Order M-404 not found")));
    assert_eq!(call(&sim, "GET", "/v3/order/", None).await.0, 404);
    assert_eq!(call(&sim, "GET", "/order/", None).await.0, 404);
    assert_eq!(call(&sim, "DELETE", "/v3/order", None).await.0, 405);
}

#[tokio::test(start_paused = true)]
async fn the_list_pages_with_limit_offset_and_count() {
    let sim = sim();
    for i in 0..12 {
        call(&sim, "POST", "/v3/order", Some(minimal(&format!("L{i:02}")))).await;
    }
    let (_, page) = call(&sim, "GET", "/v3/order", None).await;
    assert_eq!((page["count"].as_u64(), page["limit"].as_u64()), (Some(12), Some(10)));
    assert_eq!(page["order"].as_array().unwrap().len(), 10);
    let (_, page) = call(&sim, "GET", "/v3/order?limit=5&offset=10", None).await;
    assert_eq!(page["order"].as_array().unwrap().len(), 2);
    assert_eq!(page["order"][0]["order_number"], "M-L10");
    let (status, error) = call(&sim, "GET", "/v3/order?limit=101", None).await;
    assert_eq!((status, error["param"].as_str()), (400, Some("limit")));
    let (_, page) = call(&sim, "GET", "/v3/order?search=l1", None).await;
    assert_eq!(page["count"], 2, "M-L10 and M-L11");
}

#[tokio::test(start_paused = true)]
async fn sub_resources_change_the_order_and_count_writes() {
    let sim = sim();
    let (_, order) = call(&sim, "POST", "/v3/order", Some(minimal("S1"))).await;
    let line_id = order["lines"][0]["id"].as_i64().unwrap();
    let put = |path: &str| format!("/v3/order/M-S1{path}");
    let (status, address) = call(
        &sim,
        "PUT",
        &put("/shipping_address"),
        Some(json!({"name": "Tommy Tutone", "zip": "00000"})),
    )
    .await;
    assert_eq!((status, address["name"].as_str()), (200, Some("Tommy Tutone")));
    let (status, _) = call(&sim, "PUT", &put("/billing_address"), Some(json!({"nick": "x"}))).await;
    assert_eq!(status, 400);
    call(&sim, "PUT", &put("/financial"), Some(json!({"grand_total": 9.5, "tax_amount": null})))
        .await;
    let (status, _) =
        call(&sim, "POST", &put("/line"), Some(json!({"sku": "N-1", "quantity": 2}))).await;
    assert_eq!(status, 201);
    call(&sim, "PUT", &put(&format!("/line/{line_id}")), Some(json!({"quantity": 5}))).await;
    let (status, _) = call(&sim, "PUT", &put("/line/1"), Some(json!({"quantity": 5}))).await;
    assert_eq!(status, 404);
    let (_, order) = call(&sim, "GET", "/v3/order/M-S1", None).await;
    assert_eq!(order["shipping_address"]["zip"], "00000");
    assert_eq!(order["shipping_address"]["name"], "Tommy Tutone");
    assert_eq!(order["financial"]["grand_total"], 9.5);
    assert_eq!(order["financial"]["tax_amount"], Value::Null);
    assert_eq!(order["lines"][0]["quantity"], 5);
    assert_eq!(order["lines"][1]["sku"], "N-1");
    call(&sim, "DELETE", &put(&format!("/line/{line_id}")), None).await;
    let (status, order) = call(&sim, "POST", &put("/cancel"), None).await;
    assert_eq!((status, order["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(order["lines"].as_array().unwrap().len(), 1);
    assert_eq!(sim.writes_for("M-S1"), 7);
    let stats = sim.stats();
    assert_eq!(stats.writes, 7);
    assert_eq!(stats.requests_by_route.get("PUT /v3/order/{n}/line/{id}"), Some(&2));
}

#[tokio::test(start_paused = true)]
async fn over_500_a_minute_is_429_until_the_window_moves() {
    let (clock, sim) =
        sim_with(OrdoroSimConfig { latency: SimLatency::zero(), ..OrdoroSimConfig::default() });
    for _ in 0..500 {
        assert_eq!(call(&sim, "GET", "/v3/order", None).await.0, 200);
    }
    let response = sim.send(request("GET", "/v3/order", None)).await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none(), "none unless configured");
    assert!(response.headers().contains_key("x-ordoro-request-id"));
    clock.sleep(Duration::from_secs(60)).await;
    assert_eq!(call(&sim, "GET", "/v3/order", None).await.0, 200);
    let stats = sim.stats();
    assert_eq!((stats.throttled, stats.peak_per_minute), (1, 500));

    let (_, with_header) = sim_with(OrdoroSimConfig {
        requests_per_minute: 1,
        retry_after: Some(Duration::from_secs(30)),
        ..OrdoroSimConfig::default()
    });
    with_header.send(request("GET", "/v3/order", None)).await.unwrap();
    let response = with_header.send(request("GET", "/v3/order", None)).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "30");
}

#[tokio::test(start_paused = true)]
async fn latency_is_slept_on_the_clock() {
    let (clock, sim) = sim_with(OrdoroSimConfig::default());
    let start = clock.now();
    call(&sim, "POST", "/v3/order", Some(minimal("T"))).await;
    assert_eq!((clock.now() - start).num_milliseconds(), 400);
    call(&sim, "GET", "/v3/order/M-T", None).await;
    assert_eq!((clock.now() - start).num_milliseconds(), 550);
}

#[tokio::test(start_paused = true)]
async fn injected_faults_behave_as_named() {
    let sim = sim();
    sim.script_faults([
        Fault::LostResponse,
        Fault::Timeout,
        Fault::ServerError(502),
        Fault::ServerError(503),
        Fault::Throttle,
    ]);
    let lost = sim.send(request("POST", "/v3/order", Some(minimal("F1")))).await.unwrap_err();
    assert_eq!(lost.kind(), TransportErrorKind::Timeout);
    assert_eq!(sim.count_by_order_id("F1"), 1, "a lost answer still did the work");
    let timed_out = sim.send(request("POST", "/v3/order", Some(minimal("F2")))).await.unwrap_err();
    assert_eq!(timed_out.kind(), TransportErrorKind::Timeout);
    let bad_gateway = sim.send(request("POST", "/v3/order", Some(minimal("F3")))).await.unwrap();
    assert_eq!(bad_gateway.status(), 502);
    assert_eq!(bad_gateway.headers()["content-type"], "text/html");
    assert!(bad_gateway.headers().contains_key("x-ordoro-request-id"));
    let unavailable = sim.send(request("POST", "/v3/order", Some(minimal("F4")))).await.unwrap();
    assert_eq!(unavailable.status(), 503);
    assert!(json_of(&unavailable)["error_message"].is_string());
    let throttled = sim.send(request("POST", "/v3/order", Some(minimal("F5")))).await.unwrap();
    assert_eq!(throttled.status(), 429);
    for id in ["F2", "F3", "F4", "F5"] {
        assert_eq!(sim.count_by_order_id(id), 0, "{id} was not processed");
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.lost_responses, stats.timeouts, stats.server_errors, stats.throttled, stats.writes),
        (1, 1, 2, 1, 1)
    );
}

async fn outcomes_for(seed: u64) -> Vec<String> {
    let (_, sim) =
        sim_with(OrdoroSimConfig { faults: FaultPlan::chaos(seed), ..OrdoroSimConfig::default() });
    let mut outcomes = Vec::new();
    for i in 0..200 {
        let outcome =
            match sim.send(request("POST", "/v3/order", Some(minimal(&format!("C{i}"))))).await {
                Ok(response) => response.status().as_u16().to_string(),
                Err(e) => format!("{:?}", e.kind()),
            };
        outcomes.push(outcome);
    }
    outcomes
}

#[tokio::test(start_paused = true)]
async fn seeded_chaos_replays_exactly_and_injects_every_fault() {
    let first = outcomes_for(11).await;
    assert_eq!(first, outcomes_for(11).await);
    assert_ne!(first, outcomes_for(12).await);
    for expected in ["201", "429", "Timeout"] {
        assert!(first.iter().any(|o| o == expected), "{expected} in {first:?}");
    }
    assert!(first.iter().any(|o| o.starts_with('5')));
}

#[tokio::test(start_paused = true)]
async fn test_hooks_mark_and_inspect_orders() {
    let sim = sim();
    sim.add_sales_channel(9);
    call(&sim, "POST", "/v3/order", Some(with(minimal("H"), "cart", json!(9)))).await;
    call(&sim, "POST", "/v3/order", Some(minimal("H"))).await;
    assert_eq!(sim.count_by_order_id("H"), 2, "one per channel");
    assert!(sim.mark_cancelled("1-H"));
    assert!(!sim.mark_shipped("1-nope"));
    let (_, cancelled) = call(&sim, "GET", "/v3/order?status=cancelled", None).await;
    assert_eq!(cancelled["count"], 1);
    assert_eq!(
        sim.orders().iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>(),
        ["1-H", "M-H"]
    );
    let (_, by_channel) = call(&sim, "GET", "/v3/order?sales_channel=9", None).await;
    assert_eq!(by_channel["order"][0]["order_number"], "1-H");
}

#[tokio::test(start_paused = true)]
async fn seed_order_skips_http_but_keeps_the_rules() {
    let sim = sim();
    let body: qbo_ordoro::model::ordoro::NewOrder = serde_json::from_value(json!({
        "order_id": "SEED", "billing_address": {}, "shipping_address": {},
        "lines": [{"quantity": 1, "product": {"sku": "a", "name": "b"}}]
    }))
    .unwrap();
    assert_eq!(sim.seed_order(&body).unwrap().order_number, "M-SEED");
    assert!(sim.seed_order(&body).unwrap_err().is_bad_input(), "duplicates still refused");
    assert_eq!(sim.stats().requests, 0);
}

/// The simulator with one sales channel (id 55, index 1), no latency, and the real client.
fn client_world(config: OrdoroSimConfig) -> (Arc<TokioClock>, Arc<OrdoroSim>, OrdoroClient) {
    let clock = clock();
    let config = OrdoroSimConfig { latency: SimLatency::zero(), ..config };
    let sim = Arc::new(OrdoroSim::with_config(clock.clone(), config));
    assert_eq!(sim.add_sales_channel(55), 1);
    let transport = SharedTransport::from_arc(sim.clone());
    let client = OrdoroClient::new(sim.client_config(), transport, clock.clone()).unwrap();
    (clock, sim, client)
}

/// A create body as the mapping makes it: `cart_order_id` is the `order_id`.
fn new_order(order_id: &str) -> NewOrder {
    let body = with(minimal(order_id), "cart", json!(55));
    let body = with(body, "cart_order_id", json!(order_id));
    let line = json!([{"quantity": 1, "product": {"sku": "sku-1", "name": "Widget"}}]);
    serde_json::from_value(with(body, "lines", line)).unwrap()
}

#[tokio::test(start_paused = true)]
async fn under_allow_a_repeated_create_makes_a_second_order_through_the_client() {
    let config =
        OrdoroSimConfig { duplicate_policy: DuplicatePolicy::Allow, ..OrdoroSimConfig::default() };
    let (_, sim, client) = client_world(config);
    let first = client.create_order(&new_order("QBO-INV-1")).await.unwrap();
    let second = client.create_order(&new_order("QBO-INV-1")).await.unwrap();
    assert_eq!(
        (first.order_number.as_str(), second.order_number.as_str()),
        ("1-QBO-INV-1", "1-QBO-INV-1-2")
    );
    assert_eq!(sim.count_by_order_id("QBO-INV-1"), 2);
    assert_eq!(sim.duplicate_creates().get("QBO-INV-1"), Some(&1));
    let found = client.find_by_order_id("QBO-INV-1", Some(55)).await.unwrap().unwrap();
    assert_eq!(found.order_number, "1-QBO-INV-1", "the lookup names the oldest");
}

#[tokio::test(start_paused = true)]
async fn a_lagging_list_misses_a_new_order_that_a_read_by_number_finds() {
    let config = OrdoroSimConfig {
        seed: 4,
        list_lag: Duration::from_secs(30),
        ..OrdoroSimConfig::default()
    };
    let (clock, sim, client) = client_world(config);
    let created = client.create_order(&new_order("QBO-INV-2")).await.unwrap();
    assert_eq!(created.order_number, "1-QBO-INV-2");
    let listed = client.find_by_order_id("QBO-INV-2", Some(55)).await.unwrap();
    assert!(listed.is_none(), "the list lags the create (seed 4)");
    let read = client.get_order("1-QBO-INV-2").await.unwrap();
    assert_eq!(read.map(|o| o.order_number).as_deref(), Some("1-QBO-INV-2"));
    assert_eq!(sim.count_by_order_id("QBO-INV-2"), 1, "the hooks are current");
    clock.sleep(Duration::from_secs(30)).await;
    let listed = client.find_by_order_id("QBO-INV-2", Some(55)).await.unwrap();
    assert_eq!(listed.map(|o| o.order_number).as_deref(), Some("1-QBO-INV-2"));
}

#[tokio::test(start_paused = true)]
async fn a_late_create_appears_after_its_delay_and_not_before() {
    let config = OrdoroSimConfig {
        seed: 9,
        late_create: 1.0,
        late_create_delay: Duration::from_secs(20),
        ..OrdoroSimConfig::default()
    };
    let (clock, sim, client) = client_world(config);
    sim.script_faults([Fault::Timeout]);
    let sent_at = clock.now();
    let err = client.create_order(&new_order("QBO-INV-3")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert_eq!(sim.pending_late_creates(), 1);
    let due = sim.next_late_create_at().unwrap();
    let gave_up = sent_at + chrono::Duration::seconds(30);
    assert!(due >= gave_up && due <= gave_up + chrono::Duration::seconds(20), "{due}");
    clock.sleep((due - clock.now() - chrono::Duration::milliseconds(1)).to_std().unwrap()).await;
    assert_eq!(client.get_order("1-QBO-INV-3").await.unwrap(), None, "not before its time");
    assert_eq!(client.find_by_order_id("QBO-INV-3", Some(55)).await.unwrap(), None);
    clock.sleep(Duration::from_millis(1)).await;
    let read = client.get_order("1-QBO-INV-3").await.unwrap();
    assert_eq!(read.map(|o| o.order_number).as_deref(), Some("1-QBO-INV-3"));
    assert_eq!((sim.pending_late_creates(), sim.stats().late_creates), (0, 1));
    assert_eq!(sim.count_by_order_id("QBO-INV-3"), 1);
}
