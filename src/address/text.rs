//! Text helpers shared by the address grammars: lookup keys that fold case, accents and
//! punctuation, output fields with folded white space and trimmed punctuation, and a small
//! tokenizer that keeps byte offsets so fields are cut from the line as typed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Longest lookup key, in bytes; longer text is never a country, state or street word.
pub(crate) const KEY_CAP: usize = 64;

/// A lookup key on the stack: upper-case ASCII letters and digits, accents folded, punctuation
/// and white space dropped, other letters (CJK, Greek, Cyrillic) kept upper-cased.
#[derive(Clone, Copy)]
pub(crate) struct Key {
    buf: [u8; KEY_CAP],
    len: usize,
}

impl Key {
    /// The key of `text`, or `None` when it does not fit.
    pub(crate) fn new(text: &str) -> Option<Key> {
        let mut key = Key { buf: [0; KEY_CAP], len: 0 };
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    key.push_byte(b.to_ascii_uppercase())?;
                }
                i += 1;
                continue;
            }
            // Rare: a non-ASCII character; decode it and fold it.
            let c = text.get(i..).and_then(|rest| rest.chars().next())?;
            i += c.len_utf8();
            if let Some(folded) = fold_latin(c) {
                for b in folded.bytes() {
                    key.push_byte(b)?;
                }
            } else if c.is_alphanumeric() {
                for u in c.to_uppercase() {
                    let mut tmp = [0u8; 4];
                    for b in u.encode_utf8(&mut tmp).bytes() {
                        key.push_byte(b)?;
                    }
                }
            }
        }
        Some(key)
    }

    /// The key of as much of `text` as fits (for prefix tests on long lines).
    pub(crate) fn prefix(text: &str, cap: usize) -> Key {
        let cap = cap.min(KEY_CAP);
        let mut key = Key { buf: [0; KEY_CAP], len: 0 };
        for c in text.chars() {
            let mut tmp = [0u8; 4];
            let part: &str = if c.is_ascii() {
                if !c.is_ascii_alphanumeric() {
                    continue;
                }
                let u = c.to_ascii_uppercase();
                u.encode_utf8(&mut tmp)
            } else if let Some(folded) = fold_latin(c) {
                folded
            } else {
                continue;
            };
            if key.len + part.len() > cap {
                break;
            }
            for b in part.bytes() {
                if key.push_byte(b).is_none() {
                    return key;
                }
            }
        }
        key
    }

    fn push_byte(&mut self, b: u8) -> Option<()> {
        let slot = self.buf.get_mut(self.len)?;
        *slot = b;
        self.len += 1;
        Some(())
    }

    /// The key's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The key as text (always valid UTF-8: built from whole characters).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// The key of `text` as an owned string (used to build lookup tables once).
pub(crate) fn key_string(text: &str) -> String {
    Key::new(text).map(|k| k.as_str().to_string()).unwrap_or_default()
}

/// A lookup table from keys (see [`Key`]) to values, built once: a hash map on a small, fast
/// hash (the keys are short and the table is ours, so no defence against chosen collisions is
/// needed), which first turns away keys longer than any in the table, and keys with a digit when
/// no key has one, as most lines and spans asked about are.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable<V> {
    map: HashMap<Box<[u8]>, V, BuildHasherDefault<FnvHasher>>,
    max_len: usize,
    digits: bool,
}

impl<V> KeyTable<V> {
    /// The table of `entries` (keys already folded); empty keys are left out.
    pub(crate) fn new(entries: impl IntoIterator<Item = (String, V)>) -> Self {
        let mut table = KeyTable { map: HashMap::default(), max_len: 0, digits: false };
        for (key, value) in entries {
            if key.is_empty() {
                continue;
            }
            table.max_len = table.max_len.max(key.len());
            table.digits |= has_digit(&key);
            table.map.insert(key.into_bytes().into_boxed_slice(), value);
        }
        table
    }

    /// False when no key of `text` can be in the table (it has a digit and no key has one), so
    /// that the key need not be built.
    pub(crate) fn may_hold(&self, text: &str) -> bool {
        self.digits || !has_digit(text)
    }

    /// The value of `key`, if the table has it.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        if key.is_empty() || key.len() > self.max_len {
            return None;
        }
        if !self.digits && key.iter().any(u8::is_ascii_digit) {
            return None;
        }
        self.map.get(key)
    }
}

