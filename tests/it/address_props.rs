//! Properties of the address parser: (a) any generated address, rendered as a QBO block in each
//! supported layout, parses back to itself; (b) a block without a country line whose city line
//! fits the company's country is read in that country; (c) arbitrary text and line counts never
//! panic, and what they parse to is text they hold (each field's letters and digits appear, in
//! order, in one input line or name); (d) the committed regression files are replayed.

use proptest::prelude::*;
use proptest::sample::select;
use qbo_ordoro::address::{AddressContext, ParsedAddress, parse_address, parse_lines};
use qbo_ordoro::fuzz;
use qbo_ordoro::model::qbo::PhysicalAddress;

/// The eight Ordoro fields an address should parse to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    name: Option<String>,
    company: Option<String>,
    street1: String,
    street2: Option<String>,
    city: String,
    state: Option<String>,
    zip: Option<String>,
    country: &'static str,
}

fn fields(p: &ParsedAddress) -> Want {
    Want {
        name: p.name.clone(),
        company: p.company.clone(),
        street1: p.street1.clone().unwrap_or_default(),
        street2: p.street2.clone(),
        city: p.city.clone().unwrap_or_default(),
        state: p.state.clone(),
        zip: p.zip.clone(),
        country: match p.country.as_deref() {
            Some(c) => Box::leak(c.to_string().into_boxed_str()),
            None => "",
        },
    }
}

const NAMES: &[&str] = &[
    "Jane Doe",
    "John Smith",
    "Mark Cho",
    "Grace Pariente",
    "Dr. Emily Chen",
    "Sam O'Neil",
    "Hans Müller",
    "Léa Dubois",
    "Taro Yamada",
    "Sofía Hernández",
    "JOHN SMITH",
    "mary-kate olsen",
];
const COMPANIES: &[&str] = &[
    "Cool Cars",
    "Acme Corp",
    "Pye's Cakes",
    "Freeman Sporting Goods",
    "Musterfirma GmbH",
    "Smith & Sons LLC",
];
const STREET_NAMES: &[&str] =
    &["Main", "Oak", "Willow", "Cypress Hill", "Martin Luther King Jr", "First", "5th", "Ocean"];
const SUFFIXES: &[&str] =
    &["St", "St.", "Street", "Ave", "Avenue", "Rd", "Blvd", "Dr.", "Ln", "Way", "Pkwy", "Ct"];
const UNITS: &[&str] = &["Apt", "Suite", "Unit", "Ste", "Floor", "Bldg"];

fn person() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(NAMES).prop_map(str::to_string))
}

fn company() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, select(COMPANIES).prop_map(str::to_string))
}

fn us_street() -> impl Strategy<Value = String> {
    (1u32..99_999, select(STREET_NAMES), select(SUFFIXES))
        .prop_map(|(n, s, x)| format!("{n} {s} {x}"))
}

fn unit() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, (select(UNITS), 1u32..2000).prop_map(|(u, n)| format!("{u} {n}")))
}

/// The name, company and street lines at the top of a block, and what they parse to.
fn upper()
-> impl Strategy<Value = (Vec<String>, Option<String>, Option<String>, String, Option<String>)> {
    (person(), company(), us_street(), unit()).prop_map(|(name, company, street, unit)| {
        let company = if name.is_some() { company } else { None };
        let mut lines = Vec::new();
        lines.extend(name.clone());
        lines.extend(company.clone());
        lines.push(street.clone());
        lines.extend(unit.clone());
        (lines, name, company, street, unit)
    })
}

const US_CITIES: &[&str] = &[
    "Menlo Park",
    "Half Moon Bay",
    "St. Louis",
    "New York",
    "Kansas City",
    "Winston-Salem",
    "Coeur d'Alene",
    "Salt Lake City",
    "Virginia Beach",
    "Springfield",
    "O'Fallon",
    "MOUNTAIN VIEW",
];
const US_STATES: &[(&str, &str)] = &[
    ("CA", "California"),
    ("IL", "Illinois"),
    ("NY", "New York"),
    ("MO", "Missouri"),
    ("WV", "West Virginia"),
    ("NC", "North Carolina"),
    ("DC", "District of Columbia"),
    ("PR", "Puerto Rico"),
    ("TX", "Texas"),
    ("WA", "Washington"),
];

