//! City lines in each country's own layout: `City, ST ZIP` (U.S.), `City PR A1A 1A1` (Canada),
//! `Suburb NSW 2000` (Australia), `Town POSTCODE` (UK, Ireland, New Zealand, South Africa,
//! Singapore), `POSTCODE City` (continental Europe), `City, Prefecture 123-4567` (Japan),
//! `12345-678 City - UF` (Brazil), `12345 City, State` (Mexico), and a generic layout with the
//! postcode first or last for other countries.

use super::AddressErrorCode;
use super::country::{CountryRef, lookup_country, lookup_key_common};
use super::postcode::{Format, strip_country_prefix};
use super::region::{Regions, is_jp_prefecture};
use super::text::{Key, Tokens, clean_cut, clean_field, has_digit};

/// What a postcode slot held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Zip {
    /// A postcode of the country's format, normalised.
    Valid(String),
    /// Something postcode-like that does not fit the format.
    Invalid,
    /// No postcode.
    Missing,
}

/// The parts read from a city line, before the country's rules are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CityParts {
    /// City (cleaned), `None` when the line held only a state and postcode.
    pub(crate) city: Option<String>,
    /// State: official code for the U.S., Canada and Australia, else as typed.
    pub(crate) state: Option<String>,
    /// Postcode.
    pub(crate) zip: Zip,
    /// Something dropped from the line, for the warnings.
    pub(crate) note: Option<&'static str>,
}

/// A city line that passed the country's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CityLine {
    pub(crate) city: String,
    pub(crate) state: Option<String>,
    pub(crate) zip: Option<String>,
    pub(crate) note: Option<&'static str>,
}

/// How a country writes its city line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// City, then a state from a known table, then the postcode.
    StateZipLast(Regions, Format),
    /// City, then the postcode; a part after a comma is a county (dropped) or, for Ireland, kept
    /// as the state.
    ZipLast(Format),
    /// Postcode, then city; the postcode may also come last.
    ZipFirst(Format),
    /// Italy: postcode, city, province code.
    Italy,
    /// Spain: postcode, city, optional province after a comma or in parentheses.
    Spain,
    /// Japan, romanised.
    Japan,
    /// Brazil.
    Brazil,
    /// Mexico.
    Mexico,
    /// Anything else: postcode first or last, or none.
    Generic,
}

/// The layout of a country's city line.
pub(crate) fn layout_for(alpha2: &str) -> Layout {
    use Format::*;
    match alpha2 {
        "US" => Layout::StateZipLast(Regions::Us, Us),
        "CA" => Layout::StateZipLast(Regions::Ca, Ca),
        "AU" => Layout::StateZipLast(Regions::Au, Digits(4)),
        "GB" | "IM" | "JE" | "GG" => Layout::ZipLast(Gb),
        "IE" => Layout::ZipLast(Ie),
        "NZ" | "ZA" => Layout::ZipLast(Digits(4)),
        "SG" => Layout::ZipLast(Digits(6)),
        "DE" | "FR" | "MC" | "FI" | "HR" | "EE" => Layout::ZipFirst(Digits(5)),
        "AT" | "CH" | "LI" | "BE" | "LU" | "NO" | "DK" | "HU" | "SI" | "BG" => {
            Layout::ZipFirst(Digits(4))
        }
        "NL" => Layout::ZipFirst(Nl),
        "PT" => Layout::ZipFirst(Pt),
        "SE" => Layout::ZipFirst(Se),
        "CZ" | "SK" | "GR" => Layout::ZipFirst(ThreeTwo),
        "PL" => Layout::ZipFirst(Pl),
        "RO" => Layout::ZipFirst(Digits(6)),
        "IT" | "SM" | "VA" => Layout::Italy,
        "ES" => Layout::Spain,
        "JP" => Layout::Japan,
        "BR" => Layout::Brazil,
        "MX" => Layout::Mexico,
        _ => Layout::Generic,
    }
}

/// Whether the country's addresses need a state (the U.S. and Canada).
pub(crate) fn requires_state(alpha2: &str) -> bool {
    matches!(alpha2, "US" | "CA")
}

