//! Realistic QBO sales for the simulators: a fixed, hand-shaped set of sample sales that
//! exercises every rule of the sync (the `sync` example's embedded default), a seeded generator
//! of any number of sales for simulations and benchmarks, and an Australian company.
//!
//! They are shaped like the real documents in `tests/fixtures/qbo/`: every sale has its
//! `SubTotalLineDetail` line; some are tax-inclusive (`GlobalTaxCalculation: TaxInclusive`,
//! net line amounts with `TaxInclusiveAmt` beside them, the tax in `TxnTaxDetail`); and the
//! Australian company's CompanyInfo and structured addresses carry no `Country`, as a company
//! outside the U.S. often leaves them.
//!
//! Every sale carries its intended outcome ([`Expected`]), written from the rules rather than
//! computed by the mapping, so tests can check the engine against an independent oracle.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::qbo::to_pacific;
use crate::model::qbo::{
    CompanyInfo, DiscountLineDetail, EmailAddress, EntityKind, GlobalTaxCalculation,
    GroupLineDetail, Line, LineDetail, MemoRef, MetaData, PhysicalAddress, QboCustomer, QboItem,
    Ref, SalesItemLineDetail, SalesTransaction, Transaction, TxnTaxDetail,
};

/// What the sync must do with a sample sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Exactly one Ordoro order.
    Order,
    /// No order: another class or none.
    NotMarked,
    /// No order: voided.
    Voided,
}

/// A sample sale and what the sync must do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSale {
    /// The transaction.
    pub txn: Transaction,
    /// The intended outcome.
    pub expected: Expected,
    /// What its order must say, when the generator models it (the generated sales do).
    pub truth: Option<OrderTruth>,
}

const PRODUCTS: &[(&str, &str)] = &[
    ("Rock Fountain", "275"),
    ("Garden Gnome", "24.95"),
    ("Coffee Cups", "12.50"),
    ("Birdbath Deluxe", "89.00"),
    ("Pump Kit", "15.75"),
    ("Sprinkler Heads", "2.10"),
    ("Patio Lantern", "34.99"),
    ("Setup fee", "40"),
];

const SHIPPING_ITEMS: &[&str] = &["UPS Ground", "FedEx 2Day", "Shipping & Handling", "Shipping"];

/// What an address must become in Ordoro, written by hand from the rules (design.md §2.2), never
/// computed by the parser under test: the simulation's oracle compares each order with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressTruth {
    /// The recipient.
    pub name: Option<&'static str>,
    /// The company (or `Attn:` line) under the recipient.
    pub company: Option<&'static str>,
    /// The first street line.
    pub street1: &'static str,
    /// The second street line.
    pub street2: Option<&'static str>,
    /// The city.
    pub city: &'static str,
    /// The state or province code; none where the country's layout has none.
    pub state: Option<&'static str>,
    /// The postal code.
    pub zip: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
}

/// A free-form address block as a merchant types it into QBO, beside what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleBlock {
    /// The lines, top-down (QBO's `Line1..Line5`).
    pub lines: &'static [&'static str],
    /// The Ordoro address they must become.
    pub truth: AddressTruth,
}

const fn us(
    lines: &'static [&'static str],
    name: &'static str,
    company: Option<&'static str>,
    street: (&'static str, Option<&'static str>),
    city: &'static str,
    state: &'static str,
    zip: &'static str,
) -> SampleBlock {
    SampleBlock {
        lines,
        truth: AddressTruth {
            name: Some(name),
            company,
            street1: street.0,
            street2: street.1,
            city,
            state: Some(state),
            zip,
            country: "US",
        },
    }
}

const fn intl(
    lines: &'static [&'static str],
    name: &'static str,
    street1: &'static str,
    (city, state, zip): (&'static str, Option<&'static str>, &'static str),
    country: &'static str,
) -> SampleBlock {
    SampleBlock {
        lines,
        truth: AddressTruth {
            name: Some(name),
            company: None,
            street1,
            street2: None,
            city,
            state,
            zip,
            country,
        },
    }
}

