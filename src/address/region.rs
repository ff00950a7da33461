//! States and provinces: U.S. states, DC, territories and armed-forces codes, Canadian provinces
//! and territories, Australian states, by official code, full name and common abbreviation, all
//! resolved to the official code. Also the romanised Japanese prefectures, to find one on a
//! Japanese city line.

use std::sync::LazyLock;

use super::text::{Key, KeyTable, key_string};

/// U.S. states, DC, territories, freely associated states and armed-forces codes.
const US: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
    ("UM", "U.S. Minor Outlying Islands"),
    ("FM", "Federated States of Micronesia"),
    ("MH", "Marshall Islands"),
    ("PW", "Palau"),
    ("AA", "Armed Forces Americas"),
    ("AE", "Armed Forces Europe"),
    ("AP", "Armed Forces Pacific"),
];

/// Other spellings of U.S. states: AP-style abbreviations and common variants.
const US_ALIASES: &[(&str, &str)] = &[
    ("Ala", "AL"),
    ("Ariz", "AZ"),
    ("Ark", "AR"),
    ("Calif", "CA"),
    ("Cal", "CA"),
    ("Colo", "CO"),
    ("Conn", "CT"),
    ("Del", "DE"),
    ("Washington DC", "DC"),
    ("Fla", "FL"),
    ("Hawai'i", "HI"),
    ("Ill", "IL"),
    ("Ind", "IN"),
    ("Kan", "KS"),
    ("Kans", "KS"),
    ("Ken", "KY"),
    ("Md", "MD"),
    ("Mass", "MA"),
    ("Mich", "MI"),
    ("Minn", "MN"),
    ("Miss", "MS"),
    ("Mont", "MT"),
    ("Neb", "NE"),
    ("Nebr", "NE"),
    ("Nev", "NV"),
    ("Okla", "OK"),
    ("Ore", "OR"),
    ("Oreg", "OR"),
    ("Penn", "PA"),
    ("Penna", "PA"),
    ("Tenn", "TN"),
    ("Tex", "TX"),
    ("Wash", "WA"),
    ("W Va", "WV"),
    ("Wis", "WI"),
    ("Wisc", "WI"),
    ("Wyo", "WY"),
    ("Virgin Islands", "VI"),
    ("US Virgin Islands", "VI"),
    ("USVI", "VI"),
    ("Armed Forces Europe, Middle East, Africa and Canada", "AE"),
    ("Armed Forces Africa", "AE"),
    ("Armed Forces Middle East", "AE"),
    ("Armed Forces Canada", "AE"),
    ("Micronesia", "FM"),
];

/// Canadian provinces and territories, with French and abbreviated forms.
const CA: &[(&str, &str)] = &[
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NS", "Nova Scotia"),
    ("NT", "Northwest Territories"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
];

const CA_ALIASES: &[(&str, &str)] = &[
    ("Alta", "AB"),
    ("Colombie-Britannique", "BC"),
    ("C.-B.", "BC"),
    ("Man", "MB"),
    ("Nouveau-Brunswick", "NB"),
    ("N.-B.", "NB"),
    ("Newfoundland & Labrador", "NL"),
    ("Newfoundland", "NL"),
    ("Nfld", "NL"),
    ("NF", "NL"),
    ("Terre-Neuve-et-Labrador", "NL"),
    ("T.-N.-L.", "NL"),
    ("Nouvelle-Écosse", "NS"),
    ("N.-É.", "NS"),
    ("NWT", "NT"),
    ("Territoires du Nord-Ouest", "NT"),
    ("T.N.-O.", "NT"),
    ("Ont", "ON"),
    ("PEI", "PE"),
    ("Île-du-Prince-Édouard", "PE"),
    ("Î.-P.-É.", "PE"),
    ("Québec", "QC"),
    ("Que", "QC"),
    ("PQ", "QC"),
    ("Sask", "SK"),
    ("Yukon Territory", "YT"),
    ("YK", "YT"),
];

/// Australian states and territories.
const AU: &[(&str, &str)] = &[
    ("NSW", "New South Wales"),
    ("VIC", "Victoria"),
    ("QLD", "Queensland"),
    ("SA", "South Australia"),
    ("WA", "Western Australia"),
    ("TAS", "Tasmania"),
    ("NT", "Northern Territory"),
    ("ACT", "Australian Capital Territory"),
    ("JBT", "Jervis Bay Territory"),
];

/// Japanese prefectures, romanised.
const JP_PREFECTURES: &[&str] = &[
    "Hokkaido",
    "Aomori",
    "Iwate",
    "Miyagi",
    "Akita",
    "Yamagata",
    "Fukushima",
    "Ibaraki",
    "Tochigi",
    "Gunma",
    "Saitama",
    "Chiba",
    "Tokyo",
    "Kanagawa",
    "Niigata",
    "Toyama",
    "Ishikawa",
    "Fukui",
    "Yamanashi",
    "Nagano",
    "Gifu",
    "Shizuoka",
    "Aichi",
    "Mie",
    "Shiga",
    "Kyoto",
    "Osaka",
    "Hyogo",
    "Nara",
    "Wakayama",
    "Tottori",
    "Shimane",
    "Okayama",
    "Hiroshima",
    "Yamaguchi",
    "Tokushima",
    "Kagawa",
    "Ehime",
    "Kochi",
    "Fukuoka",
    "Saga",
    "Nagasaki",
    "Kumamoto",
    "Oita",
    "Miyazaki",
    "Kagoshima",
    "Okinawa",
];

/// Which table of regions a country uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Regions {
    /// U.S. states and territories.
    Us,
    /// Canadian provinces.
    Ca,
    /// Australian states.
    Au,
}

