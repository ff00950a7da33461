//! Reads JSON lines on standard input, each `{"id": ..., "lines": [..]}` or
//! `{"id": ..., "shipaddr": {QBO PhysicalAddress}}` (optionally with
//! `"customer": {"display_name", "company_name"}` and `"default_country": "AU"`, the company's
//! country as an ISO alpha-2 code, used when the block names no country), and writes one JSON
//! line per input: `{"id", "name", "company", "street1", "street2", "city", "state", "zip",
//! "country"}` or `{"id", "error": {"code", "message"}}`. Blank input lines are skipped; a
//! malformed line (not JSON, or not UTF-8) gets an error line with the code `malformed_input`
//! and the program goes on.
//!
//! `cargo run --example parse_address < blocks.jsonl`

use std::io::{self, BufRead, BufWriter, Write};

use qbo_ordoro::address::{AddressContext, ParsedAddress, parse_address, parse_lines};
use qbo_ordoro::model::qbo::PhysicalAddress;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Fields<'a> {
    id: &'a Value,
    name: Option<String>,
    company: Option<String>,
    street1: Option<String>,
    street2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
    country: Option<String>,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    id: &'a Value,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut input = stdin.lock();
    let mut bytes = Vec::new();
    // Bytes, not `lines()`: a line that is not UTF-8 gets an error line, the rest still run.
    while input.read_until(b'\n', &mut bytes)? > 0 {
        match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => handle(line, &mut out)?,
            Err(e) => write_error(
                &mut out,
                &Value::Null,
                "malformed_input",
                format!("the line is not UTF-8 text: {e}"),
            )?,
        }
        bytes.clear();
    }
    out.flush()
}

fn handle(line: &str, out: &mut impl Write) -> io::Result<()> {
    let null = Value::Null;
    let input: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return write_error(out, &null, "malformed_input", format!("not a JSON object: {e}"));
        }
    };
    let id = input.get("id").unwrap_or(&null);
    let customer = customer_of(&input);
    let result = if let Some(lines) = input.get("lines") {
        let Some(items) = lines.as_array() else {
            return write_error(
                out,
                id,
                "malformed_input",
                "`lines` must be an array of strings".into(),
            );
        };
        let lines: Vec<String> = items.iter().map(text_of).collect();
        parse_lines(&lines, &customer)
    } else if let Some(addr) = input.get("shipaddr") {
        match PhysicalAddress::deserialize_lenient(addr) {
            Some(addr) => parse_address(&addr, &customer),
            None => {
                return write_error(
                    out,
                    id,
                    "malformed_input",
                    "`shipaddr` must be a QBO PhysicalAddress object".into(),
                );
            }
        }
    } else {
        return write_error(
            out,
            id,
            "empty_input",
            "the input has neither `lines` nor `shipaddr`".into(),
        );
    };
    match result {
        Ok(p) => write_fields(out, id, p),
        Err(e) => write_error(out, id, e.code.as_str(), e.message),
    }
}

/// A JSON value as a line of text: strings as they are, null as blank, others as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn customer_of(input: &Value) -> AddressContext {
    let field = |k: &str| {
        input.get("customer").and_then(|c| c.get(k)).and_then(Value::as_str).map(str::to_string)
    };
    AddressContext {
        display_name: field("display_name"),
        company_name: field("company_name"),
        default_country: input.get("default_country").map(text_of).filter(|c| !c.is_empty()),
    }
}

trait Lenient: Sized {
    fn deserialize_lenient(v: &Value) -> Option<Self>;
}

impl Lenient for PhysicalAddress {
    /// Reads a PhysicalAddress, taking any scalar field as text (QBO ids and postcodes may come
    /// as numbers from hand-written input).
    fn deserialize_lenient(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let mut fixed = serde_json::Map::new();
        for (k, val) in obj {
            let val = match val {
                Value::Number(n) => Value::String(n.to_string()),
                Value::Bool(b) => Value::String(b.to_string()),
                other => other.clone(),
            };
            fixed.insert(k.clone(), val);
        }
        serde_json::from_value(Value::Object(fixed)).ok()
    }
}

fn write_fields(out: &mut impl Write, id: &Value, p: ParsedAddress) -> io::Result<()> {
    let f = Fields {
        id,
        name: p.name,
        company: p.company,
        street1: p.street1,
        street2: p.street2,
        city: p.city,
        state: p.state,
        zip: p.zip,
        country: p.country,
    };
    serde_json::to_writer(&mut *out, &f)?;
    out.write_all(b"\n")
}

fn write_error(out: &mut impl Write, id: &Value, code: &str, message: String) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &ErrorLine { id, error: ErrorBody { code, message } })?;
    out.write_all(b"\n")
}
