//! Reads a transaction's lines into Ordoro order lines and the amounts around them: products,
//! shipping charges, discounts, notes, and the warnings met on the way.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::MappingConfig;
use super::skus::{BundlePolicy, FractionalPolicy, LineSku, SkuBook, SkuSource};
use crate::model::ordoro::{LineProduct, NewOrderLine};
use crate::model::qbo::{DetailType, DiscountLineDetail, GroupLineDetail, Line, LineDetail, Ref};
use crate::shipping::ShippingWords;

use crate::Reason;

/// Bundles do not nest in QBO; this only bounds hostile input.
const MAX_BUNDLE_DEPTH: usize = 8;

/// Decimals kept on a unit price derived as Amount / Qty (QBO's own unit-price precision).
const UNIT_PRICE_DP: u32 = 7;

/// The settings the lines are read with: shipping words, the SKU book and the SKU policies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineRules<'a> {
    pub words: &'a ShippingWords,
    pub skus: Option<&'a SkuBook>,
    pub fractional: FractionalPolicy,
    pub bundles: BundlePolicy,
}

impl<'a> LineRules<'a> {
    pub(crate) fn of(config: &'a MappingConfig) -> Self {
        LineRules {
            words: config.shipping_words(),
            skus: config.sku_book(),
            fractional: config.fractional_quantities(),
            bundles: config.bundles(),
        }
    }
}

/// What the lines of a transaction add up to.
#[derive(Debug, Default)]
pub(crate) struct LineSummary {
    /// The order lines, in QBO order, bundles flattened.
    pub products: Vec<NewOrderLine>,
    /// Sum of the product lines' totals.
    pub product_amount: Decimal,
    /// Sum of the shipping lines.
    pub shipping_amount: Decimal,
    /// How many shipping lines there were.
    pub shipping_lines: usize,
    /// The first shipping item that has a name (QBO's shipping item has none).
    pub first_shipping_name: Option<String>,
    /// Sum of the discount lines.
    pub discount_amount: Decimal,
    /// Text for the order's internal notes (description-only lines).
    pub notes: Vec<String>,
    /// Things noticed and handled.
    pub warnings: Vec<String>,
    /// The SKU of each order line and where it came from, in the order of `products`.
    pub skus: Vec<LineSku>,
}

/// A line that cannot be mapped without losing or inventing money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub code: Reason,
    pub message: String,
}

/// The facts of one item (a sales item line, or a bundle without item lines).
struct ItemFacts<'a> {
    id: Option<&'a str>,
    item: &'a Ref,
    description: Option<&'a str>,
    qty: Option<Decimal>,
    unit_price: Option<Decimal>,
    amount: Option<Decimal>,
}

/// Reads `lines` into a summary, or fails on a line that cannot be shipped as it stands
/// (a negative quantity or amount: a credit or return line).
pub(crate) fn summarize(lines: &[Line], rules: &LineRules<'_>) -> Result<LineSummary, LineError> {
    let mut s = LineSummary::default();
    walk(lines, rules, 0, &mut s)?;
    Ok(s)
}

fn walk(
    lines: &[Line],
    rules: &LineRules<'_>,
    depth: usize,
    s: &mut LineSummary,
) -> Result<(), LineError> {
    for (index, line) in lines.iter().enumerate() {
        match &line.detail {
            LineDetail::SalesItem(d) => match d.item_ref.as_ref().filter(|r| !is_blank_ref(r)) {
                Some(item) => {
                    let facts = ItemFacts {
                        id: line.id.as_deref(),
                        item,
                        description: line.description.as_deref(),
                        qty: d.qty,
                        unit_price: d.unit_price,
                        amount: line.amount,
                    };
                    if rules.words.is_shipping_item(item) {
                        add_shipping(&facts, s)?;
                    } else {
                        add_product(&facts, rules, s)?;
                    }
                }
                None => add_documentation(line, s),
            },
            LineDetail::Group(g) => add_bundle(line, g, rules, depth, s)?,
            LineDetail::Discount(d) => add_discount(line, d, s)?,
            LineDetail::DescriptionOnly => add_text(line, s),
            LineDetail::SubTotal => {}
            LineDetail::Unreadable { detail_type, problem, .. } => {
                let place = Place { position: index + 1, in_bundle: depth > 0 };
                unreadable(line, place, detail_type, problem, s)?
            }
            LineDetail::Unknown { detail_type, .. } => {
                let amount = line.amount.filter(|a| !a.is_zero());
                s.warnings.push(match amount {
                    Some(a) => format!(
                        "{}: DetailType `{detail_type}` is not read; its amount {} is left out",
                        line_label(line.id.as_deref()),
                        a.normalize()
                    ),
                    None => format!(
                        "{}: DetailType `{detail_type}` is not read",
                        line_label(line.id.as_deref())
                    ),
                });
            }
        }
    }
    Ok(())
}