fn us_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (
        upper(),
        select(US_CITIES),
        select(US_STATES),
        any::<bool>(),
        0u32..100_000,
        prop::option::of(0u32..10_000),
        0usize..6,
        0usize..5,
    )
        .prop_map(
            |(
                (mut lines, name, company, street, unit),
                city,
                (code, full),
                use_full,
                zip5,
                plus4,
                layout,
                country,
            )| {
                let state_text = if use_full { full } else { code };
                let zip_text = match plus4 {
                    Some(p) if layout % 2 == 0 => format!("{zip5:05}-{p:04}"),
                    Some(p) => format!("{zip5:05} {p:04}"),
                    None => format!("{zip5:05}"),
                };
                let mut city_line = match layout {
                    0 => format!("{city}, {state_text}  {zip_text}"),
                    1 => format!("{city}, {state_text} {zip_text}"),
                    2 => format!("{city} {state_text} {zip_text}"),
                    3 => format!("{city},{state_text} {zip_text}"),
                    4 => format!("{city}, {state_text}, {zip_text}"),
                    _ => format!("  {city} ,  {state_text}   {zip_text} "),
                };
                match country {
                    1 => city_line.push_str(" USA"),
                    2 => city_line.push_str(", United States"),
                    _ => {}
                }
                lines.push(city_line);
                match country {
                    3 => lines.push("USA".into()),
                    4 => lines.push("United States of America".into()),
                    _ => {}
                }
                let zip = match plus4 {
                    Some(p) => format!("{zip5:05}-{p:04}"),
                    None => format!("{zip5:05}"),
                };
                let want = Want {
                    name,
                    company,
                    street1: street,
                    street2: unit,
                    city: city.to_string(),
                    state: Some(code.to_string()),
                    zip: Some(zip),
                    country: "US",
                };
                (lines, want)
            },
        )
}

const CA_CITIES: &[&str] = &["Toronto", "Montréal", "Quebec City", "St. John's", "Vancouver"];
const CA_PROVINCES: &[(&str, &str)] = &[
    ("ON", "Ontario"),
    ("QC", "Québec"),
    ("NL", "Newfoundland and Labrador"),
    ("BC", "British Columbia"),
    ("AB", "Alberta"),
];

fn ca_postal() -> impl Strategy<Value = String> {
    let first = select(
        &['A', 'B', 'C', 'E', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'R', 'S', 'T', 'V', 'X', 'Y']
            [..],
    );
    let letter = select(
        &[
            'A', 'B', 'C', 'E', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'R', 'S', 'T', 'V', 'W',
            'X', 'Y', 'Z',
        ][..],
    );
    (first, 0u8..10, letter.clone(), 0u8..10, letter, 0u8..10)
        .prop_map(|(a, b, c, d, e, f)| format!("{a}{b}{c} {d}{e}{f}"))
}

fn ca_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (
        upper(),
        select(CA_CITIES),
        select(CA_PROVINCES),
        any::<bool>(),
        ca_postal(),
        0usize..4,
        any::<bool>(),
    )
        .prop_map(
            |(
                (mut lines, name, company, street, unit),
                city,
                (code, full),
                use_full,
                postal,
                layout,
                lower,
            )| {
                let prov = if use_full { full } else { code };
                let postal_text =
                    if lower { postal.to_lowercase().replace(' ', "") } else { postal.clone() };
                match layout {
                    0 => lines.extend([format!("{city} {prov}  {postal_text}"), "Canada".into()]),
                    1 => lines.extend([format!("{city}, {prov} {postal_text}"), "CANADA".into()]),
                    2 => lines.extend([format!("{city} {prov} {postal_text}"), "CA".into()]),
                    _ => lines.push(format!("{city}, {prov} {postal_text} Canada")),
                }
                let want = Want {
                    name,
                    company,
                    street1: street,
                    street2: unit,
                    city: city.into(),
                    state: Some(code.into()),
                    zip: Some(postal),
                    country: "CA",
                };
                (lines, want)
            },
        )
}

const UK_TOWNS: &[&str] =
    &["London", "Manchester", "Newcastle upon Tyne", "Stratford-upon-Avon", "LEEDS"];

fn uk_postcode() -> impl Strategy<Value = String> {
    let letter = select(&['A', 'B', 'E', 'G', 'L', 'M', 'N', 'S', 'W'][..]);
    let inward = select(
        &[
            'A', 'B', 'D', 'E', 'F', 'G', 'H', 'J', 'L', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'W',
            'X', 'Y', 'Z',
        ][..],
    );
    (
        letter.clone(),
        prop::option::of(letter),
        1u8..10,
        prop::option::of(0u8..10),
        0u8..10,
        inward.clone(),
        inward,
    )
        .prop_map(|(a, b, d, e, f, g, h)| {
            let mut out = String::new();
            out.push(a);
            out.extend(b);
            out.push_str(&d.to_string());
            if let Some(e) = e {
                out.push_str(&e.to_string());
            }
            format!("{out} {f}{g}{h}")
        })
}

