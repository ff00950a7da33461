//! Address blocks: turns a QBO [`PhysicalAddress`] (structured, free-form or mixed) into
//! Ordoro's address fields, reading free-form blocks from the bottom (country, then the city
//! line in the country's own layout, then recipient, company and street lines).
//!
//! Pure: no I/O, no clock, no panic on any input. Bad input gets a typed [`AddressError`] with a
//! stable [`AddressErrorCode`], never a guess.
//!
//! # How a block is read
//!
//! - **Cleaning first**: control characters (NUL, escape, ...) and invisible format characters
//!   (zero-width space, byte-order mark, soft hyphen, direction marks, ...) are removed from
//!   every line and field before anything reads them (a vertical tab or form feed becomes a
//!   space; a zero-width joiner inside an emoji sequence stays); the raw lines kept for the
//!   order's notes are the cleaned ones. A line with no letter or digit is blank and skipped,
//!   unless it holds symbols: a recipient typed as emoji (`🎉🎉`) or other symbols (`★彡`) is
//!   kept as the name.
//! - **Free-form** (no `City`, `CountrySubDivisionCode` or `PostalCode`): blank lines are
//!   skipped; lines that are only a phone number or an e-mail address are dropped with a
//!   warning. The last line is the country when it names one, in any case: an ISO code, the
//!   English name or a short form (`UK`, `U.S.A.`), or the name in another language or the
//!   country's own (`Vereinigte Staaten`, `Allemagne`, `Verenigd Koninkrijk`, `Österreich`,
//!   `Magyarország`, from the Unicode CLDR, see below), also with its own code before or after
//!   it (`Germany DE`, `Canada (CA)`, `Australia - AU`). A two-letter U.S. state code under a
//!   U.S. city line that lacks its state is that state instead. The line above is the city line
//!   in that country's layout; a postcode alone on the last line (`London` / `SW1A 1AA`) joins
//!   the line above, and `City` / `ST` / `ZIP` typed on three lines of their own are one city
//!   line.
//! - **No country line**: the block is read in the company's country,
//!   [`AddressContext::default_country`] (QBO CompanyInfo's country; the host's setting), unless
//!   the block plainly says otherwise: a city line that can only be another country's (a U.S.
//!   state and ZIP, a Canadian province and postal code, an Australian state and postcode, a UK
//!   postcode, an Eircode, `Singapore 123456`) or a country written after the city line
//!   (`Menlo Park, CA  94304 USA`) wins. So under an Australian company `Perth WA 6004` and
//!   `Perth 6004` are Australian and `Springfield, IL 62704` is still the U.S.; under a German
//!   one `10115 Berlin` is German. With no default (or `US`), the city line must name its
//!   country by its layout as listed, else the error is `missing_country`.
//! - **A default country that is not an ISO 3166-1 alpha-2 code** (`Germany`, `UK`, `XX`) is
//!   never guessed around: a block that names no country of its own fails with
//!   `unknown_country` and a message naming the setting; blocks that name their country parse
//!   as usual. Case and surrounding spaces do not matter (`au`); a blank setting is no setting.
//!   A U.S. territory's code (`PR`) reads blocks as the U.S. with that state.
//!   [`iso_country_code`] is the test, for a host that checks its setting up front.
//! - **The city line**: `City, ST ZIP` takes a comma, a period (`Springfield. IL 62704`,
//!   `Springfield.IL 62704`) or nothing (`Springfield IL 62704`) between city and state. A
//!   postcode typed with spaces its format lacks (`6 0 0 4`, `9021 0`, `100 0001`) or without
//!   the space it has (`SW1A1AA`, `K1A0B1`, `1012AB`) is read and written in its national form.
//! - **Lines above the city line**, top-down: the first line that reads as a street (it starts
//!   with a number, has a number and a street word, or is a PO box; or has a number, like
//!   `Flat 3`) starts the street lines: it is `street1`, the rest are joined into `street2`. A
//!   line that starts with digits but has no street or unit word above a line with a street
//!   word is a name, not the street (`1-800-FLOWERS`, `3M`, `24 Hour Fitness` above `12 Main
//!   St`). Lines above the street are the recipient (`name`), then the `company`; further lines
//!   are appended to the company. With a [`AddressContext`], a line equal to the display name is
//!   the name and a line equal to the company name is the company, wherever they stand; the
//!   name falls back to the customer's display name when no line gives one.
//! - **Puerto Rico urbanizations** (`Urb Villa Carolina`, `URB. LAS LOMAS`, `Urbanización ...`)
//!   are a second street line wherever they are typed, above or below the street: `street1` is
//!   the numbered street and the urbanization goes to `street2` (first, when typed above it).
//! - **`Attn:` lines** (`Attn:`, `Attention:`, `ATTN`, `FAO`, `z. Hd.`), in any position: the
//!   text after the prefix is the recipient `name`, and the line that would otherwise be the
//!   name becomes the company (`Acme Corp` / `Attn: Jane Doe` gives name `Jane Doe`, company
//!   `Acme Corp`). When the name is already taken (by the customer's display name, or because
//!   two other lines above the street already read as recipient and company), the `Attn:` line
//!   is appended to the company as typed.
//! - **`c/o` lines** (`c/o`, `C/O:`, `c/-`, `care of`, `in care of`), in any position, go to the
//!   company, as typed (`c/o Jane Doe`), after any company line.
//! - **Structured** (any of `City`, `CountrySubDivisionCode`, `PostalCode`): the fields are used;
//!   `Line1` is the street (lines above the first numbered street that match the customer, or
//!   read as names, are the name and company); the name otherwise comes from the customer's
//!   display name and the company from its company name. No `Country` means the company's
//!   country (the U.S. without one), unless the state and postcode fit it not and fit exactly
//!   one other country with states (`IL` / `62704` under an Australian company is the U.S.;
//!   `WA` / `6004` under a U.S. one, or none, is Australia). **Mixed** input (some fields, the
//!   rest in the lines) takes the missing parts from the last line.
//! - **Per-country notes**: Japan `Chiyoda-ku, Tokyo 100-0001` (or a ward line above
//!   `Tokyo 100-0001`) gives city `Chiyoda-ku`, state `Tokyo`; a lone `Tokyo 100-0001` gives
//!   city `Tokyo` and no state. Italy's province code (`Roma RM`, `Milano (MI)`), Brazil's UF
//!   (`São Paulo - SP`) and the part after the comma in Mexico and Spain (`Ciudad de México,
//!   CDMX`) are the state, as typed. Ireland's county line (`Co. Cork`) is the state; Dublin's
//!   districts stay in the city (`Dublin 2`). A UK county after the town (`Guildford, Surrey`)
//!   is dropped with a warning. Countries without a layout of their own take the postcode first
//!   or last, and a part after a comma as the state.
//! - **Normalised output**: trimmed, white space folded; U.S., Canadian and Australian states as
//!   official codes; U.S. territories and military addresses are country `US` with their state
//!   code; postcodes in their national form (ZIP+4 with `-`, `A1A 1A1`, `SW1A 1AA`, `1012 AB`,
//!   `100-0001`, `01310-100`); trailing `,` `;` dropped from every field and a trailing `.` from
//!   city, ZIP and country. Names and streets keep their case; a street line is never split.
//!
//! # Errors
//!
//! An incomplete address stays an error: nothing ships to a guess. [`AddressError::message`] is
//! one sentence for the merchant that names what was found, what is missing or wrong, and how
//! to fix it in QuickBooks, in the country's terms (`the city line `Perth WA` has no postcode;
//! add the 4-digit postcode after the state in this address in QuickBooks`). It starts in lower
//! case and holds no colon of its own (only what was typed may bring one), so a caller can put a
//! label before it (the mapping writes `ship-to: ...`).
//!
//! # Country names
//!
//! Besides `celes` (ISO codes and English names) and a short hand list of forms merchants type
//! (`USA`, `BRD`, `U.A.E.`), the names come from the Unicode CLDR ([`CLDR_VERSION`]): every
//! country's name in 30 languages (German, French, Dutch, Spanish, Italian, Portuguese, the
//! Nordic and Central European languages, ...) and in its own official languages, checked in as
//! a generated table (`src/address/cldr_names.rs`, about 4,100 names) by
//! `tools/gen_country_names.py` from CLDR's npm data packages. A table rather than a crate: the
//! Rust crate that carries CLDR's territory names, ICU4X's `icu_experimental::displaynames`, is
//! experimental and answers only code to name, per locale, so the reverse lookup would build
//! this very table at run time from its data provider and every locale's data; the table costs
//! no dependency and 120 kB of source. Names only CLDR gives are read on a
//! country line of their own, never cut from the end of a city line (`Granada` is Grenada in
//! Spanish and a city in Spain).

