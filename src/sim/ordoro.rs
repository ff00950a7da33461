//! A simulated Ordoro account: an [`HttpTransport`] that answers the `/v3/order` routes the
//! client uses, in Ordoro's wire format, with Ordoro's rules (the create schema, order numbers
//! prefixed by the sales channel's index, 500 requests a minute, `limit` at most 100), and with
//! seeded faults and latency slept on a [`Clock`]. Tests drive it through the real client and
//! read its state through the test hooks ([`OrdoroSim::orders`], [`OrdoroSim::stats`], ...).
//!
//! Products: `GET /product/{sku}/` (the legacy route, trailing slash required, SKU
//! percent-encoded; 404 for an unknown SKU), and, as Ordoro does, a product created on the fly
//! for each SKU an order create names that the account does not know, counted by
//! [`OrdoroSim::products_created_on_the_fly`] (the junk products a wrong SKU makes).

mod wire;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use self::wire::{BodyKind, Rejection};
use super::{Fault, FaultDice, FaultPlan, RateMeter};
use crate::model::ordoro::{
    NewOrder, Order, OrderFinancial, OrderLine, OrdoroAddress, Product, SalesChannelRef,
};
use crate::{
    Clock, Error, HttpRequest, HttpResponse, HttpTransport, TransportError, TransportErrorKind,
};

/// The base URL [`OrdoroSim::client_config`] gives clients. The simulator serves any host; this
/// one only keeps the simulated account apart from the real one in logs.
pub const SIM_BASE_URL: &str = "https://ordoro.sim";

/// What the simulator does when a create names an `order_id` that already exists in the same
/// sales channel. Ordoro does not document its answer, so tests run the engine against both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// `400 {"error_message": "Order ... already exists", "param": "order_id"}`.
    #[default]
    Reject,
    /// `200` with the existing order brought up to date from the new body (a revision); still
    /// one order. Orders no longer awaiting fulfilment are returned unchanged.
    AcceptAsRevision,
}

/// How long the simulated Ordoro takes to answer, slept on the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimLatency {
    /// `POST /v3/order`.
    pub create: Duration,
    /// Reads (`GET`).
    pub read: Duration,
    /// Sub-resource writes and cancel.
    pub write: Duration,
    /// A refusal for the rate limit.
    pub rejected: Duration,
}

impl Default for SimLatency {
    fn default() -> Self {
        SimLatency {
            create: Duration::from_millis(400),
            read: Duration::from_millis(150),
            write: Duration::from_millis(250),
            rejected: Duration::from_millis(20),
        }
    }
}

impl SimLatency {
    /// No latency at all.
    pub fn zero() -> Self {
        SimLatency {
            create: Duration::ZERO,
            read: Duration::ZERO,
            write: Duration::ZERO,
            rejected: Duration::ZERO,
        }
    }
}

/// The API key the simulator accepts. `Debug` hides the secret.
#[derive(Clone)]
pub struct SimCredentials {
    /// Client id.
    pub key_id: String,
    /// Client secret.
    pub key_secret: SecretString,
}

impl fmt::Debug for SimCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimCredentials").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl SimCredentials {
    fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.key_id, self.key_secret.expose_secret());
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct OrdoroSimConfig {
    /// Answer to a duplicate `order_id`.
    pub duplicate_policy: DuplicatePolicy,
    /// Requests served in any minute before answering 429 (Ordoro: 500 per account).
    pub requests_per_minute: usize,
    /// `Retry-After` sent with a 429, or none (Ordoro documents only the 429 itself).
    pub retry_after: Option<Duration>,
    /// Answer times.
    pub latency: SimLatency,
    /// Injected faults.
    pub faults: FaultPlan,
    /// How long a request waits before a simulated timeout (or lost response) gives up.
    pub timeout_after: Duration,
    /// When set, requests must carry this key in Basic auth (else 401).
    pub credentials: Option<SimCredentials>,
}

impl Default for OrdoroSimConfig {
    fn default() -> Self {
        OrdoroSimConfig {
            duplicate_policy: DuplicatePolicy::Reject,
            requests_per_minute: crate::ordoro::http::ORDORO_REQUESTS_PER_MINUTE as usize,
            retry_after: None,
            latency: SimLatency::default(),
            faults: FaultPlan::none(),
            timeout_after: Duration::from_secs(30),
            credentials: None,
        }
    }
}

/// What the simulator has seen and done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdoroSimStats {
    /// Requests received.
    pub requests: u64,
    /// Requests received per route, keyed like `POST /v3/order` or `PUT /v3/order/{n}/financial`.
    pub requests_by_route: BTreeMap<String, u64>,
    /// Successful writes (creates, revisions, sub-resource changes, cancels).
    pub writes: u64,
    /// 429 answers served (over the limit or injected).
    pub throttled: u64,
    /// Injected 5xx answers.
    pub server_errors: u64,
    /// Injected timeouts (nothing done).
    pub timeouts: u64,
    /// Injected lost responses (work done, no answer).
    pub lost_responses: u64,
    /// Most requests served in any one-minute window.
    pub peak_per_minute: usize,
}

