//! Text helpers shared by the address grammars: lookup keys that fold case, accents and
//! punctuation, output fields with folded white space and trimmed punctuation, and a small
//! tokenizer that keeps byte offsets so fields are cut from the line as typed.

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

    /// The key of as much of `text` as fits in `cap` bytes (for prefix tests on long lines).
    pub(crate) fn prefix(text: &str, cap: usize) -> Key {
        let cap = cap.min(KEY_CAP);
        let mut key = Key { buf: [0; KEY_CAP], len: 0 };
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if key.len >= cap {
                break;
            }
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    let _ = key.push_byte(b.to_ascii_uppercase());
                }
                i += 1;
                continue;
            }
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else { break };
            i += c.len_utf8();
            if let Some(folded) = fold_latin(c) {
                if key.len + folded.len() > cap {
                    break;
                }
                for b in folded.bytes() {
                    let _ = key.push_byte(b);
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

/// `s.trim()`, without decoding when the ends are plain ASCII (the usual case).
pub(crate) fn trim_fast(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        (None, _) | (_, None) => s,
        _ => s.trim(),
    }
}

/// Trims `s`, folds inner runs of white space to one space, and drops trailing `,` and `;`
/// (and a trailing `.` when `drop_dot`), with any white space around them.
pub(crate) fn clean_field(s: &str, drop_dot: bool) -> String {
    let trimmed = trim_trailing_punct(trim_fast(s), drop_dot);
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

/// Like [`clean_field`], but also drops leading separators (`,` `;` `-` `/`) and trailing `-`
/// and `/`, which are left over when a city is cut out of a city line.
pub(crate) fn clean_cut(s: &str, drop_dot: bool) -> String {
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b',')
    {
        return clean_field(s, drop_dot);
    }
    let is_sep = |c: char| matches!(c, ',' | ';' | '-' | '/' | '–' | ':') || c.is_whitespace();
    let t = s.trim_start_matches(is_sep).trim_end_matches(is_sep);
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

fn trim_trailing_punct(s: &str, drop_dot: bool) -> &str {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while let Some(&b) = end.checked_sub(1).and_then(|i| bytes.get(i)) {
        let punct = b == b',' || b == b';' || (drop_dot && b == b'.');
        if punct || b == b' ' || b == b'\t' {
            end -= 1;
        } else {
            break;
        }
    }
    // Only ASCII bytes were dropped, so `end` is a character boundary.
    s.get(..end).unwrap_or(s).trim_end()
}

/// Whether `s` has no letter, digit or symbol (blank, or only punctuation and white space). A
/// line of emoji or other symbols (`🎉`, `★彡`) is not blank: it may be all a recipient typed.
pub(crate) fn is_blank(s: &str) -> bool {
    if s.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    s.is_ascii() || !s.chars().any(|c| c.is_alphanumeric() || is_symbol(c))
}

/// Whether `c` is a symbol that can stand for a name: emoji, dingbats, letterlike and other
/// symbols (from U+2100 up), but not punctuation, white space, variation selectors or the
/// invisible characters.
fn is_symbol(c: char) -> bool {
    let u = u32::from(c);
    u >= 0x2100
        && !(0x3000..=0x303F).contains(&u)
        && !(0xFE00..=0xFE6F).contains(&u)
        && !(0xFF00..=0xFF0F).contains(&u)
        && !c.is_whitespace()
        && !is_invisible(c)
}

/// Whether `c` is a control character (Unicode `Cc`) or an invisible format character (`Cf`:
/// zero-width space and joiners, byte-order mark, soft hyphen, direction marks, ...). The `Cf`
/// list is Unicode 16's, which changes rarely.
pub(crate) fn is_invisible(c: char) -> bool {
    let u = u32::from(c);
    c.is_control()
        || matches!(
            u,
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x180E
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
        )
}

/// Whether `s` holds a character [`strip_invisible`] would drop or change (line breaks and tabs
/// aside). One byte test for ASCII text, the usual case.
pub(crate) fn has_invisible(s: &str) -> bool {
    // One branch-free pass flags any byte that is not printable ASCII (the compiler scans
    // several bytes at a time); only a flagged line is looked at closely.
    let flagged = s.bytes().fold(false, |acc, b| acc | !(0x20..0x7F).contains(&b));
    flagged && s.chars().any(|c| !matches!(c, '\t' | '\n' | '\r') && is_invisible(c))
}

/// `s` without its control and invisible format characters: a control that is white space
/// (vertical tab, form feed, next line) becomes a space, the rest are removed; line breaks and
/// tabs stay. A zero-width joiner or non-joiner between two non-ASCII characters (an emoji
/// sequence, a Persian or Indic word) and the tag characters after one (flag emoji) are kept.
pub(crate) fn strip_invisible(s: &str) -> std::borrow::Cow<'_, str> {
    if !has_invisible(s) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let keep = if matches!(c, '\t' | '\n' | '\r') || !is_invisible(c) {
            Some(c)
        } else if c.is_whitespace() {
            Some(' ')
        } else if matches!(c, '\u{200C}' | '\u{200D}') {
            let around =
                prev.is_some_and(|p| !p.is_ascii()) && chars.peek().is_some_and(|n| !n.is_ascii());
            around.then_some(c)
        } else if (0xE0020..=0xE007F).contains(&u32::from(c)) {
            prev.is_some_and(|p| !p.is_ascii() && !p.is_alphanumeric()).then_some(c)
        } else {
            None
        };
        if let Some(k) = keep {
            out.push(k);
            prev = Some(k);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether two texts are the same once case, accents, punctuation and spaces are folded.
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        let mut x = a.bytes().filter(u8::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase());
        let mut y = b.bytes().filter(u8::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase());
        let mut any = false;
        loop {
            match (x.next(), y.next()) {
                (None, None) => return any,
                (Some(p), Some(q)) if p == q => any = true,
                _ => return false,
            }
        }
    }
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
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tok {
    start: u16,
    end: u16,
    comma_before: bool,
}

impl Tok {
    /// Byte offset where the token starts.
    pub(crate) fn start(self) -> usize {
        usize::from(self.start)
    }

    /// Byte offset where the token ends.
    pub(crate) fn end(self) -> usize {
        usize::from(self.end)
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
    /// Tokenizes `line`; `None` when it has more than [`MAX_TOKENS`] tokens or is too long.
    pub(crate) fn new(line: &'a str) -> Option<Tokens<'a>> {
        if line.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut t = Tokens { line, toks: [Tok::default(); MAX_TOKENS], len: 0 };
        let bytes = line.as_bytes();
        let mut start: Option<usize> = None;
        let mut comma = false;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let (sep, is_comma, width) = if b.is_ascii() {
                (b.is_ascii_whitespace() || b == b',' || b == b';', b == b',' || b == b';', 1)
            } else {
                let c = line.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                (c.is_whitespace(), false, c.len_utf8())
            };
            if sep {
                if let Some(s) = start.take() {
                    t.push(Tok { start: s as u16, end: i as u16, comma_before: comma })?;
                    comma = false;
                }
                comma |= is_comma;
            } else if start.is_none() {
                start = Some(i);
            }
            i += width;
        }
        if let Some(s) = start {
            t.push(Tok { start: s as u16, end: line.len() as u16, comma_before: comma })?;
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

/// A short list on the stack (address blocks have at most five lines).
pub(crate) struct Few<T: Copy> {
    items: [T; 8],
    len: usize,
}

impl<T: Copy> Few<T> {
    /// An empty list (`fill` only initialises the unused slots).
    pub(crate) fn new(fill: T) -> Self {
        Few { items: [fill; 8], len: 0 }
    }

    /// Adds an item; returns false (and drops it) when the list is full.
    pub(crate) fn push(&mut self, item: T) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The items pushed so far.
    pub(crate) fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or(&[])
    }
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
    fn invisible_characters_are_removed_and_symbols_kept() {
        assert_eq!(strip_invisible("Jane\u{0}\u{200B} Doe"), "Jane Doe");
        assert_eq!(strip_invisible("\u{FEFF}Main\u{0B}St"), "Main St");
        assert_eq!(strip_invisible("a\nb\tc"), "a\nb\tc");
        assert_eq!(strip_invisible("👨\u{200D}👩"), "👨\u{200D}👩");
        assert!(!has_invisible("123 Main St"));
        assert!(has_invisible("Ber\u{AD}lin"));
        assert!(is_blank(" - , "));
        assert!(is_blank("\u{200B}"));
        assert!(!is_blank("🎉🎉"));
        assert!(!is_blank("★"));
    }

    #[test]
    fn fields_are_trimmed_and_folded() {
        assert_eq!(clean_field("  St.  Louis ,", false), "St. Louis");
        assert_eq!(clean_field("St. Louis.", true), "St. Louis");
        assert_eq!(clean_field("a\t\tb ;", false), "a b");
        assert_eq!(clean_cut(", - Berlin -", true), "Berlin");
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
