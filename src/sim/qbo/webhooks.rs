//! The simulated QBO's webhooks: every change its mutators make becomes a notification, signed
//! as Intuit signs it and handed to a host-provided [`WebhookSink`] when it is due on the
//! simulator's clock (virtual time in tests), with Intuit's delivery habits and seeded faults.
//!
//! What is recorded, once webhooks are enabled ([`QboSimConfig::webhooks`](super::QboSimConfig)
//! or [`QboSim::enable_webhooks`]): [`QboSim::insert`] a `Create` of its `Invoice` or
//! `SalesReceipt`, [`QboSim::edit`] and [`QboSim::touch`] an `Update`, [`QboSim::void`] a
//! `Void` (not an update, as QBO sends it), [`QboSim::delete`] a `Delete`, and
//! [`QboSim::add_customer`], [`QboSim::add_item`] (and [`QboSim::edit_item`],
//! [`QboSim::add_class`]) the `Create` or `Update` of a list entity the sync ignores, so that
//! deliveries mix entities as real ones do. An event's time is the change's `LastUpdatedTime`.
//!
//! How a delivery is made:
//! - **Delay**: a notification leaves a seeded delay after the save ([`WebhookConfig::delay`],
//!   1 to 30 s by default; never before the simulator saw the change).
//! - **Batching**: with a [`WebhookConfig::batch_window`] of zero each change is its own
//!   delivery; otherwise the events of every company whose delay ends in the same window (aligned
//!   on the epoch) go in one delivery at the window's end, as production QBO batches over 1, 3 or
//!   5 minutes. A legacy body groups them by company; a CloudEvents array mixes them.
//! - **Format**: the legacy `eventNotifications` object (`application/json`), the CloudEvents
//!   array (`application/cloudevents+json`, mandatory since 2026), or either, drawn per delivery
//!   ([`WebhookFormat::Mixed`]), the bodies written exactly as Intuit writes them.
//!
//! The faults ([`WebhookFaults`]), each drawn per delivery from the seed, model what Intuit's
//! documentation warns of:
//! - **lost**: the delivery never arrives (an endpoint that was down for every retry, a
//!   notification Intuit dropped): only the change feed can find the change.
//! - **duplicate**: it arrives again later with the same body and the same CloudEvents ids, 10 s
//!   to 6 h after (Intuit retries an unacknowledged delivery after about 10 s, 20 s, 30 s, 5 min,
//!   20 min, 2 h, 4 h and 6 h).
//! - **late**: it arrives 1 to 6 hours late ("may be delayed during peak times"), after later
//!   changes' deliveries.
//! - **reorder**: the events inside a delivery come shuffled (notifications "may arrive out of
//!   order"); counted only for deliveries of two events or more.
//! - **forged**: an extra delivery that did not come from Intuit: a well-formed body in the same
//!   format naming a real or a made-up id, with a wrong `intuit-signature`. It is marked
//!   [`WebhookDelivery::forged`] for oracles only; a receiver must tell it by its signature.
//!
//! Same seed and same calls, same deliveries: every draw comes from one `SmallRng` seeded with
//! [`WebhookConfig::seed`], and the faults keep drawing when the simulator is calmed
//! ([`QboSim::set_calm`]), which only stops them from applying.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::QboSim;
use crate::webhook::{Operation, VerifierToken};

/// Where the simulator hands its deliveries: the host's stand-in for its webhook endpoint.
pub trait WebhookSink: Send + Sync + fmt::Debug {
    /// Receives one delivery (as Intuit's POST would bring it).
    fn deliver(&self, delivery: WebhookDelivery);
}

/// A sink that keeps every delivery until [`take`](CollectingSink::take)n.
#[derive(Debug, Default)]
pub struct CollectingSink {
    deliveries: Mutex<Vec<WebhookDelivery>>,
}

impl CollectingSink {
    /// An empty sink.
    pub fn new() -> Self {
        CollectingSink::default()
    }