/// U.S. blocks (no country line, or `USA` trailing the city line), with their meaning.
pub const US_BLOCKS: &[SampleBlock] = &[
    us(
        &["Kate Whelan", "45 First St.", "Menlo Park, CA  94304"],
        "Kate Whelan",
        None,
        ("45 First St.", None),
        "Menlo Park",
        "CA",
        "94304",
    ),
    us(
        &["Grace Pariente", "Cool Cars", "65 Ocean Dr.", "Half Moon Bay, CA  94213"],
        "Grace Pariente",
        Some("Cool Cars"),
        ("65 Ocean Dr.", None),
        "Half Moon Bay",
        "CA",
        "94213",
    ),
    us(
        &["John Smith", "123 Main St.", "Suite 100", "Watertown, MA  02472"],
        "John Smith",
        None,
        ("123 Main St.", Some("Suite 100")),
        "Watertown",
        "MA",
        "02472",
    ),
    us(
        &["Maria Lopez", "742 Evergreen Terrace", "Springfield, IL 62704-1234"],
        "Maria Lopez",
        None,
        ("742 Evergreen Terrace", None),
        "Springfield",
        "IL",
        "62704-1234",
    ),
    us(
        &["Dylan Sollfrank", "PO Box 77", "Austin, Texas 78701"],
        "Dylan Sollfrank",
        None,
        ("PO Box 77", None),
        "Austin",
        "TX",
        "78701",
    ),
    us(
        &["Sgt. Pat Kim", "Unit 2050 Box 4190", "APO AE 09012"],
        "Sgt. Pat Kim",
        None,
        ("Unit 2050 Box 4190", None),
        "APO",
        "AE",
        "09012",
    ),
    us(
        &["Luis Ortiz", "1200 Calle Loiza", "San Juan, PR 00911"],
        "Luis Ortiz",
        None,
        ("1200 Calle Loiza", None),
        "San Juan",
        "PR",
        "00911",
    ),
    us(
        &["Amy Chen", "Attn: Receiving", "500 Industrial Pkwy", "Columbus, OH 43215 USA"],
        "Amy Chen",
        Some("Attn: Receiving"),
        ("500 Industrial Pkwy", None),
        "Columbus",
        "OH",
        "43215",
    ),
];

/// Blocks outside the U.S. (the country on the last line), with their meaning.
pub const INTL_BLOCKS: &[SampleBlock] = &[
    intl(
        &["Emma Tremblay", "1200 Rue Sainte-Catherine O", "Montréal QC H3B 1K9", "Canada"],
        "Emma Tremblay",
        "1200 Rue Sainte-Catherine O",
        ("Montréal", Some("QC"), "H3B 1K9"),
        "CA",
    ),
    intl(
        &["Oliver Brown", "10 Downing Street", "London SW1A 2AA", "United Kingdom"],
        "Oliver Brown",
        "10 Downing Street",
        ("London", None, "SW1A 2AA"),
        "GB",
    ),
    intl(
        &["Lena Fischer", "Unter den Linden 77", "10117 Berlin", "Germany"],
        "Lena Fischer",
        "Unter den Linden 77",
        ("Berlin", None, "10117"),
        "DE",
    ),
    intl(
        &["Jack Wilson", "1 Macquarie St", "Sydney NSW 2000", "Australia"],
        "Jack Wilson",
        "1 Macquarie St",
        ("Sydney", Some("NSW"), "2000"),
        "AU",
    ),
    intl(
        &["Sofia Hernández", "Av. Reforma 222", "06600 Ciudad de México, CDMX", "Mexico"],
        "Sofia Hernández",
        "Av. Reforma 222",
        ("Ciudad de México", Some("CDMX"), "06600"),
        "MX",
    ),
    intl(
        &["Lucas Martin", "8 Rue de Rivoli", "75004 Paris", "France"],
        "Lucas Martin",
        "8 Rue de Rivoli",
        ("Paris", None, "75004"),
        "FR",
    ),
];