/// Whether the country's addresses need a postcode.
pub(crate) fn requires_zip(alpha2: &str) -> bool {
    !matches!(layout_for(alpha2), Layout::Generic | Layout::ZipLast(Format::Ie))
}

/// The postcode format of a country (for structured `PostalCode` fields).
pub(crate) fn zip_format(alpha2: &str) -> Format {
    match layout_for(alpha2) {
        Layout::StateZipLast(_, f) | Layout::ZipLast(f) | Layout::ZipFirst(f) => f,
        Layout::Italy | Layout::Spain | Layout::Mexico => Format::Digits(5),
        Layout::Japan => Format::Jp,
        Layout::Brazil => Format::Br,
        Layout::Generic => Format::Generic,
    }
}

/// The state table of a country, where it has one.
pub(crate) fn regions_for(alpha2: &str) -> Option<Regions> {
    match layout_for(alpha2) {
        Layout::StateZipLast(r, _) => Some(r),
        _ => None,
    }
}

/// Labels that stand before a postcode and are not part of any field.
fn is_label(tok: &str) -> bool {
    const LABELS: &[&str] = &[
        "CP",
        "C.P.",
        "C.P",
        "CP:",
        "C.P.:",
        "CEP",
        "CEP:",
        "PLZ",
        "PLZ:",
        "ZIP",
        "ZIP:",
        "POSTCODE",
        "POSTCODE:",
    ];
    let first = tok.as_bytes().first().map(u8::to_ascii_uppercase);
    tok.len() <= 9
        && matches!(first, Some(b'C' | b'P' | b'Z'))
        && LABELS.iter().any(|l| l.eq_ignore_ascii_case(tok))
}

fn tokens(line: &str) -> Option<Tokens<'_>> {
    let mut t = Tokens::new(line)?;
    let mut i = 0;
    while i < t.len() {
        let tok = t.text(i);
        if is_label(tok) || super::text::is_blank(tok) {
            t.remove(i);
        } else {
            i += 1;
        }
    }
    Some(t)
}

/// Reads a city line in the given layout. `None` when the line has too many tokens.
pub(crate) fn parse_parts(line: &str, layout: Layout) -> Option<CityParts> {
    let t = tokens(line)?;
    Some(match layout {
        Layout::StateZipLast(regions, format) => state_zip_last(&t, regions, format),
        Layout::ZipLast(format) => zip_last_layout(&t, format),
        Layout::ZipFirst(format) => zip_first_layout(&t, format, StatePart::Drop),
        Layout::Italy => italy(&t),
        Layout::Spain => zip_first_layout(&t, Format::Digits(5), StatePart::AfterComma),
        Layout::Japan => japan(&t),
        Layout::Brazil => brazil(&t),
        Layout::Mexico => zip_first_layout(&t, Format::Digits(5), StatePart::AfterComma),
        Layout::Generic => generic(&t),
    })
}

/// Reads and checks a city line for a country. `hint_state` is a territory's state code when the
/// country line named a U.S. territory.
pub(crate) fn parse_for(line: &str, country: CountryRef) -> Result<CityLine, AddressErrorCode> {
    let parts =
        parse_parts(line, layout_for(country.alpha2)).ok_or(AddressErrorCode::UnsupportedLayout)?;
    finish(country, parts)
}

/// Applies the country's rules to parsed parts.
pub(crate) fn finish(country: CountryRef, parts: CityParts) -> Result<CityLine, AddressErrorCode> {
    let alpha2 = country.alpha2;
    let state = parts.state.or_else(|| country.territory.map(str::to_string));
    let Some(city) = parts.city.filter(|c| !c.is_empty()) else {
        return Err(AddressErrorCode::MissingCityLine);
    };
    if requires_state(alpha2) && state.is_none() {
        return Err(AddressErrorCode::MissingState);
    }
    let zip = match parts.zip {
        Zip::Valid(z) => Some(z),
        Zip::Invalid => return Err(AddressErrorCode::InvalidPostalCode),
        Zip::Missing if requires_zip(alpha2) => return Err(AddressErrorCode::MissingPostalCode),
        Zip::Missing => None,
    };
    Ok(CityLine { city, state, zip, note: parts.note })
}

