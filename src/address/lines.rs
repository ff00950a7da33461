//! Line classes and the bottom-up reading of a block: phone and e-mail lines, `Attn:` and `c/o`
//! lines, street lines (a number, a street word, a PO box), company lines; then the country
//! line, the city line, and the recipient, company and street lines above them.

use super::city_line::{
    self, CityLine, Zip, infer, layout_for, parse_for, split_trailing_country, us_partial,
};
use super::country::{CountryRef, lookup_country};
use super::region::Regions;
use super::text::{Key, Tokens, clean_field, has_digit, has_either_byte, same_key};
use super::{AddressErrorCode, CustomerContext};

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

/// Street words that follow the street's name (`Main St`, `Hauptstraße`).
fn is_suffix_street_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"ST"
            | b"STREET"
            | b"STR"
            | b"AVE"
            | b"AVENUE"
            | b"AV"
            | b"RD"
            | b"ROAD"
            | b"BLVD"
            | b"BOULEVARD"
            | b"LN"
            | b"LANE"
            | b"DR"
            | b"DRIVE"
            | b"CT"
            | b"COURT"
            | b"PL"
            | b"PLACE"
            | b"WAY"
            | b"HWY"
            | b"HIGHWAY"
            | b"PKWY"
            | b"PARKWAY"
            | b"CIR"
            | b"CIRCLE"
            | b"TER"
            | b"TERRACE"
            | b"TRL"
            | b"TRAIL"
            | b"SQ"
            | b"SQUARE"
            | b"CRES"
            | b"CRESCENT"
            | b"CLOSE"
            | b"ROW"
            | b"MEWS"
            | b"GROVE"
            | b"GDNS"
            | b"GARDENS"
            | b"PIKE"
            | b"TPKE"
            | b"TURNPIKE"
            | b"ALY"
            | b"ALLEY"
            | b"EXPY"
            | b"EXPRESSWAY"
            | b"FWY"
            | b"FREEWAY"
            | b"LOOP"
            | b"PLZ"
            | b"PLAZA"
            | b"CAUSEWAY"
            | b"ESPLANADE"
            | b"PROMENADE"
            | b"QUAY"
            | b"WHARF"
            | b"PARADE"
            | b"PDE"
            | b"ROUTE"
            | b"RTE"
            | b"STRASSE"
            | b"GASSE"
            | b"WEG"
            | b"PLATZ"
            | b"ALLEE"
            | b"STRAAT"
            | b"LAAN"
            | b"GRACHT"
            | b"PLEIN"
            | b"KADE"
            | b"GATAN"
            | b"GATA"
            | b"GATE"
            | b"VAGEN"
            | b"VEJ"
            | b"GADE"
            | b"VEIEN"
            | b"VEI"
            | b"CHOME"
            | b"HWY."
            | b"WALK"
            | b"CRT"
            | b"AVDA"
            | b"CTRA"
    )
}

/// Street words that lead the street's name (`Rue de Rivoli`, `Calle Mayor`).
fn is_prefix_street_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"RUE"
            | b"CHEMIN"
            | b"QUAI"
            | b"IMPASSE"
            | b"CALLE"
            | b"CARRERA"
            | b"AVENIDA"
            | b"PASEO"
            | b"CAMINO"
            | b"CARRETERA"
            | b"RUA"
            | b"TRAVESSA"
            | b"ESTRADA"
            | b"PRACA"
            | b"VIA"
            | b"VIALE"
            | b"PIAZZA"
            | b"CORSO"
            | b"LARGO"
            | b"STRADA"
            | b"VICOLO"
            | b"ULICA"
            | b"UL"
            | b"JALAN"
            | b"AVENUE"
            | b"BOULEVARD"
            | b"ROUTE"
            | b"PLACE"
            | b"CALZADA"
            | b"PRIVADA"
            | b"ALAMEDA"
    )
}

/// Secondary-unit words (`Apt`, `Suite`), street lines on their own when they carry a number.
fn is_unit_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"APT"
            | b"APARTMENT"
            | b"SUITE"
            | b"STE"
            | b"UNIT"
            | b"FLAT"
            | b"FLOOR"
            | b"FL"
            | b"BLDG"
            | b"BUILDING"
            | b"ROOM"
            | b"RM"
            | b"LEVEL"
            | b"LVL"
            | b"PISO"
            | b"DEPTO"
            | b"ETAGE"
            | b"STOCK"
            | b"BATIMENT"
            | b"BAT"
            | b"ESCALIER"
            | b"HINTERHAUS"
            | b"VORDERHAUS"
            | b"APPARTEMENT"
            | b"APP"
            | b"APTO"
            | b"TOWER"
            | b"BLOCK"
            | b"BLK"
            | b"LOT"
    )
}

