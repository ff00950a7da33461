//! Locating the bottom of a free-form block: the country line ([`country_line`]), then which of
//! the lines above it form the city line and in which country ([`locate_city`]). With a known
//! country this tries the last line in that country's layout, then joined with the line above
//! (`London` / `SW1A 1AA`), a country repeated at the end, a Japanese ward line above the
//! prefecture and an Irish county line under the town; without one it infers the country from
//! the city line's layout or a country written after it, and otherwise names what is missing.
//! Parsing one city line in a given layout is [`super::city_line`]'s.

use super::AddressErrorCode;
use super::city_line::{
    self, CityLine, Zip, infer, layout_for, parse_for, split_trailing_country, us_partial,
};
use super::classify::is_po_box;
use super::country::{CountryRef, lookup_country};
use super::region::Regions;
use super::text::{Key, Tokens, clean_field, has_digit};
use super::words::has_street_word;

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
    match country {
        Some(c) => locate_known(body, c),
        None => locate_unknown(body),
    }
}

/// Finds the city line of a block without a country line, read in the company's country `d`
/// unless the block plainly says otherwise: a city line that can only be another country's (a
/// U.S. state and ZIP under an Australian company), or a country written after the city line.
/// When `d`'s layout does not fit, the block's own layout may still name its country (`City`
/// / `ST` / `ZIP`); when neither does, the error is `d`'s, or `missing_country` when the line
/// reads as another country's city line.
pub(crate) fn locate_default(body: &[&str], d: CountryRef) -> Result<Located, AddressErrorCode> {
    let Some(&last) = body.last() else {
        return Err(AddressErrorCode::MissingCityLine);
    };
    let n = body.len();
    if let Some((country, city)) = infer(last) {
        return Ok(Located { country, city, start: n - 1 });
    }
    if let Some((c, rest)) = trailing_country(last)
        && let Ok(city) = parse_for(rest, c)
    {
        return Ok(Located { country: c, city, start: n - 1 });
    }
    match locate_known(body, d) {
        Ok(located) => Ok(located),
        Err(own) => match locate_unknown(body) {
            Ok(located) => Ok(located),
            Err(AddressErrorCode::MissingCountry) => Err(AddressErrorCode::MissingCountry),
            Err(_) => Err(own),
        },
    }
}

/// `City` / `ST` / `ZIP` typed on three lines of their own (the last three of `body`): the
/// three joined into one line, when the two lower lines are short and the top one is not a
/// street.
fn three_lines(body: &[&str]) -> Option<String> {
    let [.., top, mid, last] = body else { return None };
    let streety = is_streety(top) || is_streety(mid) || is_streety(last);
    if !short_line(last) || !short_line(mid) || streety || has_digit(top) {
        return None;
    }
    Some(join_lines(&join_lines(top, mid), last))
}

fn locate_known(body: &[&str], c: CountryRef) -> Result<Located, AddressErrorCode> {
    let Some((&last, rest)) = body.split_last() else {
        return Err(AddressErrorCode::MissingCityLine);
    };
    let above = rest.last().copied();
    let n = body.len();
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
    if let Some(joined) = three_lines(body)
        && let Ok(city) = parse_for(&joined, c)
    {
        return Ok(Located { country: c, city, start: n - 3 });
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

fn locate_unknown(body: &[&str]) -> Result<Located, AddressErrorCode> {
    let Some((&last, rest)) = body.split_last() else {
        return Err(AddressErrorCode::MissingCityLine);
    };
    let above = rest.last().copied();
    let n = body.len();
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
    if let Some(joined) = three_lines(body)
        && let Some((country, city)) = infer(&joined)
    {
        return Ok(Located { country, city, start: n - 3 });
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