fn add_text(line: &Line, s: &mut LineSummary) {
    if let Some(text) = clean(line.description.as_deref()) {
        s.notes.push(text);
    }
}

/// A line the model could not read. A subtotal or a text line carries neither goods nor money,
/// so it is read as far as it can be; any other line fails the transaction with
/// `unreadable_line`, naming the line: an order without it would ship or charge the wrong thing.
fn unreadable(
    line: &Line,
    place: Place,
    detail_type: &str,
    problem: &str,
    s: &mut LineSummary,
) -> Result<(), LineError> {
    match DetailType::parse(detail_type) {
        DetailType::SubTotalLineDetail => Ok(()),
        DetailType::DescriptionOnly => {
            add_text(line, s);
            Ok(())
        }
        _ => Err(LineError {
            code: Reason::UnreadableLine,
            message: format!(
                "{} ({detail_type}) cannot be read: {problem}. No order was created, so that no \
                 line of the sale is lost; correct the line in QuickBooks, or report this message \
                 if it looks right there",
                describe(line, place)
            ),
        }),
    }
}

/// Where a line sits: its 1-based position in the sale's lines, or in its bundle's.
#[derive(Debug, Clone, Copy)]
struct Place {
    position: usize,
    in_bundle: bool,
}

/// A line for people: its position, `LineNum`, `Id` and description, as far as it has them.
fn describe(line: &Line, place: Place) -> String {
    let within = if place.in_bundle { "of its bundle" } else { "of the sale" };
    let mut parts = vec![format!("line {} {within}", place.position)];
    if let Some(n) = line.line_num {
        parts.push(format!("LineNum {n}"));
    }
    if let Some(id) = clean(line.id.as_deref()) {
        parts.push(format!("Id {id}"));
    }
    if let Some(text) = clean(line.description.as_deref()) {
        let text: String = text.chars().take(60).collect();
        parts.push(format!("\"{text}\""));
    }
    if parts.is_empty() {
        "a line without LineNum, Id or description".into()
    } else {
        format!("line {}", parts.join(", "))
    }
}

/// A bundle: its item lines carry the money (the bundle's own amount can be 0), so they are
/// mapped one by one; a bundle sent without them is mapped as one line of the bundle item, and
/// so is every bundle under [`BundlePolicy::OneLine`] (priced at its components' total).
fn add_bundle(
    line: &Line,
    g: &GroupLineDetail,
    rules: &LineRules<'_>,
    depth: usize,
    s: &mut LineSummary,
) -> Result<(), LineError> {
    if depth >= MAX_BUNDLE_DEPTH {
        s.warnings.push(format!(
            "{}: bundles nested too deep; inner lines left out",
            line_label(line.id.as_deref())
        ));
        return Ok(());
    }
    let bundle_item = g.group_item_ref.as_ref().filter(|r| !is_blank_ref(r));
    if !g.line.is_empty() {
        return match bundle_item {
            Some(item) if rules.bundles == BundlePolicy::OneLine => {
                add_bundle_as_one_line(line, g, item, rules, depth, s)
            }
            _ => walk(&g.line, rules, depth + 1, s),
        };
    }
    match bundle_item {
        Some(item) => add_product(
            &ItemFacts {
                id: line.id.as_deref(),
                item,
                description: line.description.as_deref(),
                qty: g.quantity,
                unit_price: None,
                amount: line.amount,
            },
            rules,
            s,
        ),
        None => {
            add_documentation(line, s);
            Ok(())
        }
    }
}

/// A bundle as one order line of the bundle item: its components are read as usual (so a
/// negative or unreadable one still fails the sale), then their product total becomes the
/// line's total; shipping and discounts among them stay shipping and discounts.
fn add_bundle_as_one_line(
    line: &Line,
    g: &GroupLineDetail,
    item: &Ref,
    rules: &LineRules<'_>,
    depth: usize,
    s: &mut LineSummary,
) -> Result<(), LineError> {
    let mut inner = LineSummary::default();
    walk(&g.line, rules, depth + 1, &mut inner)?;
    s.shipping_amount = add(s.shipping_amount, inner.shipping_amount)?;
    s.shipping_lines += inner.shipping_lines;
    if s.first_shipping_name.is_none() {
        s.first_shipping_name = inner.first_shipping_name;
    }
    s.discount_amount = add(s.discount_amount, inner.discount_amount)?;
    s.notes.extend(inner.notes);
    s.warnings.extend(inner.warnings);
    let facts = ItemFacts {
        id: line.id.as_deref(),
        item,
        description: line.description.as_deref(),
        qty: g.quantity,
        unit_price: None,
        amount: Some(inner.product_amount),
    };
    add_product(&facts, rules, s)
}

