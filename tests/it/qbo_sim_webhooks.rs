//! The QBO simulator's webhooks: which change notifies what, the bodies of both formats and
//! their signatures, batching, the seeded delivery faults and the clock that drives deliveries.
//! The bodies are read here with `serde_json` alone, so these tests hold the sender to Intuit's
//! shapes whatever the crate's own parser accepts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qbo_ordoro::model::qbo::{EntityKind, MetaData, QboCustomer, QboItem};
use qbo_ordoro::sim::qbo::{
    CollectingSink, QboSim, QboSimConfig, WebhookConfig, WebhookDelivery, WebhookFaults,
    WebhookFormat, simple_sale,
};
use qbo_ordoro::webhook::VerifierToken;
use qbo_ordoro::{Clock, ManualClock};
use serde_json::Value;

use crate::support::sim::client::start;

const TOKEN: &str = "verifier-token-of-the-app";
const REALM: &str = "9130354335318756";
const OTHER_REALM: &str = "4620816365178453210";

struct World {
    clock: Arc<ManualClock>,
    sim: QboSim,
    sink: Arc<CollectingSink>,
}

fn config(format: WebhookFormat, delay_secs: (u64, u64)) -> WebhookConfig {
    WebhookConfig {
        verifier_token: TOKEN.into(),
        format,
        delay: (Duration::from_secs(delay_secs.0), Duration::from_secs(delay_secs.1)),
        ..WebhookConfig::default()
    }
}

fn world(webhooks: Option<WebhookConfig>) -> World {
    let clock = Arc::new(ManualClock::new(start()));
    let sim = QboSim::with_config(clock.clone(), QboSimConfig { webhooks, ..Default::default() });
    let sink = Arc::new(CollectingSink::new());
    sim.set_webhook_sink(sink.clone());
    World { clock, sim, sink }
}

impl World {
    fn secs(&self, s: u64) {
        self.clock.advance(Duration::from_secs(s));
    }

    fn sale(&self, realm: &str, kind: EntityKind, n: u32) -> String {
        self.sim.insert(realm, simple_sale(kind, &n.to_string(), None, 10.into())).id
    }

    /// Drives the clock from delivery to delivery until none is left; every delivery handed.
    fn flush(&self) -> Vec<WebhookDelivery> {
        while let Some(at) = self.sim.next_delivery_at() {
            self.clock.set(at);
            assert!(self.sim.deliver_due() > 0, "nothing delivered at {at}");
        }
        assert_eq!(self.sim.pending_deliveries(), 0);
        self.sink.take()
    }
}

/// One event as a test reads it from either format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Seen {
    realm: String,
    entity: String,
    id: String,
    /// The legacy operation name (`Create`, `Update`, `Void`, `Delete`).
    op: String,
    at: DateTime<Utc>,
    event_id: Option<String>,
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no string {key} in {v}"))
}

/// The events of a body, in body order.
fn events(body: &str) -> Vec<Seen> {
    let v: Value = serde_json::from_str(body).unwrap();
    match &v {
        Value::Array(events) => events.iter().map(cloud_event).collect(),
        Value::Object(_) => legacy_events(&v),
        other => panic!("neither format: {other}"),
    }
}

fn legacy_events(v: &Value) -> Vec<Seen> {
    let mut out = Vec::new();
    for n in v["eventNotifications"].as_array().unwrap() {
        for e in n["dataChangeEvent"]["entities"].as_array().unwrap() {
            out.push(Seen {
                realm: str_of(n, "realmId").into(),
                entity: str_of(e, "name").into(),
                id: str_of(e, "id").into(),
                op: str_of(e, "operation").into(),
                at: instant(str_of(e, "lastUpdated")),
                event_id: None,
            });
        }
    }
    out
}

