//! Typed Ordoro documents: the `POST /v3/order` body, addresses, lines, the order as returned,
//! the order list page, the sub-resource update bodies, and the error body.
//!
//! The create body follows the `post_order_v1` schema, which forbids unknown fields, so
//! [`NewOrder`] has no field outside it. Money is [`Decimal`] in memory and a JSON number on the
//! wire (Ordoro rejects amounts sent as strings).
//!
//! The update bodies are partial: Ordoro documents them as the fields to update, so a field left
//! out keeps what Ordoro holds (a phone number a warehouse user added), and a field sent as
//! `null` is erased. [`AddressUpdate`] says which of the two each field is.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An address as Ordoro takes and returns it (`v1_address`, `address`, `update_address`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrdoroAddress {
    /// Recipient name.
    #[serde(default)]
    pub name: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Street line 1.
    #[serde(default)]
    pub street1: Option<String>,
    /// Street line 2.
    #[serde(default)]
    pub street2: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State or province code; null where the country has none.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// E-mail (the order itself has no e-mail field).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// A field of an [`OrdoroAddress`], spelled as Ordoro's `update_address` body names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressField {
    /// `name`.
    Name,
    /// `company`.
    Company,
    /// `street1`.
    Street1,
    /// `street2`.
    Street2,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `zip`.
    Zip,
    /// `country`.
    Country,
    /// `email`.
    Email,
    /// `phone`.
    Phone,
}

impl AddressField {
    /// Every field, in the order Ordoro's documents list them.
    pub const ALL: [AddressField; 10] = [
        AddressField::Name,
        AddressField::Company,
        AddressField::Street1,
        AddressField::Street2,
        AddressField::City,
        AddressField::State,
        AddressField::Zip,
        AddressField::Country,
        AddressField::Email,
        AddressField::Phone,
    ];

    /// The field's name on the wire (`street2`).
    pub fn as_str(self) -> &'static str {
        match self {
            AddressField::Name => "name",
            AddressField::Company => "company",
            AddressField::Street1 => "street1",
            AddressField::Street2 => "street2",
            AddressField::City => "city",
            AddressField::State => "state",
            AddressField::Zip => "zip",
            AddressField::Country => "country",
            AddressField::Email => "email",
            AddressField::Phone => "phone",
        }
    }

    /// The field's value in `address`.
    pub fn of(self, address: &OrdoroAddress) -> Option<&str> {
        let value = match self {
            AddressField::Name => &address.name,
            AddressField::Company => &address.company,
            AddressField::Street1 => &address.street1,
            AddressField::Street2 => &address.street2,
            AddressField::City => &address.city,
            AddressField::State => &address.state,
            AddressField::Zip => &address.zip,
            AddressField::Country => &address.country,
            AddressField::Email => &address.email,
            AddressField::Phone => &address.phone,
        };
        value.as_deref()
    }

    /// The field's slot in `address`, to set or clear.
    pub fn slot(self, address: &mut OrdoroAddress) -> &mut Option<String> {
        match self {
            AddressField::Name => &mut address.name,
            AddressField::Company => &mut address.company,
            AddressField::Street1 => &mut address.street1,
            AddressField::Street2 => &mut address.street2,
            AddressField::City => &mut address.city,
            AddressField::State => &mut address.state,
            AddressField::Zip => &mut address.zip,
            AddressField::Country => &mut address.country,
            AddressField::Email => &mut address.email,
            AddressField::Phone => &mut address.phone,
        }
    }
}

impl fmt::Display for AddressField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of `PUT /v3/order/{n}/shipping_address` and `.../billing_address`
/// (`update_address`): only the fields to change. A field absent from `fields` is left out of
/// the body, so Ordoro keeps what it holds; a field mapped to `None` is sent as `null`, which
/// erases it.
///
/// ```
/// use qbo_ordoro::model::ordoro::{AddressField, AddressUpdate};
///
/// let mut update = AddressUpdate::default();
/// update.set(AddressField::Zip, "00000");
/// update.clear(AddressField::Street2);
/// let body = serde_json::to_value(&update).unwrap();
/// assert_eq!(body, serde_json::json!({"street2": null, "zip": "00000"}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AddressUpdate {
    /// The fields to change: a value sets the field, `None` erases it.
    pub fields: BTreeMap<AddressField, Option<String>>,
}