fn uk_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (upper(), select(UK_TOWNS), uk_postcode(), 0usize..4).prop_map(
        |((mut lines, name, company, street, unit), town, postcode, layout)| {
            match layout {
                0 => lines.extend([format!("{town} {postcode}"), "United Kingdom".into()]),
                1 => lines.extend([town.to_string(), postcode.clone(), "UK".into()]),
                2 => lines.push(format!("{town} {}", postcode.to_lowercase())),
                _ => lines
                    .extend([format!("{town}, {}", postcode.replace(' ', "")), "England".into()]),
            }
            let want = Want {
                name,
                company,
                street1: street,
                street2: unit,
                city: town.into(),
                state: None,
                zip: Some(postcode),
                country: "GB",
            };
            (lines, want)
        },
    )
}

/// Postcode-first countries: (country line, alpha-2, city, postcode digits).
const ZIP_FIRST: &[(&str, &str, &str, usize)] = &[
    ("Deutschland", "DE", "Berlin", 5),
    ("Germany", "DE", "Frankfurt am Main", 5),
    ("Österreich", "AT", "Wien", 4),
    ("Schweiz", "CH", "Zürich", 4),
    ("France", "FR", "Paris", 5),
    ("Belgique", "BE", "Bruxelles", 4),
    ("España", "ES", "Madrid", 5),
    ("Norge", "NO", "Oslo", 4),
    ("Danmark", "DK", "København K", 4),
    ("Suomi", "FI", "Helsinki", 5),
];

fn zip_first_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (upper(), select(ZIP_FIRST), 1u32..9999, any::<bool>()).prop_map(
        |(
            (mut lines, name, company, street, unit),
            (country_line, alpha2, city, digits),
            n,
            trailing,
        )| {
            let zip =
                if digits == 5 { format!("{:05}", n * 7 % 100_000) } else { format!("{:04}", n) };
            if trailing {
                lines.push(format!("{zip} {city}, {country_line}"));
            } else {
                lines.extend([format!("{zip} {city}"), country_line.to_string()]);
            }
            let want = Want {
                name,
                company,
                street1: street,
                street2: unit,
                city: city.into(),
                state: None,
                zip: Some(zip),
                country: alpha2,
            };
            (lines, want)
        },
    )
}

const AU_STATES: &[(&str, &str)] = &[
    ("NSW", "New South Wales"),
    ("VIC", "Victoria"),
    ("QLD", "Queensland"),
    ("WA", "Western Australia"),
    ("TAS", "Tasmania"),
];

fn au_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (
        upper(),
        select(&["Sydney", "Surfers Paradise", "FITZROY", "Bondi Junction"][..]),
        select(AU_STATES),
        any::<bool>(),
        200u32..9999,
    )
        .prop_map(
            |((mut lines, name, company, street, unit), city, (code, full), use_full, pc)| {
                let zip = format!("{pc:04}");
                lines.extend([
                    format!("{city} {} {zip}", if use_full { full } else { code }),
                    "Australia".into(),
                ]);
                let want = Want {
                    name,
                    company,
                    street1: street,
                    street2: unit,
                    city: city.into(),
                    state: Some(code.into()),
                    zip: Some(zip),
                    country: "AU",
                };
                (lines, want)
            },
        )
}

fn jp_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    (
        upper(),
        select(&["Chiyoda-ku", "Kita-ku", "Naka-ku"][..]),
        select(&["Tokyo", "Osaka", "Aichi"][..]),
        0u32..1000,
        0u32..10_000,
        any::<bool>(),
    )
        .prop_map(|((mut lines, name, company, street, unit), ward, pref, a, b, compact)| {
            let zip = format!("{a:03}-{b:04}");
            let text = if compact { zip.replace('-', "") } else { zip.clone() };
            lines.extend([format!("{ward}, {pref} {text}"), "Japan".into()]);
            let want = Want {
                name,
                company,
                street1: street,
                street2: unit,
                city: ward.into(),
                state: Some(pref.into()),
                zip: Some(zip),
                country: "JP",
            };
            (lines, want)
        })
}

fn any_block() -> impl Strategy<Value = (Vec<String>, Want)> {
    prop_oneof![
        4 => us_block(),
        2 => ca_block(),
        2 => uk_block(),
        2 => zip_first_block(),
        1 => au_block(),
        1 => jp_block(),
    ]
    // QBO's address box holds five lines.
    .prop_filter("at most five lines", |(lines, _)| lines.len() <= 5)
}