    /// Every delivery received since the last call, in the order received.
    pub fn take(&self) -> Vec<WebhookDelivery> {
        std::mem::take(&mut *self.deliveries.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many deliveries are kept.
    pub fn len(&self) -> usize {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no delivery is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl WebhookSink for CollectingSink {
    fn deliver(&self, delivery: WebhookDelivery) {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).push(delivery);
    }
}

/// The payload format of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WebhookFormat {
    /// The legacy `eventNotifications` object, `Content-Type: application/json`.
    Legacy,
    /// The CloudEvents array, `Content-Type: application/cloudevents+json` (Intuit's format
    /// since 2026).
    #[default]
    CloudEvents,
    /// Either, drawn per delivery from the seed (a delivery itself is never `Mixed`).
    Mixed,
}

impl WebhookFormat {
    /// The `content-type` a delivery in this format carries.
    pub fn content_type(self) -> &'static str {
        match self {
            WebhookFormat::Legacy => "application/json",
            WebhookFormat::CloudEvents | WebhookFormat::Mixed => "application/cloudevents+json",
        }
    }
}

/// How often each delivery fault happens, per delivery, each a probability in `[0, 1]`. The
/// default injects nothing. What each models: see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookFaults {
    /// The delivery never arrives.
    pub lost: f64,
    /// It arrives again 10 s to 6 h later, same body, same event ids.
    pub duplicate: f64,
    /// It arrives 1 to 6 hours late.
    pub late: f64,
    /// The events inside it are shuffled.
    pub reorder: f64,
    /// An extra forged delivery goes with it (well-formed, wrongly signed).
    pub forged: f64,
}

impl WebhookFaults {
    /// No faults.
    pub fn none() -> Self {
        WebhookFaults::default()
    }

    /// A moderate mix of every fault.
    pub fn chaos() -> Self {
        WebhookFaults { lost: 0.05, duplicate: 0.1, late: 0.05, reorder: 0.2, forged: 0.05 }
    }
}

/// The simulator's webhook settings. `Default`: CloudEvents, delivered 1 to 30 s after the save,
/// one delivery per change, no faults, seed 0, verifier token `sim-verifier-token`. Webhooks are
/// off until a config is given ([`QboSimConfig::webhooks`](super::QboSimConfig), `None` by
/// default, or [`QboSim::enable_webhooks`]).
#[derive(Clone, PartialEq)]
pub struct WebhookConfig {
    /// The app's verifier token every genuine delivery is signed with.
    pub verifier_token: String,
    /// The payload format.
    pub format: WebhookFormat,
    /// The shortest and the longest time from a save to its delivery (drawn per change).
    pub delay: (Duration, Duration),
    /// Zero: one delivery per change. Otherwise the events of every company due within one
    /// window of this length go in one delivery at the window's end.
    pub batch_window: Duration,
    /// Seeded delivery faults.
    pub faults: WebhookFaults,
    /// Seed of every draw (delays, formats, faults, event ids).
    pub seed: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            verifier_token: "sim-verifier-token".into(),
            format: WebhookFormat::default(),
            delay: (Duration::from_secs(1), Duration::from_secs(30)),
            batch_window: Duration::ZERO,
            faults: WebhookFaults::none(),
            seed: 0,
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("verifier_token", &"<redacted>")
            .field("format", &self.format)
            .field("delay", &self.delay)
            .field("batch_window", &self.batch_window)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .finish()
    }
}

/// One delivery, as Intuit's POST brings it to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The HTTP headers: `intuit-signature` and `content-type`.
    pub headers: Vec<(String, String)>,
    /// The raw body, the bytes the signature covers.
    pub body: String,
    /// Its format (`Legacy` or `CloudEvents`).
    pub format: WebhookFormat,
    /// When it was due to arrive.
    pub due_at: DateTime<Utc>,
    /// For oracles only: not from Intuit, wrongly signed.
    pub forged: bool,
}

impl WebhookDelivery {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `intuit-signature` header.
    pub fn signature(&self) -> Option<&str> {
        self.header("intuit-signature")
    }
}