mod city_line;
mod classify;
mod cldr_names;
mod country;
mod explain;
mod locate;
mod postcode;
mod region;
mod structured;
mod text;
mod upper;
mod words;

use serde::{Deserialize, Serialize};

use crate::model::qbo::PhysicalAddress;
use explain::{Failure, Found};

pub use country::{CountryRef, iso_country_code, lookup_country};

/// The Unicode CLDR release whose country names [`lookup_country`] knows (besides English names,
/// ISO codes and common short forms).
pub const CLDR_VERSION: &str = cldr_names::CLDR_VERSION;

/// What the host knows around a block: the customer, to tell the recipient line from the
/// company line, and the company's own country, for blocks that name none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressContext {
    /// The customer's display name (`CustomerRef.name`).
    pub display_name: Option<String>,
    /// The customer's company name.
    pub company_name: Option<String>,
    /// The country (ISO 3166-1 alpha-2, any case) of a block that names none: the QBO
    /// company's own. `None` (or blank) means the U.S. A value that is not an alpha-2 code makes
    /// every block that names no country fail with `unknown_country` (see the module doc).
    pub default_country: Option<String>,
}

/// A parsed address in Ordoro's fields, with the raw lines and any warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParsedAddress {
    /// Recipient.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Street line 1.
    pub street1: Option<String>,
    /// Street line 2.
    pub street2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province code; `None` where the country has none.
    pub state: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// The non-blank input lines as typed, for the order's notes.
    pub raw_lines: Vec<String>,
    /// Things noticed and handled (a phone number ignored, ...).
    pub warnings: Vec<String>,
}