/// FNV-1a, 64 bits: a few cycles a byte on the short keys of the lookup tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Folds an accented Latin letter to its upper-case ASCII letters.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'Ā' | 'ā' | 'Ă'
        | 'ă' | 'Ą' | 'ą' => "A",
        'Æ' | 'æ' => "AE",
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Č' | 'č' => "C",
        'Ð' | 'ð' | 'Ď' | 'ď' | 'Đ' | 'đ' => "D",
        'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' | 'Ē' | 'ē' | 'Ė' | 'ė' | 'Ę' | 'ę' | 'Ě'
        | 'ě' => "E",
        'Ğ' | 'ğ' => "G",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' | 'Ī' | 'ī' | 'Į' | 'į' | 'İ' | 'ı' => {
            "I"
        }
        'Ł' | 'ł' => "L",
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ň' | 'ň' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ō' | 'ō' | 'Ő'
        | 'ő' => "O",
        'Œ' | 'œ' => "OE",
        'Ř' | 'ř' => "R",
        'Ś' | 'ś' | 'Š' | 'š' | 'Ş' | 'ş' | 'Ș' | 'ș' => "S",
        'ß' | 'ẞ' => "SS",
        'Ţ' | 'ţ' | 'Ť' | 'ť' | 'Ț' | 'ț' => "T",
        'Þ' | 'þ' => "TH",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' | 'Ū' | 'ū' | 'Ů' | 'ů' | 'Ű' | 'ű' | 'Ų'
        | 'ų' => "U",
        'Ý' | 'ý' | 'ÿ' | 'Ÿ' => "Y",
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => "Z",
        _ => return None,
    })
}

/// Trims `s`, folds inner runs of white space to one space, and drops trailing `,` and `;`
/// (and a trailing `.` when `drop_dot`), with any white space around them.
pub(crate) fn clean_field(s: &str, drop_dot: bool) -> String {
    if s.is_ascii() {
        return clean_ascii(s, drop_dot);
    }
    let trimmed = trim_trailing_punct(s.trim(), drop_dot);
    if is_folded(trimmed) {
        return trimmed.to_string();
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut pending_space = false;
    for c in trimmed.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// [`clean_field`] for ASCII text, in byte passes: the trimmed span is found from both ends at
/// once (white space in front; white space, `,`, `;` and maybe `.` behind, in any order, as
/// the general path strips them), then copied as is or with its white space folded.
fn clean_ascii(s: &str, drop_dot: bool) -> String {
    let space = |c: u8| c == b' ' || (0x09..=0x0d).contains(&c);
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|&c| !space(c)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&c| !(space(c) || c == b',' || c == b';' || (drop_dot && c == b'.')))
        .map_or(0, |last| last + 1);
    let trimmed = s.get(start..end).unwrap_or("");
    if is_folded(trimmed) {
        return trimmed.to_string();
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut pending_space = false;
    for c in trimmed.bytes() {
        if space(c) {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(char::from(c));
        }
    }
    out
}

/// Like [`clean_field`], but also drops leading separators (`,` `;` `-` `/`) and trailing `-`
/// and `/`, which are left over when a city is cut out of a city line.
pub(crate) fn clean_cut(s: &str, drop_dot: bool) -> String {
    if s.is_ascii() {
        // The loop below strips separators and white space from both ends, in any mix.
        let cut = |c: &u8| {
            matches!(c, b',' | b';' | b'-' | b'/' | b':' | b' ') || (0x09..=0x0d).contains(c)
        };
        let bytes = s.as_bytes();
        let start = bytes.iter().position(|c| !cut(c)).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|c| !cut(c)).map_or(0, |last| last + 1);
        return clean_ascii(s.get(start..end).unwrap_or(""), drop_dot);
    }
    let mut t = s.trim();
    loop {
        let next = t
            .trim_start_matches([',', ';', '-', '/', '–', ':'])
            .trim_end_matches([',', ';', '-', '/', '–', ':'])
            .trim();
        if next.len() == t.len() {
            break;
        }
        t = next;
    }
    clean_field(t, drop_dot)
}

/// Whether `s` is ASCII with single spaces only (nothing to fold).
fn is_folded(s: &str) -> bool {
    let mut prev_space = false;
    for &b in s.as_bytes() {
        let space = b == b' ';
        if (space && prev_space) || b >= 0x80 || b.is_ascii_control() {
            return false;
        }
        prev_space = space;
    }
    true
}

fn trim_trailing_punct(mut s: &str, drop_dot: bool) -> &str {
    loop {
        let next = if drop_dot {
            s.trim_end_matches([',', ';', '.'])
        } else {
            s.trim_end_matches([',', ';'])
        }
        .trim_end();
        if next.len() == s.len() {
            return s;
        }
        s = next;
    }
}

/// Whether `s` has no letter or digit (blank, or only punctuation).
pub(crate) fn is_blank(s: &str) -> bool {
    !s.chars().any(char::is_alphanumeric)
}

/// Whether two texts are the same once case, accents, punctuation and spaces are folded.
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    match (Key::new(a), Key::new(b)) {
        (Some(x), Some(y)) => !x.as_bytes().is_empty() && x.as_bytes() == y.as_bytes(),
        _ => fold_slow(a) == fold_slow(b) && !fold_slow(a).is_empty(),
    }
}