/// What the webhook sender has done so far, for tests' coverage gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookStats {
    /// Changes recorded.
    pub events: u64,
    /// Genuine deliveries made of them (each batch once, lost ones included).
    pub deliveries: u64,
    /// Deliveries handed to the sink (duplicates and forged ones included).
    pub delivered: u64,
    /// Deliveries lost.
    pub lost: u64,
    /// Deliveries that arrive twice.
    pub duplicated: u64,
    /// Deliveries 1 to 6 hours late.
    pub late: u64,
    /// Deliveries of two events or more whose events were shuffled.
    pub reordered: u64,
    /// Forged deliveries.
    pub forged: u64,
}

/// Intuit's retry intervals, one of which separates a delivery from its duplicate.
const RETRY_AFTER_SECS: [u64; 8] = [10, 20, 30, 300, 1_200, 7_200, 14_400, 21_600];
/// How late a late delivery is, in seconds.
const LATE_SECS: (u64, u64) = (3_600, 21_600);

/// One recorded change.
#[derive(Debug, Clone)]
struct Event {
    realm: String,
    entity: String,
    id: String,
    op: Operation,
    at: DateTime<Utc>,
    event_id: String,
    /// CloudEvents `data: {}` (an update may carry no `data` at all).
    data: bool,
}

/// What the dice decided for one delivery.
#[derive(Debug, Clone, Copy)]
struct Fate {
    lost: bool,
    duplicate_after: Option<Duration>,
    late_by: Option<Duration>,
    reorder: bool,
    forged: bool,
}

#[derive(Debug)]
enum What {
    /// A genuine delivery whose body is written when it is due (a batch may still grow).
    Batch { window: Option<i64>, events: Vec<Event>, format: WebhookFormat, fate: Fate },
    /// A delivery already written (a duplicate, a forged one).
    Ready(WebhookDelivery),
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    due: DateTime<Utc>,
    what: What,
}

impl Pending {
    fn lost(&self) -> bool {
        matches!(self.what, What::Batch { fate: Fate { lost: true, .. }, .. })
    }
}

/// The sender's state, present once webhooks are enabled.
struct Sender {
    config: WebhookConfig,
    token: VerifierToken,
    rng: SmallRng,
    source: String,
    pending: Vec<Pending>,
    seq: u64,
    stats: WebhookStats,
}

/// The simulator's webhook part: the sender (when enabled) and the sink.
#[derive(Default)]
pub(super) struct Webhooks {
    sender: Mutex<Option<Sender>>,
    sink: Mutex<Option<Arc<dyn WebhookSink>>>,
    calm: AtomicBool,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

impl Webhooks {
    pub(super) fn new(config: Option<WebhookConfig>) -> Self {
        let webhooks = Webhooks::default();
        if let Some(config) = config {
            webhooks.enable(config);
        }
        webhooks
    }

    fn sender(&self) -> MutexGuard<'_, Option<Sender>> {
        self.sender.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enable(&self, config: WebhookConfig) {
        *self.sender() = Some(Sender::new(config));
    }