/// A block without a country line, its city line in the layout of the company's country: the
/// company's country, and the address it should parse to.
fn default_country_block() -> impl Strategy<Value = (String, Vec<String>, Want)> {
    let zip_first = (upper(), select(ZIP_FIRST), 1u32..9999).prop_map(
        |((mut lines, name, company, street, unit), (_, alpha2, city, digits), n)| {
            let zip =
                if digits == 5 { format!("{:05}", n * 7 % 100_000) } else { format!("{n:04}") };
            lines.push(format!("{zip} {city}"));
            let want = Want {
                name,
                company,
                street1: street,
                street2: unit,
                city: city.into(),
                state: None,
                zip: Some(zip),
                country: alpha2,
            };
            (alpha2.to_string(), lines, want)
        },
    );
    let postcode_last = (
        upper(),
        select(
            &[
                ("AU", "Fitzroy"),
                ("AU", "Surfers Paradise"),
                ("NZ", "Auckland"),
                ("ZA", "Cape Town"),
            ][..],
        ),
        200u32..9999,
        prop::option::of(select(AU_STATES)),
    )
        .prop_map(|((mut lines, name, company, street, unit), (alpha2, city), pc, state)| {
            let zip = format!("{pc:04}");
            let state = state.filter(|_| alpha2 == "AU");
            match state {
                Some((code, _)) => lines.push(format!("{city} {code} {zip}")),
                None => lines.push(format!("{city} {zip}")),
            }
            let want = Want {
                name,
                company,
                street1: street,
                street2: unit,
                city: city.into(),
                state: state.map(|(code, _)| code.to_string()),
                zip: Some(zip),
                country: alpha2,
            };
            (alpha2.to_string(), lines, want)
        });
    prop_oneof![zip_first, postcode_last]
}

/// Failures found before are replayed first from `address_props.proptest-regressions` beside this
/// file ([`crate::support::props`]).
fn config() -> ProptestConfig {
    crate::support::props::config(512)
}