/// The structured ship-to some sales carry instead of their block (`Line1`, `City`,
/// `CountrySubDivisionCode`, `PostalCode`, no `Country`), and what it means for a sale whose
/// customer is `name` (a structured address names no recipient: the customer's name is used).
pub fn structured_ship_to_truth(name: Option<&'static str>) -> AddressTruth {
    AddressTruth {
        name,
        company: None,
        street1: "5647 Cypress Hill Ave.",
        street2: None,
        city: "Middlefield",
        state: Some("CA"),
        zip: "94303",
        country: "US",
    }
}

/// One product line an order must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTruth {
    /// The QBO item's name as the sale shows it: the line's SKU.
    pub sku: String,
    /// Whole units.
    pub quantity: Decimal,
    /// The unit price.
    pub unit_price: Decimal,
    /// The line total.
    pub total: Decimal,
    /// A component of a bundle (a group line), rather than a line of the sale itself.
    pub in_bundle: bool,
}

/// What the Ordoro order of a sample sale must say, kept beside the sale from the generator's
/// own inputs (never from the mapping under test), for the simulation's oracle. Edits a test
/// makes to the sale must make the same change here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTruth {
    /// Product lines, in the sale's order (bundles flattened into their components).
    pub lines: Vec<LineTruth>,
    /// The shipping charge.
    pub shipping: Decimal,
    /// The first named shipping item (QBO's own shipping item has no name).
    pub shipping_method: Option<String>,
    /// `TxnTaxDetail.TotalTax`.
    pub tax: Decimal,
    /// The discount line's amount.
    pub discount: Decimal,
    /// `TotalAmt`.
    pub total: Decimal,
    /// The ship-to.
    pub ship_to: AddressTruth,
    /// The bill-to.
    pub bill_to: AddressTruth,
    /// `BillEmail`, on both addresses.
    pub email: Option<String>,
    /// The customer memo: the order's notes from the customer.
    pub customer_note: String,
    /// Lines the order's internal notes must hold (the DocNumber line and the memo).
    pub internal_notes: Vec<String>,
}

impl OrderTruth {
    /// The sum of the product lines.
    pub fn product_amount(&self) -> Decimal {
        self.lines.iter().map(|l| l.total).sum()
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::ZERO)
}

/// The id of the QBO item a sample line of `name` sells: its place in the catalogue
/// ([`items`]), so that every sale of a product names the same item, as in QBO.
fn item_id(name: &str, line_id: u32) -> String {
    match PRODUCTS.iter().position(|(p, _)| *p == name) {
        Some(i) => format!("{}", 201 + i),
        None => format!("{}", 100 + line_id),
    }
}

/// The `Sku` of the catalogue item ([`items`]) the sample's lines named `product` sell, if it
/// has one: what a company that tracks SKUs sends for them.
pub fn catalogue_sku(product: &str) -> Option<String> {
    let id = item_id(product, 0);
    items().into_iter().find(|item| item.id == id).and_then(|item| item.sku)
}

/// The id of the sample sales' bundle item (`Starter Bundle`).
pub const BUNDLE_ITEM_ID: &str = "77";

/// The QBO items the sample sales sell, as a company that tracks SKUs would have them: most
/// products with a `Sku` (`GNOME-1`, ...), `Coffee Cups` without one (its lines keep the name),
/// `Sprinkler Heads` a sub-item of `Irrigation` with a SKU of its own (its parent's is never
/// used), `Setup fee` an inactive service without one, and the bundle `Starter Bundle`
/// (`Type: Group`, SKU `KIT-STARTER`). Seed them with
/// [`QboSim::add_item`](crate::sim::qbo::QboSim::add_item) in this order (the parent first).
pub fn items() -> Vec<QboItem> {
    let skus = ["FOUNT-275", "GNOME-1", "", "BATH-DLX", "PUMP-KIT", "SPRK-HD", "LANT-PATIO", ""];
    let mut items = vec![QboItem {
        id: "300".into(),
        name: Some("Irrigation".into()),
        sku: Some("IRR-PARENT".into()),
        item_type: Some("Category".into()),
        ..QboItem::default()
    }];
    for (i, ((name, _), sku)) in PRODUCTS.iter().zip(skus).enumerate() {
        let sub = *name == "Sprinkler Heads";
        items.push(QboItem {
            id: format!("{}", 201 + i),
            name: Some(if sub { "Heads".to_string() } else { name.to_string() }),
            sku: (!sku.is_empty()).then(|| sku.to_string()),
            active: Some(*name != "Setup fee"),
            item_type: Some(if *name == "Setup fee" { "Service" } else { "Inventory" }.into()),
            parent_ref: sub.then(|| Ref { value: "300".into(), name: Some("Irrigation".into()) }),
            ..QboItem::default()
        });
    }
    items.push(QboItem {
        id: BUNDLE_ITEM_ID.into(),
        name: Some("Starter Bundle".into()),
        sku: Some("KIT-STARTER".into()),
        item_type: Some("Group".into()),
        ..QboItem::default()
    });
    items
}

