//! The messages of [`super::AddressError`]: one sentence that names what was found, says what is
//! missing or wrong, and how the merchant fixes it in QuickBooks, per code and, where the
//! country's layout matters, per country. The mapping puts `ship-to: ` or `bill-to: ` before the
//! sentence, so it starts in lower case, holds no colon of its own (a `;` joins what was found
//! to the fix) and has no final period.

use super::AddressErrorCode;
use super::city_line::{Layout, layout_for};
use super::postcode::Format;
use super::region::Regions;

/// What the parser had found when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// Nothing worth naming.
    Nothing,
    /// The line read as the city line (or the lines, joined with ` / `).
    CityLine(String),
    /// The last line, read as a country.
    CountryLine(String),
    /// QBO's `Country` field.
    CountryField(String),
    /// The structured fields, as given: city, state, postcode.
    Fields { city: Option<String>, state: Option<String>, zip: Option<String> },
    /// How many non-blank lines the block has.
    LineCount(usize),
    /// The company's default country setting, which is not an ISO code.
    BadDefault(String),
}

/// Why parsing failed: the code, what was found, and the country the block was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: AddressErrorCode,
    pub(crate) found: Found,
    pub(crate) country: Option<&'static str>,
}

impl Failure {
    pub(crate) fn new(code: AddressErrorCode, found: Found) -> Failure {
        Failure { code, found, country: None }
    }

    pub(crate) fn in_country(mut self, country: Option<&'static str>) -> Failure {
        self.country = self.country.or(country);
        self
    }
}

impl From<AddressErrorCode> for Failure {
    fn from(code: AddressErrorCode) -> Failure {
        Failure::new(code, Found::Nothing)
    }
}

/// Where the fix goes, said once for every message.
const IN_QBO: &str = "in this address in QuickBooks";

/// What a country calls its postcode, and how it is written.
struct Postcode {
    noun: &'static str,
    form: String,
    /// Where it goes on the city line.
    place: &'static str,
}

fn postcode(country: Option<&str>) -> Postcode {
    let Some(c) = country else {
        return Postcode { noun: "postal code", form: "postal code".into(), place: "" };
    };
    let layout = layout_for(c);
    let place = match layout {
        Layout::StateZipLast(..) => " after the state",
        Layout::ZipFirst(_) | Layout::Italy | Layout::Spain | Layout::Mexico => " before the city",
        Layout::ZipLast(_) | Layout::Japan => " after the city",
        Layout::Brazil | Layout::Generic => "",
    };
    let (noun, form) = match (c, super::city_line::zip_format(c)) {
        ("US", _) => ("ZIP code", "5-digit ZIP code (or ZIP+4)".to_string()),
        ("CA", _) => ("postal code", "postal code (`A1A 1A1`)".to_string()),
        (_, Format::Gb) => ("postcode", "postcode (`SW1A 1AA`)".to_string()),
        (_, Format::Ie) => ("Eircode", "Eircode (`D02 X285`)".to_string()),
        (_, Format::Nl) => ("postcode", "postcode (`1234 AB`)".to_string()),
        (_, Format::Jp) => ("postal code", "postal code (`123-4567`)".to_string()),
        (_, Format::Br) => ("CEP", "CEP (`12345-678`)".to_string()),
        (_, Format::Pt) => ("postcode", "postcode (`1234-567`)".to_string()),
        (_, Format::Se | Format::ThreeTwo) => ("postcode", "postcode (`123 45`)".to_string()),
        (_, Format::Pl) => ("postcode", "postcode (`12-345`)".to_string()),
        (_, Format::Digits(n)) => ("postcode", format!("{n}-digit postcode")),
        _ => ("postcode", "postcode".to_string()),
    };
    Postcode { noun, form, place }
}

/// What a country calls its states, and how they are written.
fn state_words(country: Option<&str>) -> (&'static str, &'static str) {
    match country {
        Some("CA") => ("province", "2-letter province code (`ON`, `QC`, `BC`, ...)"),
        Some("AU") => ("state", "state (`NSW`, `VIC`, `QLD`, `WA`, `SA`, `TAS`, `ACT` or `NT`)"),
        _ => ("state", "2-letter state code (`IL`, `CA`, `NY`, ...)"),
    }
}

/// How the country's city line is written, as an example.
fn layout_example(country: Option<&str>) -> &'static str {
    match country.map(layout_for) {
        None | Some(Layout::StateZipLast(Regions::Us, _)) => "`City, ST 12345`",
        Some(Layout::StateZipLast(Regions::Ca, _)) => "`City PR A1A 1A1`",
        Some(Layout::StateZipLast(Regions::Au, _)) => "`Suburb NSW 2000`",
        Some(Layout::ZipLast(Format::Gb)) => "`Town SW1A 1AA`",
        Some(Layout::ZipLast(_)) => "`Town 1234`",
        Some(Layout::ZipFirst(_) | Layout::Italy | Layout::Spain | Layout::Mexico) => {
            "`12345 City`"
        }
        Some(Layout::Japan) => "`Chiyoda-ku, Tokyo 100-0001`",
        Some(Layout::Brazil) => "`01310-100 São Paulo - SP`",
        Some(Layout::Generic) => "the postcode and the city",
    }
}

/// `the city line `X``, or the structured fields as given.
fn subject(found: &Found) -> String {
    match found {
        Found::CityLine(l) => format!("the city line `{}`", shorten(l)),
        Found::Fields { city, state, zip } => {
            let show = |v: &Option<String>| match v {
                Some(v) => format!("`{}`", shorten(v)),
                None => "empty".to_string(),
            };
            format!(
                "the address (City {}, State {}, Postal code {})",
                show(city),
                show(state),
                show(zip)
            )
        }
        _ => "the address".to_string(),
    }
}

