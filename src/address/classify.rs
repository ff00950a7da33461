//! Line classifiers: what one line of a block reads as, by its own text. A street line and how
//! strongly ([`street_kind`]: a number, a street word, a PO box, a unit), a PO box, a company
//! line, a line that is only a phone number or an e-mail address, an `Attn:` line and the name
//! it gives, a `c/o` line. The reading of the block ([`super::upper`], [`super::locate`]) decides
//! from these what each line is.

use super::text::{self, Key, has_digit};
use super::words::scan_words;

/// How much a line looks like a street line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreetKind {
    /// Starts with a number, is a PO box, or has a number and a street word.
    Strong,
    /// Has a number (`Flat 3`, `Building 1`).
    Digit,
    /// Has a street or unit word but no number (`Main Street`).
    Word,
    /// Reads as a name or a company.
    NotStreet,
}

/// Whether the line is a PO box, a private or locked bag, or a rural or military route.
pub(crate) fn is_po_box(line: &str) -> bool {
    // Every form starts with one of these letter pairs (`P.O.`, `PO`, `Box`, `GPO`, `Locked`...).
    let mut letters =
        line.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_uppercase());
    let pair = (letters.next(), letters.next());
    let plausible = matches!(
        pair,
        (Some(b'P'), Some(b'O' | b'R' | b'M' | b'S'))
            | (Some(b'G'), Some(b'P' | b'E'))
            | (Some(b'L'), Some(b'O'))
            | (Some(b'A'), Some(b'P'))
            | (Some(b'C'), Some(b'A' | b'M' | b'P'))
            | (Some(b'R'), Some(b'U' | b'R'))
            | (Some(b'B'), Some(b'O' | b'P'))
            | (Some(b'H'), Some(b'C'))
            | (Some(b'U'), Some(b'N'))
    );
    if !plausible {
        return false;
    }
    let key = Key::prefix(line, 16);
    let k = key.as_bytes();
    const PREFIXES: &[&[u8]] = &[
        b"POBOX",
        b"POSTOFFICEBOX",
        b"GPOBOX",
        b"LOCKEDBAG",
        b"PRIVATEBAG",
        b"POSTFACH",
        b"APARTADO",
        b"CASILLA",
        b"CAIXAPOSTAL",
        b"CASEPOSTALE",
        b"GENERALDELIVERY",
        b"RURALROUTE",
        b"POSTBUS",
        b"POSTBOKS",
        b"BOITEPOSTALE",
    ];
    if PREFIXES.iter().any(|p| k.starts_with(p)) {
        return true;
    }
    const NUMBERED: &[&[u8]] =
        &[b"POB", b"BOX", b"PMB", b"RR", b"HC", b"PSC", b"CMR", b"BP", b"CP", b"UNIT"];
    NUMBERED.iter().any(|p| {
        k.strip_prefix(*p).is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit))
    })
}

/// Whether the line names a company (`Inc`, `LLC`, `GmbH`, `Store`, ...).
pub(crate) fn is_company_like(line: &str) -> bool {
    let w = scan_words(line);
    w.company_word || w.last_short_suffix
}

/// How much a line looks like a street line.
pub(crate) fn street_kind(line: &str) -> StreetKind {
    if is_po_box(line) {
        return StreetKind::Strong;
    }
    let t = line.trim_start();
    let starts_digit = match t.as_bytes() {
        [b'#', rest @ ..] => rest.iter().find(|b| **b != b' ').is_some_and(u8::is_ascii_digit),
        [b, ..] => b.is_ascii_digit(),
        [] => false,
    };
    let digit = has_digit(line);
    let numbered = digit && has_number_token(line);
    let w = scan_words(line);
    if !w.street_word && (w.company_word || w.last_short_suffix) {
        return StreetKind::NotStreet;
    }
    if starts_digit || (digit && w.street_word) {
        StreetKind::Strong
    } else if numbered || w.unit_first {
        StreetKind::Digit
    } else if w.street_word || w.unit_word {
        StreetKind::Word
    } else {
        StreetKind::NotStreet
    }
}

/// Whether a line has a token that is a number (`3`, `4B`, `#05-01`, `(CVN 68)`), as unit and
/// building lines do, unlike names with a digit in a rank or title (`PO1 Mike Lee`).
fn has_number_token(line: &str) -> bool {
    let mut at_start = true;
    for &b in line.as_bytes() {
        if b == b' ' || b == b'\t' || b == b',' {
            at_start = true;
        } else if at_start && (b == b'#' || b == b'(' || b == b'-' || b == b'N' || b == b'n') {
            // `#12`, `(CVN 68)`, `No12`: still the token's start.
        } else if at_start && b.is_ascii_digit() {
            return true;
        } else {
            at_start = false;
        }
    }
    false
}