fn item_line(id: u32, name: &str, qty: Decimal, price: Decimal, class: Option<&str>) -> Line {
    Line {
        id: Some(id.to_string()),
        line_num: Some(id),
        description: Some(name.to_string()),
        amount: Some((qty * price).round_dp(2)),
        linked_txn: Vec::new(),
        detail: LineDetail::SalesItem(SalesItemLineDetail {
            item_ref: Some(Ref { value: item_id(name, id), name: Some(name.to_string()) }),
            qty: Some(qty),
            unit_price: Some(price),
            tax_code_ref: Some(Ref { value: "NON".into(), name: None }),
            class_ref: class.map(class_ref),
            ..Default::default()
        }),
    }
}

fn shipping_line(id: u32, name: Option<&str>, amount: Decimal) -> Line {
    let item_ref = match name {
        Some(n) => Ref { value: format!("{}", 900 + id), name: Some(n.to_string()) },
        None => Ref { value: "SHIPPING_ITEM_ID".into(), name: None },
    };
    Line {
        id: name.map(|_| id.to_string()),
        line_num: name.map(|_| id),
        description: None,
        amount: Some(amount),
        linked_txn: Vec::new(),
        detail: LineDetail::SalesItem(SalesItemLineDetail {
            item_ref: Some(item_ref),
            ..Default::default()
        }),
    }
}

fn class_ref(name: &str) -> Ref {
    Ref {
        value: format!("5000000000000{:06}", name.len() * 7919 % 1_000_000),
        name: Some(name.to_string()),
    }
}

/// How one generated sale is shaped.
#[derive(Debug, Clone, Default)]
struct Shape {
    header_class: Option<String>,
    line_class: Option<String>,
    voided: bool,
    bundle: bool,
    discount_percent: Option<Decimal>,
    shipping: Option<(Option<String>, Decimal)>,
    block: Vec<String>,
    block_truth: Option<AddressTruth>,
    ship_addr_structured: bool,
    email: Option<String>,
    items: Vec<(String, Decimal, Decimal)>,
    tax: Decimal,
}