fn fold_slow(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// Most tokens a city line may have; longer lines are not city lines.
pub(crate) const MAX_TOKENS: usize = 24;

/// One token of a line: a byte range, and whether a `,` or `;` separates it from the previous.
/// Offsets are `u32` to keep [`Tokens`] small, since it is copied about; a longer line is never
/// a city line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tok {
    start: u32,
    end: u32,
    pub(crate) comma_before: bool,
}

impl Tok {
    fn new(start: usize, end: usize, comma_before: bool) -> Option<Tok> {
        Some(Tok { start: u32::try_from(start).ok()?, end: u32::try_from(end).ok()?, comma_before })
    }

    /// Byte offset of the token's first byte.
    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    /// Byte offset just past the token.
    pub(crate) fn end(self) -> usize {
        self.end as usize
    }
}

/// The tokens of a line, split on white space and commas, with their byte offsets.
#[derive(Clone, Copy)]
pub(crate) struct Tokens<'a> {
    pub(crate) line: &'a str,
    toks: [Tok; MAX_TOKENS],
    len: usize,
}

impl<'a> Tokens<'a> {
    /// Tokenizes `line`; `None` when it has more than [`MAX_TOKENS`] tokens.
    pub(crate) fn new(line: &'a str) -> Option<Tokens<'a>> {
        let mut t = Tokens { line, toks: [Tok::default(); MAX_TOKENS], len: 0 };
        let mut start: Option<usize> = None;
        let mut comma = false;
        let bytes = line.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let (space, comma_here, width) = if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    // The common case: inside or at the start of a token.
                    if start.is_none() {
                        start = Some(i);
                    }
                    i += 1;
                    continue;
                }
                (b == b' ' || (0x09..=0x0d).contains(&b), b == b',' || b == b';', 1)
            } else {
                // Other characters are decoded, for the white space among them (NBSP, ...);
                // none is a comma.
                let c = line.get(i..).and_then(|r| r.chars().next()).unwrap_or('\u{FFFD}');
                (c.is_whitespace(), false, c.len_utf8())
            };
            if space || comma_here {
                if let Some(s) = start.take() {
                    t.push(Tok::new(s, i, comma)?)?;
                    comma = false;
                }
                if comma_here {
                    comma = true;
                }
            } else if start.is_none() {
                start = Some(i);
            }
            i += width;
        }
        if let Some(s) = start {
            t.push(Tok::new(s, line.len(), comma)?)?;
        }
        Some(t)
    }

    fn push(&mut self, tok: Tok) -> Option<()> {
        let slot = self.toks.get_mut(self.len)?;
        *slot = tok;
        self.len += 1;
        Some(())
    }

    /// Number of tokens.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Token `i`.
    pub(crate) fn tok(&self, i: usize) -> Option<Tok> {
        if i < self.len { self.toks.get(i).copied() } else { None }
    }

    /// The text of token `i` ("" when out of range).
    pub(crate) fn text(&self, i: usize) -> &'a str {
        self.tok(i).and_then(|t| self.line.get(t.start()..t.end())).unwrap_or("")
    }

    /// The line's text from token `i` to token `j` (exclusive), as typed ("" when empty).
    pub(crate) fn span(&self, i: usize, j: usize) -> &'a str {
        if i >= j {
            return "";
        }
        match (self.tok(i), self.tok(j.saturating_sub(1))) {
            (Some(a), Some(b)) => self.line.get(a.start()..b.end()).unwrap_or(""),
            _ => "",
        }
    }

    /// Whether a comma separates any two tokens in `i..j`.
    pub(crate) fn comma_within(&self, i: usize, j: usize) -> bool {
        (i + 1..j).any(|k| self.tok(k).is_some_and(|t| t.comma_before))
    }

    /// Whether a comma stands before token `i`.
    pub(crate) fn comma_before(&self, i: usize) -> bool {
        self.tok(i).is_some_and(|t| t.comma_before)
    }

    /// Removes token `i` (used to drop `C.P.`, `CEP` and similar labels).
    pub(crate) fn remove(&mut self, i: usize) {
        if i >= self.len {
            return;
        }
        let comma = self.toks.get(i).is_some_and(|t| t.comma_before);
        for k in i..self.len.saturating_sub(1) {
            if let Some(next) = self.toks.get(k + 1).copied()
                && let Some(slot) = self.toks.get_mut(k)
            {
                *slot = next;
            }
        }
        self.len -= 1;
        // A dropped token (a label, a lone `-`) still separates its neighbours like a comma.
        let _ = comma;
        if i < self.len
            && let Some(slot) = self.toks.get_mut(i)
        {
            slot.comma_before = true;
        }
    }
}