/// The simulated Ordoro account. See the module docs.
#[derive(Debug)]
pub struct OrdoroSim {
    clock: Arc<dyn Clock>,
    config: OrdoroSimConfig,
    expected_authorization: Option<SecretString>,
    dice: FaultDice,
    meter: RateMeter,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    channels: Vec<Channel>,
    orders: Vec<SimOrder>,
    by_number: HashMap<String, usize>,
    next_order_pk: i64,
    next_line_id: i64,
    next_request: u64,
    scripted: VecDeque<Fault>,
    stats: OrdoroSimStats,
    duplicate_creates: BTreeMap<String, u32>,
    products: BTreeMap<String, Product>,
    products_on_the_fly: u64,
}

#[derive(Debug, Clone)]
struct Channel {
    id: i64,
    index: u32,
}

#[derive(Debug, Clone)]
struct SimOrder {
    order: Order,
    order_id: String,
    channel: Option<i64>,
    order_date: Option<String>,
    tags: Vec<Value>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    writes: u32,
}

/// An answer before it becomes an HTTP response.
struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Reply { status: StatusCode::OK, body }
    }

    fn error(status: StatusCode, rejection: Rejection) -> Self {
        Reply {
            status,
            body: json!({"error_message": rejection.message, "param": rejection.param}),
        }
    }

    fn bad_request(rejection: Rejection) -> Self {
        Self::error(StatusCode::BAD_REQUEST, rejection)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::error(StatusCode::NOT_FOUND, Rejection::new(message, None))
    }
}

/// A route of the simulated API, with its decoded path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Orders,
    Order(String),
    ShippingAddress(String),
    BillingAddress(String),
    Financial(String),
    Lines(String),
    Line(String, i64),
    Cancel(String),
    Product(String),
}