fn build(kind: EntityKind, id: u64, at: DateTime<Utc>, shape: &Shape) -> SalesTransaction {
    let mut lines = Vec::new();
    let mut subtotal = Decimal::ZERO;
    let mut next_id = 1u32;
    let line_class = shape.line_class.as_deref();
    if shape.bundle {
        let children: Vec<Line> = shape
            .items
            .iter()
            .map(|(name, qty, price)| {
                next_id += 1;
                item_line(next_id, name, *qty, *price, line_class)
            })
            .collect();
        subtotal += children.iter().filter_map(|l| l.amount).sum::<Decimal>();
        lines.push(Line {
            id: Some("1".into()),
            line_num: Some(1),
            description: Some("Garden starter bundle".into()),
            amount: Some(Decimal::ZERO),
            linked_txn: Vec::new(),
            detail: LineDetail::Group(GroupLineDetail {
                group_item_ref: Some(Ref {
                    value: BUNDLE_ITEM_ID.into(),
                    name: Some("Starter Bundle".into()),
                }),
                quantity: Some(Decimal::ONE),
                line: children,
            }),
        });
    } else {
        for (name, qty, price) in &shape.items {
            let line = item_line(next_id, name, *qty, *price, line_class);
            subtotal += line.amount.unwrap_or_default();
            lines.push(line);
            next_id += 1;
        }
    }
    let discount = shape
        .discount_percent
        .map(|p| (subtotal * p / Decimal::ONE_HUNDRED).round_dp(2))
        .unwrap_or_default();
    // Every real sale carries its subtotal line after the items, discounted or not.
    lines.push(Line {
        id: None,
        line_num: None,
        description: None,
        amount: Some(subtotal),
        linked_txn: Vec::new(),
        detail: LineDetail::SubTotal,
    });
    // Some companies enter prices with tax included: the lines keep their net amounts, each
    // with its tax-inclusive amount beside it, and the tax is in TxnTaxDetail as usual.
    let tax_inclusive = !shape.tax.is_zero() && id.is_multiple_of(3) && !subtotal.is_zero();
    if tax_inclusive {
        mark_tax_inclusive(&mut lines, subtotal, shape.tax);
    }
    if let Some(p) = shape.discount_percent {
        lines.push(Line {
            id: None,
            line_num: None,
            description: None,
            amount: Some(discount),
            linked_txn: Vec::new(),
            detail: LineDetail::Discount(DiscountLineDetail {
                percent_based: Some(true),
                discount_percent: Some(p),
                discount_account_ref: Some(Ref {
                    value: "86".into(),
                    name: Some("Discounts given".into()),
                }),
                ..Default::default()
            }),
        });
    }
    let mut shipping_total = Decimal::ZERO;
    if let Some((name, amount)) = &shape.shipping {
        next_id += 1;
        lines.push(shipping_line(next_id, name.as_deref(), *amount));
        shipping_total = *amount;
    }
    let mut total = subtotal - discount + shipping_total + shape.tax;
    let mut private_note = Some(format!("Phone order #{id}"));
    if shape.voided {
        super::qbo::zero_lines(&mut lines);
        total = Decimal::ZERO;
        private_note = Some("Voided".into());
    }
    let ship_addr = if shape.ship_addr_structured {
        Some(PhysicalAddress {
            id: Some(format!("{}", 300 + id)),
            line1: Some("5647 Cypress Hill Ave.".into()),
            city: Some("Middlefield".into()),
            country_sub_division_code: Some("CA".into()),
            postal_code: Some("94303".into()),
            ..Default::default()
        })
    } else {
        Some(PhysicalAddress::from_lines(&shape.block))
    };
    let bill_addr = PhysicalAddress::from_lines(&shape.block);
    let name = shape.block.first().cloned();
    let stamp = to_pacific(at);
    SalesTransaction {
        id: id.to_string(),
        sync_token: "0".into(),
        meta_data: Some(MetaData { create_time: Some(stamp), last_updated_time: Some(stamp) }),
        doc_number: Some(format!("{}", 1000 + id)),
        txn_date: NaiveDate::from_ymd_opt(2026, 11, 1)
            .map(|d| d + Duration::days((id % 27) as i64)),
        customer_ref: Some(Ref { value: format!("{}", 40 + id % 17), name }),
        class_ref: shape.header_class.as_deref().map(class_ref),
        bill_addr: Some(bill_addr),
        ship_addr,
        bill_email: shape.email.clone().map(|a| EmailAddress { address: Some(a) }),
        private_note,
        customer_memo: Some(MemoRef { value: "Thank you for your business!".into() }),
        txn_tax_detail: Some(TxnTaxDetail {
            total_tax: Some(if shape.voided { Decimal::ZERO } else { shape.tax }),
            ..Default::default()
        }),
        total_amt: Some(total),
        balance: Some(if kind == EntityKind::Invoice { total } else { Decimal::ZERO }),
        currency_ref: Some(Ref { value: "USD".into(), name: Some("United States Dollar".into()) }),
        global_tax_calculation: Some(if tax_inclusive {
            GlobalTaxCalculation::TaxInclusive
        } else {
            GlobalTaxCalculation::TaxExcluded
        }),
        line: lines,
        domain: Some("QBO".into()),
        sparse: Some(false),
        ..Default::default()
    }
}

