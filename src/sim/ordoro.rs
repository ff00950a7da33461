//! A simulated Ordoro account: an [`HttpTransport`] that answers the `/v3/order` routes the
//! client uses (create, read, list, notes, addresses, totals, lines, tags, cancel) and
//! `GET /cart/{id}/`, in Ordoro's wire format: every answer meets the response schema of
//! Ordoro's OpenAPI document (`docs/ordoro-api-notes.md` lists where the document is loose and
//! what the simulator does there). It keeps Ordoro's rules (the request schemas, order numbers
//! prefixed by the sales channel's index, 500 requests a minute, `limit` at most 100), with
//! seeded faults and latency slept on a [`Clock`], and, when asked, the worst case of issue 18
//! (a repeated `order_id` as a second order, a list that lags, late creates). Tests drive it
//! through the real client and read its state through the test hooks ([`OrdoroSim::orders`],
//! [`OrdoroSim::stats`], ...).
//!
//! Products: `GET /product/{sku}/` (the legacy route, trailing slash required, SKU
//! percent-encoded; 404 for an unknown SKU), and, as Ordoro does, a product created on the fly
//! for each SKU an order create names that the account does not know, counted by
//! [`OrdoroSim::products_created_on_the_fly`] (the junk products a wrong SKU makes).

mod doc;
mod route;
mod timing;
mod wire;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use self::doc::{AMOUNTS, Doc, SimLine, SimTag, address_json};
use self::route::{Route, parse_route, route_label};
use self::timing::{Deferred, DeferredCreates, Timing};
use self::wire::{BodyKind, Rejection};
use super::{Fault, FaultDice, FaultPlan, RateMeter};
use crate::model::ordoro::{
    AddressField, NewOrder, Order, OrdoroAddress, Product, SalesChannelRef,
};
use crate::{
    Clock, Error, HttpRequest, HttpResponse, HttpTransport, TransportError, TransportErrorKind,
};

/// The base URL [`OrdoroSim::client_config`] gives clients. The simulator serves any host; this
/// one only keeps the simulated account apart from the real one in logs.
pub const SIM_BASE_URL: &str = "https://ordoro.sim";

/// What the simulator does when a create names an `order_id` that already exists in the same
/// sales channel. Ordoro does not document its answer, so tests run the engine against each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// `400 {"error_message": "Order ... already exists", "param": "order_id"}`.
    #[default]
    Reject,
    /// `200` with the existing order brought up to date from the new body (a revision); still
    /// one order. Orders no longer awaiting fulfilment are returned unchanged.
    AcceptAsRevision,
    /// `201` with another order, as a careless API would: the repeated `order_id` gets a number
    /// of its own. Order numbers stay unique: the first order of an `order_id` is
    /// `{index}-{order_id}`, each further one `{index}-{order_id}-2`, `-3`, ... (the first
    /// suffix not taken).
    Allow,
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
    /// Seed of the list lags and late creates (the fault plan keeps its own seed, so turning
    /// these on leaves a seed's faults unchanged).
    pub seed: u64,
    /// The most a new or changed order waits before `GET /v3/order` lists it (every filter),
    /// drawn per order version uniformly in `0..=list_lag`; until then the list shows the
    /// order's last visible version, or not the order at all when it is new. Zero: the list is
    /// current. `GET /v3/order/{order_number}` and the test hooks are always current.
    pub list_lag: Duration,
    /// Probability that a create hit by an injected [`Fault::Timeout`] (the client gave up) is
    /// applied anyway, late, as if Ordoro's queue processed it after the client stopped
    /// waiting. Zero: a timed-out create does nothing.
    pub late_create: f64,
    /// The most a late create waits after the client gave up (its arrival plus
    /// `timeout_after`), drawn uniformly in `0..=late_create_delay`.
    pub late_create_delay: Duration,
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
            seed: 0,
            list_lag: Duration::ZERO,
            late_create: 0.0,
            late_create_delay: Duration::ZERO,
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
    /// Timed-out creates applied late (see [`OrdoroSimConfig::late_create`]), whatever the
    /// [`DuplicatePolicy`] made of them.
    pub late_creates: u64,
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

#[derive(Debug)]
struct State {
    channels: Vec<Channel>,
    orders: Vec<SimOrder>,
    by_number: HashMap<String, usize>,
    /// The first order of each `(channel, order_id)`: what makes a create a duplicate.
    by_order_id: HashMap<(Option<i64>, String), usize>,
    next_order_pk: i64,
    next_line_id: i64,
    next_request: u64,
    scripted: VecDeque<Fault>,
    stats: OrdoroSimStats,
    duplicate_creates: BTreeMap<String, u32>,
    timing: Timing,
    deferred: DeferredCreates,
    /// The account's order tags, ids 1, 2, ... in the order they were made.
    tags: Vec<SimTag>,
    products: BTreeMap<String, Product>,
    products_on_the_fly: u64,
}

