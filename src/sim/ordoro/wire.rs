//! The request rules of the simulated Ordoro: which fields each body may carry and with which
//! JSON types, after the schemas in Ordoro's OpenAPI (`post_order_v1`, `update_address`,
//! `order_financial`, `post_order_line`, `put_order_line`, `put_order`, `v3_tag`). A body that
//! breaks a rule gets the 400 answer a schema validator with `additionalProperties: false`
//! would give; a body the document allows is accepted (a line without `product`, an integer
//! past 64 bits).

use serde_json::{Map, Value};

/// A refused request: Ordoro's error body fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) message: String,
    pub(crate) param: Option<String>,
}

impl Rejection {
    pub(crate) fn new(message: impl Into<String>, param: Option<&str>) -> Self {
        Rejection { message: message.into(), param: param.map(str::to_owned) }
    }
}

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    StrOrNull,
    Num,
    NumOrNull,
    Int,
    IntOrNull,
    Bool,
    Object,
    Array,
    DateTime,
    DateTimeOrNull,
    OrderStatus,
    Address,
    Lines,
    Tags,
}

const POST_ORDER: &[(&str, Ty)] = &[
    ("cart", Ty::IntOrNull),
    ("order_id", Ty::Str),
    ("cart_order_id", Ty::Str),
    ("warehouse_id", Ty::Int),
    ("order_date", Ty::DateTime),
    ("deliver_by_date", Ty::DateTime),
    ("ship_by_date", Ty::DateTime),
    ("status", Ty::OrderStatus),
    ("shipping_type", Ty::Str),
    ("notes_from_customer", Ty::Str),
    ("internal_notes", Ty::Str),
    ("product_amount", Ty::Num),
    ("shipping_amount", Ty::Num),
    ("tax_amount", Ty::Num),
    ("grand_total", Ty::Num),
    ("discount_amount", Ty::Num),
    ("cart_shipment_id", Ty::Str),
    ("credit_card_issuer", Ty::Str),
    ("tags", Ty::Tags),
    ("billing_address", Ty::Address),
    ("shipping_address", Ty::Address),
    ("alternate_ship_from_address", Ty::Address),
    ("lines", Ty::Lines),
    ("additional_cart_info", Ty::Object),
];
const POST_ORDER_REQUIRED: &[&str] = &["billing_address", "shipping_address", "order_id", "lines"];

/// `v1_address` allows other properties; these are the typed ones.
const V1_ADDRESS: &[(&str, Ty)] = &[
    ("name", Ty::StrOrNull),
    ("company", Ty::StrOrNull),
    ("street1", Ty::StrOrNull),
    ("street2", Ty::StrOrNull),
    ("city", Ty::StrOrNull),
    ("state", Ty::StrOrNull),
    ("zip", Ty::StrOrNull),
    ("country", Ty::StrOrNull),
    ("email", Ty::StrOrNull),
    ("phone", Ty::StrOrNull),
    ("fax", Ty::StrOrNull),
    ("reference_number", Ty::StrOrNull),
    ("cart_address_id", Ty::StrOrNull),
];

/// The create body's line object allows other properties; these are the typed ones.
const ORDER_LINE: &[(&str, Ty)] = &[
    ("cart_orderitem_id", Ty::Str),
    ("product_name", Ty::Str),
    ("item_price", Ty::Num),
    ("quantity", Ty::Int),
    ("selected_option", Ty::Str),
    ("total_price", Ty::Num),
    ("tax_lines", Ty::Array),
    ("product", Ty::Object),
];

/// `v1_order_line_product` allows other properties; these are the typed ones.
const LINE_PRODUCT: &[(&str, Ty)] = &[
    ("cart", Ty::Int),
    ("sku", Ty::Str),
    ("original_sku", Ty::Str),
    ("variant_sku", Ty::Str),
    ("name", Ty::Str),
    ("category", Ty::Str),
    ("weight", Ty::Num),
    ("price", Ty::Num),
    ("physical_on_hand", Ty::Int),
    ("cost", Ty::Num),
    ("low_stock_threshold", Ty::Int),
    ("out_of_stock_threshold", Ty::Int),
];

const UPDATE_ADDRESS: &[(&str, Ty)] = &[
    ("name", Ty::StrOrNull),
    ("company", Ty::StrOrNull),
    ("street1", Ty::StrOrNull),
    ("street2", Ty::StrOrNull),
    ("city", Ty::StrOrNull),
    ("state", Ty::StrOrNull),
    ("zip", Ty::StrOrNull),
    ("country", Ty::StrOrNull),
    ("email", Ty::StrOrNull),
    ("phone", Ty::StrOrNull),
    ("validate", Ty::Bool),
    ("set_revision_lock", Ty::Bool),
    ("validation", Ty::Object),
];