fn cloud_event(e: &Value) -> Seen {
    let kind = str_of(e, "type");
    let parts: Vec<&str> = kind.split('.').collect();
    assert_eq!((parts.len(), parts[0], parts[3]), (4, "qbo", "v1"), "{kind}");
    let op = match parts[2] {
        "created" => "Create",
        "updated" => "Update",
        "voided" => "Void",
        "deleted" => "Delete",
        other => panic!("verb {other}"),
    };
    let entity = match parts[1] {
        "salesreceipt" => "SalesReceipt".to_string(),
        other => format!("{}{}", other[..1].to_uppercase(), &other[1..]),
    };
    Seen {
        realm: str_of(e, "intuitaccountid").into(),
        entity,
        id: str_of(e, "intuitentityid").into(),
        op: op.into(),
        at: instant(str_of(e, "time")),
        event_id: Some(str_of(e, "id").into()),
    }
}

fn verifies(d: &WebhookDelivery) -> bool {
    VerifierToken::from(TOKEN.to_string()).verifies(d.body.as_bytes(), d.signature().unwrap())
}

fn ops(deliveries: &[WebhookDelivery]) -> Vec<(String, String, String)> {
    deliveries.iter().flat_map(|d| events(&d.body)).map(|e| (e.entity, e.id, e.op)).collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn each_mutator_notifies_its_operation_and_nothing_is_sent_while_webhooks_are_off() {
    let off = world(None);
    off.sale(REALM, EntityKind::Invoice, 1);
    off.secs(3600);
    assert_eq!((off.sim.next_delivery_at(), off.sim.deliver_due()), (None, 0));
    assert_eq!((off.sim.pending_deliveries(), off.sim.webhook_stats().events), (0, 0));

    let w = world(Some(config(WebhookFormat::Mixed, (1, 1))));
    let invoice = w.sale(REALM, EntityKind::Invoice, 1001);
    w.secs(1);
    let receipt = w.sale(REALM, EntityKind::SalesReceipt, 1002);
    w.secs(1);
    w.sim.edit(REALM, EntityKind::Invoice, &invoice, |d| d.private_note = Some("n".into()));
    w.secs(1);
    w.sim.touch(REALM, EntityKind::SalesReceipt, &receipt);
    w.secs(1);
    w.sim.void(REALM, EntityKind::Invoice, &invoice);
    w.secs(1);
    assert!(w.sim.delete(REALM, EntityKind::SalesReceipt, &receipt));
    w.secs(1);
    let customer = w.sim.add_customer(REALM, QboCustomer::default()).id;
    w.secs(1);
    let item = w.sim.add_item(REALM, QboItem { name: Some("Rock".into()), ..Default::default() });
    w.secs(1);
    w.sim.edit_item(REALM, &item.id, |i| i.sku = Some("R-1".into()));
    // Calls that change nothing notify nothing.
    assert!(w.sim.edit(REALM, EntityKind::Invoice, "777", |_| {}).is_none());
    assert!(!w.sim.delete(REALM, EntityKind::Invoice, "777"));

    let deliveries = w.flush();
    assert_eq!(w.sim.webhook_stats().events, 9);
    assert_eq!(
        ops(&deliveries),
        owned(&[
            ("Invoice", &invoice, "Create"),
            ("SalesReceipt", &receipt, "Create"),
            ("Invoice", &invoice, "Update"),
            ("SalesReceipt", &receipt, "Update"),
            ("Invoice", &invoice, "Void"),
            ("SalesReceipt", &receipt, "Delete"),
            ("Customer", &customer, "Create"),
            ("Item", &item.id, "Create"),
            ("Item", &item.id, "Update"),
        ])
    );
    let formats: HashSet<_> = deliveries.iter().map(|d| d.format).collect();
    assert_eq!(formats.len(), 2, "Mixed draws both formats: {formats:?}");
}

#[test]
fn an_event_is_timed_by_the_changes_last_updated_time_and_leaves_after_the_delay() {
    let w = world(Some(config(WebhookFormat::CloudEvents, (7, 7))));
    w.clock.advance(Duration::from_millis(400));
    let now = w.clock.now();
    let doc = w.sim.insert(REALM, simple_sale(EntityKind::Invoice, "1", None, 5.into()));
    // A sale seeded with its own, earlier, save time is notified with that time, from now.
    let mut old = simple_sale(EntityKind::SalesReceipt, "2", None, 5.into());
    let then = start() - chrono::Duration::days(2);
    old.doc.meta_data = Some(MetaData { create_time: None, last_updated_time: Some(then.into()) });
    w.sim.insert(REALM, old);

    let deliveries = w.flush();
    let seen: Vec<Seen> = deliveries.iter().flat_map(|d| events(&d.body)).collect();
    let saved = doc.meta_data.unwrap().last_updated_time.unwrap().with_timezone(&Utc);
    assert_eq!(seen[0].at, saved, "whole seconds, as LastUpdatedTime");
    assert_eq!(seen[1].at, then);
    for d in &deliveries {
        assert_eq!(d.due_at, now + chrono::Duration::seconds(7));
    }
}

#[test]
fn legacy_bodies_are_intuits_object_and_verify_under_the_token() {
    let w = world(Some(config(WebhookFormat::Legacy, (1, 30))));
    let id = w.sale(REALM, EntityKind::Invoice, 1);
    w.secs(60);
    w.sim.void(REALM, EntityKind::Invoice, &id);
    let deliveries = w.flush();
    assert_eq!(deliveries.len(), 2);
    for d in &deliveries {
        assert_eq!(d.header("Content-Type"), Some("application/json"));
        assert_eq!(d.format, WebhookFormat::Legacy);
        assert!(!d.forged && verifies(d), "{d:?}");
        assert!(
            !VerifierToken::from("another".to_string())
                .verifies(d.body.as_bytes(), d.signature().unwrap())
        );
        let v: Value = serde_json::from_str(&d.body).unwrap();
        let object = v.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), ["eventNotifications"]);
        let notification = &v["eventNotifications"][0];
        assert_eq!(notification["realmId"], REALM);
        let entity = notification["dataChangeEvent"]["entities"][0].as_object().unwrap();
        let mut keys: Vec<_> = entity.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "lastUpdated", "name", "operation"]);
        let last = entity["lastUpdated"].as_str().unwrap();
        assert!(last.ends_with(".000Z") && last.len() == 24, "{last}");
        // The signature covers the exact bytes: a re-serialised body no longer verifies.
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let token = VerifierToken::from(TOKEN.to_string());
        assert!(!token.verifies(pretty.as_bytes(), d.signature().unwrap()));
    }
    assert_eq!(ops(&deliveries), owned(&[("Invoice", &id, "Create"), ("Invoice", &id, "Void")]));
}