impl AddressUpdate {
    /// An update that sets every field `address` has a value for and leaves the others alone
    /// (never a `null`).
    pub fn setting(address: &OrdoroAddress) -> Self {
        let mut update = AddressUpdate::default();
        for field in AddressField::ALL {
            if let Some(value) = field.of(address) {
                update.set(field, value);
            }
        }
        update
    }

    /// Sets `field` to `value`.
    pub fn set(&mut self, field: AddressField, value: impl Into<String>) {
        self.fields.insert(field, Some(value.into()));
    }

    /// Erases `field` (sent as `null`).
    pub fn clear(&mut self, field: AddressField) {
        self.fields.insert(field, None);
    }

    /// True when the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields this update erases, in [`AddressField::ALL`]'s order.
    pub fn cleared(&self) -> Vec<AddressField> {
        self.fields.iter().filter(|(_, v)| v.is_none()).map(|(f, _)| *f).collect()
    }

    /// What Ordoro does with the body: the named fields set or erased, the others kept.
    pub fn apply_to(&self, address: &mut OrdoroAddress) {
        for (field, value) in &self.fields {
            *field.slot(address) = value.clone();
        }
    }
}

/// The product of a new order line (`v1_order_line_product`): `sku` and `name` are required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineProduct {
    /// SKU; Ordoro creates the product when the SKU is new.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Unit price.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Decimal>,
}

/// A line of a new order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewOrderLine {
    /// The source line's id (the QBO line id), for diffing lines on update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_orderitem_id: Option<String>,
    /// Name shown on the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Unit price.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_price: Option<Decimal>,
    /// Whole units (Ordoro's schema types quantity as an integer).
    pub quantity: i64,
    /// Line total.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_price: Option<Decimal>,
    /// The product.
    pub product: LineProduct,
}

/// A tag on a new order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewOrderTag {
    /// Tag text.
    pub text: String,
    /// Colour, `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The body of `POST /v3/order` (`post_order_v1`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewOrder {
    /// Our id for the order; Ordoro prefixes it with the sales channel's index to make the
    /// order number.
    pub order_id: String,
    /// The sales channel (cart) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart: Option<i64>,
    /// The source's own id, searchable with `GET /v3/order?cart_order_id=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_order_id: Option<String>,
    /// When the order was placed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_date: Option<String>,
    /// Requested shipping method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_type: Option<String>,
    /// Notes shown to the packer from the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_from_customer: Option<String>,
    /// Internal notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_notes: Option<String>,
    /// Sum of product lines.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_amount: Option<Decimal>,
    /// Shipping charged.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_amount: Option<Decimal>,
    /// Tax.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_amount: Option<Decimal>,
    /// Order-level discount.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<Decimal>,
    /// Grand total.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub grand_total: Option<Decimal>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<NewOrderTag>,
    /// Bill-to.
    pub billing_address: OrdoroAddress,
    /// Ship-to.
    pub shipping_address: OrdoroAddress,
    /// The lines.
    pub lines: Vec<NewOrderLine>,
}

/// A line of an order as Ordoro returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderLine {
    /// The line id, used by the line sub-resource calls.
    #[serde(default)]
    pub id: Option<i64>,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Product name.
    #[serde(default)]
    pub product_name: Option<String>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Unit price.
    #[serde(default, with = "rust_decimal::serde::float_option")]
    pub item_price: Option<Decimal>,
    /// Line total, when returned.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_price: Option<Decimal>,
    /// The source line id.
    #[serde(default)]
    pub cart_orderitem_id: Option<String>,
}

