//! What a host can tune in the mapping: accepted classes, shipping words, the sales channel, an
//! order-id prefix, the bill-to fallback, the company's own country, the Ordoro account's
//! currency, and the SKUs: the book they are resolved from, and the fractional-quantity and
//! bundle policies.

use std::sync::Arc;

use super::skus::{BundlePolicy, FractionalPolicy, SkuBook};
use crate::class_filter::ClassFilter;
use crate::shipping::ShippingWords;

/// The mapping's settings. [`Default`] is the out-of-the-box behaviour: accepted class `Ordoro`,
/// no class ids, shipping words `UPS`, `FedEx`, `Shipping`, no sales channel, no order-id prefix,
/// a bill-to that falls back to the ship-to when `BillAddr` cannot be read, an Ordoro account
/// in `USD`, no SKU book (every SKU is the item's name, as the sale shows it), fractional
/// quantities with a real SKU failed, and bundles sent as their components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    classes: ClassFilter,
    shipping: ShippingWords,
    cart: Option<i64>,
    order_id_prefix: Option<String>,
    bill_to_fallback: bool,
    company_country: Option<String>,
    account_currency: Option<String>,
    skus: Option<Arc<SkuBook>>,
    fractional: FractionalPolicy,
    bundles: BundlePolicy,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            classes: ClassFilter::default(),
            shipping: ShippingWords::default(),
            cart: None,
            order_id_prefix: None,
            bill_to_fallback: true,
            company_country: None,
            account_currency: None,
            skus: None,
            fractional: FractionalPolicy::default(),
            bundles: BundlePolicy::default(),
        }
    }
}

impl MappingConfig {
    /// The defaults (see [`MappingConfig`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the accepted class names (ids are kept).
    pub fn with_classes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.classes.clear_names();
        for n in names {
            self.classes.add_name(n.as_ref());
        }
        self
    }

    /// Accepts one more class name.
    pub fn add_class(mut self, name: &str) -> Self {
        self.classes.add_name(name);
        self
    }

    /// Replaces the accepted class ids (names are kept).
    pub fn with_class_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.classes.clear_ids();
        for id in ids {
            self.classes.add_id(id.as_ref());
        }
        self
    }

    /// Accepts one more class id (once looked up by name).
    pub fn add_class_id(mut self, id: &str) -> Self {
        self.classes.add_id(id);
        self
    }

    /// Replaces the shipping words and phrases.
    pub fn with_shipping_words<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.shipping = ShippingWords::new(words);
        self
    }

    /// Adds a shipping word or phrase (`USPS`, `DHL`, `Freight Out`).
    pub fn add_shipping_word(mut self, word: &str) -> Self {
        self.shipping.add(word);
        self
    }

    /// Sets the Ordoro sales channel (cart) id sent with every order.
    pub fn with_cart(mut self, cart: Option<i64>) -> Self {
        self.cart = cart;
        self
    }

    /// Sets a prefix put before every order id (`ACME` gives `ACME-QBO-INV-130`), for hosts that
    /// sync several QBO companies into one sales channel. A blank prefix means none.
    pub fn with_order_id_prefix(mut self, prefix: Option<&str>) -> Self {
        self.order_id_prefix = prefix
            .map(|p| p.trim().trim_end_matches('-').trim().to_string())
            .filter(|p| !p.is_empty());
        self
    }

    /// When true (the default), a `BillAddr` that cannot be read is replaced by the ship-to with a
    /// warning; when false, it fails the transaction.
    pub fn with_bill_to_fallback(mut self, on: bool) -> Self {
        self.bill_to_fallback = on;
        self
    }

    /// Sets the QBO company's own country (ISO 3166-1 alpha-2), the country of an address
    /// block that names none. `None` (the default) means the U.S.
    pub fn with_company_country(mut self, country: Option<&str>) -> Self {
        self.company_country = country.map(|c| c.trim().to_ascii_uppercase());
        self
    }

    /// Sets the Ordoro account's currency (ISO 4217). Ordoro orders have no currency, so a sale
    /// in another currency (QBO `CurrencyRef`, multi-currency companies) is sent with its
    /// amounts as they are, never converted, and its currency and exchange rate in the order's
    /// notes, with a warning. Unset (the default, or a blank value), the account is taken to be
    /// in the QBO company's home currency: a sale is in another currency when QBO gives it an
    /// `ExchangeRate` other than 1 (QBO gives home-currency sales a rate of exactly 1).
    pub fn with_account_currency(mut self, currency: &str) -> Self {
        let currency = currency.trim().to_ascii_uppercase();
        self.account_currency = (!currency.is_empty()).then_some(currency);
        self
    }

    /// Sets the SKU book: the merchant's SKU mapping and the QBO items known, from which each
    /// line's SKU is resolved ([`SkuBook::resolve`]). `None` (the default) means no item data:
    /// every SKU is the item's name as the sale shows it, as before items were read. The
    /// engine sets one for every run.
    pub fn with_sku_book(mut self, book: Option<Arc<SkuBook>>) -> Self {
        self.skus = book;
        self
    }

    /// Sets what a fractional quantity on a line with a real SKU does (default: fail).
    pub fn with_fractional_quantities(mut self, policy: FractionalPolicy) -> Self {
        self.fractional = policy;
        self
    }

    /// Sets how bundles become order lines (default: their components).
    pub fn with_bundles(mut self, policy: BundlePolicy) -> Self {
        self.bundles = policy;
        self
    }

    /// The SKU book, if set (see [`MappingConfig::with_sku_book`]).
    pub fn sku_book(&self) -> Option<&SkuBook> {
        self.skus.as_deref()
    }

    /// The fractional-quantity policy.
    pub fn fractional_quantities(&self) -> FractionalPolicy {
        self.fractional
    }

    /// The bundle policy.
    pub fn bundles(&self) -> BundlePolicy {
        self.bundles
    }

    /// The Ordoro account's currency, if set (see [`MappingConfig::with_account_currency`]).
    pub fn account_currency(&self) -> Option<&str> {
        self.account_currency.as_deref()
    }

    /// The class filter.
    pub fn classes(&self) -> &ClassFilter {
        &self.classes
    }

    /// The shipping words.
    pub fn shipping_words(&self) -> &ShippingWords {
        &self.shipping
    }

    /// The sales channel id, if set.
    pub fn cart(&self) -> Option<i64> {
        self.cart
    }

    /// The order-id prefix, if set.
    pub fn order_id_prefix(&self) -> Option<&str> {
        self.order_id_prefix.as_deref()
    }

    /// The QBO company's own country, if set (see [`MappingConfig::with_company_country`]).
    pub fn company_country(&self) -> Option<&str> {
        self.company_country.as_deref()
    }

    /// Whether an unreadable `BillAddr` falls back to the ship-to.
    pub fn bill_to_fallback(&self) -> bool {
        self.bill_to_fallback
    }
}