/// A sales line without an item: QBO treats it as text and ignores its amount, and so do we.
fn add_documentation(line: &Line, s: &mut LineSummary) {
    if let Some(text) = clean(line.description.as_deref()) {
        s.notes.push(text);
    }
    if let Some(a) = line.amount.filter(|a| !a.is_zero()) {
        s.warnings.push(format!(
            "{}: no item, so QuickBooks ignores its amount {}; not sent as a product",
            line_label(line.id.as_deref()),
            a.normalize()
        ));
    }
}

fn add_shipping(f: &ItemFacts<'_>, s: &mut LineSummary) -> Result<(), LineError> {
    let (_, _, total) = money_of(f)?;
    s.shipping_amount = add(s.shipping_amount, total)?;
    s.shipping_lines += 1;
    if s.first_shipping_name.is_none() {
        s.first_shipping_name = clean(f.item.name.as_deref());
    }
    Ok(())
}

fn add_product(
    f: &ItemFacts<'_>,
    rules: &LineRules<'_>,
    s: &mut LineSummary,
) -> Result<(), LineError> {
    let (qty, unit, total) = money_of(f)?;
    // The item's own text is kept as QBO has it (trimmed): a SKU is an identity in Ordoro.
    let item_name = f.item.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let item_id = Some(f.item.value.trim()).filter(|v| !v.is_empty());
    let description = clean(f.description);
    let (sku, source) = rules.skus.and_then(|book| book.resolve(f.item)).unwrap_or_else(|| {
        (first_text(&[item_name, item_id, description.as_deref()]), SkuSource::Name)
    });
    let name = first_text(&[item_name, description.as_deref(), item_id]);
    let label = format!("{} ({sku})", line_label(f.id));
    let (quantity, item_price, product_name) = if source.is_real() && !qty.fract().is_zero() {
        real_fraction(qty, unit, &label, &name, source, rules.fractional, &mut s.warnings)?
    } else {
        whole_units(qty, unit, total, &label, &name, &mut s.warnings)?
    };
    s.skus.push(LineSku {
        line: clean(f.id),
        item_id: item_id.map(str::to_string),
        sku: sku.clone(),
        source,
    });
    s.product_amount = add(s.product_amount, total)?;
    s.products.push(NewOrderLine {
        cart_orderitem_id: clean(f.id),
        product_name: Some(product_name),
        item_price: Some(item_price.normalize()),
        quantity,
        total_price: Some(total.normalize()),
        product: LineProduct { sku, name, price: Some(unit.normalize()) },
    });
    Ok(())
}

/// Ordoro's quantity, unit price and line name for a QBO quantity. Ordoro counts whole units, so
/// a fractional quantity becomes one unit priced at the line total: the money stays right, and
/// the real quantity stays visible in the line's name and in a warning.
fn whole_units(
    qty: Decimal,
    unit: Decimal,
    total: Decimal,
    label: &str,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<(i64, Decimal, String), LineError> {
    if qty.fract().is_zero() {
        let n = qty.to_i64().ok_or_else(|| LineError {
            code: Reason::AmountOverflow,
            message: format!("{label}: quantity {} is too large", qty.normalize()),
        })?;
        if n == 0 {
            warnings.push(format!("{label}: quantity is 0"));
        }
        return Ok((n, unit, name.to_string()));
    }
    warnings.push(format!(
        "{label}: fractional quantity {} sent as 1 unit priced at the line total {}",
        qty.normalize(),
        total.normalize()
    ));
    Ok((1, total, format!("{name} (qty {} at {} each)", qty.normalize(), unit.normalize())))
}

/// A fractional quantity on a line whose SKU names a real product: one unit priced at the total
/// would decrement the product's stock wrongly, so the sale fails (naming the line and the
/// setting that changes it), or the quantity is rounded up with a warning.
fn real_fraction(
    qty: Decimal,
    unit: Decimal,
    label: &str,
    name: &str,
    source: SkuSource,
    policy: FractionalPolicy,
    warnings: &mut Vec<String>,
) -> Result<(i64, Decimal, String), LineError> {
    match policy {
        FractionalPolicy::Fail => Err(LineError {
            code: Reason::FractionalQuantity,
            message: format!(
                "{label}: quantity {} is not a whole number, and the SKU (from the {}) names a \
                 real Ordoro product whose stock it would decrement wrongly; no order was \
                 created. Correct the quantity in QuickBooks, or set the fractional-quantity \
                 policy to round up",
                qty.normalize(),
                match source {
                    SkuSource::Mapping => "SKU mapping",
                    _ => "QuickBooks item",
                }
            ),
        }),
        FractionalPolicy::RoundUp => {
            let whole = qty.ceil();
            let n = whole.to_i64().ok_or_else(|| LineError {
                code: Reason::AmountOverflow,
                message: format!("{label}: quantity {} is too large", qty.normalize()),
            })?;
            warnings.push(format!(
                "{label}: fractional quantity {} rounded up to {n} units",
                qty.normalize()
            ));
            Ok((n, unit, name.to_string()))
        }
    }
}

fn add_discount(line: &Line, d: &DiscountLineDetail, s: &mut LineSummary) -> Result<(), LineError> {
    let amount = match (line.amount, d.percent_based, d.discount_percent) {
        (Some(a), _, _) => a,
        // QBO sends the amount; should it be missing, a percent applies to the lines above it.
        (None, Some(true), Some(pct)) => s
            .product_amount
            .checked_mul(pct)
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
            .map(|x| x.round_dp(2))
            .ok_or_else(|| overflow("discount"))?,
        _ => Decimal::ZERO,
    };
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(LineError {
            code: Reason::NegativeLine,
            message: format!(
                "{}: negative discount {} (a surcharge) cannot be sent to Ordoro",
                line_label(line.id.as_deref()),
                amount.normalize()
            ),
        });
    }
    s.discount_amount = add(s.discount_amount, amount)?;
    Ok(())
}