impl OrdoroSim {
    /// A simulated account with default settings and no sales channel.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, OrdoroSimConfig::default())
    }

    /// A simulated account with `config`.
    pub fn with_config(clock: Arc<dyn Clock>, config: OrdoroSimConfig) -> Self {
        let expected_authorization =
            config.credentials.as_ref().map(|c| SecretString::from(c.authorization()));
        OrdoroSim {
            clock,
            dice: FaultDice::new(config.faults.clone()),
            meter: RateMeter::new(config.requests_per_minute, Duration::from_secs(60)),
            expected_authorization,
            config,
            state: Mutex::new(State { next_order_pk: 1, next_line_id: 1001, ..State::default() }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &OrdoroSimConfig {
        &self.config
    }

    /// Client settings this simulator accepts: base URL `https://ordoro.sim`, and its
    /// credentials (placeholders when it checks none). An
    /// [`OrdoroClient`](crate::OrdoroClient) built from them over this simulator as the
    /// transport talks to it as it would to Ordoro.
    pub fn client_config(&self) -> crate::OrdoroConfig {
        let (id, secret) = match &self.config.credentials {
            Some(c) => (c.key_id.clone(), c.key_secret.clone()),
            None => ("sim-key".to_owned(), SecretString::from("sim-secret")),
        };
        crate::OrdoroConfig::new(id, secret).with_base_url(SIM_BASE_URL)
    }

    /// Adds a sales channel (cart) with id `id`; returns its index, the order number prefix
    /// (1, 2, ... in the order channels are added). Adding a known id returns its index.
    pub fn add_sales_channel(&self, id: i64) -> u32 {
        let mut state = self.lock();
        if let Some(known) = state.channels.iter().find(|c| c.id == id) {
            return known.index;
        }
        let index = u32::try_from(state.channels.len()).unwrap_or(u32::MAX).saturating_add(1);
        state.channels.push(Channel { id, index });
        index
    }

    /// Adds a product to the account's catalogue (a SKU the warehouse knows); returns it.
    pub fn add_product(&self, sku: &str, name: &str) -> Product {
        self.lock().add_product(sku, name)
    }

    /// Every product of the account, by SKU.
    pub fn products(&self) -> Vec<Product> {
        self.lock().products.values().cloned().collect()
    }

    /// How many products order creates made on the fly, for SKUs the account did not know.
    pub fn products_created_on_the_fly(&self) -> u64 {
        self.lock().products_on_the_fly
    }

    /// Every order, oldest first.
    pub fn orders(&self) -> Vec<Order> {
        self.lock().orders.iter().map(|o| o.order.clone()).collect()
    }

    /// The order with this number.
    pub fn order(&self, order_number: &str) -> Option<Order> {
        let state = self.lock();
        state.by_number.get(order_number).map(|&i| state.orders[i].order.clone())
    }

    /// How many orders carry `order_id`, across all sales channels.
    pub fn count_by_order_id(&self, order_id: &str) -> usize {
        self.lock().orders.iter().filter(|o| o.order_id == order_id).count()
    }

    /// How many writes (create, revisions, sub-resource changes, cancel) an order received.
    pub fn writes_for(&self, order_number: &str) -> u32 {
        let state = self.lock();
        state.by_number.get(order_number).map_or(0, |&i| state.orders[i].writes)
    }

    /// Marks an order shipped, as the warehouse would. False when there is no such order.
    pub fn mark_shipped(&self, order_number: &str) -> bool {
        self.set_status(order_number, "shipped")
    }

    /// Marks an order cancelled from the Ordoro app. False when there is no such order.
    pub fn mark_cancelled(&self, order_number: &str) -> bool {
        self.set_status(order_number, "cancelled")
    }

    /// Creates an order directly, skipping HTTP, rate limit, latency and faults (for seeding).
    pub fn seed_order(&self, order: &NewOrder) -> crate::Result<Order> {
        let body = serde_json::to_vec(order)?;
        let map =
            wire::parse_body(&body, BodyKind::NewOrder).map_err(|r| Error::bad_input(r.message))?;
        let now = self.clock.now();
        let reply = self.lock().create(map, self.config.duplicate_policy, now);
        if reply.status.is_success() {
            Ok(serde_json::from_value(reply.body)?)
        } else {
            Err(Error::bad_input(reply.body.to_string()))
        }
    }

    /// Queues faults for the next requests, in order of arrival; they take the place of the
    /// seeded dice until used up (`Fault::None` serves one request normally).
    pub fn script_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().scripted.extend(faults);
    }

    /// Creates that named an `order_id` whose order already existed, by `order_id`, whatever
    /// the [`DuplicatePolicy`] answered: a sync that creates each order exactly once sends none
    /// (unless the network delivered one request twice).
    pub fn duplicate_creates(&self) -> BTreeMap<String, u32> {
        self.lock().duplicate_creates.clone()
    }

    /// Turns the seeded faults off (`true`) or back on (see
    /// [`FaultDice::set_calm`](super::FaultDice::set_calm)); scripted faults still apply.
    pub fn set_calm(&self, calm: bool) {
        self.dice.set_calm(calm);
    }

    /// What the simulator has seen and done so far.
    pub fn stats(&self) -> OrdoroSimStats {
        let mut stats = self.lock().stats.clone();
        stats.peak_per_minute = self.meter.peak();
        stats
    }

    /// The meter enforcing the rate limit.
    pub fn meter(&self) -> &RateMeter {
        &self.meter
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_status(&self, order_number: &str, status: &str) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some(&i) = state.by_number.get(order_number) else { return false };
        let order = &mut state.orders[i];
        order.order.status = status.to_owned();
        order.updated = now;
        true
    }

    fn begin(&self, label: &str) -> String {
        let mut state = self.lock();
        state.next_request += 1;
        state.stats.requests += 1;
        *state.stats.requests_by_route.entry(label.to_owned()).or_default() += 1;
        format!("sim-ordoro-{:08}", state.next_request)
    }

    fn next_fault(&self) -> (Fault, Duration) {
        match self.lock().scripted.pop_front() {
            Some(fault) => (fault, Duration::ZERO),
            None => self.dice.roll(),
        }
    }

    fn count(&self, bump: impl FnOnce(&mut OrdoroSimStats)) {
        bump(&mut self.lock().stats);
    }

    fn latency_of(&self, method: &Method, route: Option<&Route>) -> Duration {
        let latency = &self.config.latency;
        match (method, route) {
            (&Method::POST, Some(Route::Orders)) => latency.create,
            (&Method::GET, _) | (_, None) => latency.read,
            _ => latency.write,
        }
    }

    fn throttled(&self) -> Reply {
        self.count(|s| s.throttled += 1);
        let message = "API requests are limited to 500 requests per minute";
        Reply::error(StatusCode::TOO_MANY_REQUESTS, Rejection::new(message, None))
    }

    fn authorized(&self, request: &HttpRequest) -> bool {
        let Some(expected) = &self.expected_authorization else { return true };
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|given| given == expected.expose_secret())
    }

    /// Serves a request that passed the rate limit and fault dice.
    fn serve(&self, method: &Method, route: Option<Route>, request: &HttpRequest) -> Reply {
        if !self.authorized(request) {
            let rejection = Rejection::new("Invalid API key credentials", None);
            return Reply::error(StatusCode::UNAUTHORIZED, rejection);
        }
        let Some(route) = route else {
            return Reply::not_found(format!("No route for {}", request.uri().path()));
        };
        if let Err(rejection) = check_content_type(request) {
            return Reply::bad_request(rejection);
        }
        let now = self.clock.now();
        let policy = self.config.duplicate_policy;
        let body = request.body();
        let query = request.uri().query();
        let mut state = self.lock();
        match (method.clone(), route) {
            (Method::POST, Route::Orders) => match wire::parse_body(body, BodyKind::NewOrder) {
                Ok(map) => state.create(map, policy, now),
                Err(rejection) => Reply::bad_request(rejection),
            },
            (Method::GET, Route::Orders) => state.list(query),
            (Method::GET, Route::Order(n)) => state.get(&n),
            (Method::PUT, Route::ShippingAddress(n)) => state.update_address(&n, body, true, now),
            (Method::PUT, Route::BillingAddress(n)) => state.update_address(&n, body, false, now),
            (Method::PUT, Route::Financial(n)) => state.update_financial(&n, body, now),
            (Method::POST, Route::Lines(n)) => state.add_line(&n, body, now),
            (Method::PUT, Route::Line(n, id)) => state.update_line(&n, id, body, now),
            (Method::DELETE, Route::Line(n, id)) => state.delete_line(&n, id, now),
            (Method::POST, Route::Cancel(n)) => state.cancel(&n, now),
            (Method::GET, Route::Product(sku)) => state.product(&sku),
            (method, _) => Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                Rejection::new(format!("Method {method} is not allowed here"), None),
            ),
        }
    }

    fn respond(&self, reply: Reply, request_id: &str) -> HttpResponse {
        let body = Bytes::from(serde_json::to_vec(&reply.body).unwrap_or_default());
        let mut response = http::Response::new(body);
        *response.status_mut() = reply.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        insert_request_id(headers, request_id);
        if reply.status == StatusCode::TOO_MANY_REQUESTS
            && let Some(wait) = self.config.retry_after
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        response
    }
}