/// Why an address could not be parsed. The codes are stable strings (see [`AddressErrorCode::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AddressErrorCode {
    /// No non-blank line and no field.
    EmptyInput,
    /// No street line.
    MissingStreetLine,
    /// No line reads as a city line.
    MissingCityLine,
    /// The country needs a state and none was found.
    MissingState,
    /// The country needs a postal code and none was found.
    MissingPostalCode,
    /// The country could not be determined.
    MissingCountry,
    /// The last line names no known country.
    UnknownCountry,
    /// The postal code does not fit the country's format.
    InvalidPostalCode,
    /// More than five non-blank lines.
    TooManyLines,
    /// A line over 500 characters.
    LineTooLong,
    /// The block's layout is not one this parser reads.
    UnsupportedLayout,
}

impl AddressErrorCode {
    /// Every code, in a stable order.
    pub const ALL: [AddressErrorCode; 11] = [
        AddressErrorCode::EmptyInput,
        AddressErrorCode::MissingStreetLine,
        AddressErrorCode::MissingCityLine,
        AddressErrorCode::MissingState,
        AddressErrorCode::MissingPostalCode,
        AddressErrorCode::MissingCountry,
        AddressErrorCode::UnknownCountry,
        AddressErrorCode::InvalidPostalCode,
        AddressErrorCode::TooManyLines,
        AddressErrorCode::LineTooLong,
        AddressErrorCode::UnsupportedLayout,
    ];

    /// The stable code, e.g. `missing_city_line`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressErrorCode::EmptyInput => "empty_input",
            AddressErrorCode::MissingStreetLine => "missing_street_line",
            AddressErrorCode::MissingCityLine => "missing_city_line",
            AddressErrorCode::MissingState => "missing_state",
            AddressErrorCode::MissingPostalCode => "missing_postal_code",
            AddressErrorCode::MissingCountry => "missing_country",
            AddressErrorCode::UnknownCountry => "unknown_country",
            AddressErrorCode::InvalidPostalCode => "invalid_postal_code",
            AddressErrorCode::TooManyLines => "too_many_lines",
            AddressErrorCode::LineTooLong => "line_too_long",
            AddressErrorCode::UnsupportedLayout => "unsupported_layout",
        }
    }
}

