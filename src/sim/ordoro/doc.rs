//! An order of the simulated Ordoro as it stands at one moment ([`Doc`]), and its wire shape:
//! the `order` object of Ordoro's OpenAPI document, which allows no property it does not list
//! and requires on each line `quantity`, `item_price`, `supplier_price`, `link`,
//! `product_name`, `product_link`, `sku`, `shippability`, `details` and `upc`. Amounts and
//! quantities are kept as the JSON numbers they were sent as, so none is lost or turned to
//! `null` however large; the typed [`Order`] the test hooks return is derived from them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value, json};

use crate::model::ordoro::{Order, OrderFinancial, OrderLine, OrdoroAddress};

/// The five amounts of `order_financial` a create sets (0 when the body leaves one out).
pub(crate) const AMOUNTS: [&str; 5] =
    ["product_amount", "shipping_amount", "tax_amount", "discount_amount", "grand_total"];

/// What an order says at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    /// The header: number, status, `cart_order_id` (kept for the list filter, not shown),
    /// channel, addresses, shipping method and notes. Its `lines` and `financial` stay empty:
    /// they live in `lines` and `financial` below.
    pub(crate) order: Order,
    pub(crate) lines: Vec<SimLine>,
    /// `order_financial` as sent, numbers as written.
    pub(crate) financial: Map<String, Value>,
    /// Fields set through `PUT /v3/order/{n}` that the header has no place for
    /// (`batch_reference_id`, `ship_by_date`, `deliver_by_date`).
    pub(crate) extra: Map<String, Value>,
    pub(crate) order_id: String,
    pub(crate) channel: Option<i64>,
    pub(crate) order_date: Option<String>,
    pub(crate) tags: Vec<SimTag>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
}

/// A line as Ordoro shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimLine {
    pub(crate) id: i64,
    pub(crate) sku: String,
    pub(crate) product_name: String,
    pub(crate) quantity: Number,
    pub(crate) item_price: Number,
    pub(crate) total_price: Option<Number>,
    pub(crate) cart_orderitem_id: Option<String>,
    pub(crate) details: Option<String>,
}

/// A tag of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimTag {
    pub(crate) id: i64,
    pub(crate) text: String,
    pub(crate) color: String,
}

impl SimTag {
    /// As an order's `tags` and the order tag routes show it (the `tag` schema).
    pub(crate) fn json(&self) -> Value {
        json!({"id": self.id, "text": self.text, "color": self.color, "link": self.link()})
    }

    /// As `/v3/order/tag` shows it: `v3_tag` names the text `name`; the document's examples
    /// of the same route show `text` and `link`, so both are given.
    pub(crate) fn v3_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.text, "text": self.text, "color": self.color,
            "link": self.link(),
        })
    }

    fn link(&self) -> String {
        format!("/tag/{}", self.id)
    }
}

impl Doc {
    /// The order as the typed model reads it (what the test hooks return).
    pub(crate) fn typed(&self) -> Order {
        let mut order = self.order.clone();
        order.lines = self.lines.iter().map(SimLine::typed).collect();
        let amount = |key: &str| self.financial.get(key).and_then(decimal_of);
        order.financial = Some(OrderFinancial {
            product_amount: amount("product_amount"),
            shipping_amount: amount("shipping_amount"),
            tax_amount: amount("tax_amount"),
            discount_amount: amount("discount_amount"),
            grand_total: amount("grand_total"),
        });
        order
    }

    /// The order as Ordoro's `order` schema shows it.
    pub(crate) fn json(&self) -> Value {
        let o = &self.order;
        let link = format!("/order/{}", o.order_number);
        let mut map = Map::new();
        let mut put = |key: &str, value: Value| {
            map.insert(key.to_owned(), value);
        };
        put("id", json!(o.id));
        put("order_number", json!(o.order_number));
        put("status", json!(o.status));
        put(
            "order_placed_date",
            json!(self.order_date.clone().unwrap_or_else(|| rfc3339(self.created))),
        );
        put("created_date", json!(rfc3339(self.created)));
        put("updated_date", json!(rfc3339(self.updated)));
        put("cancelled_date", self.cancelled_date());
        put("shipping_address", address_json(o.shipping_address.as_ref()));
        put("billing_address", address_json(o.billing_address.as_ref()));
        put("lines", Value::Array(self.lines.iter().map(|l| l.json(&link, o)).collect()));
        put("financial", Value::Object(self.financial.clone()));
        put("requested_shipping_method", json!(o.requested_shipping_method));
        put("notes_from_customer", json!(o.notes_from_customer));
        put("internal_notes", json!(o.internal_notes));
        put("tags", Value::Array(self.tags.iter().map(SimTag::json).collect()));
        put("comments", json!([]));
        put("link", json!(link));
        // A manual order has no sales channel object; the schema does not require one.
        if let Some(id) = self.channel {
            put("sales_channel", json!({"id": id, "link": format!("/cart/{id}")}));
        }
        for (key, value) in &self.extra {
            put(key, value.clone());
        }
        Value::Object(map)
    }

    fn cancelled_date(&self) -> Value {
        if self.order.status == "cancelled" { json!(rfc3339(self.updated)) } else { Value::Null }
    }
}