const ORDER_FINANCIAL: &[(&str, Ty)] = &[
    ("credit_card_issuer", Ty::StrOrNull),
    ("discount_amount", Ty::NumOrNull),
    ("product_amount", Ty::NumOrNull),
    ("shipping_amount", Ty::NumOrNull),
    ("tax_amount", Ty::NumOrNull),
    ("grand_total", Ty::NumOrNull),
];

const POST_ORDER_LINE: &[(&str, Ty)] = &[
    ("quantity", Ty::Int),
    ("item_price", Ty::Num),
    ("total_price", Ty::Num),
    ("discount_amount", Ty::Num),
    ("product_name", Ty::Str),
    ("product_serial_numbers", Ty::Array),
    ("sku", Ty::Str),
    ("details", Ty::Str),
    ("sales_channel_location_id", Ty::IntOrNull),
    ("cart_orderitem_id", Ty::Str),
    ("cart_order_id", Ty::Str),
    ("cart_shipment_id", Ty::Str),
];

const PUT_ORDER: &[(&str, Ty)] = &[
    ("notes_from_customer", Ty::Str),
    ("internal_notes", Ty::Str),
    ("batch_reference_id", Ty::Str),
    ("ship_by_date", Ty::DateTimeOrNull),
    ("deliver_by_date", Ty::DateTimeOrNull),
];

/// `v3_tag` allows other properties (the create body's tags spell the name `text`).
const V3_TAG: &[(&str, Ty)] = &[("id", Ty::Int), ("name", Ty::Str), ("color", Ty::Str)];

const PUT_ORDER_LINE: &[(&str, Ty)] = &[
    ("quantity", Ty::Int),
    ("item_price", Ty::Num),
    ("total_price", Ty::Num),
    ("discount_amount", Ty::Num),
    ("details", Ty::StrOrNull),
    ("product_serial_numbers", Ty::Array),
];

/// Which body a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    NewOrder,
    UpdateAddress,
    Financial,
    NewLine,
    LineUpdate,
    PutOrder,
    NewTag,
}

/// Parses `body` as a JSON object and checks it against the route's schema.
pub(crate) fn parse_body(body: &[u8], kind: BodyKind) -> Result<Map<String, Value>, Rejection> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Rejection::new(format!("The request body is not valid JSON: {e}"), None))?;
    let Value::Object(map) = value else {
        return Err(Rejection::new("The request body must be a JSON object", None));
    };
    let (table, required): (&[(&str, Ty)], &[&str]) = match kind {
        BodyKind::NewOrder => (POST_ORDER, POST_ORDER_REQUIRED),
        BodyKind::UpdateAddress => (UPDATE_ADDRESS, &[]),
        BodyKind::Financial => (ORDER_FINANCIAL, &[]),
        BodyKind::NewLine => (POST_ORDER_LINE, &["sku"]),
        BodyKind::LineUpdate => (PUT_ORDER_LINE, &[]),
        BodyKind::PutOrder => (PUT_ORDER, &[]),
        BodyKind::NewTag => (V3_TAG, &[]),
    };
    check_object(&map, table, required, kind != BodyKind::NewTag, "")?;
    Ok(map)
}