/// Finds the postcode at the end of `t[..end]`: (what was found, index where it starts).
fn zip_at_end(t: &Tokens<'_>, end: usize, format: Format) -> (Zip, usize) {
    if end == 0 {
        return (Zip::Missing, 0);
    }
    if format.two_tokens()
        && end >= 2
        && !t.comma_before(end - 1)
        && pair_plausible(t.text(end - 2), t.text(end - 1))
        && let Some(z) = format.normalize(&join2(t.text(end - 2), t.text(end - 1)))
    {
        return (Zip::Valid(z), end - 2);
    }
    let last = t.text(end - 1);
    if let Some(z) = format.normalize(last) {
        return (Zip::Valid(z), end - 1);
    }
    if format == Format::Ie && is_dublin_district(last) {
        return (Zip::Missing, end);
    }
    if let Some((z, start)) = spaced_zip(t, end, format, End::Last) {
        return (Zip::Valid(z), start);
    }
    if has_digit(last) {
        let both = format.two_tokens()
            && end >= 2
            && has_digit(t.text(end - 2))
            && !t.comma_before(end - 1);
        return (Zip::Invalid, if both { end - 2 } else { end - 1 });
    }
    (Zip::Missing, end)
}

/// Which end of a city line a postcode is looked for at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    First,
    Last,
}