/// An address that could not be parsed: the code, a message for people, and the raw lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct AddressError {
    /// The stable code.
    pub code: AddressErrorCode,
    /// What was wrong and what to do.
    pub message: String,
    /// The non-blank input lines.
    pub raw_lines: Vec<String>,
}

impl AddressError {
    fn new(failure: &Failure, raw_lines: Vec<String>) -> AddressError {
        AddressError { code: failure.code, message: explain::message(failure), raw_lines }
    }
}

/// Longest line accepted, in characters.
const MAX_LINE_CHARS: usize = 500;
/// Most non-blank lines accepted.
const MAX_LINES: usize = 5;

/// The structured fields of an address, blank ones as `None`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) city: Option<&'a str>,
    pub(crate) state: Option<&'a str>,
    pub(crate) zip: Option<&'a str>,
    pub(crate) country: Option<&'a str>,
}

impl Fields<'_> {
    fn is_structured(&self) -> bool {
        self.city.is_some() || self.state.is_some() || self.zip.is_some()
    }
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !text::is_blank(s))
}

/// Parses a QBO address (structured, free-form or mixed).
///
/// ```
/// use qbo_ordoro::address::{AddressErrorCode, AddressContext, parse_address};
/// use qbo_ordoro::model::qbo::PhysicalAddress;
///
/// // Typed line by line into QBO's address box: free-form, read from the bottom.
/// let typed = PhysicalAddress {
///     line1: Some("Jane Doe".into()),
///     line2: Some("12 Main Street".into()),
///     line3: Some("Springfield, Illinois 62704".into()),
///     ..PhysicalAddress::default()
/// };
/// let parsed = parse_address(&typed, &AddressContext::default())?;
/// assert_eq!(parsed.name.as_deref(), Some("Jane Doe"));
/// assert_eq!(parsed.street1.as_deref(), Some("12 Main Street"));
/// assert_eq!(parsed.city.as_deref(), Some("Springfield"));
/// assert_eq!(parsed.state.as_deref(), Some("IL"));
/// assert_eq!(parsed.country.as_deref(), Some("US"));
///
/// // No guess: a U.S. city line without a state is an error with a stable code.
/// let no_state = PhysicalAddress {
///     line1: Some("12 Main Street".into()),
///     line2: Some("Springfield 62704".into()),
///     ..PhysicalAddress::default()
/// };
/// let err = parse_address(&no_state, &AddressContext::default()).unwrap_err();
/// assert_eq!(err.code, AddressErrorCode::MissingState);
/// # Ok::<(), qbo_ordoro::address::AddressError>(())
/// ```
pub fn parse_address(
    address: &PhysicalAddress,
    customer: &AddressContext,
) -> Result<ParsedAddress, AddressError> {
    let texts = [
        &address.line1,
        &address.line2,
        &address.line3,
        &address.line4,
        &address.line5,
        &address.city,
        &address.country_sub_division_code,
        &address.postal_code,
        &address.country,
    ];
    if texts.iter().any(|t| t.as_deref().is_some_and(text::has_invisible)) {
        // Rare: control or invisible characters are removed before anything reads the lines.
        let clean =
            |t: &Option<String>| t.as_deref().map(|s| text::strip_invisible(s).into_owned());
        let cleaned = PhysicalAddress {
            line1: clean(&address.line1),
            line2: clean(&address.line2),
            line3: clean(&address.line3),
            line4: clean(&address.line4),
            line5: clean(&address.line5),
            city: clean(&address.city),
            country_sub_division_code: clean(&address.country_sub_division_code),
            postal_code: clean(&address.postal_code),
            country: clean(&address.country),
            ..address.clone()
        };
        return parse_clean_address(&cleaned, customer);
    }
    parse_clean_address(address, customer)
}

fn parse_clean_address(
    address: &PhysicalAddress,
    customer: &AddressContext,
) -> Result<ParsedAddress, AddressError> {
    let mut lines = LineList::default();
    for line in address.lines().into_iter().flatten() {
        lines.push_text(line);
    }
    let fields = Fields {
        city: non_blank(address.city.as_deref()),
        state: non_blank(address.country_sub_division_code.as_deref()),
        zip: non_blank(address.postal_code.as_deref()),
        country: non_blank(address.country.as_deref()),
    };
    parse_block(&lines, fields, customer)
}