fn check_object(
    map: &Map<String, Value>,
    table: &[(&str, Ty)],
    required: &[&str],
    closed: bool,
    at: &str,
) -> Result<(), Rejection> {
    for name in required {
        if !map.contains_key(*name) {
            let param = join(at, name);
            return Err(Rejection::new(format!("'{name}' is a required property"), Some(&param)));
        }
    }
    for (key, value) in map {
        let param = join(at, key);
        match table.iter().find(|(name, _)| name == key) {
            Some((_, ty)) => check_value(value, *ty, &param)?,
            None if closed => {
                return Err(Rejection::new(
                    format!("Additional properties are not allowed ('{key}' was unexpected)"),
                    Some(&param),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn check_value(value: &Value, ty: Ty, param: &str) -> Result<(), Rejection> {
    let ok = match ty {
        Ty::Str => value.is_string(),
        Ty::StrOrNull => value.is_string() || value.is_null(),
        Ty::Num => value.is_number(),
        Ty::NumOrNull => value.is_number() || value.is_null(),
        Ty::Int => is_integer(value),
        Ty::IntOrNull => is_integer(value) || value.is_null(),
        Ty::Bool => value.is_boolean(),
        Ty::Object => value.is_object(),
        Ty::Array => value.is_array(),
        Ty::DateTime => value.as_str().is_some_and(is_date_time),
        Ty::DateTimeOrNull => value.is_null() || value.as_str().is_some_and(is_date_time),
        Ty::OrderStatus => {
            matches!(value.as_str(), Some("awaiting_fulfillment") | Some("shipped"))
        }
        Ty::Address => return check_nested(value, V1_ADDRESS, &[], param),
        Ty::Lines => return check_lines(value, param),
        Ty::Tags => return check_tags(value, param),
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::new(format!("{value} is not of type {}", type_name(ty)), Some(param)))
    }
}

fn check_nested(
    value: &Value,
    table: &[(&str, Ty)],
    required: &[&str],
    param: &str,
) -> Result<(), Rejection> {
    match value {
        Value::Object(map) => check_object(map, table, required, false, param),
        other => Err(Rejection::new(format!("{other} is not of type 'object'"), Some(param))),
    }
}

fn check_lines(value: &Value, param: &str) -> Result<(), Rejection> {
    let Value::Array(lines) = value else {
        return Err(Rejection::new(format!("{value} is not of type 'array'"), Some(param)));
    };
    for (i, line) in lines.iter().enumerate() {
        let at = format!("{param}.{i}");
        // The document requires nothing of a line; `product`, when there, needs its SKU and name.
        check_nested(line, ORDER_LINE, &[], &at)?;
        if let Some(product) = line.get("product") {
            check_nested(product, LINE_PRODUCT, &["sku", "name"], &format!("{at}.product"))?;
        }
    }
    Ok(())
}

fn check_tags(value: &Value, param: &str) -> Result<(), Rejection> {
    let Value::Array(tags) = value else {
        return Err(Rejection::new(format!("{value} is not of type 'array'"), Some(param)));
    };
    let table = &[("color", Ty::Str), ("text", Ty::Str)];
    for (i, tag) in tags.iter().enumerate() {
        check_nested(tag, table, &[], &format!("{param}.{i}"))?;
    }
    Ok(())
}

/// An integer as JSON Schema means it: any number without a fraction, however large.
fn is_integer(value: &Value) -> bool {
    value.is_i64()
        || value.is_u64()
        || value.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn is_date_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

fn type_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Str => "'string'",
        Ty::StrOrNull => "'string', 'null'",
        Ty::Num => "'number'",
        Ty::NumOrNull => "'number', 'null'",
        Ty::Int => "'integer'",
        Ty::IntOrNull => "'integer', 'null'",
        Ty::Bool => "'boolean'",
        Ty::Object | Ty::Address => "'object'",
        Ty::Array | Ty::Lines | Ty::Tags => "'array'",
        Ty::DateTime => "'string' (date-time)",
        Ty::DateTimeOrNull => "'string' (date-time), 'null'",
        Ty::OrderStatus => "one of 'awaiting_fulfillment', 'shipped'",
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_order(body: &str) -> Result<Map<String, Value>, Rejection> {
        parse_body(body.as_bytes(), BodyKind::NewOrder)
    }

    const MINIMAL: &str = r#"{"order_id": "1234", "billing_address": {"name": "Jane Buyer"},
        "shipping_address": {"name": "Charlie Shipper"},
        "lines": [{"product": {"sku": "Product 1", "name": "This is the description"}}]}"#;

    #[test]
    fn the_official_minimal_body_passes() {
        assert!(new_order(MINIMAL).is_ok());
    }

    #[test]
    fn the_official_example_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ordoro/examples/ordoro-post-v3-order.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let body = serde_json::to_vec(&doc["example"]["example"]["value"]).unwrap();
        assert!(parse_body(&body, BodyKind::NewOrder).is_ok());
    }

    #[test]
    fn unknown_top_level_field_is_refused_with_its_name() {
        let body = MINIMAL.replacen('{', r#"{"requested_shipping_method": "UPS", "#, 1);
        let err = new_order(&body).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("requested_shipping_method"));
    }

    #[test]
    fn amounts_as_strings_and_fractional_quantities_are_refused() {
        let body = MINIMAL.replacen('{', r#"{"grand_total": "12.50", "#, 1);
        assert_eq!(new_order(&body).unwrap_err().param.as_deref(), Some("grand_total"));
        let body = MINIMAL.replace(r#"{"product""#, r#"{"quantity": 1.5, "product""#);
        assert_eq!(new_order(&body).unwrap_err().param.as_deref(), Some("lines.0.quantity"));
    }

    #[test]
    fn missing_required_fields_are_named() {
        let err =
            new_order(r#"{"order_id": "1", "billing_address": {}, "lines": []}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("shipping_address"));
        let no_sku = MINIMAL.replace(r#""sku": "Product 1", "#, "");
        assert_eq!(new_order(&no_sku).unwrap_err().param.as_deref(), Some("lines.0.product.sku"));
    }

    #[test]
    fn sub_resource_bodies_are_closed() {
        let err = parse_body(br#"{"name": "x", "nickname": "y"}"#, BodyKind::UpdateAddress);
        assert_eq!(err.unwrap_err().param.as_deref(), Some("nickname"));
        assert!(parse_body(br#"{"tax_amount": null}"#, BodyKind::Financial).is_ok());
        let err = parse_body(br#"{"quantity": 1}"#, BodyKind::NewLine).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("sku"));
        assert!(parse_body(b"[]", BodyKind::LineUpdate).is_err());
    }
}
