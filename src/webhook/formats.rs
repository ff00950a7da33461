//! Reading a delivery's body, in either of QBO's two formats, into [`ChangeEvent`]s. The formats
//! are told apart by shape: an object with `eventNotifications` is the legacy format, an array
//! the CloudEvents one. A delivery reads whole or not at all: one event that does not read
//! refuses it, naming where the event is and what is wrong with it.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};

use super::{ChangeEvent, Operation, WebhookError, entities};
use crate::model::lenient::kind;

/// Where an event is in the body and what is wrong with it.
struct Unreadable {
    at: String,
    what: String,
}

type Read<T> = Result<T, Unreadable>;

/// Reads a delivery's body (legacy or CloudEvents) into its events, in delivery order.
pub(super) fn parse(body: &[u8]) -> Result<Vec<ChangeEvent>, WebhookError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        WebhookError::malformed(format!("the body is not JSON ({e}), so it is neither format"))
    })?;
    let events = match &value {
        Value::Array(items) => cloud_events(items),
        Value::Object(obj) => match field(obj, "eventNotifications") {
            Some(Value::Array(notifications)) => legacy(notifications),
            Some(other) => Err(Unreadable {
                at: "eventNotifications".into(),
                what: format!("it is {}, not an array", kind(other)),
            }),
            None => {
                let hint = if field(obj, "specversion").is_some() {
                    " (a single CloudEvent: QBO sends an array of them)"
                } else {
                    ""
                };
                return Err(WebhookError::malformed(format!(
                    "the body is an object without `eventNotifications`{hint}, so it is neither \
                     format"
                )));
            }
        },
        other => {
            return Err(WebhookError::malformed(format!(
                "the body is {}, neither a legacy object nor a CloudEvents array",
                kind(other)
            )));
        }
    };
    events.map_err(|bad| {
        WebhookError::malformed(format!("the event at {} does not read: {}", bad.at, bad.what))
    })
}

/// The legacy format: each notification a company's, with its entities' changes.
fn legacy(notifications: &[Value]) -> Read<Vec<ChangeEvent>> {
    let mut events = Vec::new();
    for (n, notification) in notifications.iter().enumerate() {
        let at = format!("eventNotifications[{n}]");
        let obj = object(notification, &at)?;
        let realm_id = required_text(obj, "realmId", &at)?;
        let change_at = format!("{at}.dataChangeEvent");
        let change = object(field(obj, "dataChangeEvent").unwrap_or(&Value::Null), &change_at)?;
        let entities_at = format!("{change_at}.entities");
        let list = match field(change, "entities") {
            Some(Value::Array(list)) => list,
            other => {
                return Err(bad(
                    &entities_at,
                    format!("expected an array, got {}", kind_of(other)),
                ));
            }
        };
        for (i, entity) in list.iter().enumerate() {
            events.push(legacy_event(entity, &realm_id, &format!("{entities_at}[{i}]"))?);
        }
    }
    Ok(events)
}

fn legacy_event(entity: &Value, realm_id: &str, at: &str) -> Read<ChangeEvent> {
    let obj = object(entity, at)?;
    let name = required_text(obj, "name", at)?;
    let qbo_id = required_text(obj, "id", at)?;
    let op = required_text(obj, "operation", at)?;
    let operation = Operation::ALL
        .into_iter()
        .find(|o| o.legacy_name().eq_ignore_ascii_case(&op))
        .ok_or_else(|| bad(at, format!("`operation` `{}` is not a QBO operation", clip(&op))))?;
    Ok(ChangeEvent {
        realm_id: realm_id.to_string(),
        entity: entities::from_legacy(&name),
        qbo_id,
        operation,
        event_id: None,
        occurred_at: time(obj, "lastUpdated", at)?,
        deleted_id: optional_text(obj, "deletedId", at)?,
    })
}

/// The CloudEvents format: an array of events, each one change.
fn cloud_events(items: &[Value]) -> Read<Vec<ChangeEvent>> {
    items.iter().enumerate().map(|(i, item)| cloud_event(item, &format!("[{i}]"))).collect()
}