#[derive(Debug, Clone)]
struct Channel {
    id: i64,
    index: u32,
}

impl Channel {
    /// The channel as `GET /cart/{id}/` shows it: a `custom_integration` cart (the type Ordoro
    /// recommends for an integration's own orders) with every field `cart_base` requires in a
    /// response.
    fn cart_json(&self) -> Value {
        json!({
            "id": self.id,
            "index": self.index,
            "name": format!("Custom integration {}", self.index),
            "_link": format!("/cart/{}", self.id),
            "vendor": "custom_integration",
            "vendor_display": "Custom Integration",
            "is_demo": false,
            "worker_machinga": null,
            "archived_date": null,
            "gdpr_pii_removal_requested_date": null,
            "import_min_order_placed_date": null,
            "default_packing_list_id": 1,
            "prevent_write_back_settings_adjustment": false,
            "vendor_config": {},
            "proxy_requests": false,
            "cart_download_order_statuses": [],
            "autosync_activities": [],
            "autosync_enabled": false,
        })
    }
}

/// An order: what it says now, and, when the list lags, the versions the list may still show.
#[derive(Debug, Clone)]
struct SimOrder {
    doc: Doc,
    writes: u32,
    /// Versions not yet superseded in the list, oldest first, each with the time the list
    /// shows it from (only kept when the list lags).
    versions: Vec<(DateTime<Utc>, Doc)>,
}

impl SimOrder {
    /// The version `GET /v3/order` shows at `now`: the latest visible one (older ones are
    /// dropped for good), or none while the first is not visible yet.
    fn listed(&mut self, now: DateTime<Utc>) -> Option<&Doc> {
        let visible = self.versions.iter().rposition(|(at, _)| *at <= now)?;
        self.versions.drain(..visible);
        self.versions.first().map(|(_, doc)| doc)
    }
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

impl OrdoroSim {
    /// A simulated account with default settings and no sales channel.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, OrdoroSimConfig::default())
    }