/// Street words that end compound street names.
const STREET_SUFFIXES: &[&[u8]] = &[
    b"STRASSE",
    b"STR",
    b"WEG",
    b"GASSE",
    b"PLATZ",
    b"ALLEE",
    b"DAMM",
    b"UFER",
    b"STRAAT",
    b"LAAN",
    b"GRACHT",
    b"PLEIN",
    b"GATAN",
    b"VAGEN",
    b"VEGEN",
    b"VEJ",
    b"GADE",
    b"VEIEN",
    b"STIEG",
    b"CHAUSSEE",
];

/// The last letters of [`STREET_SUFFIXES`], to turn most words away at one byte.
fn ends_like_street_suffix(last: u8) -> bool {
    matches!(last, b'E' | b'R' | b'G' | b'Z' | b'M' | b'T' | b'N' | b'J')
}

/// German, Dutch and Nordic street names are compounds ending in the street word.
fn has_street_suffix(w: &[u8]) -> bool {
    // Most words end in a letter no suffix ends in: look at the last byte before comparing.
    let Some(&last) = w.last() else { return false };
    if !ends_like_street_suffix(last) {
        return false;
    }
    STREET_SUFFIXES.iter().any(|s| w.len() >= s.len() + 3 && w.ends_with(s))
}

/// Words that mark a company.
fn is_company_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"INC"
            | b"LLC"
            | b"LTD"
            | b"LIMITED"
            | b"CORP"
            | b"CORPORATION"
            | b"COMPANY"
            | b"GMBH"
            | b"AG"
            | b"SARL"
            | b"SRL"
            | b"SPA"
            | b"BV"
            | b"NV"
            | b"PLC"
            | b"LLP"
            | b"PTY"
            | b"KG"
            | b"PLLC"
            | b"GROUP"
            | b"HOLDINGS"
            | b"ENTERPRISES"
            | b"INDUSTRIES"
            | b"SERVICES"
            | b"SOLUTIONS"
            | b"SYSTEMS"
            | b"TECHNOLOGIES"
            | b"TECHNOLOGY"
            | b"INTERNATIONAL"
            | b"ASSOCIATES"
            | b"PARTNERS"
            | b"STORE"
            | b"SHOP"
            | b"BAKERY"
            | b"CAFE"
            | b"RESTAURANT"
            | b"HOTEL"
            | b"UNIVERSITY"
            | b"COLLEGE"
            | b"SCHOOL"
            | b"HOSPITAL"
            | b"CLINIC"
            | b"DEPARTMENT"
            | b"DEPT"
            | b"FOUNDATION"
            | b"INSTITUTE"
            | b"CHURCH"
            | b"LABS"
            | b"STUDIO"
            | b"STUDIOS"
            | b"MARKET"
            | b"GOODS"
            | b"SUPPLY"
            | b"CONSULTING"
            | b"AGENCY"
            | b"BANK"
            | b"WAREHOUSE"
            | b"RECEIVING"
    )
}

/// What one pass over a line's words found.
#[derive(Debug, Default, Clone, Copy)]
struct Words {
    street_word: bool,
    unit_word: bool,
    unit_first: bool,
    company_word: bool,
    last_short_suffix: bool,
}

/// Calls `f(index, key)` for each word of a line (runs of letters, digits and apostrophes),
/// the key folded to upper-case ASCII; stops when `f` returns false. ASCII words are folded on
/// the stack without decoding; others go through [`Key`].
fn for_each_word(line: &str, mut f: impl FnMut(usize, &[u8]) -> bool) {
    let bytes = line.as_bytes();
    let mut idx = 0;
    let mut i = 0;
    while let Some(&first) = bytes.get(i) {
        if first < 0x80 && !(first.is_ascii_alphanumeric() || first == b'\'') {
            i += 1; // an ASCII separator
            continue;
        }
        // Scan the word and fold it in the same pass (used when it is short ASCII).
        let start = i;
        let mut ascii = true;
        let mut folded = [0u8; 24];
        let mut n = 0;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_alphanumeric() {
                if let Some(slot) = folded.get_mut(n) {
                    *slot = b.to_ascii_uppercase();
                }
                n += 1;
                i += 1;
            } else if b == b'\'' {
                i += 1;
            } else if b >= 0x80 {
                let c = line.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                if !c.is_alphanumeric() {
                    break;
                }
                ascii = false;
                i += c.len_utf8();
            } else {
                break;
            }
        }
        if i == start {
            // A separator that is not ASCII (a dash, a non-breaking space, ...).
            i += line.get(i..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
            continue;
        }
        let word = line.get(start..i).unwrap_or("");
        let go = if ascii && word.len() <= 24 {
            f(idx, folded.get(..n).unwrap_or(&[]))
        } else {
            match Key::new(word) {
                Some(k) => f(idx, k.as_bytes()),
                None => true,
            }
        };
        if !go {
            return;
        }
        idx += 1;
    }
}