/// A load balancer's 502 is an HTML page; Ordoro's own 5xx are JSON.
fn server_error(status: u16, request_id: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, body) = if status == StatusCode::BAD_GATEWAY {
        ("text/html", Bytes::from_static(b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"))
    } else {
        let body = json!({"error_message": "An unexpected error occurred", "param": null});
        ("application/json", Bytes::from(body.to_string()))
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    insert_request_id(response.headers_mut(), request_id);
    response
}

fn insert_request_id(headers: &mut http::HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(crate::ordoro::http::REQUEST_ID_HEADER, value);
    }
}

fn check_content_type(request: &HttpRequest) -> Result<(), Rejection> {
    if request.body().is_empty() {
        return Ok(());
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if json { Ok(()) } else { Err(Rejection::new("Content-Type must be application/json", None)) }
}

#[async_trait::async_trait]
impl HttpTransport for OrdoroSim {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = request.method().clone();
        let route = parse_route(request.uri().path());
        let request_id = self.begin(&route_label(&method, route.as_ref()));
        let (fault, extra) = self.next_fault();
        if fault == Fault::Throttle || !self.meter.admit(self.clock.now()) {
            self.clock.sleep(self.config.latency.rejected).await;
            let reply = self.throttled();
            return Ok(self.respond(reply, &request_id));
        }
        let latency = self.latency_of(&method, route.as_ref()) + extra;
        match fault {
            Fault::ServerError(status) => {
                self.clock.sleep(latency).await;
                self.count(|s| s.server_errors += 1);
                return Ok(server_error(status, &request_id));
            }
            Fault::Timeout => {
                self.clock.sleep(self.config.timeout_after).await;
                self.count(|s| s.timeouts += 1);
                return Err(timeout("simulated Ordoro did not answer in time"));
            }
            Fault::None | Fault::LostResponse | Fault::Throttle => {}
        }
        self.clock.sleep(latency).await;
        let reply = self.serve(&method, route, &request);
        if fault == Fault::LostResponse {
            self.count(|s| s.lost_responses += 1);
            self.clock.sleep(self.config.timeout_after.saturating_sub(latency)).await;
            return Err(timeout("simulated Ordoro processed the request but the answer was lost"));
        }
        Ok(self.respond(reply, &request_id))
    }
}

fn timeout(message: &'static str) -> TransportError {
    TransportError::new(TransportErrorKind::Timeout, message)
}

/// Splits and decodes `/v3/order/...`. A trailing slash matches nothing, as on Ordoro.
fn parse_route(path: &str) -> Option<Route> {
    if let Some(rest) = path.strip_prefix("/product/") {
        return parse_product_route(rest);
    }
    let rest = path.strip_prefix("/v3/order")?;
    if rest.is_empty() {
        return Some(Route::Orders);
    }
    let segments: Vec<String> = rest
        .strip_prefix('/')?
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()))
        .collect::<Result<_, _>>()
        .ok()?;
    if segments.iter().any(String::is_empty) {
        return None;
    }
    let number = segments.first()?.clone();
    let tail: Vec<&str> = segments.iter().skip(1).map(String::as_str).collect();
    match tail.as_slice() {
        [] => Some(Route::Order(number)),
        ["shipping_address"] => Some(Route::ShippingAddress(number)),
        ["billing_address"] => Some(Route::BillingAddress(number)),
        ["financial"] => Some(Route::Financial(number)),
        ["line"] => Some(Route::Lines(number)),
        ["line", id] => id.parse().ok().map(|id| Route::Line(number, id)),
        ["cancel"] => Some(Route::Cancel(number)),
        _ => None,
    }
}

/// `{sku}/` after `/product/`: the legacy routes need their trailing slash.
fn parse_product_route(rest: &str) -> Option<Route> {
    let sku = rest.strip_suffix('/')?;
    if sku.is_empty() || sku.contains('/') {
        return None;
    }
    let sku = percent_decode_str(sku).decode_utf8().ok()?.into_owned();
    Some(Route::Product(sku))
}

