//! Properties of `webhook`: no bytes and no JSON make `parse` or `receive` panic (through the
//! fuzz target's body, which also checks that the signature decides first), and any delivery
//! written in either format, however its names are cased, its ids typed or its times offset,
//! reads back as the events it was written from.

use chrono::{DateTime, FixedOffset, Utc};
use proptest::prelude::*;
use qbo_ordoro::fuzz;
use qbo_ordoro::webhook::{ChangeEvent, Operation, VerifierToken, parse, receive};
use serde_json::{Value, json};

const KEYS: &[&str] = &[
    "eventNotifications",
    "realmId",
    "dataChangeEvent",
    "entities",
    "name",
    "id",
    "operation",
    "lastUpdated",
    "deletedId",
    "specversion",
    "type",
    "time",
    "intuitentityid",
    "intuitaccountid",
    "data",
    "deletedid",
];

const WORDS: &[&str] = &[
    "Invoice",
    "Create",
    "merge",
    "qbo.invoice.created.v1",
    "qbo.salesreceipt.voided",
    "qbo.customer.merged.v2",
    "qbo..updated.v1",
    "qbo.invoice.created.v",
    "2015-10-05T14:42:19-0700",
    "2025-09-10T21:31:25.179851517Z",
    "2025-13-10T21:31:25Z",
    "1.0",
    "310687",
    "",
    " ",
];

fn webhook_json() -> impl Strategy<Value = Value> {
    crate::support::props::json_tree(KEYS, WORDS)
}

/// An event to write, with how to write it.
#[derive(Debug, Clone)]
struct Written {
    event: ChangeEvent,
    /// The entity as the delivery spells it.
    entity_as_written: String,
    ids_as_numbers: bool,
    /// The time as the delivery writes it.
    time_text: Option<String>,
}

/// QBO's spelling, then how a delivery may write it (the CloudEvents `type` lower-cases it).
const ENTITIES: &[(&str, &str)] = &[
    ("Invoice", "INVOICE"),
    ("SalesReceipt", "salesreceipt"),
    ("Customer", "customer"),
    ("CreditMemo", "CREDITMEMO"),
    ("JournalEntry", "JournalEntry"),
];

fn digits() -> impl Strategy<Value = String> {
    (1u64..999_999_999_999).prop_map(|n| n.to_string())
}

/// A time, and its text with a fraction of 0, 3 or 9 digits and an offset with or without a
/// colon (or `Z`).
fn time() -> impl Strategy<Value = (DateTime<Utc>, String)> {
    (0i64..4_000_000_000, 0u32..1_000_000_000, 0usize..3, -48i32..=56, 0u8..3).prop_map(
        |(secs, nanos, fraction, quarter_hours, style)| {
            let digits = [0, 3, 9][fraction];
            let nanos = nanos - nanos % 10u32.pow(9 - digits as u32);
            let utc = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
            let offset = FixedOffset::east_opt(quarter_hours * 15 * 60)
                .unwrap_or(FixedOffset::east_opt(0).unwrap());
            let local = utc.with_timezone(&offset);
            let fraction = match digits {
                0 => String::new(),
                3 => local.format("%.3f").to_string(),
                _ => local.format("%.9f").to_string(),
            };
            let zone = match style {
                0 if quarter_hours == 0 => "Z".to_string(),
                0 | 1 => local.format("%:z").to_string(),
                _ => local.format("%z").to_string(),
            };
            (utc, format!("{}{fraction}{zone}", local.format("%Y-%m-%dT%H:%M:%S")))
        },
    )
}