fn scan_words(line: &str) -> Words {
    let mut w = Words::default();
    for_each_word(line, |i, word| {
        w.street_word |= (i > 0 && is_suffix_street_word(word))
            || is_prefix_street_word(word)
            || has_street_suffix(word);
        let unit = is_unit_word(word);
        w.unit_word |= unit;
        w.unit_first |= i == 0 && unit;
        w.company_word |= is_company_word(word);
        w.last_short_suffix =
            matches!(word, b"CO" | b"SA" | b"AB" | b"AS" | b"OY" | b"SAS" | b"KK" | b"LP" | b"PC");
        true
    });
    w
}

/// Whether the line has a street word (`St`, `Road`, `Rue`, `Hauptstraße`).
pub(crate) fn has_street_word(line: &str) -> bool {
    let mut found = false;
    for_each_word(line, |i, w| {
        found =
            (i > 0 && is_suffix_street_word(w)) || is_prefix_street_word(w) || has_street_suffix(w);
        !found
    });
    found
}

/// Whether the line is a PO box, a private or locked bag, or a rural or military route.
pub(crate) fn is_po_box(line: &str) -> bool {
    let first = line.trim_start().as_bytes().first().map(u8::to_ascii_uppercase);
    if !matches!(first, Some(b'P' | b'G' | b'L' | b'A' | b'C' | b'R' | b'B' | b'H' | b'U')) {
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
    // One pass: at the start of each word (after white space or `,`), skip the marks a number
    // may carry and look at the first other character.
    let mut word_start = true;
    for c in line.chars() {
        if c.is_whitespace() || c == ',' {
            word_start = true;
        } else if word_start && !matches!(c, '#' | '(' | '-' | 'N' | 'n' | 'º' | '°') {
            if c.is_ascii_digit() {
                return true;
            }
            word_start = false;
        }
    }
    false
}

/// Whether a line is only a phone number, with or without a label (`Tel: ...`).
pub(crate) fn is_phone(line: &str) -> bool {
    if line.bytes().filter(u8::is_ascii_digit).count() < 6 {
        return false;
    }
    let t = line.trim();
    let (labelled, rest) = strip_phone_label(t);
    let mut digits = 0usize;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if !matches!(
            c,
            ' ' | '+'
                | '-'
                | '('
                | ')'
                | '.'
                | '/'
                | 'x'
                | 'X'
                | '–'
                | ':'
                | '#'
                | 'e'
                | 't'
                | 'E'
                | 'T'
        ) {
            return false;
        }
    }
    if labelled {
        return digits >= 6;
    }
    let plus = rest.starts_with('+');
    digits >= 10 || (plus && digits >= 8)
}

