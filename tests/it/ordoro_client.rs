//! The Ordoro client against the simulated Ordoro, in virtual time: every call of the port, the
//! duplicate policies, lost and failed creates, error bodies, URL encoding, a 429 storm under
//! the pacing layer, and budgets shared between clients. (Secrets: the `ordoro_secrets` module.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use qbo_ordoro::model::ordoro::{
    AddressField, AddressUpdate, LineProduct, NewOrder, NewOrderLine, OrderFinancial,
    OrdoroAddress, PostOrderLine, PutOrderLine,
};
use qbo_ordoro::ordoro::api::{OrderQuery, OrdoroApiExt, is_duplicate_order};
use qbo_ordoro::sim::ordoro::{
    DuplicatePolicy, OrdoroSim, OrdoroSimConfig, SimCredentials, SimLatency,
};
use qbo_ordoro::sim::{Fault, FaultPlan};
use qbo_ordoro::transport::{RateBudget, RetryPolicy, SharedBudget};
use qbo_ordoro::{
    Clock, ErrorKind, HttpRequest, HttpResponse, HttpTransport, OrdoroApi, Service,
    SharedTransport, TokioClock, TransportError, TransportErrorKind,
};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};
use rust_decimal::Decimal;

const KEY_ID: &str = "client-id-7f3a";
const KEY_SECRET: &str = "s3cr3t-Ordoro-KEY-9d1c";
const CART: i64 = 4242;
const BASE: &str = "https://ordoro.sim";

fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock::starting_at("2026-03-02T15:00:00Z".parse().unwrap()))
}

fn sim_config() -> OrdoroSimConfig {
    OrdoroSimConfig {
        credentials: Some(SimCredentials {
            key_id: KEY_ID.into(),
            key_secret: KEY_SECRET.to_owned().into(),
        }),
        ..OrdoroSimConfig::default()
    }
}

fn config() -> OrdoroConfig {
    OrdoroConfig::new(KEY_ID, KEY_SECRET.to_owned()).with_base_url(BASE)
}

struct World {
    sim: Arc<OrdoroSim>,
    client: OrdoroClient,
}

fn world_with(sim_config: OrdoroSimConfig, config: OrdoroConfig) -> World {
    let clock = clock();
    let sim = Arc::new(OrdoroSim::with_config(clock.clone(), sim_config));
    assert_eq!(sim.add_sales_channel(CART), 1);
    let client = OrdoroClient::new(config, SharedTransport::from_arc(sim.clone()), clock).unwrap();
    World { sim, client }
}