/// Parses a block of lines as typed into QBO's address box (any number of lines; blank lines
/// are skipped, more than five non-blank lines is an error).
pub fn parse_lines<S: AsRef<str>>(
    lines: &[S],
    customer: &AddressContext,
) -> Result<ParsedAddress, AddressError> {
    if lines.iter().any(|l| text::has_invisible(l.as_ref())) {
        let cleaned: Vec<String> =
            lines.iter().map(|l| text::strip_invisible(l.as_ref()).into_owned()).collect();
        return parse_clean_lines(&cleaned, customer);
    }
    parse_clean_lines(lines, customer)
}

fn parse_clean_lines<S: AsRef<str>>(
    lines: &[S],
    customer: &AddressContext,
) -> Result<ParsedAddress, AddressError> {
    let mut kept = LineList::default();
    for line in lines {
        kept.push_text(line.as_ref());
    }
    parse_block(&kept, Fields::default(), customer)
}

/// The non-blank input lines: the first few on the stack, any more in a vector (only blocks
/// that are about to fail with `too_many_lines` have more).
struct LineList<'a> {
    few: text::Few<&'a str>,
    more: Vec<&'a str>,
}

impl Default for LineList<'_> {
    fn default() -> Self {
        LineList { few: text::Few::new(""), more: Vec::new() }
    }
}

impl<'a> LineList<'a> {
    /// Adds the non-blank lines of `text` (a QBO line may hold line breaks), in one pass.
    fn push_text(&mut self, text: &'a str) {
        // The usual line has no line break; the check is branch-free so the compiler can scan
        // several bytes at a time.
        let breaks = text.bytes().fold(false, |acc, b| acc | (b == b'\n') | (b == b'\r'));
        if !breaks {
            let first_alnum = text.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric);
            if (first_alnum || !text::is_blank(text)) && !self.few.push(text) {
                self.more.push(text);
            }
            return;
        }
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut content = false;
        let mut other = false;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.push_segment(text, start, i, content, other);
                start = i + 1;
                content = false;
                other = false;
            } else {
                content |= b.is_ascii_alphanumeric();
                other |= b >= 0x80;
            }
        }
        self.push_segment(text, start, bytes.len(), content, other);
    }

    /// Keeps `text[start..end]` when it has a letter or digit (checking non-ASCII ones only when
    /// there is no ASCII one).
    fn push_segment(
        &mut self,
        text: &'a str,
        start: usize,
        end: usize,
        ascii_alnum: bool,
        non_ascii: bool,
    ) {
        let Some(line) = text.get(start..end) else { return };
        if (ascii_alnum || (non_ascii && !text::is_blank(line))) && !self.few.push(line) {
            self.more.push(line);
        }
    }

    fn len(&self) -> usize {
        self.few.as_slice().len() + self.more.len()
    }

    fn raw_lines(&self) -> Vec<String> {
        self.few.as_slice().iter().chain(&self.more).map(|s| s.to_string()).collect()
    }
}

fn parse_block(
    list: &LineList<'_>,
    fields: Fields<'_>,
    customer: &AddressContext,
) -> Result<ParsedAddress, AddressError> {
    let raw = list.few.as_slice();
    let raw_lines = || list.raw_lines();
    let fail = |code, found| Err(AddressError::new(&Failure::new(code, found), raw_lines()));
    if list.len() == 0 && !fields.is_structured() && fields.country.is_none() {
        return fail(AddressErrorCode::EmptyInput, Found::Nothing);
    }
    let too_long = |s: &str| s.len() > MAX_LINE_CHARS && s.trim().chars().count() > MAX_LINE_CHARS;
    let field_values = [fields.city, fields.state, fields.zip, fields.country];
    if raw.iter().chain(&list.more).any(|l| too_long(l))
        || field_values.iter().flatten().any(|f| too_long(f))
    {
        return fail(AddressErrorCode::LineTooLong, Found::Nothing);
    }
    if list.len() > MAX_LINES {
        return fail(AddressErrorCode::TooManyLines, Found::LineCount(list.len()));
    }
    let mut warnings = Vec::new();
    let mut kept = text::Few::new("");
    for &line in raw {
        // One pass finds what the phone and e-mail tests need; most lines need neither.
        let digits = line.bytes().filter(u8::is_ascii_digit).count();
        let at = line.as_bytes().contains(&b'@');
        if digits >= 6 && classify::is_phone(line) {
            warnings.push(format!("phone number line ignored: {}", line.trim()));
        } else if at && classify::is_email(line) {
            warnings.push(format!("e-mail line ignored: {}", line.trim()));
        } else {
            kept.push(line);
        }
    }
    let kept = kept.as_slice();
    let result = if fields.is_structured() {
        structured::parse(kept, fields, customer, &mut warnings)
    } else {
        parse_free_form(kept, fields.country, customer, &mut warnings)
    };
    match result {
        Ok(mut parsed) => {
            parsed.raw_lines = raw_lines();
            parsed.warnings = warnings;
            Ok(parsed)
        }
        Err(failure) => Err(AddressError::new(&failure, raw_lines())),
    }
}