impl SimLine {
    /// A line of a create body (`post_order_v1`): SKU and name from its `product` (the line
    /// may have none: the document requires nothing of a line), the price from `item_price`,
    /// else the product's price, else 0; the quantity 1 when absent.
    pub(crate) fn from_create(line: &Value, id: i64) -> SimLine {
        let product = line.get("product");
        let product_str = |key: &str| product.and_then(|p| p.get(key)).and_then(Value::as_str);
        let sku = product_str("sku").unwrap_or_default().to_owned();
        let product_name = line
            .get("product_name")
            .and_then(Value::as_str)
            .or_else(|| product_str("name"))
            .unwrap_or(&sku)
            .to_owned();
        let item_price = line.get("item_price").or_else(|| product.and_then(|p| p.get("price")));
        SimLine {
            id,
            sku,
            product_name,
            quantity: number_or(line.get("quantity"), 1),
            item_price: number_or(item_price, 0),
            total_price: number(line.get("total_price")),
            cart_orderitem_id: line
                .get("cart_orderitem_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            details: None,
        }
    }

    /// A line of `POST /v3/order/{n}/line` (`post_order_line`: `sku` required).
    pub(crate) fn from_post(body: &Map<String, Value>, id: i64) -> SimLine {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let sku = text("sku").unwrap_or_default();
        SimLine {
            id,
            product_name: text("product_name").unwrap_or_else(|| sku.clone()),
            sku,
            quantity: number_or(body.get("quantity"), 1),
            item_price: number_or(body.get("item_price"), 0),
            total_price: number(body.get("total_price")),
            cart_orderitem_id: text("cart_orderitem_id"),
            details: text("details"),
        }
    }

    /// Applies `put_order_line`: the fields the body names.
    pub(crate) fn patch(&mut self, body: &Map<String, Value>) {
        if let Some(q) = number(body.get("quantity")) {
            self.quantity = q;
        }
        if let Some(p) = number(body.get("item_price")) {
            self.item_price = p;
        }
        if let Some(t) = body.get("total_price") {
            self.total_price = number(Some(t));
        }
        if let Some(d) = body.get("details") {
            self.details = d.as_str().map(str::to_owned);
        }
    }

    fn typed(&self) -> OrderLine {
        let decimal = |n: &Number| decimal_of(&Value::Number(n.clone()));
        OrderLine {
            id: Some(self.id),
            sku: (!self.sku.is_empty()).then(|| self.sku.clone()),
            product_name: Some(self.product_name.clone()),
            quantity: self.quantity.as_i64(),
            item_price: decimal(&self.item_price),
            total_price: self.total_price.as_ref().and_then(decimal),
            cart_orderitem_id: self.cart_orderitem_id.clone(),
        }
    }

    fn json(&self, order_link: &str, order: &Order) -> Value {
        let mut line = json!({
            "id": self.id,
            "link": format!("{order_link}/line/{}", self.id),
            "quantity": self.quantity,
            "item_price": self.item_price,
            "supplier_price": null,
            "sku": self.sku,
            "product_name": self.product_name,
            "product_link": format!("/product/{}", self.sku),
            "shippability": {"shippability": "shippable", "supplier_id": null, "is_dropship": false},
            "details": self.details,
            "upc": null,
            "cart_orderitem_id": self.cart_orderitem_id,
            "cart_order_id": order.cart_order_id,
        });
        if let Some(total) = &self.total_price {
            line["total_price"] = json!(total);
        }
        line
    }
}

/// An address as the `address` schema shows it: every one of its ten required fields, null
/// when unknown.
pub(crate) fn address_json(address: Option<&OrdoroAddress>) -> Value {
    let a = address.cloned().unwrap_or_default();
    json!({
        "name": a.name, "company": a.company, "street1": a.street1, "street2": a.street2,
        "city": a.city, "state": a.state, "zip": a.zip, "country": a.country,
        "email": a.email, "phone": a.phone,
    })
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339()
}

/// `value` when it is a JSON number.
pub(crate) fn number(value: Option<&Value>) -> Option<Number> {
    match value {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    }
}

fn number_or(value: Option<&Value>, default: u32) -> Number {
    number(value).unwrap_or_else(|| Number::from(default))
}

/// A JSON number as a decimal, digit for digit as written; none when out of `Decimal`'s range.
pub(crate) fn decimal_of(value: &Value) -> Option<Decimal> {
    let Value::Number(n) = value else { return None };
    let text = n.to_string();
    text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_past_64_bits_and_decimals_are_kept_as_sent() {
        let line =
            json!({"quantity": 1e20, "item_price": 1e30, "product": {"sku": "a", "name": "b"}});
        let l = SimLine::from_create(&line, 7);
        let shown = l.json("/order/M-1", &Order::default());
        assert_eq!(
            (shown["quantity"].clone(), shown["item_price"].clone()),
            (json!(1e20), json!(1e30))
        );
        let l = SimLine::from_create(&json!({"item_price": 4.84, "quantity": 2}), 8);
        assert_eq!(l.typed().item_price, Some("4.84".parse().unwrap()));
        assert_eq!(l.json("/order/M-1", &Order::default())["item_price"], json!(4.84));
    }

    #[test]
    fn a_sku_only_line_has_a_price_and_a_name() {
        let body = json!({"sku": "only"});
        let l = SimLine::from_post(body.as_object().unwrap(), 1);
        let shown = l.json("/order/M-1", &Order::default());
        assert_eq!(
            (shown["item_price"].clone(), shown["product_name"].clone()),
            (json!(0), json!("only"))
        );
        assert_eq!(shown["quantity"], 1);
    }

    #[test]
    fn decimals_keep_the_digits_as_written() {
        assert_eq!(decimal_of(&json!(4.84)), Some("4.84".parse().unwrap()));
        assert_eq!(decimal_of(&json!(100)), Some(Decimal::from(100)));
        assert_eq!(decimal_of(&json!("4.84")), None);
    }
}