#[test]
fn cloudevents_bodies_are_intuits_array_with_unique_uuid_ids_and_verify() {
    let w = world(Some(config(WebhookFormat::CloudEvents, (1, 30))));
    for n in 0..40 {
        let id = w.sale(REALM, EntityKind::SalesReceipt, n);
        w.secs(5);
        w.sim.touch(REALM, EntityKind::SalesReceipt, &id);
    }
    let deliveries = w.flush();
    assert_eq!(deliveries.len(), 80);
    let mut event_ids = HashSet::new();
    let mut without_data = 0;
    for d in &deliveries {
        assert_eq!(d.header("content-type"), Some("application/cloudevents+json"));
        assert!(verifies(d));
        let v: Value = serde_json::from_str(&d.body).unwrap();
        let e = &v.as_array().unwrap()[0];
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["datacontenttype"], "application/json");
        assert_eq!(e["intuitaccountid"], REALM);
        assert!(str_of(e, "source").starts_with("intuit."));
        assert!(str_of(e, "time").ends_with('Z'));
        let id = str_of(e, "id");
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.match_indices('-').map(|(i, _)| i).collect::<Vec<_>>(), [8, 13, 18, 23]);
        assert_eq!(&id[14..15], "4", "a version-4 UUID: {id}");
        assert!(event_ids.insert(id.to_string()), "repeated id {id}");
        match e.get("data") {
            None => without_data += 1,
            Some(data) => assert_eq!(data, &serde_json::json!({})),
        }
        let kind = str_of(e, "type");
        assert!(kind == "qbo.salesreceipt.created.v1" || kind == "qbo.salesreceipt.updated.v1");
        assert!(kind.ends_with("updated.v1") || e.get("data").is_some(), "only updates lack data");
    }
    assert!(without_data > 0, "some updates carry no data at all");
}