/// Letters and digits only, lower case: what a field keeps of the text it was read from
/// (cleaning folds white space, drops punctuation at the ends and invisible characters).
fn letters(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The fields read as text (name, company, streets, city) that do not appear in `sources`,
/// one line or consecutive lines joined (the parser may join a field that runs over two
/// lines); state, ZIP and country are codes and normalised forms, so they are left out.
fn invented(p: &ParsedAddress, sources: &[Option<String>]) -> Vec<String> {
    let joined: String = sources.iter().flatten().map(|s| letters(s)).collect();
    [&p.name, &p.company, &p.street1, &p.street2, &p.city]
        .into_iter()
        .flatten()
        .filter(|f| {
            let f = letters(f);
            !f.is_empty() && !joined.contains(&f)
        })
        .cloned()
        .collect()
}

/// Every `*.proptest-regressions` file under `tests/` sits beside the source file whose
/// properties own it, those properties all use the shared persistence, and loading through it
/// finds every seed the file holds: so each committed failure is replayed.
#[test]
fn every_committed_regression_file_is_replayed() {
    use proptest::test_runner::FailurePersistence as _;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![root.join("tests")];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert_ne!(
                name, "proptest-regressions",
                "a failure saved where no test reads it: {path:?}"
            );
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".proptest-regressions") {
                found.push(path);
            }
        }
    }
    assert!(!root.join("testsuite/proptest-regressions").exists());
    assert!(!found.is_empty(), "no committed regression file under tests/");
    for file in found {
        let source = file.with_extension("rs");
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|_| panic!("{file:?} has no source file beside it"));
        assert!(
            text.contains("support::props::config("),
            "{source:?} does not use the shared persistence"
        );
        let relative = source.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let seeds = crate::support::props::PERSISTENCE
            .load_persisted_failures2(Some(Box::leak(relative.into_boxed_str())));
        let committed = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("cc "))
            .count();
        assert!(committed > 0, "{file:?} holds no seed");
        assert_eq!(
            seeds.len(),
            committed,
            "{file:?}: proptest reads {} of its {committed} seeds",
            seeds.len()
        );
    }
    // Every property in the suite persists (and replays) its failures the same way.
    let dir = root.join("tests/it");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let count =
            |prefix: &str| text.lines().filter(|l| l.trim_start().starts_with(prefix)).count();
        let blocks = count("proptest! {");
        let configured = count("#![proptest_config(");
        let shared = count("#![proptest_config(crate::support::props::config(")
            + count("#![proptest_config(config())]");
        assert!(
            blocks == configured && configured == shared,
            "{:?}: {blocks} proptest! blocks, {shared} with the shared persistence",
            entry.path()
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rendered_blocks_parse_back((lines, want) in any_block()) {
        let parsed = parse_lines(&lines, &AddressContext::default());
        prop_assert!(parsed.is_ok(), "{:?} failed: {:?}", lines, parsed.err());
        let parsed = parsed.unwrap_or_default();
        prop_assert_eq!(fields(&parsed), want, "lines: {:?}", lines);
    }

    #[test]
    fn structured_addresses_parse_back((lines, want) in us_block().prop_filter("five lines", |(l, _)| l.len() <= 5)) {
        // The same address in QBO's structured form: street lines, then the fields.
        let addr = PhysicalAddress {
            line1: Some(want.street1.clone()),
            line2: want.street2.clone(),
            city: Some(want.city.clone()),
            country_sub_division_code: want.state.clone(),
            postal_code: want.zip.clone(),
            ..Default::default()
        };
        let _ = lines;
        let ctx = AddressContext { display_name: want.name.clone(), ..Default::default() };
        let parsed = parse_address(&addr, &ctx).unwrap_or_default();
        let expected = Want { company: None, ..want };
        prop_assert_eq!(fields(&parsed), expected);
    }

    #[test]
    fn blocks_without_a_country_line_take_the_company_country((country, lines, want) in default_country_block()) {
        let ctx = AddressContext { default_country: Some(country.clone()), ..Default::default() };
        let parsed = parse_lines(&lines, &ctx);
        prop_assert!(parsed.is_ok(), "{:?} in {} failed: {:?}", lines, country, parsed.err());
        prop_assert_eq!(fields(&parsed.unwrap_or_default()), want.clone(), "lines: {:?}", lines);
        // The same address as QBO's structured fields, with no `Country`, also takes it.
        let addr = PhysicalAddress {
            line1: Some(want.street1.clone()),
            line2: want.street2.clone(),
            city: Some(want.city.clone()),
            country_sub_division_code: want.state.clone(),
            postal_code: want.zip.clone(),
            ..Default::default()
        };
        let ctx = AddressContext { display_name: want.name.clone(), default_country: Some(country), ..Default::default() };
        let parsed = parse_address(&addr, &ctx);
        prop_assert!(parsed.is_ok(), "{:?} failed: {:?}", addr, parsed.err());
        prop_assert_eq!(fields(&parsed.unwrap_or_default()), Want { company: None, ..want });
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec(any::<String>(), 0..9)) {
        let ctx = AddressContext { display_name: lines.first().cloned(), company_name: lines.get(1).cloned(), ..Default::default() };
        let sources: Vec<Option<String>> = lines.iter().cloned().map(Some).collect();
        if let Ok(p) = parse_lines(&lines, &AddressContext::default()) {
            prop_assert_eq!(invented(&p, &sources), Vec::<String>::new(), "{:?}", lines);
        }
        if let Ok(p) = parse_lines(&lines, &ctx) {
            prop_assert_eq!(invented(&p, &sources), Vec::<String>::new(), "{:?}", lines);
        }
    }

    #[test]
    fn address_like_noise_never_panics(lines in prop::collection::vec("[A-Za-z0-9 ,.#/()'\\-éüßÖ日本]{0,40}", 0..8)) {
        let sources: Vec<Option<String>> = lines.iter().cloned().map(Some).collect();
        if let Ok(p) = parse_lines(&lines, &AddressContext::default()) {
            prop_assert_eq!(invented(&p, &sources), Vec::<String>::new(), "{:?}", lines);
        }
        let get = |i: usize| lines.get(i).cloned();
        let addr = PhysicalAddress {
            line1: get(0), line2: get(1), city: get(2), country_sub_division_code: get(3),
            postal_code: get(4), country: get(5), ..Default::default()
        };
        if let Ok(p) = parse_address(&addr, &AddressContext::default()) {
            prop_assert_eq!(invented(&p, &sources), Vec::<String>::new(), "{:?}", addr);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzz::address_block(&data);
    }

    #[test]
    fn errors_are_typed_and_keep_the_lines(lines in prop::collection::vec("[A-Za-z ]{1,20}", 1..5)) {
        if let Err(e) = parse_lines(&lines, &AddressContext::default()) {
            prop_assert!(!e.message.is_empty());
            prop_assert!(e.raw_lines.len() <= lines.len());
        }
    }
}