/// A postcode typed with spaces its format does not have (`6 0 0 4`, `9021 0`, `100 0001`): the
/// longest run of short alphanumeric tokens at that end of `t[..end]`, with a digit and no
/// comma between them, whose letters and digits joined fit the format. Returns the normalised
/// postcode and, for the last end, the index where the run starts, for the first end the index
/// after it.
fn spaced_zip(t: &Tokens<'_>, end: usize, format: Format, at: End) -> Option<(String, usize)> {
    if format == Format::Generic || end < 2 {
        return None;
    }
    let short = |i: usize| {
        let s = t.text(i);
        (1..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    // Most city lines end (or start) with a whole postcode or a word: one test rejects them.
    let edge = if at == End::Last { end - 1 } else { 0 };
    if !short(edge) || !has_digit(t.text(edge)) {
        return None;
    }
    // The run of short tokens at that end, at most eight long.
    let run = match at {
        End::Last => (0..end).rev().take(8).take_while(|&i| short(i)).count(),
        End::First => (0..end).take(8).take_while(|&i| short(i)).count(),
    };
    for k in (2..=run).rev() {
        let (a, b) = match at {
            End::Last => (end - k, end),
            End::First => (0, k),
        };
        if t.comma_within(a, b) {
            continue;
        }
        // The tokens joined, on the stack: at most eight of at most four bytes.
        let mut buf = [0u8; 32];
        let mut len = 0;
        for i in a..b {
            for &byte in t.text(i).as_bytes() {
                if let Some(slot) = buf.get_mut(len) {
                    *slot = byte;
                    len += 1;
                }
            }
        }
        let compact = std::str::from_utf8(buf.get(..len).unwrap_or(&[])).unwrap_or("");
        if compact.len() > 10 {
            continue;
        }
        if let Some(z) = format.normalize(compact) {
            return Some((z, if at == End::Last { a } else { b }));
        }
    }
    None
}

/// Dublin's postal districts (`Dublin 2`, `Dublin 6W`) end the town, they are not Eircodes.
fn is_dublin_district(tok: &str) -> bool {
    let digits = tok.trim_end_matches(['W', 'w']);
    !digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether two tokens could together be a postcode (`SW1A 1AA`, `94304 1234`), checked before
/// joining them so that most lines allocate nothing here.
fn pair_plausible(a: &str, b: &str) -> bool {
    let a = strip_country_prefix(a).unwrap_or(a);
    (1..=5).contains(&a.len())
        && (2..=4).contains(&b.len())
        && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_alphanumeric())
        && (b.bytes().any(|c| c.is_ascii_digit()) || a.bytes().any(|c| c.is_ascii_digit()))
}

/// Two tokens joined by one space.
fn join2(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len() + 1);
    s.push_str(a);
    s.push(' ');
    s.push_str(b);
    s
}

/// Finds the postcode at the start of `t`: (found, index after it). A European country prefix
/// (`D-`, `CH-`) is dropped.
fn zip_at_start(t: &Tokens<'_>, format: Format) -> (Zip, usize) {
    if t.len() == 0 {
        return (Zip::Missing, 0);
    }
    let first = t.text(0);
    let first = strip_country_prefix(first).unwrap_or(first);
    if format.two_tokens()
        && t.len() >= 2
        && !t.comma_before(1)
        && pair_plausible(first, t.text(1))
        && let Some(z) = format.normalize(&join2(first, t.text(1)))
    {
        return (Zip::Valid(z), 2);
    }
    if let Some(z) = format.normalize(first) {
        return (Zip::Valid(z), 1);
    }
    if let Some((z, after)) = spaced_zip(t, t.len(), format, End::First) {
        return (Zip::Valid(z), after);
    }
    if has_digit(first) {
        return (Zip::Invalid, 1);
    }
    (Zip::Missing, 0)
}

fn city_of(s: &str) -> Option<String> {
    let c = clean_cut(s, true);
    (!c.is_empty()).then_some(c)
}

fn state_zip_last(t: &Tokens<'_>, regions: Regions, format: Format) -> CityParts {
    let (zip, end) = zip_at_end(t, t.len(), format);
    state_before(t, regions, zip, end)
}

/// Reads the state (and the city before it) from `t[..end]`, the postcode already found.
fn state_before(t: &Tokens<'_>, regions: Regions, zip: Zip, end: usize) -> CityParts {
    let mut state = None;
    let mut city_end = end;
    // Fast path: the usual two-letter code (`CA`), unless it ends a longer name (`W Va`).
    if end >= 2 {
        let before = t.text(end - 2);
        if let [a, b] = *t.text(end - 1).as_bytes()
            && a.is_ascii_alphabetic()
            && b.is_ascii_alphabetic()
            && !before.eq_ignore_ascii_case("W")
            && !before.eq_ignore_ascii_case("W.")
            && let Some(found) =
                regions.lookup_key(&[a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        {
            return CityParts {
                city: city_of(t.span(0, end - 1)),
                state: Some(found.to_string()),
                zip,
                note: None,
            };
        }
    }
    for k in (1..=end.saturating_sub(1).min(4)).rev() {
        let s = end - k;
        if t.comma_within(s, end) {
            continue;
        }
        if let Some(code) = regions.lookup(t.span(s, end)) {
            state = Some(code.to_string());
            city_end = s;
            break;
        }
    }
    if state.is_none()
        && end >= 1
        && !t.comma_within(0, end)
        && let Some(code) = regions.lookup(t.span(0, end))
    {
        state = Some(code.to_string());
        city_end = 0;
    }
    // `Springfield.IL 62704`: the state glued to the city with a period.
    if state.is_none()
        && end >= 1
        && let Some(tok) = t.tok(end - 1)
        && let Some((head, code)) = t.text(end - 1).rsplit_once('.')
        && !head.is_empty()
        && code.len() == 2
        && let Some(found) = regions.lookup(code)
    {
        let city_end = tok.start() + head.len();
        let from = t.tok(0).map_or(0, |f| f.start());
        let city = t.line.get(from..city_end).and_then(city_of);
        return CityParts { city, state: Some(found.to_string()), zip, note: None };
    }
    // `Toronto, Ontario, Canada M5V 2T6`: the country written between the state and postcode.
    if state.is_none()
        && end >= 3
        && !has_digit(t.text(end - 1))
        && lookup_country(t.text(end - 1)).is_some_and(|c| regions_country(regions) == c.alpha2)
    {
        return state_before(t, regions, zip, end - 1);
    }
    CityParts { city: city_of(t.span(0, city_end)), state, zip, note: None }
}

/// The country whose state table this is.
fn regions_country(regions: Regions) -> &'static str {
    match regions {
        Regions::Us => "US",
        Regions::Ca => "CA",
        Regions::Au => "AU",
    }
}

fn zip_last_layout(t: &Tokens<'_>, format: Format) -> CityParts {
    let (zip, end) = zip_at_end(t, t.len(), format);
    if zip == Zip::Missing && t.len() > 0 {
        // Some write the postcode first (`8001 Cape Town`).
        let (z, start) = zip_at_start(t, format);
        if let Zip::Valid(_) = z {
            let city = city_of(t.span(start, t.len()));
            return CityParts { city, state: None, zip: z, note: None };
        }
    }
    let comma = (1..end).find(|&k| t.comma_before(k));
    let (city_end, state, note) = match comma {
        Some(k) if format == Format::Ie => (k, city_of(t.span(k, end)), None),
        Some(k) => (k, None, Some("the county after the town was dropped")),
        None => (end, None, None),
    };
    let mut city = city_of(t.span(0, city_end));
    if city.is_none() && format == Format::Digits(6) && matches!(zip, Zip::Valid(_)) {
        city = Some("Singapore".to_string());
    }
    CityParts { city, state, zip, note }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatePart {
    /// A part after a comma is dropped (countries without states).
    Drop,
    /// A part after the last comma, or in parentheses, is the state, as typed.
    AfterComma,
}

fn zip_first_layout(t: &Tokens<'_>, format: Format, state_part: StatePart) -> CityParts {
    let (mut zip, mut start) = zip_at_start(t, format);
    let mut end = t.len();
    if zip == Zip::Missing || zip == Zip::Invalid {
        let (z, e) = zip_at_end(t, t.len(), format);
        if matches!(z, Zip::Valid(_)) || zip == Zip::Missing {
            zip = z;
            end = e;
            start = 0;
        }
    }
    split_city_state(t, start, end, zip, state_part)
}

fn split_city_state(
    t: &Tokens<'_>,
    start: usize,
    end: usize,
    zip: Zip,
    state_part: StatePart,
) -> CityParts {
    let last_comma = (start + 1..end).rev().find(|&k| t.comma_before(k));
    match (last_comma, state_part) {
        (Some(k), StatePart::AfterComma) => CityParts {
            city: city_of(t.span(start, k)),
            state: state_text(t.span(k, end)),
            zip,
            note: None,
        },
        (Some(k), StatePart::Drop) => {
            let first = (start + 1..end).find(|&k| t.comma_before(k)).unwrap_or(k);
            CityParts {
                city: city_of(t.span(start, first)),
                state: None,
                zip,
                note: Some("the text after the city was dropped"),
            }
        }
        (None, StatePart::AfterComma) if end > start + 1 => {
            // `28001 Madrid (Madrid)`: a state in parentheses.
            let last = t.text(end - 1);
            if last.starts_with('(') && last.ends_with(')') && last.len() > 2 {
                return CityParts {
                    city: city_of(t.span(start, end - 1)),
                    state: state_text(last.trim_start_matches('(').trim_end_matches(')')),
                    zip,
                    note: None,
                };
            }
            CityParts { city: city_of(t.span(start, end)), state: None, zip, note: None }
        }
        _ => CityParts { city: city_of(t.span(start, end)), state: None, zip, note: None },
    }
}

fn state_text(s: &str) -> Option<String> {
    let c = clean_cut(s, false);
    (!c.is_empty()).then_some(c)
}

fn italy(t: &Tokens<'_>) -> CityParts {
    let mut parts = zip_first_layout(t, Format::Digits(5), StatePart::AfterComma);
    if parts.state.is_none()
        && let Some(city) = parts.city.clone()
        && let Some((head, last)) = city.rsplit_once(' ')
    {
        let code = last.trim_start_matches('(').trim_end_matches(')');
        if code.len() == 2
            && code.chars().all(|c| c.is_ascii_alphabetic())
            && !head.trim().is_empty()
        {
            parts.city = city_of(head);
            parts.state = Some(code.to_ascii_uppercase());
        }
    }
    if let Some(state) = parts.state.as_mut()
        && state.len() == 2
        && state.chars().all(|c| c.is_ascii_alphabetic())
    {
        *state = state.to_ascii_uppercase();
    }
    parts
}

fn japan(t: &Tokens<'_>) -> CityParts {
    let (mut zip, mut end) = zip_at_end(t, t.len(), Format::Jp);
    let mut start = 0;
    if !matches!(zip, Zip::Valid(_)) {
        let (z, s) = zip_at_start(t, Format::Jp);
        if matches!(z, Zip::Valid(_)) {
            zip = z;
            start = s;
            end = t.len();
        }
    }
    if end <= start {
        return CityParts { city: None, state: None, zip, note: None };
    }
    let last_comma = (start + 1..end).rev().find(|&k| t.comma_before(k));
    if let Some(k) = last_comma
        && is_jp_prefecture(t.span(k, end))
    {
        let city_start = (start + 1..k).rev().find(|&j| t.comma_before(j)).unwrap_or(start);
        let note = (city_start > start).then_some("the text before the city was dropped");
        return CityParts {
            city: city_of(t.span(city_start, k)),
            state: state_text(t.span(k, end)),
            zip,
            note,
        };
    }
    if end - start >= 2 && is_jp_prefecture(t.text(end - 1)) {
        return CityParts {
            city: city_of(t.span(start, end - 1)),
            state: state_text(t.text(end - 1)),
            zip,
            note: None,
        };
    }
    CityParts { city: city_of(t.span(start, end)), state: None, zip, note: None }
}

const BR_STATES: &[&str] = &[
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA", "PB", "PR",
    "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
];

fn brazil(t: &Tokens<'_>) -> CityParts {
    let (mut zip, mut end) = zip_at_end(t, t.len(), Format::Br);
    let mut start = 0;
    if !matches!(zip, Zip::Valid(_)) {
        let (z, s) = zip_at_start(t, Format::Br);
        if matches!(z, Zip::Valid(_)) || zip == Zip::Missing && z == Zip::Invalid {
            zip = z;
            start = s;
            end = t.len();
        }
    }
    let rest = t.span(start, end).trim_end_matches([',', ';', '-', ' ']).trim_end();
    let n = rest.len();
    if n > 3
        && let (Some(uf), Some(before)) = (rest.get(n - 2..), rest.get(..n - 2))
        && before.ends_with([' ', '-', '/', ','])
        && BR_STATES.iter().any(|s| s.eq_ignore_ascii_case(uf))
    {
        return CityParts {
            city: city_of(before),
            state: Some(uf.to_ascii_uppercase()),
            zip,
            note: None,
        };
    }
    CityParts { city: city_of(rest), state: None, zip, note: None }
}

fn generic(t: &Tokens<'_>) -> CityParts {
    let n = t.len();
    if n == 0 {
        return CityParts { city: None, state: None, zip: Zip::Missing, note: None };
    }
    let first = t.text(0);
    let last = t.text(n - 1);
    let short_digits =
        |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if n >= 2 && has_digit(first) {
        if n >= 3
            && short_digits(first)
            && short_digits(t.text(1))
            && t.text(1).len() <= 3
            && !t.comma_before(1)
        {
            let zip = Format::Generic.normalize(&join2(first, t.text(1)));
            if let Some(z) = zip {
                return split_city_state(t, 2, n, Zip::Valid(z), StatePart::AfterComma);
            }
        }
        let first = strip_country_prefix(first).unwrap_or(first);
        let zip = Format::Generic.normalize(first).map_or(Zip::Invalid, Zip::Valid);
        return split_city_state(t, 1, n, zip, StatePart::AfterComma);
    }
    if n >= 2 && has_digit(last) {
        let zip = Format::Generic.normalize(last).map_or(Zip::Invalid, Zip::Valid);
        return split_city_state(t, 0, n - 1, zip, StatePart::AfterComma);
    }
    split_city_state(t, 0, n, Zip::Missing, StatePart::AfterComma)
}

/// A city line read without a country line, when its layout names the country unambiguously:
/// a U.S. state and ZIP, a Canadian province and postal code, an Australian state and
/// postcode, a UK postcode, `Singapore 123456`, or an Irish Eircode.
pub(crate) fn infer(line: &str) -> Option<(CountryRef, CityLine)> {
    let t = tokens(line)?;
    let n = t.len();
    let full =
        |p: &CityParts| p.state.is_some() && matches!(p.zip, Zip::Valid(_)) && p.city.is_some();
    for (alpha2, regions, format) in [
        ("US", Regions::Us, Format::Us),
        ("CA", Regions::Ca, Format::Ca),
        ("AU", Regions::Au, Format::Digits(4)),
    ] {
        // Only a line that ends in this country's postcode is worth reading for its state.
        let (zip, end) = zip_at_end(&t, n, format);
        if !matches!(zip, Zip::Valid(_)) {
            continue;
        }
        let parts = state_before(&t, regions, zip, end);
        if full(&parts) {
            return finish(country(alpha2), parts).ok().map(|c| (country(alpha2), c));
        }
    }
    if n >= 2 {
        let (zip, end) = zip_at_end(&t, n, Format::Gb);
        if matches!(zip, Zip::Valid(_)) && end > 0 {
            return finish(country("GB"), zip_last_layout(&t, Format::Gb))
                .ok()
                .map(|c| (country("GB"), c));
        }
        if Key::new(t.text(0)).is_some_and(|k| k.as_str() == "SINGAPORE")
            && let (Zip::Valid(_), _) = zip_at_end(&t, n, Format::Digits(6))
        {
            return finish(country("SG"), zip_last_layout(&t, Format::Digits(6)))
                .ok()
                .map(|c| (country("SG"), c));
        }
        let (zip, end) = zip_at_end(&t, n, Format::Ie);
        if matches!(zip, Zip::Valid(_)) && end > 0 {
            return finish(country("IE"), zip_last_layout(&t, Format::Ie))
                .ok()
                .map(|c| (country("IE"), c));
        }
    }
    None
}

/// What a U.S. reading of a line found, for errors when nothing else fits.
pub(crate) fn us_partial(line: &str) -> Option<CityParts> {
    let t = tokens(line)?;
    Some(state_zip_last(&t, Regions::Us, Format::Us))
}

/// A country written after the city line (`Menlo Park, CA 94304 USA`): the country and the rest
/// of the line.
pub(crate) fn split_trailing_country(line: &str) -> Option<(CountryRef, &str)> {
    let t = Tokens::new(line)?;
    let n = t.len();
    // No country's name has a digit: only the trailing tokens without one can name it.
    let wordy = (0..n).rev().take_while(|&i| !has_digit(t.text(i))).count();
    for k in (1..=n.saturating_sub(1).min(5).min(wordy)).rev() {
        let s = n - k;
        if let Some(c) = Key::new(t.span(s, n)).and_then(|k| lookup_key_common(k.as_bytes())) {
            let start = t.tok(s)?.start();
            return Some((c, line.get(..start)?));
        }
    }
    None
}

fn country(alpha2: &'static str) -> CountryRef {
    CountryRef { alpha2, territory: None }
}

/// A city as typed, cleaned (for structured `City` fields).
pub(crate) fn clean_city(s: &str) -> String {
    clean_field(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        line: &str,
        alpha2: &'static str,
    ) -> Result<(String, Option<String>, Option<String>), AddressErrorCode> {
        parse_for(line, country(alpha2)).map(|c| (c.city, c.state, c.zip))
    }

    fn ok(
        city: &str,
        state: Option<&str>,
        zip: Option<&str>,
    ) -> Result<(String, Option<String>, Option<String>), AddressErrorCode> {
        Ok((city.to_string(), state.map(str::to_string), zip.map(str::to_string)))
    }

    #[test]
    fn us_lines() {
        assert_eq!(
            parse("Menlo Park, CA  94304", "US"),
            ok("Menlo Park", Some("CA"), Some("94304"))
        );
        assert_eq!(
            parse("St. Louis, MO 63101-1234", "US"),
            ok("St. Louis", Some("MO"), Some("63101-1234"))
        );
        assert_eq!(
            parse("Springfield, Illinois 62701", "US"),
            ok("Springfield", Some("IL"), Some("62701"))
        );
        assert_eq!(
            parse("Charleston West Virginia 25301", "US"),
            ok("Charleston", Some("WV"), Some("25301"))
        );
        assert_eq!(parse("APO AE 09012", "US"), ok("APO", Some("AE"), Some("09012")));
        assert_eq!(parse("Springfield, IL", "US"), Err(AddressErrorCode::MissingPostalCode));
        assert_eq!(parse("Springfield 62701", "US"), Err(AddressErrorCode::MissingState));
        assert_eq!(parse("Boston, MA 2110", "US"), Err(AddressErrorCode::InvalidPostalCode));
    }

    #[test]
    fn canada_and_australia() {
        assert_eq!(parse("Toronto ON M5V 2T6", "CA"), ok("Toronto", Some("ON"), Some("M5V 2T6")));
        assert_eq!(
            parse("Toronto, Ontario M5V2T6", "CA"),
            ok("Toronto", Some("ON"), Some("M5V 2T6"))
        );
        assert_eq!(
            parse("Montréal (Québec) H3Z 2Y7", "CA"),
            ok("Montréal", Some("QC"), Some("H3Z 2Y7"))
        );
        assert_eq!(parse("Sydney NSW 2000", "AU"), ok("Sydney", Some("NSW"), Some("2000")));
    }

    #[test]
    fn europe() {
        assert_eq!(parse("London SW1A 1AA", "GB"), ok("London", None, Some("SW1A 1AA")));
        assert_eq!(parse("10115 Berlin", "DE"), ok("Berlin", None, Some("10115")));
        assert_eq!(parse("CH-8001 Zürich", "CH"), ok("Zürich", None, Some("8001")));
        assert_eq!(parse("1012 AB Amsterdam", "NL"), ok("Amsterdam", None, Some("1012 AB")));
        assert_eq!(parse("00184 Roma RM", "IT"), ok("Roma", Some("RM"), Some("00184")));
        assert_eq!(parse("111 22 Stockholm", "SE"), ok("Stockholm", None, Some("111 22")));
        assert_eq!(parse("Dublin 2 D02 X285", "IE"), ok("Dublin 2", None, Some("D02 X285")));
        assert_eq!(parse("1011 Berlin", "DE"), Err(AddressErrorCode::InvalidPostalCode));
    }

    #[test]
    fn elsewhere() {
        assert_eq!(
            parse("Chiyoda-ku, Tokyo 100-0001", "JP"),
            ok("Chiyoda-ku", Some("Tokyo"), Some("100-0001"))
        );
        assert_eq!(parse("Tokyo 100-0001", "JP"), ok("Tokyo", None, Some("100-0001")));
        assert_eq!(
            parse("01310-100 São Paulo - SP", "BR"),
            ok("São Paulo", Some("SP"), Some("01310-100"))
        );
        assert_eq!(
            parse("06600 Ciudad de México, CDMX", "MX"),
            ok("Ciudad de México", Some("CDMX"), Some("06600"))
        );
        assert_eq!(parse("Singapore 018989", "SG"), ok("Singapore", None, Some("018989")));
        assert_eq!(parse("Cape Town 8001", "ZA"), ok("Cape Town", None, Some("8001")));
    }

    #[test]
    fn trailing_country_and_inference() {
        let (c, rest) =
            split_trailing_country("Menlo Park, CA  94304 USA").unwrap_or_else(|| panic!("none"));
        assert_eq!(c.alpha2, "US");
        assert_eq!(rest.trim(), "Menlo Park, CA  94304");
        assert_eq!(infer("Toronto ON M5V 2T6").map(|(c, _)| c.alpha2), Some("CA"));
        assert_eq!(infer("London SW1A 1AA").map(|(c, _)| c.alpha2), Some("GB"));
        assert_eq!(infer("10115 Berlin").map(|(c, _)| c.alpha2), None);
    }
}