/// An order's financial block (`order_financial`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderFinancial {
    /// Sum of product lines.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_amount: Option<Decimal>,
    /// Shipping.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_amount: Option<Decimal>,
    /// Tax.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_amount: Option<Decimal>,
    /// Discount.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<Decimal>,
    /// Grand total.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub grand_total: Option<Decimal>,
}

/// The sales channel an order belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SalesChannelRef {
    /// The channel (cart) id.
    #[serde(default)]
    pub id: Option<i64>,
}

/// A sales channel (a "cart") as `GET /cart/{cart_id}/` returns it (`cart_base`; the fields the
/// sync reads). Its `index` is the prefix of the numbers Ordoro gives the channel's orders.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SalesChannel {
    /// The channel (cart) id.
    pub id: i64,
    /// "The index of the cart in this company. Starts at 1 and increases with each additional
    /// cart" (Ordoro's document).
    #[serde(default)]
    pub index: Option<i64>,
    /// The channel's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The kind of channel (`custom_integration`, `shopify`, ...).
    #[serde(default)]
    pub vendor: Option<String>,
}

/// An order as Ordoro returns it (the fields the sync reads; the rest are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Order {
    /// Ordoro's internal id.
    #[serde(default)]
    pub id: Option<i64>,
    /// The order number: the channel index prefix and our `order_id` (`3-QBO-INV-130`).
    pub order_number: String,
    /// `awaiting_fulfillment`, `shipped`, `cancelled`, `dropshipment_requested`.
    #[serde(default)]
    pub status: String,
    /// The source's id, when set at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_order_id: Option<String>,
    /// The sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_channel: Option<SalesChannelRef>,
    /// Ship-to.
    #[serde(default)]
    pub shipping_address: Option<OrdoroAddress>,
    /// Bill-to.
    #[serde(default)]
    pub billing_address: Option<OrdoroAddress>,
    /// Lines with their ids.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// Totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial: Option<OrderFinancial>,
    /// Requested shipping method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_shipping_method: Option<String>,
    /// Notes from the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_from_customer: Option<String>,
    /// Internal notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_notes: Option<String>,
}

impl Order {
    /// True while the warehouse has not shipped or cancelled the order.
    pub fn awaits_fulfillment(&self) -> bool {
        self.status == "awaiting_fulfillment"
    }
}

/// A page of `GET /v3/order` (`order_list`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderList {
    /// Total matching orders.
    #[serde(default)]
    pub count: u64,
    /// Page size.
    #[serde(default)]
    pub limit: u64,
    /// Offset of this page.
    #[serde(default)]
    pub offset: u64,
    /// The orders. Required (Ordoro's schema requires it): a body without it is not a list,
    /// and must not read as "no such order" to a lookup that settles a create.
    pub order: Vec<Order>,
}

/// The body of `POST /v3/order/{n}/line` (`post_order_line`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PostOrderLine {
    /// SKU (required).
    pub sku: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_price: Option<Decimal>,
    /// Line total.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_price: Option<Decimal>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The source line id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_orderitem_id: Option<String>,
}

/// The body of `PUT /v3/order/{n}/line/{id}` (`put_order_line`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutOrderLine {
    /// Quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Unit price.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_price: Option<Decimal>,
    /// Line total.
    #[serde(
        default,
        with = "rust_decimal::serde::float_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_price: Option<Decimal>,
}

/// Ordoro's error body: `error_message` with `param` (the docs) or `params` (the schema).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrdoroErrorBody {
    /// Human-readable message.
    #[serde(default)]
    pub error_message: String,
    /// The parameter at fault, or null for general errors. Accepts `params` too, as a string or
    /// any other JSON value.
    #[serde(default, alias = "params", deserialize_with = "de_param")]
    pub param: Option<String>,
}

fn de_param<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// A product as Ordoro returns it (`product`, from `GET /product/{sku}/`): the fields the sync
/// reads; the rest are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Product {
    /// Ordoro's id of the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The SKU, Ordoro's identity of the product.
    #[serde(default)]
    pub sku: String,
    /// The product's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
