//! Line classes and the bottom-up reading of a block: phone and e-mail lines, `Attn:` and `c/o`
//! lines, street lines (a number, a street word, a PO box), company lines; then the country
//! line, the city line, and the recipient, company and street lines above them.

use std::sync::LazyLock;

use super::city_line::{
    self, CityLine, Zip, infer, layout_for, parse_for, split_trailing_country, us_partial,
};
use super::country::{CountryRef, lookup_country};
use super::region::Regions;
use super::text::{self, Few, Key, Tokens, clean_field, has_digit, same_key};
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
const SUFFIX_WORDS: &[&str] = &[
    "ST",
    "STREET",
    "STR",
    "AVE",
    "AVENUE",
    "AV",
    "RD",
    "ROAD",
    "BLVD",
    "BOULEVARD",
    "LN",
    "LANE",
    "DR",
    "DRIVE",
    "CT",
    "COURT",
    "PL",
    "PLACE",
    "WAY",
    "HWY",
    "HIGHWAY",
    "PKWY",
    "PARKWAY",
    "CIR",
    "CIRCLE",
    "TER",
    "TERRACE",
    "TRL",
    "TRAIL",
    "SQ",
    "SQUARE",
    "CRES",
    "CRESCENT",
    "CLOSE",
    "ROW",
    "MEWS",
    "GROVE",
    "GDNS",
    "GARDENS",
    "PIKE",
    "TPKE",
    "TURNPIKE",
    "ALY",
    "ALLEY",
    "EXPY",
    "EXPRESSWAY",
    "FWY",
    "FREEWAY",
    "LOOP",
    "PLZ",
    "PLAZA",
    "CAUSEWAY",
    "ESPLANADE",
    "PROMENADE",
    "QUAY",
    "WHARF",
    "PARADE",
    "PDE",
    "ROUTE",
    "RTE",
    "STRASSE",
    "GASSE",
    "WEG",
    "PLATZ",
    "ALLEE",
    "STRAAT",
    "LAAN",
    "GRACHT",
    "PLEIN",
    "KADE",
    "GATAN",
    "GATA",
    "GATE",
    "VAGEN",
    "VEJ",
    "GADE",
    "VEIEN",
    "VEI",
    "CHOME",
    "WALK",
    "CRT",
    "AVDA",
    "CTRA",
];

/// Street words that lead the street's name (`Rue de Rivoli`, `Calle Mayor`).
const PREFIX_WORDS: &[&str] = &[
    "RUE",
    "CHEMIN",
    "QUAI",
    "IMPASSE",
    "CALLE",
    "CARRERA",
    "AVENIDA",
    "PASEO",
    "CAMINO",
    "CARRETERA",
    "RUA",
    "TRAVESSA",
    "ESTRADA",
    "PRACA",
    "VIA",
    "VIALE",
    "PIAZZA",
    "CORSO",
    "LARGO",
    "STRADA",
    "VICOLO",
    "ULICA",
    "UL",
    "JALAN",
    "AVENUE",
    "BOULEVARD",
    "ROUTE",
    "PLACE",
    "CALZADA",
    "PRIVADA",
    "ALAMEDA",
];

/// Secondary-unit words (`Apt`, `Suite`), street lines on their own when they carry a number.
const UNIT_WORDS: &[&str] = &[
    "APT",
    "APARTMENT",
    "SUITE",
    "STE",
    "UNIT",
    "FLAT",
    "FLOOR",
    "FL",
    "BLDG",
    "BUILDING",
    "ROOM",
    "RM",
    "LEVEL",
    "LVL",
    "PISO",
    "DEPTO",
    "ETAGE",
    "STOCK",
    "BATIMENT",
    "BAT",
    "ESCALIER",
    "HINTERHAUS",
    "VORDERHAUS",
    "APPARTEMENT",
    "APP",
    "APTO",
    "TOWER",
    "BLOCK",
    "BLK",
    "LOT",
];

const SUFFIX: u8 = 1;
const PREFIX: u8 = 2;
const UNIT: u8 = 4;
const COMPANY: u8 = 8;
const SHORT_COMPANY: u8 = 16;

/// Short company suffixes, a company mark only as a line's last word (`Acme & Co`, `Volvo AB`).
const SHORT_COMPANY_WORDS: &[&str] = &["CO", "SA", "AB", "AS", "OY", "SAS", "KK", "LP", "PC"];

/// A word of up to eight bytes packed into a `u64` (words have no zero bytes, so the packing
/// is one-to-one).
fn pack(w: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut n = 0;
    for &b in w {
        if b == b'\'' {
            continue;
        }
        n += 1;
        if n > 8 {
            return None;
        }
        v = (v << 8) | u64::from(b.to_ascii_uppercase());
    }
    (n > 0).then_some(v)
}

/// Slots in the word hash table (a power of two, about four times the number of words).
const WORD_SLOTS: usize = 1024;

