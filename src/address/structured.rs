//! Structured and mixed addresses: `City`, `CountrySubDivisionCode`, `PostalCode` and `Country`
//! fields are used as given (normalised and checked), and whatever they lack is read from the
//! last line; the lines above are the street lines, after any name or company lines.

use super::city_line::{
    self, CityParts, Zip, layout_for, parse_for, parse_parts, regions_for, requires_state,
    requires_zip, zip_format,
};
use super::classify::{StreetKind, street_kind};
use super::country::{CountryRef, lookup_country};
use super::explain::{Failure, Found};
use super::locate::country_line;
use super::postcode::Format;
use super::text::{clean_field, same_key};
use super::upper::read_upper;
use super::words::has_street_word;
use super::{AddressContext, AddressErrorCode, Fields, ParsedAddress, context_name, default_for};

/// Parses a structured or mixed address.
pub(crate) fn parse(
    kept: &[&str],
    fields: Fields<'_>,
    customer: &AddressContext,
    warnings: &mut Vec<String>,
) -> Result<ParsedAddress, Failure> {
    let mut body = kept;
    let country = match fields.country {
        Some(text) => lookup_country(text).ok_or_else(|| {
            Failure::new(AddressErrorCode::UnknownCountry, Found::CountryField(text.to_string()))
        })?,
        None => match kept.split_last() {
            Some((last, rest)) if country_line(last, rest.last().copied()).is_some() => {
                body = rest;
                country_line(last, rest.last().copied())
                    .ok_or(AddressErrorCode::UnsupportedLayout)?
            }
            _ => country_from_fields(fields, default_for(customer)?),
        },
    };
    let found = || Found::Fields {
        city: fields.city.map(str::to_string),
        state: fields.state.map(str::to_string),
        zip: fields.zip.map(str::to_string),
    };
    let fail = |code| Failure::new(code, found()).in_country(Some(country.alpha2));
    if let Some((last, rest)) = body.split_last()
        && fields.country.is_some()
        && lookup_country(last).is_some_and(|c| c.alpha2 == country.alpha2)
    {
        body = rest;
    }
    let mut city = fields.city.map(city_line::clean_city);
    let mut state = match fields.state {
        Some(s) => Some(normalize_state(country, s).map_err(fail)?),
        None => None,
    };
    let mut zip = match fields.zip {
        Some(z) => Some(normalize_zip(country, z).map_err(fail)?),
        None => None,
    };
    // The last line may hold the city line (mixed input), or repeat the fields.
    if let Some((last, rest)) = body.split_last()
        && street_kind(last) != StreetKind::Strong
        && !has_street_word(last)
    {
        let parts = line_parts(last, country, city.is_none());
        if let Some(parts) = parts {
            let same_city =
                city.as_deref().zip(parts.city.as_deref()).is_some_and(|(a, b)| same_key(a, b));
            if city.is_none() || same_city {
                city = city.or(parts.city);
                state = state.or(parts.state);
                if zip.is_none()
                    && let Zip::Valid(z) = parts.zip
                {
                    zip = Some(z);
                }
                body = rest;
            }
        }
    }
    let state = state.or_else(|| country.territory.map(str::to_string));
    if city.is_none() {
        return Err(fail(AddressErrorCode::MissingCityLine));
    }
    if requires_state(country.alpha2) && state.is_none() {
        return Err(fail(AddressErrorCode::MissingState));
    }
    if requires_zip(country.alpha2) && zip.is_none() {
        return Err(fail(AddressErrorCode::MissingPostalCode));
    }
    let upper = read_upper(body, customer, true, warnings).map_err(fail)?;
    let name = upper.name.or_else(|| context_name(customer));
    let company = upper.company.or_else(|| {
        customer
            .company_name
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .filter(|c| !name.as_deref().is_some_and(|n| same_key(n, c)))
            .map(|c| clean_field(c, false))
    });
    Ok(ParsedAddress {
        name,
        company,
        street1: upper.street1,
        street2: upper.street2,
        city,
        state,
        zip,
        country: Some(country.alpha2.to_string()),
        raw_lines: Vec::new(),
        warnings: Vec::new(),
    })
}