type Table = KeyTable<&'static str>;

fn build(
    codes: &'static [(&'static str, &'static str)],
    aliases: &'static [(&str, &'static str)],
) -> Table {
    let mut map = std::collections::BTreeMap::new();
    for (code, name) in codes {
        map.insert(key_string(code), *code);
        map.insert(key_string(name), *code);
    }
    for (alias, code) in aliases {
        map.insert(key_string(alias), *code);
    }
    KeyTable::new(map)
}

static US_TABLE: LazyLock<Table> = LazyLock::new(|| build(US, US_ALIASES));
static CA_TABLE: LazyLock<Table> = LazyLock::new(|| build(CA, CA_ALIASES));
static AU_TABLE: LazyLock<Table> =
    LazyLock::new(|| build(AU, &[("Vic", "VIC"), ("Qld", "QLD"), ("Tas", "TAS")]));

fn find(table: &Table, key: &[u8]) -> Option<&'static str> {
    table.get(key).copied()
}

impl Regions {
    /// The official code for `text` (a code, a full name or an abbreviation).
    pub(crate) fn lookup(self, text: &str) -> Option<&'static str> {
        if !self.table().may_hold(text) {
            return None;
        }
        let key = Key::new(text)?;
        self.lookup_key(key.as_bytes())
    }

    fn table(self) -> &'static Table {
        match self {
            Regions::Us => &US_TABLE,
            Regions::Ca => &CA_TABLE,
            Regions::Au => &AU_TABLE,
        }
    }

    /// The official code for a folded key.
    pub(crate) fn lookup_key(self, key: &[u8]) -> Option<&'static str> {
        if key.is_empty() {
            return None;
        }
        find(self.table(), key)
    }
}

/// Whether `text` is a romanised Japanese prefecture (`Tokyo`, `Tokyo-to`, `Osaka-fu`,
/// `Kanagawa-ken`, `Hokkaido`, `Kyoto Prefecture`).
pub(crate) fn is_jp_prefecture(text: &str) -> bool {
    let Some(key) = Key::new(text) else { return false };
    let k = key.as_str();
    let base = ["PREFECTURE", "KEN", "FU", "TO", "DO"]
        .iter()
        .find_map(|suffix| k.strip_suffix(suffix).filter(|b| is_prefecture_key(b)))
        .unwrap_or(k);
    is_prefecture_key(base)
}

fn is_prefecture_key(k: &str) -> bool {
    JP_PREFECTURES.iter().any(|p| p.len() == k.len() && p.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_codes_names_and_abbreviations() {
        assert_eq!(Regions::Us.lookup("Illinois"), Some("IL"));
        assert_eq!(Regions::Us.lookup("il"), Some("IL"));
        assert_eq!(Regions::Us.lookup("N.Y."), Some("NY"));
        assert_eq!(Regions::Us.lookup("D.C."), Some("DC"));
        assert_eq!(Regions::Us.lookup("Calif."), Some("CA"));
        assert_eq!(Regions::Us.lookup("AE"), Some("AE"));
        assert_eq!(Regions::Us.lookup("Puerto Rico"), Some("PR"));
        assert_eq!(Regions::Us.lookup("Ontario"), None);
    }

    #[test]
    fn canadian_and_australian_regions() {
        assert_eq!(Regions::Ca.lookup("Québec"), Some("QC"));
        assert_eq!(Regions::Ca.lookup("(Québec)"), Some("QC"));
        assert_eq!(Regions::Ca.lookup("P.E.I."), Some("PE"));
        assert_eq!(Regions::Ca.lookup("Newfoundland and Labrador"), Some("NL"));
        assert_eq!(Regions::Au.lookup("New South Wales"), Some("NSW"));
        assert_eq!(Regions::Au.lookup("Vic"), Some("VIC"));
    }

    #[test]
    fn japanese_prefectures() {
        assert!(is_jp_prefecture("Tokyo"));
        assert!(is_jp_prefecture("Tokyo-to"));
        assert!(is_jp_prefecture("Osaka-fu"));
        assert!(is_jp_prefecture("Hokkaido"));
        assert!(!is_jp_prefecture("Chiyoda-ku"));
    }
}