    /// A simulated account with `config`.
    pub fn with_config(clock: Arc<dyn Clock>, config: OrdoroSimConfig) -> Self {
        let expected_authorization =
            config.credentials.as_ref().map(|c| SecretString::from(c.authorization()));
        let timing =
            Timing::new(config.seed, config.list_lag, config.late_create, config.late_create_delay);
        let state = State {
            channels: Vec::new(),
            orders: Vec::new(),
            by_number: HashMap::new(),
            by_order_id: HashMap::new(),
            next_order_pk: 1,
            next_line_id: 1001,
            next_request: 0,
            scripted: VecDeque::new(),
            stats: OrdoroSimStats::default(),
            duplicate_creates: BTreeMap::new(),
            timing,
            deferred: DeferredCreates::default(),
            tags: Vec::new(),
            products: BTreeMap::new(),
            products_on_the_fly: 0,
        };
        OrdoroSim {
            clock,
            dice: FaultDice::new(config.faults.clone()),
            meter: RateMeter::new(config.requests_per_minute, Duration::from_secs(60)),
            expected_authorization,
            config,
            state: Mutex::new(state),
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

    /// Every order, oldest first (as it is now, whatever the list shows).
    pub fn orders(&self) -> Vec<Order> {
        self.lock().orders.iter().map(|o| o.doc.typed()).collect()
    }

    /// The order with this number (as it is now, whatever the list shows).
    pub fn order(&self, order_number: &str) -> Option<Order> {
        let state = self.lock();
        state.by_number.get(order_number).map(|&i| state.orders[i].doc.typed())
    }

    /// How many orders carry `order_id`, across all sales channels.
    pub fn count_by_order_id(&self, order_id: &str) -> usize {
        self.lock().orders.iter().filter(|o| o.doc.order_id == order_id).count()
    }

    /// How many timed-out creates are still to be applied late (see
    /// [`OrdoroSimConfig::late_create`]); an oracle waits for none before counting orders.
    pub fn pending_late_creates(&self) -> usize {
        self.lock().deferred.len()
    }

    /// When the next late create falls due, if any is pending: advance the clock past it and
    /// touch the simulator (any request or hook) to apply it.
    pub fn next_late_create_at(&self) -> Option<DateTime<Utc>> {
        self.lock().deferred.next_due()
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

    /// Sets one field of an order's ship-to (or erases it, with `None`), as a warehouse user
    /// editing the order in the Ordoro app would: not through the API, so not counted as a write
    /// of the sync. False when there is no such order.
    pub fn warehouse_edit_address(
        &self,
        order_number: &str,
        field: AddressField,
        value: Option<&str>,
    ) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some(&i) = state.by_number.get(order_number) else { return false };
        let order = &mut state.orders[i].doc.order;
        let address = order.shipping_address.get_or_insert_with(OrdoroAddress::default);
        *field.slot(address) = value.map(str::to_owned);
        state.changed(i, now);
        true
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

    /// The state, with every late create that has fallen due applied first: each request and
    /// each hook goes through here, so the simulator needs no task of its own and replays
    /// exactly from its seeds.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.apply_late_creates(self.clock.now(), self.config.duplicate_policy);
        state
    }

    fn set_status(&self, order_number: &str, status: &str) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some(&i) = state.by_number.get(order_number) else { return false };
        state.orders[i].doc.order.status = status.to_owned();
        state.changed(i, now);
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
            (Method::GET, Route::Orders) => state.list(query, now),
            (Method::GET, Route::Order(n)) => state.get(&n),
            (Method::PUT, Route::Order(n)) => state.update_order(&n, body, now),
            (Method::GET, Route::Tags) => state.list_tags(),
            (Method::POST, Route::Tags) => state.create_tag(body),
            (Method::POST, Route::OrderTag(n, id)) => state.tag_order(&n, id, true, now),
            (Method::DELETE, Route::OrderTag(n, id)) => state.tag_order(&n, id, false, now),
            (Method::PUT, Route::ShippingAddress(n)) => state.update_address(&n, body, true, now),
            (Method::PUT, Route::BillingAddress(n)) => state.update_address(&n, body, false, now),
            (Method::PUT, Route::Financial(n)) => state.update_financial(&n, body, now),
            (Method::POST, Route::Lines(n)) => state.add_line(&n, body, now),
            (Method::PUT, Route::Line(n, id)) => state.update_line(&n, id, body, now),
            (Method::DELETE, Route::Line(n, id)) => state.delete_line(&n, id, now),
            (Method::POST, Route::Cancel(n)) => state.cancel(&n, now),
            (Method::GET, Route::Cart(id)) => state.cart(&id),
            (Method::GET, Route::Product(sku)) => state.product(&sku),
            (method, _) => Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                Rejection::new(format!("Method {method} is not allowed here"), None),
            ),
        }
    }

    /// A create that timed out (the client gave up at its arrival plus `timeout_after`) may
    /// still be applied later, as a queue behind the API would: drawn from the seeded timing,
    /// and only when the request would have been accepted (credentials, content type, body).
    fn defer_create_maybe(&self, request: &HttpRequest) {
        let accepted = self.authorized(request) && check_content_type(request).is_ok();
        let Some(body) = accepted.then(|| wire::parse_body(request.body(), BodyKind::NewOrder))
        else {
            return;
        };
        let Ok(body) = body else { return };
        let gave_up = timing::later(self.clock.now(), to_chrono(self.config.timeout_after));
        let mut state = self.lock();
        if let Some(due) = state.timing.late_create_at(gave_up) {
            state.deferred.push(Deferred { due, body });
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
                if (&method, route.as_ref()) == (&Method::POST, Some(&Route::Orders)) {
                    self.defer_create_maybe(&request);
                }
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

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn timeout(message: &'static str) -> TransportError {
    TransportError::new(TransportErrorKind::Timeout, message)
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
        let key = (channel, order_id.clone());
        if let Some(&i) = self.by_order_id.get(&key) {
            *self.duplicate_creates.entry(order_id.clone()).or_default() += 1;
            match policy {
                DuplicatePolicy::Reject => {
                    let number = &self.orders[i].doc.order.order_number;
                    let message = format!("Order {number} already exists");
                    return Reply::bad_request(Rejection::new(message, Some("order_id")));
                }
                DuplicatePolicy::AcceptAsRevision => return self.revise(i, &body, now),
                DuplicatePolicy::Allow => {}
            }
        }
        let order_number = self.unique_number(&format!("{prefix}-{order_id}"));
        let pk = self.next_order_pk;
        self.next_order_pk += 1;
        let order = Order {
            id: Some(pk),
            order_number: order_number.clone(),
            status: str_of(&body, "status").unwrap_or_else(|| "awaiting_fulfillment".to_owned()),
            cart_order_id: str_of(&body, "cart_order_id"),
            sales_channel: channel.map(|id| SalesChannelRef { id: Some(id) }),
            ..Order::default()
        };
        let tags = body.get("tags").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let tags = tags
            .iter()
            .map(|t| {
                let text = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or_default();
                self.tag_named(text("text"), text("color"))
            })
            .collect();
        let mut doc = Doc {
            order,
            lines: Vec::new(),
            financial: Map::new(),
            extra: Map::new(),
            order_id,
            channel,
            order_date: str_of(&body, "order_date"),
            tags,
            created: now,
            updated: now,
        };
        self.create_missing_products(&body);
        apply_order_body(&mut doc, &body, &mut self.next_line_id);
        let i = self.orders.len();
        self.by_number.insert(order_number, i);
        self.by_order_id.entry(key).or_insert(i);
        self.orders.push(SimOrder { doc, writes: 0, versions: Vec::new() });
        self.wrote(i, now);
        Reply { status: StatusCode::CREATED, body: self.orders[i].doc.json() }
    }

    /// `base` when no order has that number, else `base-2`, `base-3`, ...: the first free one
    /// (a repeated `order_id` under [`DuplicatePolicy::Allow`], or an `order_id` that happens to
    /// spell such a number).
    fn unique_number(&self, base: &str) -> String {
        if !self.by_number.contains_key(base) {
            return base.to_owned();
        }
        (2u64..)
            .map(|k| format!("{base}-{k}"))
            .find(|n| !self.by_number.contains_key(n))
            .unwrap_or_else(|| base.to_owned())
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
        if self.orders[i].doc.order.awaits_fulfillment() {
            apply_order_body(&mut self.orders[i].doc, body, &mut self.next_line_id);
            self.wrote(i, now);
        }
        Reply::ok(self.orders[i].doc.json())
    }

    /// Records a write through the API to order `i` at `now`: counted in its writes and the
    /// stats, then [`State::changed`].
    fn wrote(&mut self, i: usize, now: DateTime<Utc>) {
        self.orders[i].writes += 1;
        self.stats.writes += 1;
        self.changed(i, now);
    }

    /// Records a change to order `i` at `now` (a write, or the warehouse's own edit through a
    /// test hook): its time and, when the list lags, the new version with the time the list
    /// starts showing it. Every change to an order goes through here.
    fn changed(&mut self, i: usize, now: DateTime<Utc>) {
        let visible_at = self.timing.lags().then(|| self.timing.visible_at(now));
        let order = &mut self.orders[i];
        order.doc.updated = now;
        if let Some(at) = visible_at {
            // Versions already superseded in the list are dropped first, so they stay few.
            let _ = order.listed(now);
            order.versions.push((at, order.doc.clone()));
        }
    }

    /// Applies, in order, every late create due at `now`, each as a create at its due time.
    fn apply_late_creates(&mut self, now: DateTime<Utc>, policy: DuplicatePolicy) {
        if self.deferred.len() == 0 {
            return;
        }
        for late in self.deferred.take_due(now) {
            self.stats.late_creates += 1;
            let reply = self.create(late.body, policy, late.due);
            tracing::debug!(status = %reply.status, "simulated Ordoro applied a late create");
        }
    }

    fn find(&mut self, order_number: &str) -> Result<usize, Reply> {
        self.by_number
            .get(order_number)
            .copied()
            .ok_or_else(|| Reply::not_found(format!("Order {order_number} not found")))
    }

    fn get(&mut self, order_number: &str) -> Reply {
        match self.find(order_number) {
            Ok(i) => Reply::ok(self.orders[i].doc.json()),
            Err(reply) => reply,
        }
    }

    /// `GET /v3/order`: the filters run on what the list shows at `now` (see
    /// [`OrdoroSimConfig::list_lag`]).
    fn list(&mut self, query: Option<&str>, now: DateTime<Utc>) -> Reply {
        let q = match ListQuery::parse(query.unwrap_or("")) {
            Ok(q) => q,
            Err(rejection) => return Reply::bad_request(rejection),
        };
        let lags = self.timing.lags();
        let matching: Vec<&Doc> = self
            .orders
            .iter_mut()
            .filter_map(|o| if lags { o.listed(now) } else { Some(&o.doc) })
            .filter(|doc| q.matches(doc))
            .collect();
        let page: Vec<Value> =
            matching.iter().skip(q.offset).take(q.limit).map(|doc| doc.json()).collect();
        Reply::ok(json!({
            "count": matching.len(), "limit": q.limit, "offset": q.offset, "order": page
        }))
    }

    /// `GET /cart/{id}/`: a channel added with [`OrdoroSim::add_sales_channel`].
    fn cart(&self, id: &str) -> Reply {
        let id: Option<i64> = id.parse().ok();
        match self.channels.iter().find(|c| Some(c.id) == id) {
            Some(channel) => Reply::ok(channel.cart_json()),
            None => Reply::not_found("Could not find this cart"),
        }
    }

    /// Runs `change` on an order after checking the body; counts the write.
    fn write(
        &mut self,
        order_number: &str,
        body: &[u8],
        kind: BodyKind,
        now: DateTime<Utc>,
        change: impl FnOnce(&mut Doc, Map<String, Value>, &mut i64) -> Result<Reply, Reply>,
    ) -> Reply {
        let i = match self.find(order_number) {
            Ok(i) => i,
            Err(reply) => return reply,
        };
        let map = match wire::parse_body(body, kind) {
            Ok(map) => map,
            Err(rejection) => return Reply::bad_request(rejection),
        };
        match change(&mut self.orders[i].doc, map, &mut self.next_line_id) {
            Ok(reply) => {
                self.wrote(i, now);
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
            Ok(Reply::ok(address_json(Some(address))))
        })
    }

    fn update_financial(&mut self, n: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::Financial, now, |o, map, _| {
            o.financial.extend(map);
            Ok(Reply::ok(Value::Object(o.financial.clone())))
        })
    }

    /// `PUT /v3/order/{n}` (`put_order`): the notes, and the dates and batch the order
    /// schema shows as they were sent.
    fn update_order(&mut self, n: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::PutOrder, now, |o, map, _| {
            for (key, value) in map {
                match key.as_str() {
                    "notes_from_customer" => {
                        o.order.notes_from_customer = value.as_str().map(str::to_owned)
                    }
                    "internal_notes" => o.order.internal_notes = value.as_str().map(str::to_owned),
                    _ => {
                        o.extra.insert(key, value);
                    }
                }
            }
            Ok(Reply::ok(o.json()))
        })
    }

    fn add_line(&mut self, n: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::NewLine, now, |o, map, next_line_id| {
            o.lines.push(SimLine::from_post(&map, take_id(next_line_id)));
            Ok(Reply { status: StatusCode::CREATED, body: o.json() })
        })
    }

    fn update_line(&mut self, n: &str, line_id: i64, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(n, body, BodyKind::LineUpdate, now, |o, map, _| {
            let line = o
                .lines
                .iter_mut()
                .find(|l| l.id == line_id)
                .ok_or_else(|| Reply::not_found(format!("Order line {line_id} not found")))?;
            line.patch(&map);
            Ok(Reply::ok(o.json()))
        })
    }

    fn delete_line(&mut self, n: &str, line_id: i64, now: DateTime<Utc>) -> Reply {
        self.write(n, b"{}", BodyKind::LineUpdate, now, |o, _, _| {
            let before = o.lines.len();
            o.lines.retain(|l| l.id != line_id);
            if o.lines.len() == before {
                return Err(Reply::not_found(format!("Order line {line_id} not found")));
            }
            Ok(Reply::ok(o.json()))
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
            Ok(Reply::ok(o.json()))
        })
    }

    /// The account's tag with this text, made when there is none (as a create body's `tags`
    /// name them).
    fn tag_named(&mut self, text: &str, color: &str) -> SimTag {
        if let Some(tag) = self.tags.iter().find(|t| t.text == text) {
            return tag.clone();
        }
        let tag = SimTag {
            id: self.tags.len() as i64 + 1,
            text: text.to_owned(),
            color: color.to_owned(),
        };
        self.tags.push(tag.clone());
        tag
    }

    /// `POST /v3/order/tag` (`v3_tag`): the text is `name` (or `text`, as the create body's
    /// tags spell it); a text already used is refused.
    fn create_tag(&mut self, body: &[u8]) -> Reply {
        let map = match wire::parse_body(body, BodyKind::NewTag) {
            Ok(map) => map,
            Err(rejection) => return Reply::bad_request(rejection),
        };
        let Some(text) = str_of(&map, "name").or_else(|| str_of(&map, "text")) else {
            return Reply::bad_request(Rejection::new(
                "'name' is a required property",
                Some("name"),
            ));
        };
        if self.tags.iter().any(|t| t.text == text) {
            let message = format!("Tag {text} already exists");
            return Reply::bad_request(Rejection::new(message, Some("name")));
        }
        let color = str_of(&map, "color").unwrap_or_else(|| "#C0C0C0".to_owned());
        let tag = self.tag_named(&text, &color);
        Reply { status: StatusCode::CREATED, body: tag.v3_json() }
    }

    /// `GET /v3/order/tag` (`v3_tag_list`), every tag on one page.
    fn list_tags(&self) -> Reply {
        let tags: Vec<Value> = self.tags.iter().map(SimTag::v3_json).collect();
        Reply::ok(
            json!({"count": tags.len(), "limit": tags.len().max(10), "offset": 0, "tag": tags}),
        )
    }

    /// `POST` or `DELETE /v3/order/{n}/tag/{tag_id}`: the order's tags after the change.
    fn tag_order(&mut self, n: &str, tag_id: i64, on: bool, now: DateTime<Utc>) -> Reply {
        let i = match self.find(n) {
            Ok(i) => i,
            Err(reply) => return reply,
        };
        let Some(tag) = self.tags.iter().find(|t| t.id == tag_id).cloned() else {
            return Reply::not_found(format!("Tag {tag_id} not found"));
        };
        let tags = &mut self.orders[i].doc.tags;
        tags.retain(|t| t.id != tag_id);
        if on {
            tags.push(tag);
        }
        let body = Value::Array(tags.iter().map(SimTag::json).collect());
        self.wrote(i, now);
        Reply::ok(body)
    }
}