/// Whether `bytes` holds `a` or `b`, eight bytes at a time (address lines are short, where
/// `memchr`'s set-up costs more than the scan).
pub(crate) fn has_either_byte(bytes: &[u8], a: u8, b: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let (pa, pb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        if has_zero(v ^ pa) || has_zero(v ^ pb) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| c == a || c == b)
}

/// Whether `s` holds an ASCII digit.
pub(crate) fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_accents_and_punctuation() {
        assert_eq!(
            Key::new("Österreich").map(|k| k.as_str().to_string()),
            Some("OSTERREICH".into())
        );
        assert_eq!(Key::new("U.S.A.").map(|k| k.as_str().to_string()), Some("USA".into()));
        assert_eq!(Key::new("日本").map(|k| k.as_str().to_string()), Some("日本".into()));
        assert_eq!(Key::new("Straße").map(|k| k.as_str().to_string()), Some("STRASSE".into()));
    }

    #[test]
    fn fields_are_trimmed_and_folded() {
        assert_eq!(clean_field("  St.  Louis ,", false), "St. Louis");
        assert_eq!(clean_field("St. Louis.", true), "St. Louis");
        assert_eq!(clean_field("a\t\tb ;", false), "a b");
        assert_eq!(clean_cut(", - Berlin -", true), "Berlin");
        assert_eq!(clean_cut(" ;: /St.  Louis. ,-", true), "St. Louis");
        assert_eq!(clean_cut("– Zürich  –/", true), "Zürich", "the general path, same rules");
        assert_eq!(clean_cut(" ,;- ", true), "");
        assert_eq!(clean_field("\tMain\x0bSt ,; ", false), "Main St");
        assert_eq!(clean_field("Main\u{a0} St ,", false), "Main St", "NBSP folds too");
    }

    #[test]
    fn either_byte_is_found_anywhere() {
        for len in 0..40usize {
            for at in 0..len {
                for needle in [b'\n', b'\r'] {
                    let mut line = vec![b'x'; len];
                    if let Some(slot) = line.get_mut(at) {
                        *slot = needle;
                    }
                    assert!(has_either_byte(&line, b'\n', b'\r'), "{len} {at}");
                }
            }
            let plain: Vec<u8> = (0..len).map(|i| b"Az 09,\x0b\x0c\x0e\xff"[i % 10]).collect();
            assert!(!has_either_byte(&plain, b'\n', b'\r'), "{len}");
        }
    }

    #[test]
    fn tokens_keep_offsets_and_commas() {
        let t = Tokens::new("Menlo Park, CA  94304").unwrap_or_else(|| panic!("tokens"));
        assert_eq!(t.len(), 4);
        assert_eq!(t.text(2), "CA");
        assert!(t.comma_before(2));
        assert_eq!(t.span(0, 2), "Menlo Park");
        assert!(t.comma_within(0, 3));
    }
}
