//! The class filter: decides from its QBO class whether a transaction is marked for Ordoro. The
//! header `ClassRef` alone decides when present; otherwise (per-line class tracking) one item line
//! carrying an accepted class makes the whole sale eligible. Names match case-insensitively, with
//! surrounding spaces ignored, on the full name or the leaf of a sub-class (`Parent:Ordoro`), and
//! class ids match exactly once the host knows them. Pure: no I/O, no panic on any input.

use crate::model::qbo::{Line, LineDetail, Ref, SalesTransaction};

/// The class name accepted when the host configures none.
pub const DEFAULT_CLASS: &str = "Ordoro";

/// How deep bundles are searched for line classes; QBO bundles do not nest, so this only bounds
/// hostile input.
const MAX_BUNDLE_DEPTH: usize = 8;

/// The accepted classes, by name and by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFilter {
    names: Vec<String>,
    ids: Vec<String>,
}

impl Default for ClassFilter {
    fn default() -> Self {
        Self::with_names([DEFAULT_CLASS])
    }
}

/// Where the deciding class was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassSource {
    /// The transaction's header `ClassRef`.
    Header,
    /// An item line's `ClassRef` (per-line class tracking).
    Line,
}

/// What the filter decided about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassVerdict {
    /// An accepted class marks the sale: the class as shown (name, else id) and where it was.
    Accepted {
        /// The matching class's name, or its id when QBO sent no name.
        class: String,
        /// Header or line.
        source: ClassSource,
    },
    /// The sale carries classes, none accepted: the classes seen (names, else ids).
    Mismatch {
        /// The classes seen, without duplicates, in order.
        found: Vec<String>,
    },
    /// No class on the header nor on any item line.
    NoClass,
}

impl ClassFilter {
    /// Accepts exactly these class names (no ids).
    pub fn with_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut this = ClassFilter { names: Vec::new(), ids: Vec::new() };
        for n in names {
            this.add_name(n.as_ref());
        }
        this
    }

    /// Accepts one more class name; blank names are ignored.
    pub fn add_name(&mut self, name: &str) {
        let key = normalize_name(name);
        if !key.is_empty() && !self.names.contains(&key) {
            self.names.push(key);
        }
    }

    /// Accepts one more class id (as looked up by name); blank ids are ignored.
    pub fn add_id(&mut self, id: &str) {
        let id = id.trim();
        if !id.is_empty() && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }

    /// Drops every accepted name, keeping the ids.
    pub fn clear_names(&mut self) {
        self.names.clear();
    }

    /// Drops every accepted id, keeping the names.
    pub fn clear_ids(&mut self) {
        self.ids.clear();
    }

    /// The accepted names, normalised (trimmed, lower case, inner spaces folded).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The accepted ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// True when `class` is accepted: its id is an accepted id, or its full name or its leaf
    /// (`Child` of `Parent:Child`) is an accepted name, ignoring case and surrounding spaces.
    pub fn accepts(&self, class: &Ref) -> bool {
        let id = class.value.trim();
        if !id.is_empty() && self.ids.iter().any(|i| i == id) {
            return true;
        }
        let Some(name) = class.name.as_deref() else { return false };
        let full = normalize_name(name);
        let leaf = full.rsplit(':').next().unwrap_or("").trim().to_string();
        self.names.iter().any(|n| *n == full || *n == leaf)
    }

    /// Decides for a whole transaction: the header class alone when there is one, else the item
    /// lines' classes (bundle items included).
    pub fn check(&self, txn: &SalesTransaction) -> ClassVerdict {
        if let Some(header) = txn.class_ref.as_ref().filter(|c| !is_blank(c)) {
            return if self.accepts(header) {
                ClassVerdict::Accepted { class: label(header), source: ClassSource::Header }
            } else {
                ClassVerdict::Mismatch { found: vec![label(header)] }
            };
        }
        let mut line_classes = Vec::new();
        collect_line_classes(&txn.line, 0, &mut line_classes);
        if let Some(hit) = line_classes.iter().find(|c| self.accepts(c)) {
            return ClassVerdict::Accepted { class: label(hit), source: ClassSource::Line };
        }
        if line_classes.is_empty() {
            return ClassVerdict::NoClass;
        }
        let mut found: Vec<String> = Vec::new();
        for c in &line_classes {
            let l = label(c);
            if !found.contains(&l) {
                found.push(l);
            }
        }
        ClassVerdict::Mismatch { found }
    }
}

/// Trims, lower-cases and folds inner white space, and trims around each `:` of a sub-class path.
fn normalize_name(name: &str) -> String {
    name.split(':')
        .map(|part| part.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase())
        .collect::<Vec<_>>()
        .join(":")
        .trim_matches(':')
        .to_string()
}

fn is_blank(class: &Ref) -> bool {
    class.value.trim().is_empty() && class.name.as_deref().is_none_or(|n| n.trim().is_empty())
}

/// The class as people see it: its name, else its id.
fn label(class: &Ref) -> String {
    match class.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => format!("id {}", class.value.trim()),
    }
}

fn collect_line_classes<'a>(lines: &'a [Line], depth: usize, out: &mut Vec<&'a Ref>) {
    if depth > MAX_BUNDLE_DEPTH {
        return;
    }
    for line in lines {
        match &line.detail {
            LineDetail::SalesItem(d) => {
                if let Some(c) = d.class_ref.as_ref().filter(|c| !is_blank(c)) {
                    out.push(c);
                }
            }
            LineDetail::Group(g) => collect_line_classes(&g.line, depth + 1, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: Option<&str>, id: &str) -> Ref {
        Ref { value: id.into(), name: name.map(str::to_string) }
    }

    #[test]
    fn normalises_case_spaces_and_sub_class_paths() {
        assert_eq!(normalize_name("  Shipping :  ORDORO  West "), "shipping:ordoro west");
        assert_eq!(normalize_name(" : "), "");
    }

    #[test]
    fn accepts_by_leaf_full_name_or_id() {
        let mut f = ClassFilter::with_names(["Ordoro", "Retail:Infusionsoft"]);
        f.add_id("5000000000000000042");
        assert!(f.accepts(&class(Some("Sales:ordoro"), "1")));
        assert!(f.accepts(&class(Some(" retail : infusionsoft "), "2")));
        assert!(!f.accepts(&class(Some("Infusionsoft"), "3")));
        assert!(f.accepts(&class(None, " 5000000000000000042 ")));
        assert!(!f.accepts(&class(Some("Ordoro:Retail"), "4")));
    }

    #[test]
    fn blank_header_class_counts_as_absent() {
        assert!(is_blank(&class(Some("  "), " ")));
        assert!(!is_blank(&class(None, "7")));
    }
}