fn route_label(method: &Method, route: Option<&Route>) -> String {
    let path = match route {
        None => "(unknown)",
        Some(Route::Orders) => "/v3/order",
        Some(Route::Order(_)) => "/v3/order/{n}",
        Some(Route::ShippingAddress(_)) => "/v3/order/{n}/shipping_address",
        Some(Route::BillingAddress(_)) => "/v3/order/{n}/billing_address",
        Some(Route::Financial(_)) => "/v3/order/{n}/financial",
        Some(Route::Lines(_)) => "/v3/order/{n}/line",
        Some(Route::Line(..)) => "/v3/order/{n}/line/{id}",
        Some(Route::Cancel(_)) => "/v3/order/{n}/cancel",
        Some(Route::Product(_)) => "/product/{sku}/",
    };
    format!("{method} {path}")
}

impl State {
    fn create(
        &mut self,
        body: Map<String, Value>,
        policy: DuplicatePolicy,
        now: DateTime<Utc>,
    ) -> Reply {
        let order_id = str_of(&body, "order_id").unwrap_or_default();
        if order_id.trim().is_empty() {
            return Reply::bad_request(Rejection::new(
                "order_id must not be empty",
                Some("order_id"),
            ));
        }
        let channel = body.get("cart").and_then(Value::as_i64);
        let prefix = match channel {
            None => "M".to_owned(),
            Some(id) => match self.channels.iter().find(|c| c.id == id) {
                Some(c) => c.index.to_string(),
                None => {
                    let message = format!("Cart {id} does not exist");
                    return Reply::bad_request(Rejection::new(message, Some("cart")));
                }
            },
        };
        let order_number = format!("{prefix}-{order_id}");
        if let Some(&i) = self.by_number.get(&order_number) {
            *self.duplicate_creates.entry(order_id.clone()).or_default() += 1;
            return match policy {
                DuplicatePolicy::Reject => Reply::bad_request(Rejection::new(
                    format!("Order {order_number} already exists"),
                    Some("order_id"),
                )),
                DuplicatePolicy::AcceptAsRevision => self.revise(i, &body, now),
            };
        }
        let pk = self.next_order_pk;
        self.next_order_pk += 1;
        let mut order = Order {
            id: Some(pk),
            order_number: order_number.clone(),
            status: str_of(&body, "status").unwrap_or_else(|| "awaiting_fulfillment".to_owned()),
            cart_order_id: str_of(&body, "cart_order_id"),
            sales_channel: channel.map(|id| SalesChannelRef { id: Some(id) }),
            ..Order::default()
        };
        apply_order_body(&mut order, &body, &mut self.next_line_id);
        let sim_order = SimOrder {
            order,
            order_id,
            channel,
            order_date: str_of(&body, "order_date"),
            tags: body.get("tags").and_then(Value::as_array).cloned().unwrap_or_default(),
            created: now,
            updated: now,
            writes: 1,
        };
        self.create_missing_products(&body);
        self.by_number.insert(order_number, self.orders.len());
        self.orders.push(sim_order);
        self.stats.writes += 1;
        let body = self.orders.last().map(order_json).unwrap_or(Value::Null);
        Reply { status: StatusCode::CREATED, body }
    }

    fn add_product(&mut self, sku: &str, name: &str) -> Product {
        let id = i64::try_from(self.products.len()).unwrap_or(i64::MAX).saturating_add(1);
        let product = Product { id: Some(id), sku: sku.to_string(), name: Some(name.to_string()) };
        self.products.entry(sku.to_string()).or_insert(product).clone()
    }

    /// What Ordoro does on an order create: a product for each line's SKU it does not know.
    fn create_missing_products(&mut self, body: &Map<String, Value>) {
        let lines = body.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
        for line in lines {
            let product = line.get("product");
            let Some(sku) = product.and_then(|p| p.get("sku")).and_then(Value::as_str) else {
                continue;
            };
            if !self.products.contains_key(sku) {
                let name = product.and_then(|p| p.get("name")).and_then(Value::as_str);
                self.add_product(sku, name.unwrap_or(sku));
                self.products_on_the_fly += 1;
            }
        }
    }

    fn product(&self, sku: &str) -> Reply {
        match self.products.get(sku) {
            Some(p) => Reply::ok(serde_json::to_value(p).unwrap_or(Value::Null)),
            None => Reply::not_found(format!("Product {sku} not found")),
        }
    }

    fn revise(&mut self, i: usize, body: &Map<String, Value>, now: DateTime<Utc>) -> Reply {
        let next_line_id = &mut self.next_line_id;
        let existing = &mut self.orders[i];
        if existing.order.awaits_fulfillment() {
            apply_order_body(&mut existing.order, body, next_line_id);
            existing.updated = now;
            existing.writes += 1;
            self.stats.writes += 1;
        }
        Reply::ok(order_json(&self.orders[i]))
    }

    fn find(&mut self, order_number: &str) -> Result<usize, Reply> {
        self.by_number
            .get(order_number)
            .copied()
            .ok_or_else(|| Reply::not_found(format!("Order {order_number} not found")))
    }