#[test]
fn a_batch_window_puts_the_events_of_every_company_in_one_delivery() {
    for format in [WebhookFormat::Legacy, WebhookFormat::CloudEvents] {
        let w = world(Some(WebhookConfig {
            batch_window: Duration::from_secs(60),
            ..config(format, (1, 1))
        }));
        let a = w.sale(REALM, EntityKind::Invoice, 1);
        w.secs(10);
        let b = w.sale(OTHER_REALM, EntityKind::SalesReceipt, 2);
        w.secs(10);
        w.sim.touch(REALM, EntityKind::Invoice, &a);
        let window_end = start() + chrono::Duration::seconds(60);
        assert_eq!(w.sim.next_delivery_at(), Some(window_end));
        w.clock.set(window_end - chrono::Duration::seconds(1));
        assert_eq!(w.sim.deliver_due(), 0);
        w.clock.set(window_end);
        w.secs(10); // the next window
        w.sim.touch(OTHER_REALM, EntityKind::SalesReceipt, &b);

        let deliveries = w.flush();
        assert_eq!(deliveries.len(), 2, "{format:?}");
        let first: Vec<Seen> = events(&deliveries[0].body);
        let realms: HashSet<&str> = first.iter().map(|e| e.realm.as_str()).collect();
        assert_eq!(realms, HashSet::from([REALM, OTHER_REALM]));
        // In save order, except that the legacy object groups the events by company.
        let (a, b) = (a.as_str(), b.as_str());
        let in_order = match format {
            WebhookFormat::Legacy => {
                [("Invoice", a, "Create"), ("Invoice", a, "Update"), ("SalesReceipt", b, "Create")]
            }
            _ => {
                [("Invoice", a, "Create"), ("SalesReceipt", b, "Create"), ("Invoice", a, "Update")]
            }
        };
        assert_eq!(ops(&deliveries[..1]), owned(&in_order));
        assert_eq!(deliveries[0].due_at, window_end);
        assert_eq!(ops(&deliveries[1..]), owned(&[("SalesReceipt", b, "Update")]));
        if format == WebhookFormat::Legacy {
            let v: Value = serde_json::from_str(&deliveries[0].body).unwrap();
            let groups = v["eventNotifications"].as_array().unwrap();
            assert_eq!(groups.len(), 2, "one notification per company");
            assert_eq!(groups[0]["dataChangeEvent"]["entities"].as_array().unwrap().len(), 2);
        }
        let stats = w.sim.webhook_stats();
        assert_eq!((stats.events, stats.deliveries, stats.delivered), (4, 2, 2));
    }
}