/// What the order of a sale of `shape` must say, from the shape alone (the rules of design.md
/// §2.3 and §2.4 applied by hand): each item a line whose SKU is the item's name, the shipping
/// line's amount as the shipping charge, the discount line's amount, `TotalTax` and `TotalAmt`.
/// `None` for a voided sale, which has no order.
fn truth_of(kind: EntityKind, id: u64, shape: &Shape) -> Option<OrderTruth> {
    let block = shape.block_truth?;
    if shape.voided {
        return None;
    }
    let lines: Vec<LineTruth> = shape
        .items
        .iter()
        .map(|(name, qty, price)| LineTruth {
            sku: name.clone(),
            quantity: *qty,
            unit_price: *price,
            total: (qty * price).round_dp(2),
            in_bundle: shape.bundle,
        })
        .collect();
    let subtotal: Decimal = lines.iter().map(|l| l.total).sum();
    let discount = shape
        .discount_percent
        .map(|p| (subtotal * p / Decimal::ONE_HUNDRED).round_dp(2))
        .unwrap_or_default();
    let (shipping_method, shipping) = shape.shipping.clone().unwrap_or_default();
    let ship_to =
        if shape.ship_addr_structured { structured_ship_to_truth(block.name) } else { block };
    let entity = if kind == EntityKind::Invoice { "Invoice" } else { "Sales Receipt" };
    Some(OrderTruth {
        lines,
        shipping,
        shipping_method,
        tax: shape.tax,
        discount,
        total: subtotal - discount + shipping + shape.tax,
        ship_to,
        bill_to: block,
        email: shape.email.clone(),
        customer_note: "Thank you for your business!".into(),
        internal_notes: vec![
            format!("QuickBooks {entity} {} (id {id})", 1000 + id),
            format!("Memo: Phone order #{id}"),
        ],
    })
}

/// Gives each item line (bundle components included) its tax-inclusive amount: its net amount
/// plus its share of `tax`.
fn mark_tax_inclusive(lines: &mut [Line], subtotal: Decimal, tax: Decimal) {
    for line in lines {
        match &mut line.detail {
            LineDetail::SalesItem(d) => {
                let net = line.amount.unwrap_or_default();
                d.tax_inclusive_amt = Some((net + tax * net / subtotal).round_dp(2));
                d.tax_code_ref = Some(Ref { value: "TAX".into(), name: None });
            }
            LineDetail::Group(g) => mark_tax_inclusive(&mut g.line, subtotal, tax),
            _ => {}
        }
    }
}

/// Percentile rolls whose sale is eligible (marked with an accepted class, not voided).
const ELIGIBLE_ROLLS: std::ops::Range<u32> = 0..65;

fn random_shape(rng: &mut SmallRng, id: u64, rolls: std::ops::Range<u32>) -> (Shape, Expected) {
    let roll = rng.random_range(rolls);
    let mut shape = Shape::default();
    let mut expected = Expected::Order;
    match roll {
        0..55 => {
            shape.header_class =
                Some(["Ordoro", "ordoro ", "Shipping:Ordoro"][rng.random_range(0..3)].into())
        }
        55..65 => shape.line_class = Some("Ordoro".into()),
        65..80 => {
            shape.header_class =
                Some(["Retail", "Infusionsoft", "Wholesale"][rng.random_range(0..3)].into());
            expected = Expected::NotMarked;
        }
        80..92 => expected = Expected::NotMarked,
        _ => {
            shape.header_class = Some("Ordoro".into());
            shape.voided = true;
            expected = Expected::Voided;
        }
    }
    let n_items = rng.random_range(1..=4);
    for _ in 0..n_items {
        let (name, price) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
        let qty = Decimal::from(rng.random_range(1..=5u32));
        shape.items.push((name.to_string(), qty, dec(price)));
    }
    shape.bundle = rng.random_range(0..10) == 0;
    if rng.random_range(0..6) == 0 {
        shape.discount_percent = Some(Decimal::from(rng.random_range(5..=20u32)));
    }
    if rng.random_range(0..3) != 0 {
        let name = match rng.random_range(0..5) {
            0 => None,
            i => Some(SHIPPING_ITEMS[(i - 1) as usize].to_string()),
        };
        shape.shipping = Some((name, Decimal::new(rng.random_range(500..3000), 2)));
    }
    let block = if rng.random_range(0..4) == 0 {
        INTL_BLOCKS[rng.random_range(0..INTL_BLOCKS.len())]
    } else {
        US_BLOCKS[rng.random_range(0..US_BLOCKS.len())]
    };
    shape.block = block.lines.iter().map(|s| s.to_string()).collect();
    shape.block_truth = Some(block.truth);
    shape.ship_addr_structured = rng.random_range(0..8) == 0;
    if rng.random_range(0..3) != 0 {
        shape.email = Some(format!("customer{id}@example.com"));
    }
    if rng.random_range(0..3) == 0 {
        shape.tax = Decimal::new(rng.random_range(100..2500), 2);
    }
    (shape, expected)
}

