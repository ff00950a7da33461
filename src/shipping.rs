//! Shipping lines: tells the sales lines that are the shipping charge (QBO's shipping item, or an
//! item whose name contains a shipping word such as `UPS`, `FedEx` or `Shipping` as a whole word)
//! from the product lines, so that their amounts go to the order's shipping amount. Pure: no I/O,
//! no panic on any input.

use crate::model::qbo::{Line, LineDetail, Ref};

/// The `ItemRef.value` QBO gives the transaction-wide shipping line.
pub const SHIPPING_ITEM_ID: &str = "SHIPPING_ITEM_ID";

/// The words that make an item a shipping charge when its name contains them as whole words.
pub const DEFAULT_SHIPPING_WORDS: [&str; 3] = ["UPS", "FedEx", "Shipping"];

/// The configured shipping words and phrases, each kept as typed and as a sequence of lower-case
/// words, so that `Freight Out` matches the words `freight`, `out` in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingWords {
    phrases: Vec<Phrase>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Phrase {
    typed: String,
    words: Vec<String>,
}

impl Default for ShippingWords {
    fn default() -> Self {
        Self::new(DEFAULT_SHIPPING_WORDS)
    }
}

impl ShippingWords {
    /// Exactly these words or phrases. Entries without a letter or digit are ignored, since they
    /// could never match a whole word.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut this = ShippingWords { phrases: Vec::new() };
        for w in words {
            this.add(w.as_ref());
        }
        this
    }

    /// Adds a word or phrase (`USPS`, `Freight Out`); a duplicate (by its words) is ignored.
    pub fn add(&mut self, word: &str) {
        let words = words_of(word);
        if words.is_empty() || self.phrases.iter().any(|p| p.words == words) {
            return;
        }
        self.phrases.push(Phrase { typed: word.trim().to_string(), words });
    }

    /// The words and phrases as typed, in the order they were added.
    pub fn words(&self) -> Vec<&str> {
        self.phrases.iter().map(|p| p.typed.as_str()).collect()
    }

    /// True when `name` contains one of the words or phrases as whole words, ignoring case:
    /// `UPS Ground` and `Shipping & Handling` do, `Groups` and `Reshipping` do not.
    pub fn matches_name(&self, name: &str) -> bool {
        let name_words = words_of(name);
        self.phrases.iter().any(|p| contains_run(&name_words, &p.words))
    }

    /// True when the item is QBO's shipping item or its name holds a shipping word.
    pub fn is_shipping_item(&self, item: &Ref) -> bool {
        item.value.trim() == SHIPPING_ITEM_ID
            || item.name.as_deref().is_some_and(|name| self.matches_name(name))
    }

    /// True when `line` is an item line whose item is a shipping charge. Bundles, discounts,
    /// subtotals and text lines never are.
    pub fn is_shipping_line(&self, line: &Line) -> bool {
        match &line.detail {
            LineDetail::SalesItem(detail) => {
                detail.item_ref.as_ref().is_some_and(|item| self.is_shipping_item(item))
            }
            _ => false,
        }
    }
}

/// Splits text into lower-case words: runs of letters and digits, so punctuation and white space
/// are boundaries (`Shipping&Handling` is two words, `2Day` one).
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// True when `needle` occurs as consecutive elements of `haystack`.
fn contains_run(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_punctuation_and_fold_case() {
        assert_eq!(
            words_of("  Shipping&Handling, UPS-2Day "),
            ["shipping", "handling", "ups", "2day"]
        );
    }

    #[test]
    fn phrase_must_be_consecutive() {
        let w = ShippingWords::new(["Freight Out"]);
        assert!(w.matches_name("Freight Out (LTL)"));
        assert!(!w.matches_name("Freight In Out"));
        assert!(!w.matches_name("Freight"));
    }

    #[test]
    fn blank_and_duplicate_words_are_ignored() {
        let mut w = ShippingWords::new(["UPS", " - ", "ups "]);
        w.add("");
        assert_eq!(w.words(), ["UPS"]);
        assert!(!w.matches_name(""));
    }
}