fn cloud_event(item: &Value, at: &str) -> Read<ChangeEvent> {
    let obj = object(item, at)?;
    if field(obj, "specversion").is_none() {
        return Err(bad(at, "it has no `specversion`, so it is not a CloudEvent".into()));
    }
    let event_type = required_text(obj, "type", at)?;
    let (entity, operation) = cloud_event_type(&event_type).ok_or_else(|| {
        bad(
            at,
            format!(
                "`type` `{}` is not `qbo.<entity>.<verb>.v<N>` with a verb among created, \
                 updated, deleted, voided, merged, emailed",
                clip(&event_type)
            ),
        )
    })?;
    let data = match field(obj, "data") {
        None => None,
        Some(Value::Object(data)) => Some(data),
        Some(other) => return Err(bad(at, format!("`data` is {}, not an object", kind(other)))),
    };
    let deleted_id = match data {
        Some(data) => optional_text(data, "deletedId", &format!("{at}.data"))?,
        None => None,
    };
    Ok(ChangeEvent {
        realm_id: required_text(obj, "intuitaccountid", at)?,
        entity: entities::from_cloud_event(entity),
        qbo_id: required_text(obj, "intuitentityid", at)?,
        operation,
        event_id: optional_text(obj, "id", at)?,
        occurred_at: time(obj, "time", at)?,
        deleted_id,
    })
}

/// `qbo.<entity>.<verb>`, optionally followed by `.v<N>`: the entity as written and the
/// operation; `None` when the type is not of that form or the verb is unknown.
fn cloud_event_type(event_type: &str) -> Option<(&str, Operation)> {
    let parts: Vec<&str> = event_type.split('.').collect();
    let (prefix, entity, verb, version) = match parts.as_slice() {
        [prefix, entity, verb] => (*prefix, *entity, *verb, None),
        [prefix, entity, verb, version] => (*prefix, *entity, *verb, Some(*version)),
        _ => return None,
    };
    let version_reads = version.is_none_or(|v| {
        let digits = v.strip_prefix(['v', 'V']).unwrap_or("");
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !prefix.eq_ignore_ascii_case("qbo") || entity.trim().is_empty() || !version_reads {
        return None;
    }
    let operation =
        Operation::ALL.into_iter().find(|o| o.cloud_event_verb().eq_ignore_ascii_case(verb))?;
    Some((entity.trim(), operation))
}

/// An event's time in UTC: RFC 3339 (`Z`, `+00:00`, any fraction of a second), or with an
/// offset written without a colon (`2015-10-05T14:42:19-0700`, in an older QBO sample). Absent
/// (or `null`, or blank) is `None`; present but unreadable does not read.
fn time(obj: &Map<String, Value>, name: &str, at: &str) -> Read<Option<DateTime<Utc>>> {
    let Some(text) = optional_text(obj, name, at)? else { return Ok(None) };
    DateTime::parse_from_rfc3339(&text)
        .or_else(|_| DateTime::<FixedOffset>::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            bad(at, format!("`{name}` `{}` is not a date-time with an offset", clip(&text)))
        })
}

/// A field by its name, or by the same name in another case (`deletedid` for `deletedId`);
/// `null` is absent.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .filter(|v| !v.is_null())
}

/// A text field: a string (trimmed), or a number as its decimal text (QBO ids sometimes arrive
/// as numbers); absent, `null` or blank is `None`; anything else does not read.
fn optional_text(obj: &Map<String, Value>, name: &str, at: &str) -> Read<Option<String>> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(bad(at, format!("`{name}` is {}, not a string", kind(other)))),
    }
}

fn required_text(obj: &Map<String, Value>, name: &str, at: &str) -> Read<String> {
    optional_text(obj, name, at)?.ok_or_else(|| bad(at, format!("`{name}` is missing or empty")))
}

fn object<'a>(value: &'a Value, at: &str) -> Read<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| bad(at, format!("expected an object, got {}", kind(value))))
}

fn bad(at: &str, what: String) -> Unreadable {
    Unreadable { at: at.to_string(), what }
}

fn kind_of(value: Option<&Value>) -> &'static str {
    value.map_or("nothing", kind)
}

/// At most 60 characters of what was received, so that a message stays short whatever came.
fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}