/// Every listed word with its classes: words of up to eight bytes packed into an open-addressing
/// hash table (one multiply and usually one probe per lookup), longer ones in a list.
struct WordTable {
    slots: Vec<(u64, u8)>,
    long: Vec<(&'static [u8], u8)>,
}

fn word_slot(v: u64) -> usize {
    (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize % WORD_SLOTS
}

static WORDS: LazyLock<WordTable> = LazyLock::new(|| {
    let mut table = WordTable { slots: vec![(0, 0); WORD_SLOTS], long: Vec::new() };
    for (list, flag) in [
        (SUFFIX_WORDS, SUFFIX),
        (PREFIX_WORDS, PREFIX),
        (UNIT_WORDS, UNIT),
        (COMPANY_WORDS, COMPANY),
        (SHORT_COMPANY_WORDS, SHORT_COMPANY),
    ] {
        for w in list {
            let bytes = w.as_bytes();
            match pack(bytes) {
                Some(v) => {
                    let mut i = word_slot(v);
                    loop {
                        match table.slots.get_mut(i) {
                            Some((k, f)) if *k == v || *k == 0 => {
                                *k = v;
                                *f |= flag;
                                break;
                            }
                            Some(_) => i = (i + 1) % WORD_SLOTS,
                            None => break,
                        }
                    }
                }
                None => match table.long.iter_mut().find(|(k, _)| *k == bytes) {
                    Some((_, f)) => *f |= flag,
                    None => table.long.push((bytes, flag)),
                },
            }
        }
    }
    table
});

/// The classes of a folded word (street suffix, street prefix, unit, company).
fn word_flags(w: &[u8]) -> u8 {
    let table = &*WORDS;
    let Some(v) = pack(w) else {
        return table.long.iter().find(|(k, _)| k.eq_ignore_ascii_case(w)).map_or(0, |(_, f)| *f);
    };
    let mut i = word_slot(v);
    for _ in 0..WORD_SLOTS {
        match table.slots.get(i) {
            Some((k, f)) if *k == v => return *f,
            Some((0, _)) | None => return 0,
            Some(_) => i = (i + 1) % WORD_SLOTS,
        }
    }
    0
}

/// German, Dutch and Nordic street names are compounds ending in the street word.
fn has_street_suffix(w: &[u8]) -> bool {
    // Dispatch on the last letter so that most words are rejected with one comparison.
    if w.len() < 6 {
        return false;
    }
    let suffixes: &[&[u8]] = match w.last().map(u8::to_ascii_uppercase) {
        Some(b'E') => &[b"STRASSE", b"GASSE", b"ALLEE", b"CHAUSSEE", b"GADE"],
        Some(b'R') => &[b"STR", b"UFER"],
        Some(b'G') => &[b"WEG", b"STIEG"],
        Some(b'Z') => &[b"PLATZ"],
        Some(b'M') => &[b"DAMM"],
        Some(b'T') => &[b"STRAAT"],
        Some(b'N') => &[b"LAAN", b"PLEIN", b"GATAN", b"VAGEN", b"VEGEN", b"VEIEN"],
        Some(b'J') => &[b"VEJ"],
        Some(b'H') => &[b"GRACHT"],
        _ => return false,
    };
    suffixes.iter().any(|s| {
        w.len() >= s.len() + 3
            && w.get(w.len() - s.len()..).is_some_and(|tail| tail.eq_ignore_ascii_case(s))
    })
}

/// Words that mark a company.
const COMPANY_WORDS: &[&str] = &[
    "INC",
    "LLC",
    "LTD",
    "LIMITED",
    "CORP",
    "CORPORATION",
    "COMPANY",
    "GMBH",
    "AG",
    "SARL",
    "SRL",
    "SPA",
    "BV",
    "NV",
    "PLC",
    "LLP",
    "PTY",
    "KG",
    "PLLC",
    "GROUP",
    "HOLDINGS",
    "ENTERPRISES",
    "INDUSTRIES",
    "SERVICES",
    "SOLUTIONS",
    "SYSTEMS",
    "TECHNOLOGIES",
    "TECHNOLOGY",
    "INTERNATIONAL",
    "ASSOCIATES",
    "PARTNERS",
    "STORE",
    "SHOP",
    "BAKERY",
    "CAFE",
    "RESTAURANT",
    "HOTEL",
    "UNIVERSITY",
    "COLLEGE",
    "SCHOOL",
    "HOSPITAL",
    "CLINIC",
    "DEPARTMENT",
    "DEPT",
    "FOUNDATION",
    "INSTITUTE",
    "CHURCH",
    "LABS",
    "STUDIO",
    "STUDIOS",
    "MARKET",
    "GOODS",
    "SUPPLY",
    "CONSULTING",
    "AGENCY",
    "BANK",
    "WAREHOUSE",
    "RECEIVING",
];

/// What one pass over a line's words found.
#[derive(Debug, Default, Clone, Copy)]
struct Words {
    street_word: bool,
    unit_word: bool,
    unit_first: bool,
    company_word: bool,
    last_short_suffix: bool,
}

/// Calls `f(index, word)` for each word of a line (runs of letters, digits and apostrophes),
/// stopping when `f` returns false. ASCII words are passed as typed (the word tests ignore
/// case); words with other letters are folded through [`Key`] first (`Straße` to `STRASSE`).
fn for_each_word(line: &str, mut f: impl FnMut(usize, &[u8]) -> bool) {
    let words = line.as_bytes().split(|&b| !(b.is_ascii_alphanumeric() || b == b'\'' || b >= 0x80));
    for (idx, word) in words.filter(|w| !w.is_empty()).enumerate() {
        let go = if word.is_ascii() {
            f(idx, word)
        } else {
            let text = std::str::from_utf8(word).unwrap_or("");
            match Key::new(text) {
                Some(k) if !k.as_bytes().is_empty() => f(idx, k.as_bytes()),
                _ => true,
            }
        };
        if !go {
            return;
        }
    }
}

fn scan_words(line: &str) -> Words {
    let mut w = Words::default();
    for_each_word(line, |i, word| {
        if word.first().is_some_and(u8::is_ascii_digit) {
            w.last_short_suffix = false;
            return true;
        }
        let flags = word_flags(word);
        w.street_word |=
            (i > 0 && flags & SUFFIX != 0) || flags & PREFIX != 0 || has_street_suffix(word);
        w.unit_word |= flags & UNIT != 0;
        w.unit_first |= i == 0 && flags & UNIT != 0;
        w.company_word |= flags & COMPANY != 0;
        w.last_short_suffix = flags & SHORT_COMPANY != 0;
        true
    });
    w
}

/// Whether the line has a street word (`St`, `Road`, `Rue`, `Hauptstraße`).
pub(crate) fn has_street_word(line: &str) -> bool {
    let mut found = false;
    for_each_word(line, |i, w| {
        let flags = word_flags(w);
        found = (i > 0 && flags & SUFFIX != 0) || flags & PREFIX != 0 || has_street_suffix(w);
        !found
    });
    found
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
        let _ = tags.push(tag_line(line, ctx));
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
            Tag::Attn(_) | Tag::CareOf => {
                care_of.push(line);
            }
            Tag::Display if up.name.is_none() => up.name = Some(clean_field(line, false)),
            Tag::Company if up.company.is_none() => up.company = Some(clean_field(line, false)),
            Tag::Display | Tag::Company => {
                warnings.push(format!("duplicate line ignored: {}", line.trim()))
            }
            Tag::Plain(_) if i < first_street => {
                others.push(line);
            }
            Tag::Plain(_) => {
                streets.push(line);
            }
        }
    }
    // `Attn:` names the recipient unless two other lines already name a recipient and a company.
    if let Some((name, line)) = attn {
        if up.name.is_none() && others.as_slice().len() < 2 {
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
    if let Some(located) = irish_county_line(last, above, n, c) {
        return Ok(located);
    }
    let err = match parse_for(last, c) {
        Ok(city) => {
            if let Some(located) = japanese_ward_above(&city, above, n, c) {
                return Ok(located);
            }
            return Ok(Located { country: c, city, start: n - 1 });
        }
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

/// Japan: a ward or city on its own line (`Minato-ku`) above `Tokyo 106-0032` is the city, and
/// the prefecture becomes the state.
fn japanese_ward_above(
    city: &CityLine,
    above: Option<&str>,
    n: usize,
    c: CountryRef,
) -> Option<Located> {
    if c.alpha2 != "JP"
        || city.state.is_some()
        || n < 2
        || !super::region::is_jp_prefecture(&city.city)
    {
        return None;
    }
    let ward = above?.trim();
    let lower = ward.to_ascii_lowercase();
    let is_ward = ["-ku", "-shi", "-gun", "-cho", "-machi", " ward", " city"]
        .iter()
        .any(|s| lower.ends_with(s));
    if !is_ward || has_digit(ward) {
        return None;
    }
    let line = CityLine {
        city: clean_field(ward, true),
        state: Some(city.city.clone()),
        zip: city.zip.clone(),
        note: city.note,
    };
    Some(Located { country: c, city: line, start: n - 2 })
}

/// Ireland: a county line (`Co. Dublin`, `County Cork`) under the town line is the state; the
/// town line above it (`Dublin 2`, `Cork T12 W8DR`) is the city line.
fn irish_county_line(last: &str, above: Option<&str>, n: usize, c: CountryRef) -> Option<Located> {
    if c.alpha2 != "IE" || n < 2 {
        return None;
    }
    let lower = last.trim_start().to_ascii_lowercase();
    if !(lower.starts_with("co. ") || lower.starts_with("co ") || lower.starts_with("county ")) {
        return None;
    }
    let above = above?;
    if is_streety(above) {
        return None;
    }
    let mut city = parse_for(above, c).ok()?;
    city.state = Some(clean_field(last, false));
    Some(Located { country: c, city, start: n - 2 })
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
    // A postcode alone under a town (`Durban` / `4051`) is a city line of an unnamed country.
    let bare_postcode =
        Tokens::new(last).is_some_and(|t| t.len() <= 2) && has_digit(last) && !is_streety(last);
    if bare_postcode && above.is_some_and(|a| !has_digit(a) && !is_streety(a)) {
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