    fn get(&mut self, order_number: &str) -> Reply {
        match self.find(order_number) {
            Ok(i) => Reply::ok(order_json(&self.orders[i])),
            Err(reply) => reply,
        }
    }

    fn list(&self, query: Option<&str>) -> Reply {
        match ListQuery::parse(query.unwrap_or("")) {
            Ok(q) => {
                let matching: Vec<&SimOrder> =
                    self.orders.iter().filter(|o| q.matches(o)).collect();
                let page: Vec<Value> =
                    matching.iter().skip(q.offset).take(q.limit).map(|o| order_json(o)).collect();
                Reply::ok(json!({
                    "count": matching.len(), "limit": q.limit, "offset": q.offset, "order": page
                }))
            }
            Err(rejection) => Reply::bad_request(rejection),
        }
    }

    /// Runs `change` on an order after checking the body; counts the write.
    fn write(
        &mut self,
        order_number: &str,
        body: &[u8],
        kind: BodyKind,
        now: DateTime<Utc>,
        change: impl FnOnce(&mut SimOrder, Map<String, Value>, &mut i64) -> Result<Reply, Reply>,
    ) -> Reply {
        let i = match self.find(order_number) {
            Ok(i) => i,
            Err(reply) => return reply,
        };
        let map = match wire::parse_body(body, kind) {
            Ok(map) => map,
            Err(rejection) => return Reply::bad_request(rejection),
        };
        match change(&mut self.orders[i], map, &mut self.next_line_id) {
            Ok(reply) => {
                let order = &mut self.orders[i];
                order.updated = now;
                order.writes += 1;
                self.stats.writes += 1;
                reply
            }
            Err(reply) => reply,
        }
    }

    fn update_address(
        &mut self,
        n: &str,
        body: &[u8],
        shipping: bool,
        now: DateTime<Utc>,
    ) -> Reply {
        self.write(n, body, BodyKind::UpdateAddress, now, |o, map, _| {
            let slot =
                if shipping { &mut o.order.shipping_address } else { &mut o.order.billing_address };
            let address = slot.get_or_insert_with(OrdoroAddress::default);
            patch_address(address, &map);
            Ok(Reply::ok(serde_json::to_value(&*address).unwrap_or(Value::Null)))
        })
    }

    fn update_financial(&mut self, n: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::Financial, now, |o, map, _| {
            let financial = o.order.financial.get_or_insert_with(OrderFinancial::default);
            for (key, slot) in financial_slots(financial) {
                if let Some(value) = map.get(key) {
                    *slot = decimal_of(value);
                }
            }
            Ok(Reply::ok(serde_json::to_value(&*financial).unwrap_or(Value::Null)))
        })
    }

    fn add_line(&mut self, n: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::NewLine, now, |o, map, next_line_id| {
            let line = OrderLine {
                id: Some(take_id(next_line_id)),
                sku: str_of(&map, "sku"),
                product_name: str_of(&map, "product_name").or_else(|| str_of(&map, "sku")),
                quantity: Some(map.get("quantity").and_then(Value::as_i64).unwrap_or(1)),
                item_price: map.get("item_price").and_then(decimal_of),
                total_price: map.get("total_price").and_then(decimal_of),
                cart_orderitem_id: str_of(&map, "cart_orderitem_id"),
            };
            o.order.lines.push(line);
            Ok(Reply { status: StatusCode::CREATED, body: order_json(o) })
        })
    }

    fn update_line(&mut self, n: &str, line_id: i64, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::LineUpdate, now, |o, map, _| {
            let line = o
                .order
                .lines
                .iter_mut()
                .find(|l| l.id == Some(line_id))
                .ok_or_else(|| Reply::not_found(format!("Order line {line_id} not found")))?;
            if let Some(q) = map.get("quantity").and_then(Value::as_i64) {
                line.quantity = Some(q);
            }
            if let Some(v) = map.get("item_price") {
                line.item_price = decimal_of(v);
            }
            if let Some(v) = map.get("total_price") {
                line.total_price = decimal_of(v);
            }
            Ok(Reply::ok(order_json(o)))
        })
    }

    fn delete_line(&mut self, n: &str, line_id: i64, now: DateTime<Utc>) -> Reply {
        self.write(n, b"{}", BodyKind::LineUpdate, now, |o, _, _| {
            let before = o.order.lines.len();
            o.order.lines.retain(|l| l.id != Some(line_id));
            if o.order.lines.len() == before {
                return Err(Reply::not_found(format!("Order line {line_id} not found")));
            }
            Ok(Reply::ok(order_json(o)))
        })
    }

    fn cancel(&mut self, n: &str, now: DateTime<Utc>) -> Reply {
        self.write(n, b"{}", BodyKind::LineUpdate, now, |o, _, _| {
            if o.order.status == "shipped" {
                let message =
                    format!("Order {} has shipped and cannot be cancelled", o.order.order_number);
                return Err(Reply::bad_request(Rejection::new(message, None)));
            }
            o.order.status = "cancelled".to_owned();
            Ok(Reply::ok(order_json(o)))
        })
    }
}