/// The city-line parts of the last line: a full city line, or (when the city field is empty)
/// the city and state with the postcode taken from the field.
fn line_parts(line: &str, country: CountryRef, need_city: bool) -> Option<CityParts> {
    if let Ok(c) = parse_for(line, country) {
        return Some(CityParts {
            city: Some(c.city),
            state: c.state,
            zip: Zip::Valid(c.zip.unwrap_or_default()),
            note: None,
        })
        .map(|mut p| {
            if p.zip == Zip::Valid(String::new()) {
                p.zip = Zip::Missing;
            }
            p
        });
    }
    if !need_city {
        return None;
    }
    let parts = parse_parts(line, layout_for(country.alpha2))?;
    if parts.city.is_some() {
        return Some(CityParts { zip: Zip::Missing, ..parts });
    }
    None
}

/// No `Country` field: the company's country (`default`; the U.S. when `None`), unless the state
/// and postcode fit it not and fit one other country with states exactly (`IL` / `62704` under
/// an Australian company is the U.S.; `WA` / `6004` under a U.S. one is Australia).
fn country_from_fields(fields: Fields<'_>, default: Option<CountryRef>) -> CountryRef {
    let own = default.unwrap_or(CountryRef { alpha2: "US", territory: None });
    if own.territory.is_some() {
        return own;
    }
    let state_in = |alpha2: &str| {
        regions_for(alpha2).is_some_and(|r| fields.state.is_some_and(|s| r.lookup(s).is_some()))
    };
    // Only a country whose state table holds the state can win over the company's own; with
    // none but the own one (`IL` under a U.S. company) the postcode need not be read here.
    let others = ["US", "CA", "AU"].map(|c| c != own.alpha2 && state_in(c));
    if !others.contains(&true) {
        return own;
    }
    let zip_fits = |alpha2: &str| {
        fields.zip.is_some_and(|z| normalize_zip_text(zip_format(alpha2), z).is_some())
    };
    if state_in(own.alpha2) && zip_fits(own.alpha2) {
        return own;
    }
    let mut fitting =
        ["US", "CA", "AU"].into_iter().zip(others).filter(|(c, other)| *other && zip_fits(c));
    match (fitting.next(), fitting.next()) {
        (Some((one, _)), None) => CountryRef { alpha2: one, territory: None },
        _ => own,
    }
}

fn normalize_state(country: CountryRef, text: &str) -> Result<String, AddressErrorCode> {
    match regions_for(country.alpha2) {
        Some(r) => match r.lookup(text) {
            Some(code) => Ok(code.to_string()),
            None if requires_state(country.alpha2) => Err(AddressErrorCode::MissingState),
            None => Ok(clean_field(text, false)),
        },
        None => Ok(clean_field(text, false)),
    }
}

fn normalize_zip(country: CountryRef, text: &str) -> Result<String, AddressErrorCode> {
    let format = zip_format(country.alpha2);
    let cleaned = clean_field(text, true);
    match normalize_zip_text(format, &cleaned) {
        Some(z) => Ok(z),
        None if format == Format::Generic => Ok(cleaned.to_uppercase()),
        None => Err(AddressErrorCode::InvalidPostalCode),
    }
}

/// A `PostalCode` field in a format: as typed, without a country prefix (`D-10115`), or with
/// its inner spaces removed (`6 0 0 4`, `9021 0`).
fn normalize_zip_text(format: Format, text: &str) -> Option<String> {
    let text = text.trim();
    let stripped = super::postcode::strip_country_prefix(text).unwrap_or(text);
    format.normalize(stripped).or_else(|| {
        let compact: String = stripped.split_whitespace().collect();
        (compact.len() != stripped.len()).then(|| format.normalize(&compact)).flatten()
    })
}