    pub(super) fn set_calm(&self, calm: bool) {
        self.calm.store(calm, Ordering::SeqCst);
    }
}

impl Sender {
    fn new(config: WebhookConfig) -> Self {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let source = format!(
            "intuit.{}",
            base64::engine::general_purpose::STANDARD.encode(rng.random::<[u8; 32]>())
        );
        Sender {
            token: VerifierToken::from(config.verifier_token.clone()),
            config,
            rng,
            source,
            pending: Vec::new(),
            seq: 0,
            stats: WebhookStats::default(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A seeded id shaped as a version-4 UUID.
    fn event_id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid().to_string()
    }

    fn delay(&mut self) -> Duration {
        let (min, max) = self.config.delay;
        let (low, high) =
            (min.as_millis().min(max.as_millis()), min.as_millis().max(max.as_millis()));
        let millis = self.rng.random_range(low..=high);
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// Records a change seen at `now`: its event joins the delivery its delay falls in.
    fn record(&mut self, now: DateTime<Utc>, change: Change<'_>, calm: bool) {
        self.stats.events += 1;
        let event_id = self.event_id();
        let data = change.op != Operation::Update || self.rng.random_bool(0.5);
        let event = Event {
            realm: change.realm.to_string(),
            entity: change.entity.to_string(),
            id: change.id.to_string(),
            op: change.op,
            at: change.at,
            event_id,
            data,
        };
        let ready = now.max(change.at) + self.delay();
        let window = self.config.batch_window.as_millis();
        if window == 0 {
            self.open(None, ready, event, calm);
            return;
        }
        let window = i64::try_from(window).unwrap_or(i64::MAX);
        let k = ready.timestamp_millis().div_euclid(window);
        let open = self.pending.iter_mut().find_map(|p| match &mut p.what {
            What::Batch { window: Some(w), events, .. } if *w == k => Some(events),
            _ => None,
        });
        match open {
            Some(events) => events.push(event),
            None => {
                let end =
                    DateTime::from_timestamp_millis(k.saturating_add(1).saturating_mul(window))
                        .unwrap_or(ready);
                self.open(Some(k), end, event, calm);
            }
        }
    }

    /// Opens a delivery due at `nominal` (before faults) with its first event.
    fn open(&mut self, window: Option<i64>, nominal: DateTime<Utc>, event: Event, calm: bool) {
        let format = match self.config.format {
            WebhookFormat::Mixed if self.rng.random_bool(0.5) => WebhookFormat::Legacy,
            WebhookFormat::Mixed => WebhookFormat::CloudEvents,
            other => other,
        };
        let fate = self.roll(calm);
        let late_by = fate.late_by.and_then(|d| chrono::Duration::from_std(d).ok());
        let due = nominal + late_by.unwrap_or_default();
        let forgery = fate.forged.then(|| self.forge(&event, format, nominal));
        let seq = self.next_seq();
        let what = What::Batch { window, events: vec![event], format, fate };
        self.pending.push(Pending { seq, due, what });
        if let Some(forgery) = forgery {
            let seq = self.next_seq();
            self.pending.push(Pending { seq, due: nominal, what: What::Ready(forgery) });
        }
    }

    /// Draws a delivery's faults (the same draws whether calm or not, so that calming the
    /// simulator does not shift the sequence) and counts those that apply.
    fn roll(&mut self, calm: bool) -> Fate {
        let f = self.config.faults.clone();
        let mut roll = |p: f64| p > 0.0 && self.rng.random::<f64>() < p && !calm;
        let (lost, duplicate, late, reorder, forged) =
            (roll(f.lost), roll(f.duplicate), roll(f.late), roll(f.reorder), roll(f.forged));
        let retry = RETRY_AFTER_SECS[self.rng.random_range(0..RETRY_AFTER_SECS.len())];
        let late_by = self.rng.random_range(LATE_SECS.0..=LATE_SECS.1);
        // A lost delivery never arrives, so it is neither retried nor late.
        let fate = Fate {
            lost,
            duplicate_after: (duplicate && !lost).then(|| Duration::from_secs(retry)),
            late_by: (late && !lost).then(|| Duration::from_secs(late_by)),
            reorder,
            forged,
        };
        let s = &mut self.stats;
        s.deliveries += 1;
        s.lost += u64::from(fate.lost);
        s.duplicated += u64::from(fate.duplicate_after.is_some());
        s.late += u64::from(fate.late_by.is_some());
        s.forged += u64::from(fate.forged);
        fate
    }

    /// A forged delivery beside the one `real` opens: well-formed, naming the real record or a
    /// made-up one, signed with a token that is not the app's.
    fn forge(
        &mut self,
        real: &Event,
        format: WebhookFormat,
        due: DateTime<Utc>,
    ) -> WebhookDelivery {
        let made_up = self.rng.random_bool(0.5);
        let id = if made_up {
            self.rng.random_range(900_000_000u64..1_000_000_000).to_string()
        } else {
            real.id.clone()
        };
        let op = if self.rng.random_bool(0.5) { Operation::Create } else { Operation::Update };
        let entity = if self.rng.random_bool(0.5) { "Invoice" } else { "SalesReceipt" };
        let event = Event {
            entity: if made_up { entity.to_string() } else { real.entity.clone() },
            id,
            op,
            event_id: self.event_id(),
            data: true,
            ..real.clone()
        };
        let body = write_body(format, std::slice::from_ref(&event), &self.source);
        let wrong = VerifierToken::from(format!("forger-{:016x}", self.rng.random::<u64>()));
        delivery(format, body, &wrong, due, true)
    }

    /// Takes every delivery due at `now` (lost ones dropped), writes the genuine ones, and
    /// schedules their duplicates; returns them with their order keys.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, u64, WebhookDelivery)> {
        let mut out = Vec::new();
        loop {
            let (due, rest): (Vec<Pending>, Vec<Pending>) =
                std::mem::take(&mut self.pending).into_iter().partition(|p| p.due <= now);
            self.pending = rest;
            if due.is_empty() {
                return out;
            }
            for p in due {
                if let Some(d) = self.write(p.due, p.what) {
                    out.push((p.due, p.seq, d));
                }
            }
        }
    }

    /// The delivery of a pending item (`None` when lost); a duplicate is scheduled as it goes.
    fn write(&mut self, due: DateTime<Utc>, what: What) -> Option<WebhookDelivery> {
        let (mut events, format, fate) = match what {
            What::Ready(delivery) => return Some(delivery),
            What::Batch { events, format, fate, .. } => (events, format, fate),
        };
        if fate.lost {
            return None;
        }
        if fate.reorder && events.len() > 1 {
            events.shuffle(&mut self.rng);
            self.stats.reordered += 1;
        }
        let body = write_body(format, &events, &self.source);
        let written = delivery(format, body, &self.token, due, false);
        if let Some(after) = fate.duplicate_after {
            let again = due + chrono::Duration::from_std(after).unwrap_or_default();
            let seq = self.next_seq();
            let copy = WebhookDelivery { due_at: again, ..written.clone() };
            self.pending.push(Pending { seq, due: again, what: What::Ready(copy) });
        }
        Some(written)
    }

    fn arriving(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter().filter(|p| !p.lost())
    }
}

/// One change a mutator made, as the webhook sender records it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Change<'a> {
    pub(super) realm: &'a str,
    pub(super) entity: &'a str,
    pub(super) id: &'a str,
    pub(super) op: Operation,
    /// The change's `LastUpdatedTime`.
    pub(super) at: DateTime<Utc>,
}

/// A delivery of `body`, signed with `token`.
fn delivery(
    format: WebhookFormat,
    body: String,
    token: &VerifierToken,
    due_at: DateTime<Utc>,
    forged: bool,
) -> WebhookDelivery {
    let headers = vec![
        ("intuit-signature".to_string(), token.sign(body.as_bytes())),
        ("content-type".to_string(), format.content_type().to_string()),
    ];
    WebhookDelivery { headers, body, format, due_at, forged }
}

/// The body of `events` in `format`, as Intuit writes it.
fn write_body(format: WebhookFormat, events: &[Event], source: &str) -> String {
    let written = match format {
        WebhookFormat::Legacy => serde_json::to_string(&legacy(events)),
        WebhookFormat::CloudEvents | WebhookFormat::Mixed => serde_json::to_string(
            &events.iter().map(|e| cloud_event(e, source)).collect::<Vec<_>>(),
        ),
    };
    // Serialising plain strings and maps cannot fail.
    written.unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyBody<'a> {
    event_notifications: Vec<LegacyNotification<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyNotification<'a> {
    realm_id: &'a str,
    data_change_event: LegacyChanges<'a>,
}

#[derive(Serialize)]
struct LegacyChanges<'a> {
    entities: Vec<LegacyEntity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyEntity<'a> {
    name: &'a str,
    id: &'a str,
    operation: &'static str,
    last_updated: String,
}

/// The legacy object: one notification per company, in the order the companies first appear.
fn legacy(events: &[Event]) -> LegacyBody<'_> {
    let mut notifications: Vec<LegacyNotification<'_>> = Vec::new();
    for e in events {
        let entity = LegacyEntity {
            name: &e.entity,
            id: &e.id,
            operation: e.op.legacy_name(),
            last_updated: e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        match notifications.iter_mut().find(|n| n.realm_id == e.realm) {
            Some(n) => n.data_change_event.entities.push(entity),
            None => notifications.push(LegacyNotification {
                realm_id: &e.realm,
                data_change_event: LegacyChanges { entities: vec![entity] },
            }),
        }
    }
    LegacyBody { event_notifications: notifications }
}

#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    kind: String,
    datacontenttype: &'static str,
    time: String,
    intuitentityid: &'a str,
    intuitaccountid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

fn cloud_event<'a>(e: &'a Event, source: &'a str) -> CloudEvent<'a> {
    CloudEvent {
        specversion: "1.0",
        id: &e.event_id,
        source,
        kind: format!("qbo.{}.{}.v1", e.entity.to_lowercase(), e.op.cloud_event_verb()),
        datacontenttype: "application/json",
        time: e.at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        intuitentityid: &e.id,
        intuitaccountid: &e.realm,
        data: e.data.then(serde_json::Map::new),
    }
}

impl QboSim {
    /// Turns webhooks on with `config` (or starts them afresh: deliveries not yet made are
    /// dropped and the counters reset). From now on every change the simulator's mutators make
    /// is recorded; see the [module documentation](self).
    pub fn enable_webhooks(&self, config: WebhookConfig) {
        self.webhooks.enable(config);
    }