fn take_id(next: &mut i64) -> i64 {
    let id = *next;
    *next += 1;
    id
}

/// Copies a create body's addresses, lines, totals and notes onto `order`. Lines that keep
/// their `cart_orderitem_id` keep their id, as a revision would.
fn apply_order_body(order: &mut Order, body: &Map<String, Value>, next_line_id: &mut i64) {
    order.shipping_address = body.get("shipping_address").map(address_of);
    order.billing_address = body.get("billing_address").map(address_of);
    order.requested_shipping_method = str_of(body, "shipping_type");
    order.notes_from_customer = str_of(body, "notes_from_customer");
    order.internal_notes = str_of(body, "internal_notes");
    let zero = Some(Decimal::ZERO);
    let amount = |key: &str| body.get(key).and_then(decimal_of).or(zero);
    order.financial = Some(OrderFinancial {
        product_amount: amount("product_amount"),
        shipping_amount: amount("shipping_amount"),
        tax_amount: amount("tax_amount"),
        discount_amount: amount("discount_amount"),
        grand_total: amount("grand_total"),
    });
    let previous = std::mem::take(&mut order.lines);
    let lines = body.get("lines").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    order.lines = lines
        .iter()
        .map(|line| {
            let source_id = line.get("cart_orderitem_id").and_then(Value::as_str);
            let kept = previous
                .iter()
                .find(|p| source_id.is_some() && p.cart_orderitem_id.as_deref() == source_id)
                .and_then(|p| p.id);
            line_of(line, kept.unwrap_or_else(|| take_id(next_line_id)))
        })
        .collect();
}

fn line_of(line: &Value, id: i64) -> OrderLine {
    let product = line.get("product");
    let product_str = |key: &str| product.and_then(|p| p.get(key)).and_then(Value::as_str);
    OrderLine {
        id: Some(id),
        sku: product_str("sku").map(str::to_owned),
        product_name: line
            .get("product_name")
            .and_then(Value::as_str)
            .or_else(|| product_str("name"))
            .map(str::to_owned),
        quantity: Some(line.get("quantity").and_then(Value::as_i64).unwrap_or(1)),
        item_price: line
            .get("item_price")
            .or_else(|| product.and_then(|p| p.get("price")))
            .and_then(decimal_of),
        total_price: line.get("total_price").and_then(decimal_of),
        cart_orderitem_id: line.get("cart_orderitem_id").and_then(Value::as_str).map(str::to_owned),
    }
}

fn address_of(value: &Value) -> OrdoroAddress {
    let mut address = OrdoroAddress::default();
    if let Value::Object(map) = value {
        patch_address(&mut address, map);
    }
    address
}

/// Sets the fields the body names (a `null` clears one), normalising state and country the
/// way Ordoro's examples show (`tx` to `TX`, `USA` to `US`).
fn patch_address(address: &mut OrdoroAddress, map: &Map<String, Value>) {
    let slots: [(&str, &mut Option<String>); 10] = [
        ("name", &mut address.name),
        ("company", &mut address.company),
        ("street1", &mut address.street1),
        ("street2", &mut address.street2),
        ("city", &mut address.city),
        ("state", &mut address.state),
        ("zip", &mut address.zip),
        ("country", &mut address.country),
        ("email", &mut address.email),
        ("phone", &mut address.phone),
    ];
    for (key, slot) in slots {
        if let Some(value) = map.get(key) {
            *slot = value.as_str().map(str::to_owned);
        }
    }
    address.state = address.state.take().map(|s| normalise_code(&s));
    address.country =
        address.country.take().map(|c| match c.trim().to_ascii_uppercase().as_str() {
            "USA" | "U.S.A." | "UNITED STATES" => "US".to_owned(),
            _ => normalise_code(&c),
        });
}

fn normalise_code(s: &str) -> String {
    let t = s.trim();
    if t.len() == 2 && t.chars().all(|c| c.is_ascii_alphabetic()) {
        t.to_ascii_uppercase()
    } else {
        s.to_owned()
    }
}

fn financial_slots(f: &mut OrderFinancial) -> [(&'static str, &mut Option<Decimal>); 5] {
    [
        ("product_amount", &mut f.product_amount),
        ("shipping_amount", &mut f.shipping_amount),
        ("tax_amount", &mut f.tax_amount),
        ("discount_amount", &mut f.discount_amount),
        ("grand_total", &mut f.grand_total),
    ]
}

fn str_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A JSON number as a decimal, digit for digit as written.
fn decimal_of(value: &Value) -> Option<Decimal> {
    let Value::Number(n) = value else { return None };
    let text = n.to_string();
    text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&text).ok())
}