fn structured(found: &Found) -> bool {
    matches!(found, Found::Fields { .. })
}

/// At most 60 characters of what was typed, so a message stays one readable sentence.
fn shorten(s: &str) -> String {
    let t = s.trim();
    if t.chars().count() <= 60 {
        return t.replace('`', "'");
    }
    let head: String = t.chars().take(57).collect();
    format!("{}...", head.replace('`', "'"))
}

/// The message for a failure.
pub(crate) fn message(f: &Failure) -> String {
    use AddressErrorCode::*;
    let c = f.country;
    let what = subject(&f.found);
    match f.code {
        EmptyInput => format!(
            "the address is empty; type the recipient, the street and the city line {IN_QBO}"
        ),
        LineTooLong => {
            format!("a line of the address is longer than 500 characters; shorten it {IN_QBO}")
        }
        TooManyLines => {
            let n = match f.found {
                Found::LineCount(n) => format!("{n} "),
                _ => String::new(),
            };
            format!(
                "the address has {n}non-blank lines, more than the five QuickBooks' address box \
                 holds; keep the recipient, company, street, city line and country to five lines \
                 {IN_QBO}"
            )
        }
        MissingStreetLine => format!(
            "no street line was found above {what}; add the street (number and street name, \
             or a PO box) on a line of its own above the city line {IN_QBO}"
        ),
        MissingCityLine if structured(&f.found) => {
            format!("{what} has no city; fill in the City field {IN_QBO}")
        }
        MissingCityLine => {
            let last = match &f.found {
                Found::CityLine(l) => {
                    format!(" (the last line `{}` does not read as one)", shorten(l))
                }
                _ => String::new(),
            };
            format!(
                "no city line was found{last}; add the city line, written as {}, as the last \
                 line above any country line {IN_QBO}",
                layout_example(c)
            )
        }
        MissingState => {
            let (noun, form) = state_words(c);
            if structured(&f.found) {
                format!("{what} has no {noun}; fill in the {form} in the State field {IN_QBO}")
            } else {
                format!(
                    "{what} has no {noun}; add the {form} between the city and the {}, as in {}, \
                     {IN_QBO}",
                    postcode(c).noun,
                    layout_example(c)
                )
            }
        }
        MissingPostalCode => {
            let p = postcode(c);
            if structured(&f.found) {
                format!(
                    "{what} has no {}; fill in the {} in the Postal code field {IN_QBO}",
                    p.noun, p.form
                )
            } else {
                format!("{what} has no {}; add the {}{} {IN_QBO}", p.noun, p.form, p.place)
            }
        }
        InvalidPostalCode => {
            let p = postcode(c);
            let whose = match c {
                Some("US") => "U.S. ".to_string(),
                Some(c) => format!("{c} "),
                None => String::new(),
            };
            format!(
                "the {} in {what} is not a valid {whose}{}; correct it to a {} {IN_QBO}",
                p.noun, p.noun, p.form
            )
        }
        MissingCountry => format!(
            "{what} does not say which country the address is in; add the country's name as \
             the last line {IN_QBO}, or set the company's country if the address is in it"
        ),
        UnknownCountry => match &f.found {
            Found::BadDefault(d) => format!(
                "the company's country setting `{}` is not an ISO 3166-1 alpha-2 code, so an \
                 address without a country line cannot be placed; set the company's country \
                 to a two-letter code such as `US` or `AU` (or add the country {IN_QBO})",
                shorten(d)
            ),
            Found::CountryField(v) => format!(
                "the Country field `{}` names no country; write the country's name or its \
                 ISO code (`DE`, `FR`, ...) in the Country field {IN_QBO}",
                shorten(v)
            ),
            Found::CountryLine(v) => format!(
                "the last line `{}` names no country; write the country's name or its ISO code \
                 (`DE`, `FR`, ...) as the last line {IN_QBO}",
                shorten(v)
            ),
            _ => format!(
                "the last line names no country; write the country's name or its ISO code \
                 (`DE`, `FR`, ...) as the last line {IN_QBO}"
            ),
        },
        UnsupportedLayout => format!(
            "{what} is not in a layout this parser reads; write it as {} {IN_QBO}",
            layout_example(c)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(code: AddressErrorCode, found: Found, country: Option<&'static str>) -> String {
        message(&Failure { code, found, country })
    }

    #[test]
    fn a_missing_postcode_names_the_line_and_the_fix() {
        let m = msg(
            AddressErrorCode::MissingPostalCode,
            Found::CityLine("Perth WA".into()),
            Some("AU"),
        );
        assert_eq!(
            m,
            "the city line `Perth WA` has no postcode; add the 4-digit postcode after the state \
             in this address in QuickBooks"
        );
    }

    #[test]
    fn every_message_is_one_sentence_after_a_label() {
        let founds = [
            Found::Nothing,
            Found::CityLine("Springfield 62704".into()),
            Found::CountryLine("Narnia".into()),
            Found::CountryField("Narnia".into()),
            Found::Fields { city: Some("Perth".into()), state: None, zip: None },
            Found::LineCount(7),
            Found::BadDefault("XX".into()),
        ];
        for code in AddressErrorCode::ALL {
            for found in &founds {
                for country in [None, Some("US"), Some("CA"), Some("AU"), Some("GB"), Some("DE")] {
                    let m = msg(code, found.clone(), country);
                    let labelled = format!("ship-to: {m}");
                    assert_eq!(labelled.matches(": ").count(), 1, "{labelled}");
                    assert!(!m.ends_with('.') && !m.contains('\n'), "{m}");
                    assert!(m.starts_with(|c: char| c.is_lowercase()), "{m}");
                    assert!(m.contains("QuickBooks"), "{m}");
                }
            }
        }
    }
}
