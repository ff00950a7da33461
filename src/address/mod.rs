//! Address blocks: turns a QBO [`PhysicalAddress`] (structured, free-form or mixed) into
//! Ordoro's address fields, reading free-form blocks from the bottom (country, then the city
//! line in the country's own layout, then recipient, company and street lines).
//!
//! Pure: no I/O, no clock, no panic on any input. Bad input gets a typed [`AddressError`] with a
//! stable [`AddressErrorCode`], never a guess.

use serde::{Deserialize, Serialize};

use crate::model::qbo::PhysicalAddress;

/// What the host knows of the customer, to tell the recipient line from the company line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerContext {
    /// The customer's display name (`CustomerRef.name`).
    pub display_name: Option<String>,
    /// The customer's company name.
    pub company_name: Option<String>,
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

/// Parses a QBO address.
pub fn parse_address(
    address: &PhysicalAddress,
    customer: &CustomerContext,
) -> Result<ParsedAddress, AddressError> {
    let _ = customer;
    let raw_lines: Vec<String> = address.lines().iter().flatten().map(|s| s.to_string()).collect();
    Err(AddressError {
        code: AddressErrorCode::UnsupportedLayout,
        message: "address parsing is not implemented yet".into(),
        raw_lines,
    })
}

/// Parses a block of lines as typed into QBO's address box.
pub fn parse_lines<S: AsRef<str>>(
    lines: &[S],
    customer: &CustomerContext,
) -> Result<ParsedAddress, AddressError> {
    parse_address(&PhysicalAddress::from_lines(lines), customer)
}