/// Quantity (1 when absent), unit price (`UnitPrice`, else Amount / Qty, else Amount) and line
/// total (`Amount`, else unit price × quantity) of an item; negative values are refused.
fn money_of(f: &ItemFacts<'_>) -> Result<(Decimal, Decimal, Decimal), LineError> {
    let qty = f.qty.unwrap_or(Decimal::ONE);
    let total = match (f.amount, f.unit_price) {
        (Some(a), _) => a,
        (None, Some(u)) => u.checked_mul(qty).ok_or_else(|| overflow("line total"))?,
        (None, None) => Decimal::ZERO,
    };
    let unit = match f.unit_price {
        Some(u) => u,
        None if !qty.is_zero() => {
            total.checked_div(qty).ok_or_else(|| overflow("unit price"))?.round_dp(UNIT_PRICE_DP)
        }
        None => total,
    };
    let negative = |d: Decimal| d.is_sign_negative() && !d.is_zero();
    if negative(qty) || negative(unit) || negative(total) {
        return Err(LineError {
            code: Reason::NegativeLine,
            message: format!(
                "{} ({}): quantity {}, unit price {}, amount {}: a credit or return line cannot \
                 be shipped; enter it as a discount or a separate credit memo",
                line_label(f.id),
                first_text(&[f.item.name.as_deref(), Some(&f.item.value)]),
                qty.normalize(),
                unit.normalize(),
                total.normalize()
            ),
        });
    }
    Ok((qty, unit, total))
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, LineError> {
    a.checked_add(b).ok_or_else(|| overflow("sum of lines"))
}

fn overflow(what: &str) -> LineError {
    LineError {
        code: Reason::AmountOverflow,
        message: format!("the {what} is too large to compute"),
    }
}

fn is_blank_ref(r: &Ref) -> bool {
    r.value.trim().is_empty() && clean(r.name.as_deref()).is_none()
}

/// The first candidate with text, trimmed; `item` when none has any (not reached in practice:
/// the item reference is known not to be blank).
fn first_text(candidates: &[Option<&str>]) -> String {
    candidates
        .iter()
        .flatten()
        .map(|c| c.trim())
        .find(|c| !c.is_empty())
        .unwrap_or("item")
        .to_string()
}

/// Trimmed, inner white space folded to one space; `None` when nothing is left.
pub(crate) fn clean(text: Option<&str>) -> Option<String> {
    let folded = text?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!folded.is_empty()).then_some(folded)
}

fn line_label(id: Option<&str>) -> String {
    match clean(id) {
        Some(id) => format!("line {id}"),
        None => "a line without id".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_folds_white_space() {
        assert_eq!(clean(Some("  a \n\t b ")), Some("a b".to_string()));
        assert_eq!(clean(Some(" \n ")), None);
        assert_eq!(clean(None), None);
    }

    #[test]
    fn first_text_skips_blank_candidates() {
        assert_eq!(first_text(&[Some(" "), None, Some(" x  y ")]), "x  y");
        assert_eq!(first_text(&[None]), "item");
    }
}
