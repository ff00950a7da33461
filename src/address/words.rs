//! The street, unit and company words and the lookup over them: street suffixes (`St`, `Road`,
//! `Straat`), street prefixes (`Rue`, `Calle`), secondary-unit words (`Apt`, `Suite`), company
//! marks (`Inc`, `GmbH`, `Store`) and short company suffixes (`Co`, `AB`), each with its classes
//! in one table; compound street names (`Hauptstraße`); and the one pass over a line's words that
//! the line classifiers read ([`scan_words`], [`has_street_word`]).

use std::sync::LazyLock;

use super::text::Key;

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

/// What one pass over a line's words found.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Words {
    pub(super) street_word: bool,
    pub(super) unit_word: bool,
    pub(super) unit_first: bool,
    pub(super) company_word: bool,
    pub(super) last_short_suffix: bool,
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

/// One pass over a line's words: which street, unit and company words it has.
pub(super) fn scan_words(line: &str) -> Words {
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