fn take_id(next: &mut i64) -> i64 {
    let id = *next;
    *next += 1;
    id
}

/// Copies a create body's addresses, lines, totals and notes onto `doc`. Lines that keep
/// their `cart_orderitem_id` keep their id, as a revision would.
fn apply_order_body(doc: &mut Doc, body: &Map<String, Value>, next_line_id: &mut i64) {
    let order = &mut doc.order;
    order.shipping_address = body.get("shipping_address").map(address_of);
    order.billing_address = body.get("billing_address").map(address_of);
    order.requested_shipping_method = str_of(body, "shipping_type");
    order.notes_from_customer = str_of(body, "notes_from_customer");
    order.internal_notes = str_of(body, "internal_notes");
    doc.financial = AMOUNTS
        .iter()
        .map(|key| {
            let amount = doc::number(body.get(*key)).unwrap_or_else(|| 0.into());
            ((*key).to_owned(), Value::Number(amount))
        })
        .collect();
    let previous = std::mem::take(&mut doc.lines);
    let lines = body.get("lines").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    doc.lines = lines
        .iter()
        .map(|line| {
            let source_id = line.get("cart_orderitem_id").and_then(Value::as_str);
            let kept = previous
                .iter()
                .find(|p| source_id.is_some() && p.cart_orderitem_id.as_deref() == source_id)
                .map(|p| p.id);
            SimLine::from_create(line, kept.unwrap_or_else(|| take_id(next_line_id)))
        })
        .collect();
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

fn str_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
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

    fn matches(&self, o: &Doc) -> bool {
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
    use crate::ManualClock;

    const T0: &str = "2026-03-02T15:00:00Z";

    fn sim(config: OrdoroSimConfig) -> (Arc<ManualClock>, OrdoroSim) {
        let clock = Arc::new(ManualClock::new(T0.parse().unwrap()));
        let config = OrdoroSimConfig { latency: SimLatency::zero(), ..config };
        let sim = OrdoroSim::with_config(clock.clone(), config);
        sim.add_sales_channel(55);
        (clock, sim)
    }

    async fn call(sim: &OrdoroSim, method: Method, path: &str, body: Option<Value>) -> Reply {
        let builder = http::Request::builder().method(method).uri(format!("{SIM_BASE_URL}{path}"));
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Bytes::from(body.to_string())),
            None => builder.body(Bytes::new()),
        };
        let response = sim.send(request.unwrap()).await.expect("an answer");
        let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Reply { status: response.status(), body }
    }

    fn new_order(order_id: &str) -> Value {
        json!({
            "order_id": order_id, "cart": 55,
            "billing_address": {"name": "Jane Buyer"},
            "shipping_address": {"name": "Charlie Shipper"},
            "lines": [{"product": {"sku": "sku-1", "name": "Widget"}}]
        })
    }

    async fn listed_numbers(sim: &OrdoroSim, query: &str) -> Vec<String> {
        let reply = call(sim, Method::GET, &format!("/v3/order?limit=100{query}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let orders = reply.body["order"].as_array().cloned().unwrap_or_default();
        orders.iter().map(|o| o["order_number"].as_str().unwrap_or("").to_owned()).collect()
    }

    #[tokio::test]
    async fn allow_gives_each_repeated_order_id_a_number_of_its_own() {
        let config =
            OrdoroSimConfig { duplicate_policy: DuplicatePolicy::Allow, ..Default::default() };
        let (_, sim) = sim(config);
        let mut numbers = Vec::new();
        for _ in 0..3 {
            let reply = call(&sim, Method::POST, "/v3/order", Some(new_order("A"))).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            numbers.push(reply.body["order_number"].as_str().unwrap().to_owned());
        }
        assert_eq!(numbers, ["1-A", "1-A-2", "1-A-3"]);
        assert_eq!(sim.count_by_order_id("A"), 3);
        assert_eq!(sim.duplicate_creates().get("A"), Some(&2));
        // An order id that spells a taken number is no duplicate, and still gets a free number.
        let reply = call(&sim, Method::POST, "/v3/order", Some(new_order("A-2"))).await;
        assert_eq!(reply.body["order_number"], "1-A-2-2");
        assert_eq!(sim.duplicate_creates().get("A-2"), None);
        assert_eq!(sim.count_by_order_id("A-2"), 1);
    }

    #[tokio::test]
    async fn reject_stays_the_default_answer_to_a_repeat() {
        let (_, sim) = sim(OrdoroSimConfig::default());
        call(&sim, Method::POST, "/v3/order", Some(new_order("A"))).await;
        let reply = call(&sim, Method::POST, "/v3/order", Some(new_order("A"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["param"], "order_id");
        assert_eq!(sim.count_by_order_id("A"), 1);
    }

    /// How many of 20 orders created at T0 the list shows at each second 0..=31.
    async fn visible_counts(seed: u64) -> Vec<usize> {
        let lag = Duration::from_secs(30);
        let (clock, sim) = sim(OrdoroSimConfig { seed, list_lag: lag, ..Default::default() });
        for i in 0..20 {
            let reply =
                call(&sim, Method::POST, "/v3/order", Some(new_order(&format!("O{i}")))).await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        let mut counts = Vec::new();
        for _ in 0..=31 {
            counts.push(listed_numbers(&sim, "").await.len());
            assert_eq!(sim.orders().len(), 20, "the hooks are current");
            let got = call(&sim, Method::GET, "/v3/order/1-O7", None).await;
            assert_eq!(got.status, StatusCode::OK, "a read by number is current");
            clock.advance(Duration::from_secs(1));
        }
        counts
    }

    #[tokio::test]
    async fn a_lagging_list_shows_new_orders_late_and_the_same_seed_gives_the_same_lags() {
        let counts = visible_counts(11).await;
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert!(counts[0] < 20, "some order is not listed at once: {counts:?}");
        assert_eq!(counts[31], 20, "every order is listed after the lag: {counts:?}");
        assert_eq!(visible_counts(11).await, counts, "same seed, same lags");
        assert_ne!(visible_counts(12).await, counts, "another seed, other lags");
    }

    #[tokio::test]
    async fn a_lagging_list_shows_the_older_version_of_a_changed_order() {
        let lag = Duration::from_secs(30);
        let (clock, sim) = sim(OrdoroSimConfig { seed: 5, list_lag: lag, ..Default::default() });
        call(&sim, Method::POST, "/v3/order", Some(new_order("A"))).await;
        clock.advance(Duration::from_secs(31));
        assert_eq!(listed_numbers(&sim, "&status=awaiting_fulfillment").await, ["1-A"]);
        let cancelled = call(&sim, Method::POST, "/v3/order/1-A/cancel", None).await;
        assert_eq!(cancelled.status, StatusCode::OK);
        let got = call(&sim, Method::GET, "/v3/order/1-A", None).await;
        assert_eq!(got.body["status"], "cancelled", "a read by number is current");
        let mut seen = Vec::new();
        for _ in 0..=31 {
            let old = listed_numbers(&sim, "&status=awaiting_fulfillment").await.len();
            let new = listed_numbers(&sim, "&status=cancelled").await.len();
            assert_eq!(old + new, 1, "the order is listed once, in one version");
            seen.push(new == 1);
            clock.advance(Duration::from_secs(1));
        }
        assert!(!seen[0], "the change is not listed at once (seed 5)");
        assert!(seen[31], "the change is listed after the lag");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never back to the old version");
    }

    fn late(probability: f64) -> OrdoroSimConfig {
        OrdoroSimConfig {
            seed: 3,
            late_create: probability,
            late_create_delay: Duration::from_secs(10),
            timeout_after: Duration::from_secs(30),
            ..Default::default()
        }
    }

    async fn timed_out_create(sim: &OrdoroSim, order_id: &str) {
        sim.script_faults([Fault::Timeout]);
        let request = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{SIM_BASE_URL}/v3/order"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(new_order(order_id).to_string()))
            .unwrap();
        let err = sim.send(request).await.expect_err("the client gives up");
        assert_eq!(err.kind(), TransportErrorKind::Timeout);
    }

    #[tokio::test]
    async fn a_late_create_is_applied_after_its_delay_and_not_before() {
        let (clock, sim) = sim(late(1.0));
        timed_out_create(&sim, "A").await;
        let t0: DateTime<Utc> = T0.parse().unwrap();
        let due = sim.next_late_create_at().expect("one create deferred");
        assert!(due >= t0 + chrono::Duration::seconds(30), "{due}");
        assert!(due <= t0 + chrono::Duration::seconds(40), "{due}");
        assert_eq!(sim.pending_late_creates(), 1);
        clock.set(due - chrono::Duration::milliseconds(1));
        assert_eq!(sim.count_by_order_id("A"), 0, "not before its time");
        assert_eq!(
            call(&sim, Method::GET, "/v3/order/1-A", None).await.status,
            StatusCode::NOT_FOUND
        );
        clock.set(due);
        assert_eq!(sim.count_by_order_id("A"), 1, "a hook applies it when due");
        assert_eq!(sim.pending_late_creates(), 0);
        let stats = sim.stats();
        assert_eq!((stats.late_creates, stats.timeouts, stats.writes), (1, 1, 1));
        let got = call(&sim, Method::GET, "/v3/order/1-A", None).await;
        assert_eq!(got.body["created_date"], json!(due.to_rfc3339()), "created at its due time");
    }

    #[tokio::test]
    async fn late_creates_are_seeded_and_follow_the_duplicate_policy() {
        assert_eq!(late_due(3).await, late_due(3).await, "same seed, same delay");
        assert_ne!(late_due(3).await, late_due(4).await, "another seed, another delay");
        let (clock, retried) = sim(late(1.0));
        timed_out_create(&retried, "A").await;
        // The client's retry creates the order before the late create falls due.
        call(&retried, Method::POST, "/v3/order", Some(new_order("A"))).await;
        clock.advance(Duration::from_secs(11));
        assert_eq!(retried.stats().late_creates, 1);
        assert_eq!(retried.count_by_order_id("A"), 1, "Reject refuses the late repeat");
        assert_eq!(retried.duplicate_creates().get("A"), Some(&1));
        let (_, never) = sim(late(0.0));
        timed_out_create(&never, "A").await;
        assert_eq!(never.pending_late_creates(), 0, "late_create 0: a timeout does nothing");
    }

    async fn late_due(seed: u64) -> Option<DateTime<Utc>> {
        let (_, sim) = sim(OrdoroSimConfig { seed, ..late(1.0) });
        timed_out_create(&sim, "A").await;
        sim.next_late_create_at()
    }

    #[tokio::test]
    async fn notes_and_tags_change_through_their_routes() {
        let (_, sim) = sim(OrdoroSimConfig::default());
        let mut body = new_order("A");
        body["tags"] = json!([{"text": "QuickBooks", "color": "#2CA01C"}]);
        let created = call(&sim, Method::POST, "/v3/order", Some(body)).await;
        assert_eq!(
            created.body["tags"],
            json!([{"id": 1, "text": "QuickBooks", "color": "#2CA01C", "link": "/tag/1"}])
        );
        let notes = json!({"internal_notes": "checked", "ship_by_date": null});
        let put = call(&sim, Method::PUT, "/v3/order/1-A", Some(notes)).await;
        assert_eq!(
            (put.status, put.body["internal_notes"].clone()),
            (StatusCode::OK, json!("checked"))
        );
        let weight = call(&sim, Method::PUT, "/v3/order/1-A", Some(json!({"weight": 10.5}))).await;
        assert_eq!(
            (weight.status, weight.body["param"].clone()),
            (StatusCode::BAD_REQUEST, json!("weight"))
        );
        let made = call(
            &sim,
            Method::POST,
            "/v3/order/tag",
            Some(json!({"name": "Hold", "color": "#f00"})),
        )
        .await;
        assert_eq!((made.status, made.body["id"].clone()), (StatusCode::CREATED, json!(2)));
        let list = call(&sim, Method::GET, "/v3/order/tag", None).await;
        assert_eq!(list.body["count"], 2, "the create body's tag is an account tag too");
        let on = call(&sim, Method::POST, "/v3/order/1-A/tag/2", None).await;
        assert_eq!(on.body.as_array().map(Vec::len), Some(2));
        let off = call(&sim, Method::DELETE, "/v3/order/1-A/tag/1", None).await;
        assert_eq!(off.body, json!([{"id": 2, "text": "Hold", "color": "#f00", "link": "/tag/2"}]));
        let unknown = call(&sim, Method::POST, "/v3/order/1-A/tag/9", None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(sim.writes_for("1-A"), 4, "create, notes and two tag changes");
    }

    #[tokio::test]
    async fn the_cart_route_answers_a_known_channel_with_its_index() {
        let (_, sim) = sim(OrdoroSimConfig::default());
        assert_eq!(sim.add_sales_channel(77), 2);
        let cart = call(&sim, Method::GET, "/cart/77/", None).await;
        assert_eq!(cart.status, StatusCode::OK);
        assert_eq!((cart.body["id"].clone(), cart.body["index"].clone()), (json!(77), json!(2)));
        assert_eq!(cart.body["vendor"], "custom_integration");
        let unknown = call(&sim, Method::GET, "/cart/78/", None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(
            unknown.body,
            json!({"error_message": "Could not find this cart", "param": null})
        );
        let no_slash = call(&sim, Method::GET, "/cart/77", None).await;
        assert_eq!(no_slash.status, StatusCode::NOT_FOUND, "legacy routes need the slash");
        let routes = sim.stats().requests_by_route;
        assert_eq!(routes.get("GET /cart/{id}/"), Some(&2));
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
    fn addresses_are_normalised_like_ordoro_examples() {
        let a = address_of(&json!({"state": "tx", "country": "USA", "name": "joe"}));
        assert_eq!((a.state.as_deref(), a.country.as_deref()), (Some("TX"), Some("US")));
        assert_eq!(a.name.as_deref(), Some("joe"));
    }
}