    /// Where deliveries go. Until a sink is set, due deliveries wait.
    pub fn set_webhook_sink(&self, sink: Arc<dyn WebhookSink>) {
        *self.webhooks.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Hands every delivery due at the clock's now to the sink, by due time then in the order
    /// they were made; returns how many. Lost deliveries are dropped when due. Nothing is handed
    /// (0) while no sink is set.
    pub fn deliver_due(&self) -> usize {
        let Some(sink) = self.webhooks.sink.lock().unwrap_or_else(|e| e.into_inner()).clone()
        else {
            return 0;
        };
        let now = self.clock.now();
        let mut due = {
            let mut sender = self.webhooks.sender();
            let Some(sender) = sender.as_mut() else { return 0 };
            let due = sender.take_due(now);
            sender.stats.delivered += due.len() as u64;
            due
        };
        due.sort_by_key(|(at, seq, _)| (*at, *seq));
        let n = due.len();
        for (_, _, delivery) in due {
            sink.deliver(delivery);
        }
        n
    }

    /// When the next delivery arrives (`None` when none will), for a driver to sleep until then.
    pub fn next_delivery_at(&self) -> Option<DateTime<Utc>> {
        self.webhooks.sender().as_ref()?.arriving().map(|p| p.due).min()
    }

    /// How many deliveries will still arrive (lost ones not counted): a final check drives the
    /// clock to [`next_delivery_at`](QboSim::next_delivery_at) until this is 0.
    pub fn pending_deliveries(&self) -> usize {
        self.webhooks.sender().as_ref().map_or(0, |s| s.arriving().count())
    }

    /// What the webhook sender has done so far (all zero while webhooks are off).
    pub fn webhook_stats(&self) -> WebhookStats {
        self.webhooks.sender().as_ref().map(|s| s.stats).unwrap_or_default()
    }

    /// Records `change` when webhooks are on (the mutators' one hook).
    pub(super) fn notify(&self, change: Change<'_>) {
        let now = self.clock.now();
        let calm = self.webhooks.calm.load(Ordering::SeqCst);
        if let Some(sender) = self.webhooks.sender().as_mut() {
            sender.record(now, change, calm);
        }
    }
}
