//! The street, unit and company words and the lookup over them: street suffixes (`St`, `Road`,
//! `Straat`), street prefixes (`Rue`, `Calle`), secondary-unit words (`Apt`, `Suite`), company
//! marks (`Inc`, `GmbH`, `Store`) and short company suffixes (`Co`, `AB`), each with its classes
//! in one `match`; compound street names (`Hauptstraße`); and the one pass over a line's words
//! that the line classifiers read ([`scan_words`], [`has_street_word`]).

use super::text::Key;

/// A street word that follows the street's name (`Main St`).
const SUFFIX: u8 = 1;
/// A street word that leads the street's name (`Rue de Rivoli`).
const PREFIX: u8 = 2;
/// A secondary-unit word (`Apt`, `Suite`).
const UNIT: u8 = 4;
/// A word that marks a company (`Inc`, `GmbH`, `Store`).
const COMPANY: u8 = 8;
/// A short company suffix, a company mark only as a line's last word (`Acme & Co`).
const SHORT_COMPANY: u8 = 16;

/// The longest listed word (`INTERNATIONAL`).
const LONGEST: usize = 13;

/// `w` in capitals without its apostrophes, in `buf`; `None` when no listed word can match it:
/// it is longer than any, or it has more than eight letters and an apostrophe (an apostrophe
/// is dropped from shorter words only, `St'` and `Partners'`).
fn fold<'b>(w: &[u8], buf: &'b mut [u8; LONGEST]) -> Option<&'b [u8]> {
    let mut n = 0;
    let mut apostrophe = false;
    for &b in w {
        if b == b'\'' {
            apostrophe = true;
            continue;
        }
        *buf.get_mut(n)? = b.to_ascii_uppercase();
        n += 1;
    }
    if n > 8 && apostrophe {
        return None;
    }
    buf.get(..n)
}