/// `count` generated sales, seeded, last updated one after another from `start` at `step`
/// intervals (several may share a second when `step` is under a second), alternating randomly
/// between invoices and sales receipts. Ids are unique per entity.
pub fn generate(seed: u64, count: usize, start: DateTime<Utc>, step: Duration) -> Vec<SampleSale> {
    generate_from(seed, count, start, step, 0..100)
}

/// Like [`generate`], but every sale is eligible (an accepted class at header or line level, not
/// voided), so each must become exactly one order: the shape of a backfill benchmark, where the
/// number of sales is the number of orders to create.
pub fn generate_eligible(
    seed: u64,
    count: usize,
    start: DateTime<Utc>,
    step: Duration,
) -> Vec<SampleSale> {
    generate_from(seed, count, start, step, ELIGIBLE_ROLLS)
}

fn generate_from(
    seed: u64,
    count: usize,
    start: DateTime<Utc>,
    step: Duration,
    rolls: std::ops::Range<u32>,
) -> Vec<SampleSale> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut next_id = [1u64, 1u64];
    (0..count)
        .map(|i| {
            let kind = if rng.random_range(0..3) == 0 {
                EntityKind::SalesReceipt
            } else {
                EntityKind::Invoice
            };
            let slot = usize::from(kind == EntityKind::SalesReceipt);
            let id = next_id[slot];
            next_id[slot] += 1;
            let (shape, expected) = random_shape(&mut rng, id, rolls.clone());
            let at = start + step * i32::try_from(i).unwrap_or(i32::MAX);
            let truth = truth_of(kind, id, &shape);
            SampleSale {
                txn: Transaction { kind, doc: build(kind, id, at, &shape) },
                expected,
                truth,
            }
        })
        .collect()
}

/// The `sync` example's sample company: 60 sales that exercise every rule (classes at header and
/// line level and sub-classes, other classes and none, free-form U.S. and international
/// addresses, structured ones, shipping items, bundles, discounts, tax, voided sales, an invoice
/// and a sales receipt sharing an id), last updated over the hours before `now`.
pub fn sample_company(now: DateTime<Utc>) -> Vec<SampleSale> {
    generate(20261128, 60, now - Duration::hours(6), Duration::seconds(317))
}

/// A sample QBO company: what its CompanyInfo says, its customers, and its sales.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleCompany {
    /// What `CompanyInfo` answers.
    pub info: CompanyInfo,
    /// The customers the sales name.
    pub customers: Vec<QboCustomer>,
    /// The sales, each with its intended outcome.
    pub sales: Vec<SampleSale>,
}

/// An Australian structured address without `Country`, as an Australian company's QBO keeps
/// them.
fn au_address(id: &str, line1: &str, city: &str, state: &str, postcode: &str) -> PhysicalAddress {
    PhysicalAddress {
        id: Some(id.into()),
        line1: Some(line1.into()),
        city: Some(city.into()),
        country_sub_division_code: Some(state.into()),
        postal_code: Some(postcode.into()),
        ..Default::default()
    }
}