fn written(cloud: bool) -> impl Strategy<Value = Written> {
    (
        digits(),
        prop::sample::select(ENTITIES),
        digits(),
        prop::sample::select(Operation::ALL.to_vec()),
        "[a-f0-9-]{1,36}",
        prop::option::of(time()),
        prop::option::of(digits()),
        any::<bool>(),
    )
        .prop_map(
            move |(realm, (entity, spelled), id, operation, event_id, at, deleted, numbers)| {
                Written {
                    event: ChangeEvent {
                        realm_id: realm,
                        entity: entity.to_string(),
                        qbo_id: id,
                        operation,
                        event_id: cloud.then_some(event_id),
                        occurred_at: at.as_ref().map(|(utc, _)| *utc),
                        deleted_id: deleted,
                    },
                    entity_as_written: spelled.to_string(),
                    ids_as_numbers: numbers,
                    time_text: at.map(|(_, text)| text),
                }
            },
        )
}

fn id_value(id: &str, as_number: bool) -> Value {
    match id.parse::<u64>() {
        Ok(n) if as_number => json!(n),
        _ => json!(id),
    }
}

fn legacy_body(events: &[Written]) -> Value {
    // Consecutive events of one company share its notification, as QBO groups them.
    let mut notifications: Vec<(String, Vec<Value>)> = Vec::new();
    for w in events {
        let e = &w.event;
        let mut entity = json!({"name": w.entity_as_written, "id": id_value(&e.qbo_id, w.ids_as_numbers),
                                "operation": e.operation.legacy_name()});
        if let Some(text) = &w.time_text {
            entity["lastUpdated"] = json!(text);
        }
        if let Some(deleted) = &e.deleted_id {
            entity["deletedId"] = id_value(deleted, w.ids_as_numbers);
        }
        match notifications.last_mut() {
            Some((realm, list)) if *realm == e.realm_id => list.push(entity),
            _ => notifications.push((e.realm_id.clone(), vec![entity])),
        }
    }
    let notifications: Vec<Value> = notifications
        .into_iter()
        .map(|(realm, entities)| json!({"realmId": realm, "dataChangeEvent": {"entities": entities}}))
        .collect();
    json!({"eventNotifications": notifications})
}

fn cloud_body(events: &[Written]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|w| {
            let e = &w.event;
            let event_type = format!(
                "qbo.{}.{}.v1",
                w.entity_as_written.to_lowercase(),
                e.operation.cloud_event_verb()
            );
            let mut event = json!({"specversion": "1.0", "id": e.event_id, "type": event_type,
                "intuitentityid": id_value(&e.qbo_id, w.ids_as_numbers),
                "intuitaccountid": id_value(&e.realm_id, w.ids_as_numbers)});
            if let Some(text) = &w.time_text {
                event["time"] = json!(text);
            }
            if let Some(deleted) = &e.deleted_id {
                event["data"] = json!({"deletedid": deleted});
            }
            event
        })
        .collect();
    Value::Array(events)
}

proptest! {
    #![proptest_config(crate::support::props::config(512))]

    #[test]
    fn no_bytes_make_a_delivery_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = fuzz::webhook_delivery(&data);
    }

    #[test]
    fn no_json_makes_a_delivery_panic(doc in webhook_json(), wrap in 0u8..4) {
        let doc = match wrap {
            0 => doc,
            1 => json!({"eventNotifications": [doc]}),
            2 => json!({"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [doc]}}]}),
            _ => json!([doc]),
        };
        let text = doc.to_string();
        let _ = fuzz::webhook_delivery(text.as_bytes());
    }

    #[test]
    fn a_legacy_delivery_reads_back_as_its_events(events in prop::collection::vec(written(false), 0..8)) {
        let body = legacy_body(&events).to_string();
        let want: Vec<ChangeEvent> = events.iter().map(|w| w.event.clone()).collect();
        prop_assert_eq!(parse(body.as_bytes()), Ok(want));
    }

    #[test]
    fn a_cloud_events_delivery_reads_back_as_its_events(events in prop::collection::vec(written(true), 0..8)) {
        let body = cloud_body(&events).to_string();
        let want: Vec<ChangeEvent> = events.iter().map(|w| w.event.clone()).collect();
        let token = VerifierToken::from("prop-token");
        let signature = token.sign(body.as_bytes());
        prop_assert_eq!(receive(Some(&signature), body.as_bytes(), &token), Ok(want));
    }
}