/// The order as Ordoro's `order` schema shows it.
fn order_json(o: &SimOrder) -> Value {
    let mut value = serde_json::to_value(&o.order).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        let link = format!("/order/{}", o.order.order_number);
        if let Some(Value::Array(lines)) = map.get_mut("lines") {
            for line in lines.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(id) = line.get("id").and_then(Value::as_i64) {
                    line.insert("link".into(), json!(format!("{link}/line/{id}")));
                }
                line.insert("cart_order_id".into(), json!(o.order.cart_order_id));
            }
        }
        let channel = o.channel.map(|id| json!({"id": id, "link": format!("/cart/{id}")}));
        map.insert("sales_channel".into(), channel.unwrap_or(Value::Null));
        map.insert("created_date".into(), json!(o.created.to_rfc3339()));
        map.insert("updated_date".into(), json!(o.updated.to_rfc3339()));
        map.insert(
            "order_placed_date".into(),
            json!(o.order_date.clone().unwrap_or_else(|| o.created.to_rfc3339())),
        );
        map.insert("tags".into(), Value::Array(o.tags.clone()));
        map.insert("link".into(), json!(link));
    }
    value
}

/// The parameters of `GET /v3/order` the simulator honours.
#[derive(Debug)]
struct ListQuery {
    cart_order_id: Option<String>,
    sales_channels: Vec<i64>,
    search: Option<String>,
    status: Option<String>,
    limit: usize,
    offset: usize,
}

impl ListQuery {
    fn parse(query: &str) -> Result<Self, Rejection> {
        let mut q = ListQuery {
            cart_order_id: None,
            sales_channels: Vec::new(),
            search: None,
            status: None,
            limit: 10,
            offset: 0,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "cart_order_id" => q.cart_order_id = Some(value.into_owned()),
                "search" => q.search = Some(value.to_lowercase()),
                "status" if value != "all" => q.status = Some(value.into_owned()),
                "sales_channel" => {
                    for part in value.split(',') {
                        q.sales_channels.push(integer(part, "sales_channel")?);
                    }
                }
                "limit" => {
                    let limit = integer(&value, "limit")?;
                    if !(1..=100).contains(&limit) {
                        let message = format!("limit must be between 1 and 100, not {limit}");
                        return Err(Rejection::new(message, Some("limit")));
                    }
                    q.limit = usize::try_from(limit).unwrap_or(100);
                }
                "offset" => {
                    let offset = integer(&value, "offset")?;
                    q.offset = usize::try_from(offset).map_err(|_| {
                        Rejection::new("offset must not be negative", Some("offset"))
                    })?;
                }
                _ => {}
            }
        }
        Ok(q)
    }

    fn matches(&self, o: &SimOrder) -> bool {
        let id_ok =
            self.cart_order_id.as_ref().is_none_or(|id| o.order.cart_order_id.as_ref() == Some(id));
        let channel_ok = self.sales_channels.is_empty()
            || o.channel.is_some_and(|c| self.sales_channels.contains(&c));
        let search_ok =
            self.search.as_ref().is_none_or(|s| o.order.order_number.to_lowercase().contains(s));
        let status_ok = self.status.as_ref().is_none_or(|s| &o.order.status == s);
        id_ok && channel_ok && search_ok && status_ok
    }
}

fn integer(text: &str, param: &str) -> Result<i64, Rejection> {
    text.trim().parse().map_err(|_| {
        Rejection::new(format!("{param} must be an integer, not {text:?}"), Some(param))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_decode_their_segments_and_refuse_trailing_slashes() {
        assert_eq!(parse_route("/v3/order"), Some(Route::Orders));
        assert_eq!(parse_route("/v3/order/"), None);
        assert_eq!(parse_route("/v3/order/1-A%20B%2FC"), Some(Route::Order("1-A B/C".into())));
        assert_eq!(parse_route("/v3/order/M-1/line/1001"), Some(Route::Line("M-1".into(), 1001)));
        assert_eq!(parse_route("/v3/order/M-1/line/x"), None);
        assert_eq!(parse_route("/v3/order/M-1/cancel/"), None);
        assert_eq!(parse_route("/order/"), None);
    }

    #[test]
    fn list_query_checks_limit_and_reads_channels() {
        let q = ListQuery::parse("sales_channel=3,4&sales_channel=5&limit=100&offset=7").unwrap();
        assert_eq!((q.sales_channels.as_slice(), q.limit, q.offset), (&[3, 4, 5][..], 100, 7));
        assert_eq!(ListQuery::parse("limit=101").unwrap_err().param.as_deref(), Some("limit"));
        assert_eq!(ListQuery::parse("limit=0").unwrap_err().param.as_deref(), Some("limit"));
        assert_eq!(ListQuery::parse("offset=-1").unwrap_err().param.as_deref(), Some("offset"));
    }

    #[test]
    fn decimals_keep_the_digits_as_written() {
        assert_eq!(decimal_of(&json!(4.84)), Some("4.84".parse().unwrap()));
        assert_eq!(decimal_of(&json!(100)), Some(Decimal::from(100)));
        assert_eq!(decimal_of(&json!("4.84")), None);
    }

    #[test]
    fn addresses_are_normalised_like_ordoro_examples() {
        let a = address_of(&json!({"state": "tx", "country": "USA", "name": "joe"}));
        assert_eq!((a.state.as_deref(), a.country.as_deref()), (Some("TX"), Some("US")));
        assert_eq!(a.name.as_deref(), Some("joe"));
    }
}