/// An Australian company (a garden supplies shop in Perth): CompanyInfo says `Country: "AU"`
/// while its own addresses have no `Country`; prices include GST (10%), so every sale is
/// tax-inclusive; the customers' and the sales' structured ship-to addresses (`Perth / WA /
/// 6004`) name no country, which means the company's own. Three sales marked `Ordoro`, each to
/// become an Australian order, last updated in the hour before `now`; the third has no ship-to
/// of its own (its customer's is on the customer record, and its bill-to is only a name).
pub fn australian_company(now: DateTime<Utc>) -> SampleCompany {
    let office = au_address("1", "12 Hay Street", "Perth", "WA", "6000");
    let info = CompanyInfo {
        id: Some("1".into()),
        sync_token: Some("2".into()),
        company_name: Some("Swan River Garden Supplies".into()),
        legal_name: Some("Swan River Garden Supplies Pty Ltd".into()),
        country: Some("AU".into()),
        company_addr: Some(office.clone()),
        customer_communication_addr: Some(office.clone()),
        legal_addr: Some(office),
        supported_languages: Some("en".into()),
        meta_data: None,
    };
    let customer = |id: &str, name: &str, ship: PhysicalAddress| QboCustomer {
        id: id.into(),
        display_name: Some(name.into()),
        given_name: name.split(' ').next().map(str::to_string),
        family_name: name.split(' ').nth(1).map(str::to_string),
        bill_addr: Some(ship.clone()),
        ship_addr: Some(ship),
        active: Some(true),
        ..Default::default()
    };
    let customers = vec![
        customer("1", "Olivia Nguyen", au_address("2", "88 Bulwer Street", "Perth", "WA", "6004")),
        customer(
            "2",
            "Noah Williams",
            au_address("3", "5 Oxford Street", "Leederville", "WA", "6007"),
        ),
        customer(
            "3",
            "Chloe Taylor",
            au_address("4", "210 Beaufort Street", "Perth", "Western Australia", "6004"),
        ),
    ];
    let items: [(&str, &str, u32); 3] = [
        ("Olive Tree 40cm", "54.55", 1),
        ("Terracotta Pot", "18.18", 2),
        ("Potting Mix 30L", "13.64", 3),
    ];
    let sales = customers
        .iter()
        .zip(items)
        .enumerate()
        .map(|(i, (c, (item, price, qty)))| {
            let id = (i + 1) as u64;
            let net = (dec(price) * Decimal::from(qty)).round_dp(2);
            let gst = (net / Decimal::TEN).round_dp(2);
            let mut line = item_line(1, item, Decimal::from(qty), dec(price), None);
            if let LineDetail::SalesItem(d) = &mut line.detail {
                d.tax_inclusive_amt = Some(net + gst);
                d.tax_code_ref = Some(Ref { value: "10".into(), name: None });
            }
            let subtotal = Line {
                id: None,
                line_num: None,
                description: None,
                amount: Some(net),
                linked_txn: Vec::new(),
                detail: LineDetail::SubTotal,
            };
            let stamp = to_pacific(now - Duration::minutes(50 - 10 * i as i64));
            let (ship_addr, bill_addr) = if id == 3 {
                (None, Some(PhysicalAddress::from_lines(&["Chloe Taylor"])))
            } else {
                (c.ship_addr.clone(), c.bill_addr.clone())
            };
            let doc = SalesTransaction {
                id: id.to_string(),
                sync_token: "0".into(),
                meta_data: Some(MetaData {
                    create_time: Some(stamp),
                    last_updated_time: Some(stamp),
                }),
                doc_number: Some(format!("{}", 2000 + id)),
                txn_date: Some(stamp.date_naive()),
                customer_ref: Some(Ref { value: c.id.clone(), name: c.display_name.clone() }),
                class_ref: Some(class_ref("Ordoro")),
                bill_addr,
                ship_addr,
                txn_tax_detail: Some(TxnTaxDetail { total_tax: Some(gst), ..Default::default() }),
                total_amt: Some(net + gst),
                balance: Some(net + gst),
                currency_ref: Some(Ref {
                    value: "AUD".into(),
                    name: Some("Australian Dollar".into()),
                }),
                global_tax_calculation: Some(GlobalTaxCalculation::TaxInclusive),
                line: vec![line, subtotal],
                domain: Some("QBO".into()),
                sparse: Some(false),
                ..Default::default()
            };
            SampleSale {
                txn: Transaction { kind: EntityKind::Invoice, doc },
                expected: Expected::Order,
                truth: None,
            }
        })
        .collect();
    SampleCompany { info, customers, sales }
}