#[test]
fn deliveries_follow_the_clock_by_due_time_then_creation_order() {
    let w = world(Some(config(WebhookFormat::CloudEvents, (5, 5))));
    let first = w.sale(REALM, EntityKind::Invoice, 1);
    let second = w.sale(REALM, EntityKind::Invoice, 2);
    let due = start() + chrono::Duration::seconds(5);
    assert_eq!((w.sim.next_delivery_at(), w.sim.pending_deliveries()), (Some(due), 2));
    assert_eq!(w.sim.deliver_due(), 0);
    w.secs(4);
    assert_eq!(w.sim.deliver_due(), 0);
    assert!(w.sink.is_empty());
    w.secs(1);
    assert_eq!(w.sim.deliver_due(), 2);
    let got = w.sink.take();
    assert_eq!(ops(&got), owned(&[("Invoice", &first, "Create"), ("Invoice", &second, "Create")]));
    assert!(got.iter().all(|d| d.due_at == due));
    assert_eq!((w.sim.next_delivery_at(), w.sim.pending_deliveries()), (None, 0));

    // Without a sink, due deliveries wait for one.
    let clock = Arc::new(ManualClock::new(start()));
    let settings = QboSimConfig {
        webhooks: Some(config(WebhookFormat::Legacy, (1, 1))),
        ..Default::default()
    };
    let sim = QboSim::with_config(clock.clone(), settings);
    sim.insert(REALM, simple_sale(EntityKind::Invoice, "1", None, 5.into()));
    clock.advance(Duration::from_secs(2));
    assert_eq!((sim.deliver_due(), sim.pending_deliveries()), (0, 1));
    let sink = Arc::new(CollectingSink::new());
    sim.set_webhook_sink(sink.clone());
    assert_eq!((sim.deliver_due(), sink.len()), (1, 1));
}

#[test]
fn forged_deliveries_are_well_formed_but_their_signature_fails() {
    let w = world(Some(WebhookConfig {
        faults: WebhookFaults { forged: 1.0, ..WebhookFaults::none() },
        ..config(WebhookFormat::Mixed, (1, 30))
    }));
    let mut real = HashSet::new();
    for n in 0..60 {
        real.insert(w.sale(REALM, EntityKind::Invoice, n));
        w.secs(3);
    }
    let deliveries = w.flush();
    let (forged, genuine): (Vec<_>, Vec<_>) = deliveries.iter().partition(|d| d.forged);
    assert_eq!((genuine.len(), forged.len()), (60, 60));
    assert_eq!(w.sim.webhook_stats().forged, 60);
    assert!(genuine.iter().all(|d| verifies(d)));
    let mut naming_real = 0;
    for d in &forged {
        assert!(!verifies(d), "a forged delivery must not verify: {d:?}");
        assert_eq!(d.header("content-type"), Some(d.format.content_type()));
        let seen = events(&d.body);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].realm, REALM);
        naming_real += usize::from(real.contains(&seen[0].id));
    }
    assert!((10..=50).contains(&naming_real), "real and made-up ids: {naming_real} of 60 real");
}

/// A long stream of changes, every fault on: two thirds sales, then edits and voids of them.
fn stormy(seed: u64, changes: u32, faults: WebhookFaults) -> (World, Vec<WebhookDelivery>) {
    let w = world(Some(WebhookConfig {
        batch_window: Duration::from_secs(30),
        faults,
        seed,
        ..config(WebhookFormat::Mixed, (1, 30))
    }));
    let mut last = (REALM, String::new());
    let mut out = Vec::new();
    for n in 0..changes {
        if n % 3 == 2 {
            assert!(w.sim.void(last.0, EntityKind::Invoice, &last.1).is_some());
        } else {
            let realm = if n % 2 == 0 { REALM } else { OTHER_REALM };
            last = (realm, w.sale(realm, EntityKind::Invoice, n));
        }
        w.secs(10);
        w.sim.deliver_due();
        out.extend(w.sink.take());
    }
    out.extend(w.flush());
    (w, out)
}

fn near(count: u64, of: u64, p: f64) -> bool {
    let expected = p * of as f64;
    let sd = (of as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - expected).abs() <= 4.0 * sd + 1.0
}