/// Whether a line is only a phone number, with or without a label (`Tel: ...`).
pub(crate) fn is_phone(line: &str) -> bool {
    let t = text::trim_fast(line);
    let (labelled, rest) = strip_phone_label(t);
    let mut digits = 0usize;
    let mut letters = false;
    for b in rest.bytes() {
        if b.is_ascii_digit() {
            digits += 1;
        } else if b.is_ascii_alphabetic() {
            letters = true;
        } else if !matches!(b, b' ' | b'+' | b'-' | b'(' | b')' | b'.' | b'/' | b':' | b'#' | b',')
        {
            // An en dash (E2 80 93) is the only non-ASCII character a phone number may hold.
            if !matches!(b, 0xE2 | 0x80 | 0x93) {
                return false;
            }
        }
    }
    // Letters may only spell a note about the number (`ext. 12`, `(cell)`).
    if letters && !only_phone_words(rest) {
        return false;
    }
    if labelled {
        return digits >= 6;
    }
    let plus = rest.starts_with('+');
    digits >= 10 || (plus && digits >= 8)
}

/// Whether every word of `s` is a phone note (`x`, `ext`, `cell`, `mobile`, `home`, `work`...).
fn only_phone_words(s: &str) -> bool {
    const NOTES: &[&str] = &[
        "x",
        "ext",
        "extension",
        "cell",
        "mobile",
        "mob",
        "home",
        "work",
        "office",
        "fax",
        "tel",
        "phone",
        "main",
        "direct",
        "day",
        "evening",
    ];
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .all(|w| NOTES.iter().any(|p| p.eq_ignore_ascii_case(w)))
}

fn strip_phone_label(t: &str) -> (bool, &str) {
    if !t.starts_with(['T', 't', 'P', 'p', 'M', 'm', 'C', 'c', 'F', 'f', 'H', 'h']) {
        return (false, t);
    }
    let end = t.find(|c: char| !(c.is_alphabetic() || c == '.' || c == '#')).unwrap_or(t.len());
    let word = t.get(..end).unwrap_or("");
    let rest = t.get(end..).unwrap_or("");
    let key = Key::new(word);
    let label = key.as_ref().map(Key::as_str).unwrap_or("");
    let is_label = matches!(
        label,
        "TEL"
            | "TELEPHONE"
            | "PHONE"
            | "PH"
            | "MOBILE"
            | "MOB"
            | "CELL"
            | "FAX"
            | "TELEFON"
            | "TELEFONO"
            | "HANDY"
            | "PHONENUMBER"
            | "TELEPHONO"
            | "CEL"
            | "CELULAR"
    ) || (matches!(label, "T" | "P" | "M") && rest.trim_start().starts_with(':'));
    if is_label && !word.is_empty() {
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix("number")
            .or_else(|| rest.strip_prefix("Number"))
            .or_else(|| rest.strip_prefix("no."))
            .unwrap_or(rest);
        (true, rest.trim_start_matches([':', ' ', '-', '#', '.']))
    } else {
        (false, t)
    }
}

/// Whether a line is only an e-mail address, with or without a label.
pub(crate) fn is_email(line: &str) -> bool {
    if !line.contains('@') {
        return false;
    }
    let mut words = line.split_whitespace();
    let (Some(first), second, None) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    let addr = match second {
        Some(s) => {
            let label = Key::new(first).map(|k| k.as_str().to_string()).unwrap_or_default();
            if !matches!(label.as_str(), "EMAIL" | "MAIL" | "E" | "EMAILADDRESS") {
                return false;
            }
            s
        }
        None => first,
    };
    match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    }
}

/// The recipient named by an `Attn:` line (`Attn: Jane Doe` gives `Jane Doe`).
pub(crate) fn attn_name(line: &str) -> Option<&str> {
    let t = text::trim_fast(line);
    if !t.starts_with(['a', 'A', 'z', 'Z', 'à', 'À', 'c', 'C', 'f', 'F']) {
        return None;
    }
    const PREFIXES: &[&str] = &[
        "attention:",
        "attention",
        "attn:",
        "attn.",
        "attn",
        "att:",
        "att.",
        "atn:",
        "z.hd.",
        "z. hd.",
        "zhd.",
        "à l'attention de",
        "a l'attention de",
        "a/a",
        "atención:",
        "atencion:",
        "attenzione:",
        "c.a.",
        "for the attention of",
        "f.a.o.",
        "fao:",
        "fao",
    ];
    for p in PREFIXES {
        if let Some(head) = t.get(..p.len())
            && head.eq_ignore_ascii_case(p)
        {
            let rest = t.get(p.len()..).unwrap_or("");
            let boundary = p.ends_with([':', '.']) || rest.starts_with([' ', ':', '-', '\t']);
            if !boundary {
                continue;
            }
            let name = rest.trim_start_matches([':', ' ', '-', '\t', '.']).trim();
            return (!name.is_empty()).then_some(name);
        }
    }
    None
}

