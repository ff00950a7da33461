//! Which Ordoro SKU each sales line gets, and where it came from: the merchant's SKU mapping
//! (by QBO item id, then by item name), then the QBO item's own `Sku`, then the item's name as
//! the sale shows it (the rule from before items were read). Ordoro matches order lines to its
//! products by SKU and creates a product for any SKU it does not know, so a SKU is an identity,
//! kept exactly as written (trimmed).
//!
//! The engine fills a [`SkuBook`] with the mapping table and the items a run's sales reference;
//! the mapping reads it and never fetches anything itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::qbo::{Line, LineDetail, QboItem, Ref, SalesTransaction};

/// Bundles do not nest in QBO; this only bounds hostile input.
const MAX_DEPTH: usize = 8;

/// Where a line's SKU came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkuSource {
    /// The merchant's SKU mapping (by QBO item id or item name).
    Mapping,
    /// The QBO item's own `Sku`.
    Item,
    /// The item's name as the sale shows it (`ItemRef.name`; `Parent:Child` for a sub-item):
    /// no mapping, and no item `Sku` known.
    Name,
}

impl SkuSource {
    /// `mapping`, `item` or `name`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkuSource::Mapping => "mapping",
            SkuSource::Item => "item",
            SkuSource::Name => "name",
        }
    }

    /// True when the SKU names a real product (from the mapping or the item), not a name
    /// standing in for one.
    pub fn is_real(self) -> bool {
        !matches!(self, SkuSource::Name)
    }
}

/// What a SKU mapping matches: a QBO item by id, or by name (the name as a sale shows it,
/// `Parent:Child` for a sub-item, compared without case and surrounding spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum SkuKey {
    /// A QBO item id (`ItemRef.value`).
    ItemId(String),
    /// A QBO item name (`ItemRef.name`, or the item's `FullyQualifiedName`).
    ItemName(String),
}

impl SkuKey {
    /// Reads `id:5` as an item id and anything else (`Widget`, `name:Widget`) as an item name,
    /// trimmed; `None` when nothing is left.
    pub fn parse(text: &str) -> Option<SkuKey> {
        let text = text.trim();
        let key = if let Some(id) = text.strip_prefix("id:") {
            SkuKey::ItemId(id.trim().to_string())
        } else {
            SkuKey::ItemName(text.strip_prefix("name:").unwrap_or(text).trim().to_string())
        };
        (!key.value().is_empty()).then_some(key)
    }

    /// `id` or `name`.
    pub fn kind(&self) -> &'static str {
        match self {
            SkuKey::ItemId(_) => "id",
            SkuKey::ItemName(_) => "name",
        }
    }

    /// The id or name.
    pub fn value(&self) -> &str {
        match self {
            SkuKey::ItemId(v) | SkuKey::ItemName(v) => v,
        }
    }
}

impl std::fmt::Display for SkuKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkuKey::ItemId(id) => write!(f, "id:{id}"),
            SkuKey::ItemName(name) => f.write_str(name),
        }
    }
}

/// One row of the SKU mapping table: the QBO item (by id or name) and the Ordoro SKU its lines
/// get, before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SkuMapping {
    /// The QBO item.
    pub key: SkuKey,
    /// The Ordoro SKU.
    pub sku: String,
}

/// What to do with a fractional quantity (2.5 units) on a line whose SKU is real (from the
/// mapping or the item). A line whose SKU is only a name keeps the one-unit rule (one unit
/// priced at the line total) whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FractionalPolicy {
    /// Fail the sale with `fractional_quantity`, naming the line (the default): one unit would
    /// decrement the real product's stock wrongly.
    #[default]
    Fail,
    /// Send the quantity rounded up to whole units, at the line's unit price and total, with a
    /// warning.
    RoundUp,
}

/// How a bundle (`GroupLineDetail`) becomes order lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundlePolicy {
    /// One order line per component item (the default, and the rule from before).
    #[default]
    Components,
    /// One order line with the bundle item's SKU, the bundle's quantity and its components'
    /// total: for merchants who keep kits in Ordoro.
    OneLine,
}

/// The SKU a line of the order got, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSku {
    /// The QBO line's `Id` (the order line's `cart_orderitem_id`), when it has one.
    pub line: Option<String>,
    /// The QBO item id (`ItemRef.value`, or a bundle's `GroupItemRef.value`).
    pub item_id: Option<String>,
    /// The SKU sent.
    pub sku: String,
    /// Where it came from.
    pub source: SkuSource,
}

/// The SKU mapping table and the QBO items known, by id: what the mapping resolves SKUs from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkuBook {
    by_id: BTreeMap<String, String>,
    by_name: BTreeMap<String, String>,
    items: BTreeMap<String, QboItem>,
}

