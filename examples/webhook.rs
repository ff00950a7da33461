//! Judges QBO webhook deliveries as an endpoint would: checks each one's `intuit-signature`
//! under the verifier token, then reads its body (the legacy `eventNotifications` object or the
//! CloudEvents array).
//!
//! `cargo run --example webhook -- --verifier-token TOKEN < deliveries.jsonl`
//!
//! Each input line is one HTTP delivery as received: `{"id": ..., "headers": {"Header-Name":
//! "value", ...}, "body": "<the raw body, as a string>"}`, header names in any case. The body's
//! UTF-8 bytes, exactly as given, are what the signature covers. One JSON line is written per
//! input, in order:
//!
//! - `{"id", "accepted": true, "events": [{"realm_id", "entity", "qbo_id", "operation",
//!   "event_id", "occurred_at", "deleted_id"}, ...]}`, every event of the delivery in delivery
//!   order (`event_id`, `occurred_at` and `deleted_id` null when absent; `occurred_at` RFC 3339
//!   in UTC);
//! - `{"id", "accepted": false, "error": {"code", "message"}}`, the code `missing_signature`,
//!   `bad_signature` or `malformed_payload`.
//!
//! Blank lines are skipped. A line that is not JSON (or not UTF-8), or has no string `body`, is
//! refused with `malformed_payload` (its `id` echoed when it has one, else null) and the stream
//! goes on. The exit status is 0 unless standard input cannot be read.

use std::io::{self, BufRead, BufWriter, Write};

use chrono::SecondsFormat;
use clap::Parser;
use qbo_ordoro::webhook::{
    ChangeEvent, VerifierToken, WebhookError, WebhookErrorCode, receive, signature_header,
};
use serde::Serialize;
use serde_json::Value;

/// The command line.
#[derive(Parser)]
#[command(
    name = "webhook",
    about = "Judges QBO webhook deliveries (JSON lines on stdin): one verdict line each on stdout."
)]
struct Cli {
    #[arg(
        long = "verifier-token",
        value_name = "TOKEN",
        allow_hyphen_values = true,
        help = "The app's webhook verifier token (Intuit's developer portal), which signs every \
                delivery"
    )]
    verifier_token: String,
}

#[derive(Serialize)]
struct Accepted<'a> {
    id: &'a Value,
    accepted: bool,
    events: Vec<EventLine>,
}

#[derive(Serialize)]
struct EventLine {
    realm_id: String,
    entity: String,
    qbo_id: String,
    operation: &'static str,
    event_id: Option<String>,
    occurred_at: Option<String>,
    deleted_id: Option<String>,
}

impl From<ChangeEvent> for EventLine {
    fn from(event: ChangeEvent) -> Self {
        EventLine {
            realm_id: event.realm_id,
            entity: event.entity,
            qbo_id: event.qbo_id,
            operation: event.operation.as_str(),
            event_id: event.event_id,
            occurred_at: event.occurred_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            deleted_id: event.deleted_id,
        }
    }
}

#[derive(Serialize)]
struct Refused<'a> {
    id: &'a Value,
    accepted: bool,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

fn main() -> io::Result<()> {
    let cli = Cli::parse();
    let token = VerifierToken::from(cli.verifier_token);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut input = io::stdin().lock();
    let mut bytes = Vec::new();
    // Bytes, not `lines()`: a line that is not UTF-8 is refused, and the rest still run.
    while input.read_until(b'\n', &mut bytes)? > 0 {
        match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => judge(line, &token, &mut out)?,
            Err(e) => {
                let message = format!("the input line is not UTF-8 text ({e})");
                write_refused(
                    &mut out,
                    &Value::Null,
                    WebhookErrorCode::MalformedPayload,
                    &message,
                )?;
            }
        }
        bytes.clear();
        // One verdict per delivery as it comes: a caller feeding lines one by one sees each.
        out.flush()?;
    }
    out.flush()
}

/// One input line to one verdict line.
fn judge(line: &str, token: &VerifierToken, out: &mut impl Write) -> io::Result<()> {
    let null = Value::Null;
    let input: Value = match serde_json::from_str(line) {
        Ok(input) => input,
        Err(e) => {
            let message = format!("the input line is not JSON ({e}); each line is one delivery");
            return write_refused(out, &null, WebhookErrorCode::MalformedPayload, &message);
        }
    };
    let id = input.get("id").unwrap_or(&null);
    let Some(body) = input.get("body").and_then(Value::as_str) else {
        let message = "the input line has no `body` string (the raw request body as received)";
        return write_refused(out, id, WebhookErrorCode::MalformedPayload, message);
    };
    let headers = headers_of(input.get("headers"));
    let signature = signature_header(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    match receive(signature, body.as_bytes(), token) {
        Ok(events) => write_accepted(out, id, events),
        Err(WebhookError { code, message }) => write_refused(out, id, code, &message),
    }
}

/// The delivery's headers as (name, value) pairs: an object of names to values (a list of
/// values gives each), or a list of `[name, value]` pairs. Values that are not text are left
/// out; no headers at all is an empty list.
fn headers_of(headers: Option<&Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut push = |name: &str, value: &Value| match value {
        Value::String(text) => pairs.push((name.to_string(), text.clone())),
        Value::Array(values) => pairs.extend(
            values.iter().filter_map(Value::as_str).map(|v| (name.to_string(), v.to_string())),
        ),
        _ => {}
    };
    match headers {
        Some(Value::Object(map)) => map.iter().for_each(|(name, value)| push(name, value)),
        Some(Value::Array(list)) => {
            for pair in list.iter().filter_map(Value::as_array) {
                if let [Value::String(name), value] = pair.as_slice() {
                    push(name, value);
                }
            }
        }
        _ => {}
    }
    pairs
}

fn write_accepted(out: &mut impl Write, id: &Value, events: Vec<ChangeEvent>) -> io::Result<()> {
    let events = events.into_iter().map(EventLine::from).collect();
    serde_json::to_writer(&mut *out, &Accepted { id, accepted: true, events })?;
    out.write_all(b"\n")
}

fn write_refused(
    out: &mut impl Write,
    id: &Value,
    code: WebhookErrorCode,
    message: &str,
) -> io::Result<()> {
    let error = ErrorBody { code: code.as_str(), message };
    serde_json::to_writer(&mut *out, &Refused { id, accepted: false, error })?;
    out.write_all(b"\n")
}