fn world() -> World {
    world_with(sim_config(), config())
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn address(name: &str) -> OrdoroAddress {
    OrdoroAddress {
        name: Some(name.into()),
        street1: Some("123 Main St".into()),
        city: Some("Watertown".into()),
        state: Some("MA".into()),
        zip: Some("02472".into()),
        country: Some("US".into()),
        email: Some("eric@example.com".into()),
        ..OrdoroAddress::default()
    }
}

fn line(id: &str, sku: &str, qty: i64, price: &str) -> NewOrderLine {
    let price = dec(price);
    NewOrderLine {
        cart_orderitem_id: Some(id.into()),
        product_name: Some(format!("Product {sku}")),
        item_price: Some(price),
        quantity: qty,
        total_price: Some(price * Decimal::from(qty)),
        product: LineProduct {
            sku: sku.into(),
            name: format!("Product {sku}"),
            price: Some(price),
        },
    }
}

fn new_order(order_id: &str) -> NewOrder {
    NewOrder {
        order_id: order_id.into(),
        cart: Some(CART),
        cart_order_id: Some(order_id.into()),
        order_date: Some("2026-03-02T14:05:00-06:00".into()),
        shipping_type: Some("UPS Ground".into()),
        notes_from_customer: Some("Leave at the back door".into()),
        product_amount: Some(dec("25.00")),
        shipping_amount: Some(dec("8.95")),
        tax_amount: Some(dec("2.06")),
        discount_amount: Some(dec("0")),
        grand_total: Some(dec("36.01")),
        billing_address: address("Eric Yan"),
        shipping_address: address("Eric Yan"),
        lines: vec![line("1", "WID-1", 2, "12.50")],
        ..NewOrder::default()
    }
}

#[tokio::test(start_paused = true)]
async fn create_then_get_round_trips_the_order() {
    let w = world();
    let created = w.client.create_order(&new_order("QBO-INV-130")).await.unwrap();
    assert_eq!(created.order_number, "1-QBO-INV-130");
    assert!(created.awaits_fulfillment());
    // Ordoro's `order` has no top-level `cart_order_id` (issue 19): the number carries the id.
    assert_eq!(created.cart_order_id, None);
    assert_eq!(created.sales_channel.as_ref().and_then(|c| c.id), Some(CART));
    assert_eq!(created.requested_shipping_method.as_deref(), Some("UPS Ground"));
    let financial = created.financial.clone().unwrap();
    assert_eq!(financial.grand_total, Some(dec("36.01")));
    assert_eq!(financial.shipping_amount, Some(dec("8.95")));
    let first = &created.lines[0];
    assert!(first.id.is_some());
    assert_eq!((first.sku.as_deref(), first.quantity), (Some("WID-1"), Some(2)));
    assert_eq!(first.item_price, Some(dec("12.50")));

    let fetched = w.client.get_order("1-QBO-INV-130").await.unwrap().unwrap();
    assert_eq!(fetched, created);
    assert_eq!(w.sim.count_by_order_id("QBO-INV-130"), 1);
    let routes = w.sim.stats().requests_by_route;
    assert_eq!(routes.get("POST /v3/order"), Some(&1));
    assert_eq!(routes.get("GET /v3/order/{n}"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn an_order_without_a_cart_is_numbered_in_the_manual_channel() {
    let w = world();
    let order = NewOrder { cart: None, ..new_order("SR-9") };
    assert_eq!(w.client.create_order(&order).await.unwrap().order_number, "M-SR-9");
}

#[tokio::test(start_paused = true)]
async fn a_missing_order_is_none() {
    let w = world();
    assert_eq!(w.client.get_order("1-NOPE").await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn find_orders_filters_by_id_channel_and_search_and_pages() {
    let w = world();
    let other_cart = 777;
    assert_eq!(w.sim.add_sales_channel(other_cart), 2);
    for i in 0..5 {
        w.client.create_order(&new_order(&format!("INV-{i}"))).await.unwrap();
    }
    let elsewhere = NewOrder { cart: Some(other_cart), ..new_order("INV-0") };
    assert_eq!(w.client.create_order(&elsewhere).await.unwrap().order_number, "2-INV-0");

    let by_id = OrderQuery { cart_order_id: Some("INV-0".into()), ..OrderQuery::default() };
    assert_eq!(w.client.find_orders(&by_id).await.unwrap().count, 2);
    let in_cart = OrderQuery { sales_channel: Some(CART), ..by_id.clone() };
    let page = w.client.find_orders(&in_cart).await.unwrap();
    assert_eq!((page.count, page.order[0].order_number.as_str()), (1, "1-INV-0"));

    let paged = OrderQuery {
        sales_channel: Some(CART),
        limit: Some(2),
        offset: Some(2),
        ..OrderQuery::default()
    };
    let page = w.client.find_orders(&paged).await.unwrap();
    assert_eq!((page.count, page.limit, page.offset), (5, 2, 2));
    let numbers: Vec<_> = page.order.iter().map(|o| o.order_number.as_str()).collect();
    assert_eq!(numbers, ["1-INV-2", "1-INV-3"]);

    let search = OrderQuery { search: Some("inv-4".into()), ..OrderQuery::default() };
    assert_eq!(w.client.find_orders(&search).await.unwrap().order[0].order_number, "1-INV-4");

    let too_big = OrderQuery { limit: Some(101), ..OrderQuery::default() };
    assert_eq!(w.client.find_orders(&too_big).await.unwrap_err().kind(), ErrorKind::BadInput);
}

#[tokio::test(start_paused = true)]
async fn find_by_order_id_settles_by_cart_order_id_and_channel() {
    let w = world();
    w.client.create_order(&new_order("INV-77")).await.unwrap();
    let found = w.client.find_by_order_id("INV-77", Some(CART)).await.unwrap().unwrap();
    assert_eq!(found.order_number, "1-INV-77");
    assert!(w.client.find_by_order_id("INV-7", Some(CART)).await.unwrap().is_none());
    assert!(w.client.find_by_order_id("INV-77", Some(1)).await.unwrap().is_none());
    let any_channel = w.client.find_by_order_id("INV-77", None).await.unwrap();
    assert_eq!(any_channel.map(|o| o.order_number), Some("1-INV-77".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn sub_resource_updates_change_the_order() {
    let w = world();
    let created = w.client.create_order(&new_order("INV-5")).await.unwrap();
    let n = created.order_number.as_str();
    let first_line = created.lines[0].id.unwrap();

    // Only the street: the rest of the ship-to stays as created.
    let mut moved = AddressUpdate::default();
    moved.set(AddressField::Street1, "9 New Rd");
    w.client.update_shipping_address(n, &moved).await.unwrap();
    let billed = OrdoroAddress { company: Some("ABC Co".into()), ..address("Accounts") };
    let mut billed = AddressUpdate::setting(&billed);
    billed.clear(AddressField::Email);
    w.client.update_billing_address(n, &billed).await.unwrap();
    let totals = OrderFinancial {
        product_amount: Some(dec("40.00")),
        shipping_amount: Some(dec("8.95")),
        tax_amount: Some(dec("3.30")),
        discount_amount: Some(dec("0")),
        grand_total: Some(dec("52.25")),
    };
    w.client.update_financial(n, &totals).await.unwrap();
    let extra = PostOrderLine {
        sku: "GAD-2".into(),
        quantity: 3,
        item_price: Some(dec("5.00")),
        total_price: Some(dec("15.00")),
        product_name: Some("Gadget".into()),
        cart_orderitem_id: Some("2".into()),
    };
    w.client.add_line(n, &extra).await.unwrap();
    let change = PutOrderLine { quantity: Some(4), ..PutOrderLine::default() };
    w.client.update_line(n, first_line, &change).await.unwrap();

    let order = w.client.get_order(n).await.unwrap().unwrap();
    let ship_to = order.shipping_address.unwrap();
    assert_eq!(ship_to.street1.as_deref(), Some("9 New Rd"));
    assert_eq!(ship_to.city.as_deref(), Some("Watertown"), "left out, so kept");
    let bill_to = order.billing_address.unwrap();
    assert_eq!(bill_to.company.as_deref(), Some("ABC Co"));
    assert_eq!(bill_to.email, None, "sent as null, so erased");
    assert_eq!(order.financial.unwrap().grand_total, Some(dec("52.25")));
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].quantity, Some(4));
    let added = order.lines.iter().find(|l| l.sku.as_deref() == Some("GAD-2")).unwrap();
    assert_eq!(added.cart_orderitem_id.as_deref(), Some("2"));

    w.client.delete_line(n, first_line).await.unwrap();
    let order = w.client.get_order(n).await.unwrap().unwrap();
    assert_eq!(order.lines.len(), 1);
    assert_eq!(w.sim.writes_for(n), 7);

    let gone = w.client.update_line(n, first_line, &change).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    let no_order = w.client.update_financial("1-NOPE", &totals).await.unwrap_err();
    assert_eq!(no_order.kind(), ErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn cancel_cancels_and_a_shipped_order_refuses() {
    let w = world();
    w.client.create_order(&new_order("INV-1")).await.unwrap();
    w.client.create_order(&new_order("INV-2")).await.unwrap();
    let cancelled = w.client.cancel_order("1-INV-1").await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert!(w.sim.mark_shipped("1-INV-2"));
    let refused = w.client.cancel_order("1-INV-2").await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::BadInput);
    assert_eq!(w.sim.order("1-INV-2").unwrap().status, "shipped");
}

#[tokio::test(start_paused = true)]
async fn duplicate_create_is_refused_by_default_and_stays_one_order() {
    let w = world();
    w.client.create_order(&new_order("INV-9")).await.unwrap();
    let again = w.client.create_order(&new_order("INV-9")).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::BadInput);
    assert_eq!(again.code(), Some("order_id"));
    assert!(is_duplicate_order(&again), "{again}");
    assert_eq!(w.sim.count_by_order_id("INV-9"), 1);
}

#[tokio::test(start_paused = true)]
async fn duplicate_create_as_revision_updates_the_one_order() {
    let policy =
        OrdoroSimConfig { duplicate_policy: DuplicatePolicy::AcceptAsRevision, ..sim_config() };
    let w = world_with(policy, config());
    let first = w.client.create_order(&new_order("INV-9")).await.unwrap();
    let mut revised = new_order("INV-9");
    revised.lines.push(line("2", "GAD-2", 1, "5.00"));
    let second = w.client.create_order(&revised).await.unwrap();
    assert_eq!(second.order_number, first.order_number);
    assert_eq!(second.lines.len(), 2);
    assert_eq!(second.lines[0].id, first.lines[0].id, "a kept line keeps its id");
    assert_eq!(w.sim.count_by_order_id("INV-9"), 1);
    assert_eq!(w.sim.writes_for("1-INV-9"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_lost_create_response_is_outcome_unknown_and_a_lookup_finds_the_one_order() {
    let w = world();
    w.sim.script_faults([Fault::LostResponse]);
    let lost = w.client.create_order(&new_order("INV-42")).await.unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(lost.service(), Some(Service::Ordoro));
    assert!(!lost.is_retryable());
    assert_eq!(w.sim.stats().requests_by_route.get("POST /v3/order"), Some(&1), "never resent");
    let found = w.client.find_by_order_id("INV-42", Some(CART)).await.unwrap().unwrap();
    assert_eq!(found.order_number, "1-INV-42");
    assert_eq!(w.sim.count_by_order_id("INV-42"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lost_add_line_answer_is_outcome_unknown_too() {
    let w = world();
    w.client.create_order(&new_order("INV-50")).await.unwrap();
    w.sim.script_faults([Fault::LostResponse]);
    let line = PostOrderLine { sku: "X-1".into(), quantity: 1, ..PostOrderLine::default() };
    let err = w.client.add_line("1-INV-50", &line).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert!(err.message().starts_with("unclear whether the line was added"), "{err}");
    assert_eq!(w.sim.order("1-INV-50").unwrap().lines.len(), 2, "the line was added once");
}

#[tokio::test(start_paused = true)]
async fn a_5xx_on_create_is_outcome_unknown_and_not_resent() {
    let w = world();
    w.sim.script_faults([Fault::ServerError(503)]);
    let failed = w.client.create_order(&new_order("INV-43")).await.unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(failed.status(), Some(503));
    assert!(failed.request_id().is_some_and(|id| id.starts_with("sim-ordoro-")));
    assert_eq!(w.sim.stats().requests, 1);
    assert!(w.client.find_by_order_id("INV-43", Some(CART)).await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_throttled_create_is_retried_because_it_was_not_processed() {
    let w = world();
    w.sim.script_faults([Fault::Throttle]);
    let order = w.client.create_order(&new_order("INV-44")).await.unwrap();
    assert_eq!(order.order_number, "1-INV-44");
    assert_eq!(w.sim.stats().throttled, 1);
    assert_eq!(w.sim.count_by_order_id("INV-44"), 1);
}

#[tokio::test(start_paused = true)]
async fn reads_are_retried_through_5xx_and_an_html_502_page_gives_a_typed_error() {
    let w = world();
    w.client.create_order(&new_order("INV-1")).await.unwrap();
    w.sim.script_faults([Fault::ServerError(503)]);
    assert!(w.client.get_order("1-INV-1").await.unwrap().is_some());

    w.sim.script_faults([Fault::ServerError(502); 4]);
    let err = w.client.get_order("1-INV-1").await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Service, Some(502)));
    assert!(err.message().contains("text/html"), "{err}");
    assert!(!err.to_string().contains("<html>"));
}

/// Answers every request with one canned response.
#[derive(Debug)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: &'static str,
    seen: Mutex<Vec<String>>,
}

impl Canned {
    fn new(status: u16, content_type: &'static str, body: &'static str) -> Arc<Self> {
        Arc::new(Canned { status, content_type, body, seen: Mutex::new(Vec::new()) })
    }
}

#[async_trait::async_trait]
impl HttpTransport for Canned {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.seen.lock().unwrap().push(request.uri().to_string());
        let response = http::Response::builder()
            .status(self.status)
            .header("content-type", self.content_type)
            .header("x-ordoro-request-id", "req-canned-1")
            .body(Bytes::from_static(self.body.as_bytes()))
            .unwrap();
        Ok(response)
    }
}

fn canned_client(transport: Arc<Canned>) -> OrdoroClient {
    OrdoroClient::unpaced(config(), SharedTransport::from_arc(transport), clock()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn error_bodies_with_param_and_with_params_are_mapped() {
    let with_param =
        Canned::new(400, "application/json", r#"{"error_message": "Invalid zip", "param": "zip"}"#);
    let err = canned_client(with_param).create_order(&new_order("A")).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.message()),
        (ErrorKind::BadInput, Some("zip"), "Invalid zip")
    );
    assert_eq!(err.request_id(), Some("req-canned-1"));

    let with_params = Canned::new(
        422,
        "application/json",
        r#"{"error_message": "Bad line", "params": "lines.0.quantity"}"#,
    );
    let err = canned_client(with_params).get_order("1-A").await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::BadInput, Some("lines.0.quantity")));

    let forbidden = Canned::new(
        403,
        "application/json",
        r#"{"error_message": "No API access", "param": null}"#,
    );
    let err = canned_client(forbidden).get_order("1-A").await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Authentication, None));

    let throttled = Canned::new(429, "application/json", r#"{"error_message": "Slow down"}"#);
    let err = canned_client(throttled).get_order("1-A").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[tokio::test(start_paused = true)]
async fn a_success_that_is_not_json_is_a_typed_error() {
    let html = Canned::new(200, "text/html", "<html><body>Welcome</body></html>");
    let err = canned_client(html.clone()).get_order("1-A").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Service);
    let err = canned_client(html).create_order(&new_order("A")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "a 200 to a create means it may exist");
}

#[tokio::test(start_paused = true)]
async fn wrong_credentials_are_an_authentication_error() {
    let wrong = OrdoroConfig::new(KEY_ID, "not-the-secret".to_owned()).with_base_url(BASE);
    let w = world_with(sim_config(), wrong);
    let err = w.client.get_order("1-A").await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Authentication, Some(401)));
}

#[tokio::test(start_paused = true)]
async fn order_numbers_with_spaces_and_slashes_are_percent_encoded() {
    let w = world();
    let created = w.client.create_order(&new_order("INV 12/3")).await.unwrap();
    assert_eq!(created.order_number, "1-INV 12/3");
    let fetched = w.client.get_order("1-INV 12/3").await.unwrap().unwrap();
    assert_eq!(fetched.order_number, "1-INV 12/3");
    w.client.cancel_order("1-INV 12/3").await.unwrap();

    let canned = Canned::new(404, "application/json", r#"{"error_message": "nope"}"#);
    let client = canned_client(canned.clone());
    assert!(client.get_order("1-INV 12/3?x#y").await.unwrap().is_none());
    client.delete_line("M-a/b", 7).await.unwrap_err();
    let seen = canned.seen.lock().unwrap().clone();
    assert_eq!(seen[0], "https://ordoro.sim/v3/order/1-INV%2012%2F3%3Fx%23y");
    assert_eq!(seen[1], "https://ordoro.sim/v3/order/M-a%2Fb/line/7");
    assert_eq!(client.get_order("..").await.unwrap_err().kind(), ErrorKind::BadInput);
}

/// Fails every request as a transport would.
#[derive(Debug)]
struct Unreachable(TransportErrorKind);

#[async_trait::async_trait]
impl HttpTransport for Unreachable {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError::new(self.0, "simulated network failure"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_create_that_never_connected_is_a_plain_transport_error() {
    let clock = clock();
    let transport = SharedTransport::new(Unreachable(TransportErrorKind::Connect));
    let client = OrdoroClient::new(config(), transport, clock)
        .unwrap()
        .with_retry_policy(RetryPolicy::none());
    let err = client.create_order(&new_order("A")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_retryable());

    let transport = SharedTransport::new(Unreachable(TransportErrorKind::Io));
    let client = OrdoroClient::unpaced(config(), transport, self::clock()).unwrap();
    assert_eq!(
        client.create_order(&new_order("A")).await.unwrap_err().kind(),
        ErrorKind::OutcomeUnknown
    );
    assert_eq!(client.get_order("1-A").await.unwrap_err().kind(), ErrorKind::Transport);
}

#[tokio::test(start_paused = true)]
async fn plain_http_is_a_config_error_unless_loopback_is_allowed() {
    let transport = || SharedTransport::new(Unreachable(TransportErrorKind::Connect));
    let insecure = config().with_base_url("http://api.ordoro.com");
    let err = OrdoroClient::new(insecure, transport(), clock()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let loopback = config().with_base_url("http://127.0.0.1:9").allowing_insecure_loopback();
    assert!(OrdoroClient::new(loopback, transport(), clock()).is_ok());
}

/// Runs `count` creates at once and returns how each ended.
async fn burst(
    client: &OrdoroClient,
    prefix: &str,
    count: usize,
) -> Vec<Result<String, ErrorKind>> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let client = client.clone();
        let order = new_order(&format!("{prefix}-{i}"));
        tasks.spawn(async move {
            client.create_order(&order).await.map(|o| o.order_number).map_err(|e| e.kind())
        });
    }
    tasks.join_all().await
}

#[tokio::test(start_paused = true)]
async fn under_a_429_storm_the_client_stays_within_its_budget_and_recovers() {
    let storm = OrdoroSimConfig {
        retry_after: Some(Duration::from_secs(5)),
        latency: SimLatency::default(),
        ..sim_config()
    };
    let w = world_with(storm, config());
    // 40 throttles in a row hit the first wave, then the sim serves normally.
    w.sim.script_faults([Fault::Throttle; 40]);
    let outcomes = burst(&w.client, "STORM", 1000).await;

    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(_) | Err(ErrorKind::RateLimited))),
        "{outcomes:?}"
    );
    assert_eq!(created, 1000, "every create survives the storm through its retries");
    assert_eq!(w.sim.orders().len(), created, "a throttled create never makes an order");
    let stats = w.sim.stats();
    assert!(stats.throttled >= 40);
    assert!(stats.peak_per_minute <= 400, "sim saw {} in a minute", stats.peak_per_minute);
    let budget = w.client.budget().unwrap().stats();
    assert!(budget.peak_per_minute <= 400 && budget.peak_in_flight <= 8, "{budget:?}");
    assert!(budget.pauses >= 1);

    // After the storm, calls go through again.
    let after = burst(&w.client, "AFTER", 20).await;
    assert!(after.iter().all(Result::is_ok), "{after:?}");
}

#[tokio::test(start_paused = true)]
async fn a_seeded_random_429_storm_never_pushes_the_client_over_budget() {
    let storm = OrdoroSimConfig {
        faults: FaultPlan { seed: 7, spurious_throttle: 0.25, ..FaultPlan::none() },
        ..sim_config()
    };
    let w = world_with(storm, config());
    let outcomes = burst(&w.client, "RANDOM", 1200).await;
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(ErrorKind::RateLimited))));
    assert!(created > 1100, "retries carry most creates through: {created}");
    assert_eq!(w.sim.orders().len(), created);
    let stats = w.sim.stats();
    assert!(stats.throttled > 200, "{stats:?}");
    assert!(stats.peak_per_minute <= 400, "sim saw {} in a minute", stats.peak_per_minute);
}

#[tokio::test(start_paused = true)]
async fn a_budget_above_the_services_limit_is_throttled_by_the_sim_and_recovers() {
    let tight_sim = OrdoroSimConfig { requests_per_minute: 100, ..sim_config() };
    let generous = config().with_budget(RateBudget::new(150, 8));
    let w = world_with(tight_sim, generous);
    let outcomes = burst(&w.client, "OVER", 300).await;
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(ErrorKind::RateLimited))));
    assert_eq!(w.sim.orders().len(), created);
    assert!(w.sim.stats().throttled > 0);
    // Once the service's window has room again, the client goes on.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let later = burst(&w.client, "LATER", 10).await;
    assert!(later.iter().all(Result::is_ok), "{later:?}");
}

#[tokio::test(start_paused = true)]
async fn two_clients_sharing_a_budget_stay_under_it_together() {
    let clock = clock();
    let sim = Arc::new(OrdoroSim::with_config(clock.clone(), sim_config()));
    sim.add_sales_channel(CART);
    let transport = SharedTransport::from_arc(sim.clone());
    let budget = SharedBudget::new(RateBudget::new(100, 4), clock.clone());
    let a = OrdoroClient::new(config(), transport.clone(), clock.clone())
        .unwrap()
        .with_budget(budget.clone());
    let b = OrdoroClient::new(config(), transport, clock).unwrap().with_budget(budget.clone());
    let (left, right) = tokio::join!(burst(&a, "A", 150), burst(&b, "B", 150));
    assert!(left.iter().chain(&right).all(Result::is_ok));
    assert_eq!(sim.orders().len(), 300);
    assert_eq!(sim.meter().peak(), 100, "together they used the shared budget, and no more");
    assert_eq!(budget.stats().sent, 300);
}