#[test]
fn every_fault_happens_at_about_its_rate_and_the_deliveries_show_it() {
    let p = 0.1;
    let faults = WebhookFaults { lost: p, duplicate: p, late: p, reorder: p * 2.0, forged: p };
    let (w, deliveries) = stormy(14, 6000, faults);
    let s = w.sim.webhook_stats();
    assert_eq!(s.events, 6000);
    assert!((1500..=2500).contains(&s.deliveries), "about 3 events a 30 s window: {s:?}");
    assert!(near(s.lost, s.deliveries, p), "{s:?}");
    assert!(near(s.duplicated, s.deliveries - s.lost, p), "{s:?}");
    assert!(near(s.late, s.deliveries - s.lost, p), "{s:?}");
    assert!(near(s.forged, s.deliveries, p), "{s:?}");
    // Shuffling counts only where there are two events or more: most deliveries, not all.
    let reordered = s.reordered as f64 / s.deliveries as f64;
    assert!((0.1..=0.25).contains(&reordered), "{s:?}");
    assert_eq!(s.delivered, deliveries.len() as u64);

    let (forged, genuine): (Vec<_>, Vec<_>) = deliveries.iter().partition(|d| d.forged);
    assert_eq!(forged.len() as u64, s.forged);
    assert!(forged.iter().all(|d| !verifies(d)) && genuine.iter().all(|d| verifies(d)));
    // A duplicate repeats its body byte for byte (same event ids), later.
    let mut first_seen: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut repeats = 0u64;
    for d in &genuine {
        match first_seen.get(d.body.as_str()) {
            Some(at) => {
                repeats += 1;
                let after = d.due_at - *at;
                assert!(
                    after >= chrono::Duration::seconds(10) && after <= chrono::Duration::hours(6)
                );
            }
            None => {
                first_seen.insert(&d.body, d.due_at);
            }
        }
    }
    assert_eq!(repeats, s.duplicated);
    assert_eq!(first_seen.len() as u64, s.deliveries - s.lost, "lost ones never arrive");
    // Lost deliveries' events never arrive; every other event arrives.
    let arrived: HashSet<Seen> = genuine.iter().flat_map(|d| events(&d.body)).collect();
    assert!(arrived.len() < 6000 && arrived.len() > 6000 * 8 / 10, "{}", arrived.len());
    // A late delivery leaves 1 to 6 hours after its events' saves; any other within a minute.
    let mut late = 0;
    let mut shuffled = 0;
    for (body, at) in &first_seen {
        let seen = events(body);
        let newest = seen.iter().map(|e| e.at).max().unwrap();
        let lag = *at - newest;
        if lag >= chrono::Duration::hours(1) {
            late += 1;
            assert!(lag <= chrono::Duration::hours(6) + chrono::Duration::minutes(1), "{lag}");
        } else {
            assert!(lag <= chrono::Duration::seconds(60), "{lag}");
        }
        shuffled += usize::from(seen.windows(2).any(|p| p[0].at > p[1].at));
    }
    assert_eq!(late, s.late);
    assert!(shuffled > 0 && shuffled as u64 <= s.reordered, "{shuffled} of {}", s.reordered);
}

#[test]
fn the_same_seed_replays_the_same_deliveries_and_another_does_not() {
    let faults = WebhookFaults::chaos();
    let (_, a) = stormy(7, 600, faults.clone());
    let (_, b) = stormy(7, 600, faults.clone());
    let (_, c) = stormy(8, 600, faults);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_calm_simulator_delivers_everything_once() {
    let faults = WebhookFaults { lost: 1.0, duplicate: 1.0, late: 1.0, reorder: 1.0, forged: 1.0 };
    let w = world(Some(WebhookConfig { faults, ..config(WebhookFormat::CloudEvents, (1, 30)) }));
    w.sale(REALM, EntityKind::Invoice, 1);
    assert_eq!(w.sim.pending_deliveries(), 1, "a forged one, the genuine one lost");
    w.sim.set_calm(true);
    w.sale(REALM, EntityKind::Invoice, 2);
    let deliveries = w.flush();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries.iter().filter(|d| d.forged).count(), 1);
    let genuine: Vec<_> = deliveries.iter().filter(|d| !d.forged).collect();
    assert!(verifies(genuine[0]) && genuine[0].due_at <= start() + chrono::Duration::seconds(30));
}