fn parse_free_form(
    kept: &[&str],
    country_field: Option<&str>,
    customer: &AddressContext,
    warnings: &mut Vec<String>,
) -> Result<ParsedAddress, Failure> {
    let mut body = kept;
    let mut country = None;
    if let Some((last, rest)) = kept.split_last()
        && let Some(c) = locate::country_line(last, rest.last().copied())
    {
        country = Some(c);
        body = rest;
    }
    if country.is_none()
        && let Some(field) = country_field
    {
        let found = || Found::CountryField(field.to_string());
        country = Some(
            lookup_country(field)
                .ok_or_else(|| Failure::new(AddressErrorCode::UnknownCountry, found()))?,
        );
    }
    let Some(&city_text) = body.last() else {
        let found = kept.last().map_or(Found::Nothing, |l| Found::CityLine(l.to_string()));
        let failure = Failure::new(AddressErrorCode::MissingCityLine, found);
        return Err(failure.in_country(country.map(|c| c.alpha2)));
    };
    let default = match country {
        Some(_) => None,
        None => default_for(customer)?,
    };
    let located = match (country, default) {
        (Some(c), _) => locate::locate_city(body, Some(c)),
        (None, Some(d)) => locate::locate_default(body, d),
        (None, None) => locate::locate_city(body, None),
    }
    .map_err(|code| {
        let read_in = country.or(default).map_or("US", |c| c.alpha2);
        let found = match code {
            AddressErrorCode::UnknownCountry => Found::CountryLine(city_text.to_string()),
            _ => Found::CityLine(city_text.to_string()),
        };
        Failure::new(code, found).in_country(Some(read_in))
    })?;
    let upper_lines = body.get(..located.start).unwrap_or(&[]);
    let upper = upper::read_upper(upper_lines, customer, false, warnings).map_err(|code| {
        let city_lines = body.get(located.start..).unwrap_or(&[]).join(" / ");
        Failure::new(code, Found::CityLine(city_lines)).in_country(Some(located.country.alpha2))
    })?;
    if let Some(note) = located.city.note {
        warnings.push(note.to_string());
    }
    Ok(ParsedAddress {
        name: upper.name.or_else(|| context_name(customer)),
        company: upper.company,
        street1: upper.street1,
        street2: upper.street2,
        city: Some(located.city.city),
        state: located.city.state,
        zip: located.city.zip,
        country: Some(located.country.alpha2.to_string()),
        raw_lines: Vec::new(),
        warnings: Vec::new(),
    })
}

/// The company's default country for a block that names none: `None` for the U.S. (unset, or
/// set to `US`), whose blocks are read by their layout as they always were; an error naming
/// the setting when it is not an ISO alpha-2 code.
pub(crate) fn default_for(customer: &AddressContext) -> Result<Option<CountryRef>, Failure> {
    let setting = customer.default_country.as_deref();
    match country::default_country(setting) {
        Ok(Some(c)) if c.alpha2 == "US" && c.territory.is_none() => Ok(None),
        Ok(found) => Ok(found),
        Err(()) => Err(Failure::new(
            AddressErrorCode::UnknownCountry,
            Found::BadDefault(setting.unwrap_or_default().to_string()),
        )),
    }
}

/// The customer's display name, cleaned, when it has one.
pub(crate) fn context_name(customer: &AddressContext) -> Option<String> {
    non_blank(customer.display_name.as_deref()).map(|n| text::clean_field(n, false))
}
