//! The address blocks both address benchmarks parse: a U.S. mix, an international mix and
//! structured addresses (`benches/address.rs` with criterion, `examples/address_rate.rs` in CPU
//! time).

use qbo_ordoro::model::qbo::PhysicalAddress;

/// Free-form U.S. blocks as merchants type them.
pub const US_MIX: &[&[&str]] = &[
    &["Kate Whelan", "45 First St.", "Menlo Park, CA  94304 USA"],
    &["Grace Pariente", "Cool Cars", "65 Ocean Dr.", "Half Moon Bay, CA  94213"],
    &["John Smith", "123 Main St.", "Watertown, MA  02472"],
    &["Jane Doe", "1600 Amphitheatre Pkwy", "Suite 200", "Mountain View, CA 94043-1351"],
    &["Robert Brown", "742 Evergreen Terrace", "Springfield, Illinois 62704"],
    &["Maria Garcia", "1 Gateway Arch", "St. Louis, MO 63102", "USA"],
    &["Ann Lee", "Empire State Realty", "350 Fifth Avenue", "New York, NY 10118"],
    &["Sam O'Neil", "PO Box 123", "Anchorage AK 99501"],
    &["Luis Rivera", "1050 Ave Ponce de Leon", "San Juan PR 00907"],
    &["SGT John Doe", "Unit 2050 Box 4190", "APO AP 96278-2050"],
    &["ACME Corp", "Attn: Jane Doe", "500 Market St", "San Francisco, CA 94105"],
    &["Zoe Hart", "85 Boylston St", "Boston, Massachusetts 02116-4123"],
];

/// Free-form blocks from other countries, the country on the last line.
pub const INTL_MIX: &[&[&str]] = &[
    &["Emma Tremblay", "290 Bremner Blvd", "Toronto ON M5V 3L9", "Canada"],
    &["Oliver Smith", "10 Downing Street", "London SW1A 2AA", "United Kingdom"],
    &["Hans Müller", "Unter den Linden 77", "10117 Berlin", "Deutschland"],
    &["Camille Martin", "8 Rue du Faubourg Saint-Honoré", "75008 Paris", "France"],
    &["Lotte de Vries", "Damrak 1", "1012 LG Amsterdam", "Netherlands"],
    &["Jack Wilson", "1 Macquarie St", "Sydney NSW 2000", "Australia"],
    &["Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku, Tokyo 100-0001", "Japan"],
    &["Sofía Hernández", "Paseo de la Reforma 222", "06600 Ciudad de México, CDMX", "México"],
    &["Pedro Souza", "Av. Paulista, 1578", "01310-200 São Paulo - SP", "Brasil"],
    &["Lukas Meier", "Bahnhofstrasse 1", "8001 Zürich", "Schweiz"],
    &["Wei Tan", "10 Bayfront Avenue", "Singapore 018956"],
    &["Siobhan Murphy", "1 Grafton Street", "Dublin 2 D02 X285", "Ireland"],
];

/// Structured QBO addresses.
pub fn structured() -> Vec<PhysicalAddress> {
    let a = |line1: &str, city: &str, state: Option<&str>, zip: &str, country: Option<&str>| {
        PhysicalAddress {
            line1: Some(line1.into()),
            city: Some(city.into()),
            country_sub_division_code: state.map(Into::into),
            postal_code: Some(zip.into()),
            country: country.map(Into::into),
            ..Default::default()
        }
    };
    vec![
        a("36 Willow Rd", "Menlo Park", Some("CA"), "94304", None),
        a("45 First St.", "Menlo Park", Some("CA"), "94304", Some("USA")),
        a("350 Mountain View Dr.", "South Orange", Some("New Jersey"), "07079-1234", None),
        a("290 Bremner Blvd", "Toronto", Some("ON"), "M5V3L9", Some("Canada")),
        a("10 Downing Street", "London", None, "SW1A 2AA", Some("United Kingdom")),
        a("Unter den Linden 77", "Berlin", None, "10117", Some("Germany")),
    ]
}