fn strip_phone_label(t: &str) -> (bool, &str) {
    if !t.starts_with(|c: char| c.is_ascii_alphabetic()) {
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
    if !has_either_byte(line.as_bytes(), b'@', b'@') {
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
    let t = line.trim();
    if !t.starts_with(['a', 'A', 'z', 'Z', 'à', 'À', 'c', 'C']) {
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
    starts(b"c/o") || starts(b"c/ o") || starts(b"care of ") || starts(b"c.o. ")
}

/// The three address-name fields and the street lines read from the lines above the city line.
#[derive(Debug, Default)]
pub(crate) struct Upper {
    pub(crate) name: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) street1: Option<String>,
    pub(crate) street2: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag<'a> {
    Attn(&'a str),
    CareOf,
    Display,
    Company,
    Plain(StreetKind),
}

/// Reads the lines above the city line: recipient, company, `Attn:`/`c/o` lines and streets.
/// In structured mode `Line1` is the street unless it matches the customer or is followed by
/// a numbered street line.
pub(crate) fn read_upper(
    lines: &[&str],
    ctx: &CustomerContext,
    structured: bool,
    warnings: &mut Vec<String>,
) -> Result<Upper, AddressErrorCode> {
    // At most five lines reach here; the stack lists keep the hot path free of allocations.
    let mut tags: Few<Tag<'_>> = Few::new(Tag::Plain(StreetKind::NotStreet));
    for line in lines {
        tags.push(tag_line(line, ctx));
    }
    let first_street = find_first_street(tags.as_slice(), lines, structured)?;
    let mut up = Upper::default();
    let mut others: Few<&str> = Few::new("");
    let mut streets: Few<&str> = Few::new("");
    let mut care_of: Few<&str> = Few::new("");
    let mut attn: Option<(&str, &str)> = None;
    let mut attn_to_company: Option<&str> = None;
    for (i, (tag, line)) in tags.as_slice().iter().zip(lines).enumerate() {
        match *tag {
            Tag::Attn(n) if attn.is_none() => attn = Some((n, line)),
            Tag::Attn(_) | Tag::CareOf => care_of.push(line),
            Tag::Display if up.name.is_none() => up.name = Some(clean_field(line, false)),
            Tag::Company if up.company.is_none() => up.company = Some(clean_field(line, false)),
            Tag::Display | Tag::Company => {
                warnings.push(format!("duplicate line ignored: {}", line.trim()))
            }
            Tag::Plain(_) if i < first_street => others.push(line),
            Tag::Plain(_) => streets.push(line),
        }
    }
    if let Some((name, line)) = attn {
        if up.name.is_none() {
            up.name = Some(clean_field(name, false));
        } else {
            attn_to_company = Some(line);
        }
    }
    for line in others.as_slice() {
        if up.name.as_deref().is_some_and(|n| same_key(n, line)) {
            warnings.push(format!("duplicate name line ignored: {}", line.trim()));
            continue;
        }
        if up.name.is_none() {
            up.name = Some(clean_field(line, false));
        } else {
            push_company(&mut up.company, line);
        }
    }
    for line in attn_to_company.iter().chain(care_of.as_slice()) {
        push_company(&mut up.company, line);
    }
    let streets = streets.as_slice();
    up.street1 = streets.first().map(|s| clean_field(s, false));
    for (i, line) in streets.iter().enumerate().skip(1) {
        let line = clean_field(line, false);
        match up.street2.as_mut() {
            Some(s2) => {
                s2.push_str(", ");
                s2.push_str(&line);
            }
            None => up.street2 = Some(line),
        }
        if i == 2 {
            warnings.push("street lines after the second were joined into street2".into());
        }
    }
    if up.street1.is_none() {
        return Err(AddressErrorCode::MissingStreetLine);
    }
    Ok(up)
}

/// A short list on the stack (address blocks have at most five lines).
struct Few<T: Copy> {
    items: [T; 8],
    len: usize,
}

impl<T: Copy> Few<T> {
    fn new(fill: T) -> Self {
        Few { items: [fill; 8], len: 0 }
    }

    fn push(&mut self, item: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = item;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or(&[])
    }
}

fn push_company(company: &mut Option<String>, line: &str) {
    let line = clean_field(line, false);
    match company {
        Some(c) if !same_key(c, &line) => {
            c.push_str(", ");
            c.push_str(&line);
        }
        Some(_) => {}
        None => *company = Some(line),
    }
}

fn tag_line<'a>(line: &'a str, ctx: &CustomerContext) -> Tag<'a> {
    if let Some(n) = attn_name(line) {
        return Tag::Attn(n);
    }
    if is_care_of(line) {
        return Tag::CareOf;
    }
    if ctx.display_name.as_deref().is_some_and(|d| same_key(d, line)) {
        return Tag::Display;
    }
    if ctx.company_name.as_deref().is_some_and(|c| same_key(c, line)) {
        return Tag::Company;
    }
    Tag::Plain(street_kind(line))
}

fn find_first_street(
    tags: &[Tag<'_>],
    lines: &[&str],
    structured: bool,
) -> Result<usize, AddressErrorCode> {
    let kind = |i: usize| match tags.get(i) {
        Some(Tag::Plain(k)) => Some(*k),
        _ => None,
    };
    let strong_after = |i: usize| (i + 1..tags.len()).any(|j| kind(j) == Some(StreetKind::Strong));
    let first = (0..tags.len()).find(|&i| match kind(i) {
        Some(StreetKind::Strong | StreetKind::Digit) => true,
        Some(StreetKind::Word) => !strong_after(i),
        _ => false,
    });
    if let Some(i) = first {
        return Ok(i);
    }
    let plain: Vec<usize> = (0..tags.len()).filter(|&i| kind(i).is_some()).collect();
    if structured {
        return plain.first().copied().ok_or(AddressErrorCode::MissingStreetLine);
    }
    // No line reads as a street: with two or more plain lines, the lowest is the street (a
    // house name, a street without a number), unless it names a company.
    match plain.as_slice() {
        [_, .., last] if !lines.get(*last).is_some_and(|l| is_company_like(l)) => Ok(*last),
        _ => Err(AddressErrorCode::MissingStreetLine),
    }
}

/// Where the city line was found and what it said.
pub(crate) struct Located {
    pub(crate) country: CountryRef,
    pub(crate) city: CityLine,
    /// Index of the city line's first line in the body (the lines above it are the upper lines).
    pub(crate) start: usize,
}

/// Whether a line is plainly not a city line: a street word, a PO box or a unit word.
fn is_streety(line: &str) -> bool {
    has_street_word(line) || is_po_box(line)
}

fn join_lines(above: &str, last: &str) -> String {
    let mut s = String::with_capacity(above.len() + last.len() + 1);
    s.push_str(above.trim_end());
    s.push(' ');
    s.push_str(last.trim_start());
    s
}

fn short_line(line: &str) -> bool {
    Tokens::new(line).is_some_and(|t| t.len() <= 3)
}

/// Finds the city line at the bottom of `body` (the lines above the country line).
pub(crate) fn locate_city(
    body: &[&str],
    country: Option<CountryRef>,
) -> Result<Located, AddressErrorCode> {
    let Some((&last, rest)) = body.split_last() else {
        return Err(AddressErrorCode::MissingCityLine);
    };
    let above = rest.last().copied();
    match country {
        Some(c) => locate_known(last, above, body.len(), c),
        None => locate_unknown(last, above, body.len()),
    }
}

fn locate_known(
    last: &str,
    above: Option<&str>,
    n: usize,
    c: CountryRef,
) -> Result<Located, AddressErrorCode> {
    let err = match parse_for(last, c) {
        Ok(city) => return Ok(Located { country: c, city, start: n - 1 }),
        Err(e) => e,
    };
    if let Some(above) = above
        && short_line(last)
        && !is_streety(above)
        && let Ok(city) = parse_for(&join_lines(above, last), c)
    {
        return Ok(Located { country: c, city, start: n - 2 });
    }
    if let Some((c2, rest)) = split_trailing_country(last)
        && c2.alpha2 == c.alpha2
        && let Ok(city) = parse_for(rest, c)
    {
        return Ok(Located { country: c, city, start: n - 1 });
    }
    if is_streety(last) {
        return Err(AddressErrorCode::MissingCityLine);
    }
    if city_line::requires_state(c.alpha2) && err != AddressErrorCode::InvalidPostalCode {
        let parts = city_line::parse_parts(last, layout_for(c.alpha2));
        if parts.is_some_and(|p| p.state.is_none() && p.zip == Zip::Missing)
            && c.territory.is_none()
        {
            return Err(AddressErrorCode::MissingCityLine);
        }
    }
    Err(err)
}

/// Two-letter codes that may trail a city line as its country.
fn trailing_code_ok(code: &str) -> bool {
    matches!(
        code,
        "US" | "UK"
            | "GB"
            | "CA"
            | "AU"
            | "NZ"
            | "IE"
            | "DE"
            | "FR"
            | "IT"
            | "ES"
            | "NL"
            | "BE"
            | "CH"
            | "AT"
            | "JP"
            | "MX"
            | "BR"
            | "SE"
            | "NO"
            | "DK"
            | "FI"
            | "PT"
            | "SG"
            | "ZA"
    )
}

/// The country written after a city line, when the rest of the line reads as its city line.
fn trailing_country(line: &str) -> Option<(CountryRef, &str)> {
    let (c, rest) = split_trailing_country(line)?;
    let tail = line.get(rest.len()..).unwrap_or("");
    let key = Key::new(tail)?;
    if key.as_bytes().len() < 3 && !trailing_code_ok(key.as_str()) {
        return None;
    }
    if rest.trim().is_empty() || is_streety(rest) {
        return None;
    }
    Some((c, rest))
}

fn locate_unknown(last: &str, above: Option<&str>, n: usize) -> Result<Located, AddressErrorCode> {
    if let Some((country, city)) = infer(last) {
        return Ok(Located { country, city, start: n - 1 });
    }
    let mut trailing_err = None;
    if let Some((c, rest)) = trailing_country(last) {
        match parse_for(rest, c) {
            Ok(city) => return Ok(Located { country: c, city, start: n - 1 }),
            Err(e) => trailing_err = Some(e),
        }
    }
    if let Some(above) = above
        && short_line(last)
        && !is_streety(above)
        && let Some((country, city)) = infer(&join_lines(above, last))
    {
        return Ok(Located { country, city, start: n - 2 });
    }
    if let Some(e) = trailing_err {
        return Err(e);
    }
    if let Some(located) = state_below_city(last, above, n) {
        return Ok(located);
    }
    if let Some(p) = us_partial(last)
        && !is_streety(last)
        && (p.state.is_some() || matches!(p.zip, Zip::Valid(_)))
    {
        let us = CountryRef { alpha2: "US", territory: None };
        return Err(city_line::finish(us, p).err().unwrap_or(AddressErrorCode::UnsupportedLayout));
    }
    if above.is_some_and(looks_like_city_line) && !has_digit(last) {
        return Err(AddressErrorCode::UnknownCountry);
    }
    if looks_like_city_line(last) {
        return Err(AddressErrorCode::MissingCountry);
    }
    Err(AddressErrorCode::MissingCityLine)
}

/// A U.S. state code alone under `City ZIP` (`Newark 19711` / `DE`).
fn state_below_city(last: &str, above: Option<&str>, n: usize) -> Option<Located> {
    let code = Regions::Us.lookup(last)?;
    let parts = us_partial(above?)?;
    if parts.state.is_some() || !matches!(parts.zip, Zip::Valid(_)) || n < 2 {
        return None;
    }
    let us = CountryRef { alpha2: "US", territory: None };
    let city =
        city_line::finish(us, city_line::CityParts { state: Some(code.to_string()), ..parts })
            .ok()?;
    Some(Located { country: us, city, start: n - 2 })
}

/// Whether a line reads as some country's city line: a postcode-like token at either end and
/// no street word.
fn looks_like_city_line(line: &str) -> bool {
    if infer(line).is_some() {
        return true;
    }
    if is_streety(line) {
        return false;
    }
    let Some(t) = Tokens::new(line) else { return false };
    let n = t.len();
    if n < 2 {
        return false;
    }
    let postcode_like = |s: &str| {
        has_digit(s) && s.len() <= 10 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let letters = |s: &str| s.chars().any(char::is_alphabetic);
    (postcode_like(t.text(0)) && letters(t.span(1, n)))
        || (postcode_like(t.text(n - 1)) && letters(t.span(0, n - 1)))
}

/// The country named by the last line, if it is one. A U.S. state (code or name) under a U.S.
/// city line that lacks its state is the state, not a country (`DE` under `Newark 19711`,
/// `Georgia` under `Atlanta 30301`).
pub(crate) fn country_line(last: &str, above: Option<&str>) -> Option<CountryRef> {
    // No country's name has a digit; city lines nearly always do.
    if has_digit(last) || last.len() > 60 {
        return None;
    }
    let c = lookup_country(last)?;
    let key = Key::new(last)?;
    // `CA` under a full U.S. city line (`Menlo Park, CA 94304`) repeats California.
    if key.as_str() == "CA"
        && let Some(above) = above
        && infer(above).is_some_and(|(c, _)| c.alpha2 == "US")
    {
        return Some(CountryRef { alpha2: "US", territory: None });
    }
    if c.alpha2 != "US"
        && Regions::Us.lookup_key(key.as_bytes()).is_some()
        && let Some(above) = above
        && let Some(p) = us_partial(above)
        && p.state.is_none()
        && matches!(p.zip, Zip::Valid(_))
    {
        return None;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_letter_filter_lets_every_street_suffix_through() {
        for suffix in STREET_SUFFIXES {
            assert!(suffix.last().is_some_and(|b| ends_like_street_suffix(*b)), "{suffix:?}");
        }
    }

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
        assert!(!is_care_of("Coral Way"));
    }
}