/// A name as the mapping compares it: trimmed, inner spaces folded, lower case.
fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl SkuBook {
    /// An empty book: every SKU is the item's name, as before items were read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a mapping. A blank SKU or key is ignored.
    pub fn add_mapping(&mut self, mapping: &SkuMapping) {
        let sku = mapping.sku.trim();
        if sku.is_empty() {
            return;
        }
        match &mapping.key {
            SkuKey::ItemId(id) if !id.trim().is_empty() => {
                self.by_id.insert(id.trim().to_string(), sku.to_string());
            }
            SkuKey::ItemName(name) if !name_key(name).is_empty() => {
                self.by_name.insert(name_key(name), sku.to_string());
            }
            _ => {}
        }
    }

    /// Adds (or replaces, by id) a QBO item.
    pub fn add_item(&mut self, item: QboItem) {
        let id = item.id.trim().to_string();
        if !id.is_empty() {
            self.items.insert(id, item);
        }
    }

    /// The book with these mappings and items.
    pub fn with(
        mappings: impl IntoIterator<Item = SkuMapping>,
        items: impl IntoIterator<Item = QboItem>,
    ) -> Self {
        let mut book = Self::new();
        for m in mappings {
            book.add_mapping(&m);
        }
        for i in items {
            book.add_item(i);
        }
        book
    }

    /// The item of this id, if known.
    pub fn item(&self, id: &str) -> Option<&QboItem> {
        self.items.get(id.trim())
    }

    /// True when the book knows the item of this id.
    pub fn has_item(&self, id: &str) -> bool {
        self.items.contains_key(id.trim())
    }

    /// How many items the book knows.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// True when a mapping decides the SKU of lines selling `item`, so the QBO item need not be
    /// read.
    pub fn is_mapped(&self, item: &Ref) -> bool {
        self.mapped(item, None).is_some()
    }

    fn mapped(&self, item: &Ref, known: Option<&QboItem>) -> Option<&String> {
        let by_name = |name: Option<&str>| {
            name.map(name_key).filter(|k| !k.is_empty()).and_then(|k| self.by_name.get(&k))
        };
        self.by_id
            .get(item.value.trim())
            .or_else(|| by_name(item.name.as_deref()))
            .or_else(|| by_name(known.and_then(|i| i.fully_qualified_name.as_deref())))
            .or_else(|| by_name(known.and_then(|i| i.name.as_deref())))
    }

    /// The SKU of lines selling `item` and where it came from: the mapping (by id, then by the
    /// name the sale shows, then by the item's full and leaf names), then the item's `Sku`;
    /// `None` when neither decides (the caller then uses the name, as before).
    pub fn resolve(&self, item: &Ref) -> Option<(String, SkuSource)> {
        let known = self.item(&item.value);
        if let Some(sku) = self.mapped(item, known) {
            return Some((sku.clone(), SkuSource::Mapping));
        }
        known.and_then(QboItem::sku).map(|sku| (sku.to_string(), SkuSource::Item))
    }
}

/// The QBO item ids a sale's lines reference (item lines and bundles, nested ones included),
/// each once, in order: the items the engine reads for their SKUs. Only ids of digits are
/// listed (QBO's item ids are; `SHIPPING_ITEM_ID` is not an item).
pub fn item_ids(doc: &SalesTransaction) -> Vec<String> {
    let mut out = Vec::new();
    collect(&doc.line, 0, &mut out);
    out
}

fn collect(lines: &[Line], depth: usize, out: &mut Vec<String>) {
    if depth >= MAX_DEPTH {
        return;
    }
    for line in lines {
        let item = match &line.detail {
            LineDetail::SalesItem(d) => d.item_ref.as_ref(),
            LineDetail::Group(g) => {
                collect(&g.line, depth + 1, out);
                g.group_item_ref.as_ref()
            }
            _ => None,
        };
        let Some(id) = item.map(|r| r.value.trim()) else { continue };
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !out.iter().any(|o| o == id)
        {
            out.push(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, name: &str, fqn: &str, sku: Option<&str>) -> QboItem {
        QboItem {
            id: id.into(),
            name: Some(name.into()),
            fully_qualified_name: Some(fqn.into()),
            sku: sku.map(Into::into),
            ..QboItem::default()
        }
    }

    fn r(id: &str, name: &str) -> Ref {
        Ref { value: id.into(), name: Some(name.into()) }
    }

    #[test]
    fn mapping_by_id_then_name_then_item_sku() {
        let book = SkuBook::with(
            [
                SkuMapping { key: SkuKey::ItemId("5".into()), sku: "MAP-5".into() },
                SkuMapping { key: SkuKey::ItemName(" gadget ".into()), sku: "MAP-G".into() },
            ],
            [
                item("5", "Widget", "Widget", Some("WID-1")),
                item("6", "Gadget", "Gadget", Some("G-1")),
            ],
        );
        assert_eq!(book.resolve(&r("5", "Widget")), Some(("MAP-5".into(), SkuSource::Mapping)));
        assert_eq!(book.resolve(&r("6", "Gadget")), Some(("MAP-G".into(), SkuSource::Mapping)));
        let plain = SkuBook::with([], [item("5", "Widget", "Widget", Some(" WID-1 "))]);
        assert_eq!(plain.resolve(&r("5", "Widget")), Some(("WID-1".into(), SkuSource::Item)));
        assert_eq!(plain.resolve(&r("7", "Other")), None);
    }

    #[test]
    fn a_blank_sku_is_no_sku_and_a_sub_item_never_takes_its_parents() {
        let book = SkuBook::with(
            [],
            [
                item("1", "Chairs", "Chairs", Some("PARENT")),
                item("2", "Oak", "Chairs:Oak", Some(" ")),
            ],
        );
        assert_eq!(book.resolve(&r("2", "Chairs:Oak")), None);
    }

    #[test]
    fn keys_parse_ids_and_names() {
        assert_eq!(SkuKey::parse("id: 5"), Some(SkuKey::ItemId("5".into())));
        assert_eq!(SkuKey::parse("name:Widget"), Some(SkuKey::ItemName("Widget".into())));
        assert_eq!(SkuKey::parse(" Chairs:Oak "), Some(SkuKey::ItemName("Chairs:Oak".into())));
        assert_eq!(SkuKey::parse("id:"), None);
        assert_eq!(SkuKey::ItemId("5".into()).to_string(), "id:5");
    }
}