/// The classes of a word, in any case: street suffix, street prefix, unit, company, short
/// company suffix. A `match` on the folded word, as fast as a hand-written hash table on the
/// address benches (BENCHMARKS.md); a word of two classes is listed once, with both (a word
/// listed twice is an unreachable pattern, which the lints reject).
fn word_flags(w: &[u8]) -> u8 {
    let mut buf = [0; LONGEST];
    let Some(k) = fold(w, &mut buf) else {
        return 0;
    };
    match k {
        // Street words that follow the street's name (`Main St`, `Hauptstraße`).
        b"ST" | b"STREET" | b"STR" | b"AVE" | b"AV" | b"RD" | b"ROAD" | b"BLVD" | b"LN"
        | b"LANE" | b"DR" | b"DRIVE" | b"CT" | b"COURT" | b"PL" | b"WAY" | b"HWY" | b"HIGHWAY"
        | b"PKWY" | b"PARKWAY" | b"CIR" | b"CIRCLE" | b"TER" | b"TERRACE" | b"TRL" | b"TRAIL"
        | b"SQ" | b"SQUARE" | b"CRES" | b"CRESCENT" | b"CLOSE" | b"ROW" | b"MEWS" | b"GROVE"
        | b"GDNS" | b"GARDENS" | b"PIKE" | b"TPKE" | b"TURNPIKE" | b"ALY" | b"ALLEY" | b"EXPY"
        | b"EXPRESSWAY" | b"FWY" | b"FREEWAY" | b"LOOP" | b"PLZ" | b"PLAZA" | b"CAUSEWAY"
        | b"ESPLANADE" | b"PROMENADE" | b"QUAY" | b"WHARF" | b"PARADE" | b"PDE" | b"RTE"
        | b"STRASSE" | b"GASSE" | b"WEG" | b"PLATZ" | b"ALLEE" | b"STRAAT" | b"LAAN"
        | b"GRACHT" | b"PLEIN" | b"KADE" | b"GATAN" | b"GATA" | b"GATE" | b"VAGEN" | b"VEJ"
        | b"GADE" | b"VEIEN" | b"VEI" | b"CHOME" | b"WALK" | b"CRT" | b"AVDA" | b"CTRA" => SUFFIX,
        // Street words that lead or follow the name (`Avenue Foch`, `Park Avenue`).
        b"AVENUE" | b"BOULEVARD" | b"PLACE" | b"ROUTE" => SUFFIX | PREFIX,
        // Street words that lead the street's name (`Rue de Rivoli`, `Calle Mayor`).
        b"RUE" | b"CHEMIN" | b"QUAI" | b"IMPASSE" | b"CALLE" | b"CARRERA" | b"AVENIDA"
        | b"PASEO" | b"CAMINO" | b"CARRETERA" | b"RUA" | b"TRAVESSA" | b"ESTRADA" | b"PRACA"
        | b"VIA" | b"VIALE" | b"PIAZZA" | b"CORSO" | b"LARGO" | b"STRADA" | b"VICOLO"
        | b"ULICA" | b"UL" | b"JALAN" | b"CALZADA" | b"PRIVADA" | b"ALAMEDA" => PREFIX,
        // Secondary-unit words (`Apt`, `Suite`), street lines on their own with a number.
        b"APT" | b"APARTMENT" | b"SUITE" | b"STE" | b"UNIT" | b"FLAT" | b"FLOOR" | b"FL"
        | b"BLDG" | b"BUILDING" | b"ROOM" | b"RM" | b"LEVEL" | b"LVL" | b"PISO" | b"DEPTO"
        | b"ETAGE" | b"STOCK" | b"BATIMENT" | b"BAT" | b"ESCALIER" | b"HINTERHAUS"
        | b"VORDERHAUS" | b"APPARTEMENT" | b"APP" | b"APTO" | b"TOWER" | b"BLOCK" | b"BLK"
        | b"LOT" => UNIT,
        // Words that mark a company.
        b"INC" | b"LLC" | b"LTD" | b"LIMITED" | b"CORP" | b"CORPORATION" | b"COMPANY" | b"GMBH"
        | b"AG" | b"SARL" | b"SRL" | b"SPA" | b"BV" | b"NV" | b"PLC" | b"LLP" | b"PTY" | b"KG"
        | b"PLLC" | b"GROUP" | b"HOLDINGS" | b"ENTERPRISES" | b"INDUSTRIES" | b"SERVICES"
        | b"SOLUTIONS" | b"SYSTEMS" | b"TECHNOLOGIES" | b"TECHNOLOGY" | b"INTERNATIONAL"
        | b"ASSOCIATES" | b"PARTNERS" | b"STORE" | b"SHOP" | b"BAKERY" | b"CAFE"
        | b"RESTAURANT" | b"HOTEL" | b"UNIVERSITY" | b"COLLEGE" | b"SCHOOL" | b"HOSPITAL"
        | b"CLINIC" | b"DEPARTMENT" | b"DEPT" | b"FOUNDATION" | b"INSTITUTE" | b"CHURCH"
        | b"LABS" | b"STUDIO" | b"STUDIOS" | b"MARKET" | b"GOODS" | b"SUPPLY" | b"CONSULTING"
        | b"AGENCY" | b"BANK" | b"WAREHOUSE" | b"RECEIVING" => COMPANY,
        // Short company suffixes, a company mark only as a line's last word (`Volvo AB`).
        b"CO" | b"SA" | b"AB" | b"AS" | b"OY" | b"SAS" | b"KK" | b"LP" | b"PC" => SHORT_COMPANY,
        _ => 0,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_have_their_classes_in_any_case() {
        assert_eq!(word_flags(b"ST"), SUFFIX);
        assert_eq!(word_flags(b"st"), SUFFIX);
        assert_eq!(word_flags(b"Expressway"), SUFFIX);
        assert_eq!(word_flags(b"Avenue"), SUFFIX | PREFIX);
        assert_eq!(word_flags(b"BOULEVARD"), SUFFIX | PREFIX);
        assert_eq!(word_flags(b"rue"), PREFIX);
        assert_eq!(word_flags(b"Carretera"), PREFIX);
        assert_eq!(word_flags(b"Suite"), UNIT);
        assert_eq!(word_flags(b"Appartement"), UNIT);
        assert_eq!(word_flags(b"GmbH"), COMPANY);
        assert_eq!(word_flags(b"International"), COMPANY);
        assert_eq!(word_flags(b"Co"), SHORT_COMPANY);
        assert_eq!(word_flags(b"Main"), 0);
        assert_eq!(word_flags(b"Streets"), 0);
        assert_eq!(word_flags(b"Internationals"), 0);
    }

    #[test]
    fn apostrophes_and_odd_words() {
        // An apostrophe is dropped from words of up to eight letters; longer ones match nothing.
        assert_eq!(word_flags(b"St'"), SUFFIX);
        assert_eq!(word_flags(b"'Partners'"), COMPANY);
        assert_eq!(word_flags(b"Associates'"), 0);
        assert_eq!(word_flags(b""), 0);
        assert_eq!(word_flags(b"'"), 0);
        // Words reach the lookup folded by `Key` when they are not ASCII.
        assert_eq!(word_flags("Straße".as_bytes()), 0);
        assert_eq!(word_flags(b"STRASSE"), SUFFIX);
    }

    #[test]
    fn line_scans() {
        assert!(has_street_word("123 Main St"));
        assert!(has_street_word("Rue de Rivoli 5"));
        assert!(has_street_word("Hauptstraße 5"));
        assert!(!has_street_word("St Mary's Hospital"));
        let w = scan_words("Suite 200");
        assert!(w.unit_word && w.unit_first && !w.street_word);
        let w = scan_words("Acme & Co");
        assert!(w.last_short_suffix && !w.company_word);
        assert!(!scan_words("Co-op Bakery").last_short_suffix);
        assert!(scan_words("Co-op Bakery").company_word);
    }
}