/// Whether a line is a care-of line (`c/o Jane Doe`).
pub(crate) fn is_care_of(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('℅') {
        return true;
    }
    let b = t.as_bytes();
    let starts = |p: &[u8]| b.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    starts(b"c/o")
        || starts(b"c/ o")
        || starts(b"c/-")
        || starts(b"care of ")
        || starts(b"in care of ")
        || starts(b"c.o. ")
        || starts(b"c/0 ")
}

/// Whether a line is a Puerto Rico urbanization (`Urb Villa Carolina`, `URB. LAS LOMAS`,
/// `Urbanización ...`): a second street line, wherever it stands.
pub(crate) fn is_urbanization(line: &str) -> bool {
    let t = line.trim_start();
    if !t.get(..3).is_some_and(|h| h.eq_ignore_ascii_case("urb")) {
        return false;
    }
    let word_end = t.find(|c: char| !c.is_alphabetic()).unwrap_or(t.len());
    let (word, rest) = t.split_at(word_end);
    let key = Key::new(word);
    let is_urb = key.as_ref().is_some_and(|k| matches!(k.as_str(), "URB" | "URBANIZACION"));
    is_urb
        && rest
            .trim_start_matches(['.', ' ', ':'])
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric)
}

/// Whether a line that starts with a digit reads as a company's name rather than a street when a
/// street line follows it (`1-800-FLOWERS`, `3M`, `24 Hour Fitness`): no street word, no unit
/// word, not a PO box.
pub(crate) fn is_numbered_name(line: &str) -> bool {
    let t = line.trim_start();
    if !t.starts_with(|c: char| c.is_ascii_digit()) || is_po_box(t) {
        return false;
    }
    let w = scan_words(t);
    !w.street_word && !w.unit_word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_kinds() {
        assert_eq!(street_kind("123 Main St"), StreetKind::Strong);
        assert_eq!(street_kind("PO Box 123"), StreetKind::Strong);
        assert_eq!(street_kind("P.O. Box 9"), StreetKind::Strong);
        assert_eq!(street_kind("Hauptstraße 5"), StreetKind::Strong);
        assert_eq!(street_kind("Flat 3"), StreetKind::Digit);
        assert_eq!(street_kind("Main Street"), StreetKind::Word);
        assert_eq!(street_kind("Jane Doe"), StreetKind::NotStreet);
        assert_eq!(street_kind("Dr Jane Doe"), StreetKind::NotStreet);
        assert_eq!(street_kind("3M Company"), StreetKind::NotStreet);
        assert_eq!(street_kind("Cool Cars"), StreetKind::NotStreet);
    }

    #[test]
    fn phones_emails_attn_and_care_of() {
        assert!(is_phone("(555) 123-4567"));
        assert!(is_phone("Tel: +44 20 7946 0958"));
        assert!(is_phone("+1 415 555 0100"));
        assert!(!is_phone("94304-1234"));
        assert!(!is_phone("123 Main St"));
        assert!(is_email("jane@example.com"));
        assert!(is_email("Email: jane@example.com"));
        assert!(!is_email("Jane Doe"));
        assert_eq!(attn_name("Attn: Jane Doe"), Some("Jane Doe"));
        assert_eq!(attn_name("ATTN Jane Doe"), Some("Jane Doe"));
        assert_eq!(attn_name("Attention: Receiving"), Some("Receiving"));
        assert_eq!(attn_name("Attney Jones"), None);
        assert!(is_care_of("c/o Jane Doe"));
        assert!(is_care_of("C/O Acme"));
        assert!(is_care_of("C/- Jane Doe"));
        assert_eq!(attn_name("FAO Jane Doe"), Some("Jane Doe"));
        assert!(is_urbanization("URB. LAS LOMAS"));
        assert!(is_urbanization("Urb Villa Carolina"));
        assert!(!is_urbanization("Urban Outfitters"));
        assert!(is_numbered_name("1-800-FLOWERS"));
        assert!(!is_numbered_name("1st Floor"));
        assert!(!is_numbered_name("12 Main St"));
        assert!(!is_care_of("Coral Way"));
    }
}
