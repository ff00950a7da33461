//! Country names: every ISO 3166-1 country by English name, alpha-2 and alpha-3 code (from the
//! `celes` table), plus the short forms and local-language names merchants type, all matched on a
//! folded key. U.S. territories resolve to the United States with their state code.

use std::sync::LazyLock;

use celes::LookupTable;

use super::text::{Key, KeyTable, key_string};

/// A country named in an address: its ISO alpha-2 code and, for a U.S. territory named as a
/// country (`Puerto Rico`, `Guam`), the territory's state code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryRef {
    /// ISO 3166-1 alpha-2 code.
    pub alpha2: &'static str,
    /// The U.S. state code of a territory named as a country.
    pub territory: Option<&'static str>,
}

impl CountryRef {
    const fn plain(alpha2: &'static str) -> CountryRef {
        CountryRef { alpha2, territory: None }
    }
}

/// Names that `celes` lacks or spells differently: short forms, old names and local names.
const ALIASES: &[(&str, &str)] = &[
    ("USA", "US"),
    ("U.S.A.", "US"),
    ("U.S.", "US"),
    ("United States", "US"),
    ("United States of America", "US"),
    ("The United States", "US"),
    ("America", "US"),
    ("Estados Unidos", "US"),
    ("EE.UU.", "US"),
    ("États-Unis", "US"),
    ("Etats Unis", "US"),
    ("Vereinigte Staaten", "US"),
    ("Stati Uniti", "US"),
    ("Canada", "CA"),
    ("Kanada", "CA"),
    ("UK", "GB"),
    ("U.K.", "GB"),
    ("United Kingdom", "GB"),
    ("Great Britain", "GB"),
    ("Britain", "GB"),
    ("England", "GB"),
    ("Scotland", "GB"),
    ("Wales", "GB"),
    ("Cymru", "GB"),
    ("Northern Ireland", "GB"),
    ("Royaume-Uni", "GB"),
    ("Reino Unido", "GB"),
    ("Vereinigtes Königreich", "GB"),
    ("Regno Unito", "GB"),
    ("Verenigd Koninkrijk", "GB"),
    ("Deutschland", "DE"),
    ("Germany", "DE"),
    ("Allemagne", "DE"),
    ("Alemania", "DE"),
    ("Germania", "DE"),
    ("Duitsland", "DE"),
    ("Tyskland", "DE"),
    ("BRD", "DE"),
    ("GER", "DE"),
    ("Bundesrepublik Deutschland", "DE"),
    ("Österreich", "AT"),
    ("Oesterreich", "AT"),
    ("Autriche", "AT"),
    ("Austria", "AT"),
    ("Schweiz", "CH"),
    ("Suisse", "CH"),
    ("Svizzera", "CH"),
    ("Svizra", "CH"),
    ("Switzerland", "CH"),
    ("Suiza", "CH"),
    ("Zwitserland", "CH"),
    ("Helvetia", "CH"),
    ("Confoederatio Helvetica", "CH"),
    ("Nederland", "NL"),
    ("Holland", "NL"),
    ("Netherlands", "NL"),
    ("The Netherlands", "NL"),
    ("Pays-Bas", "NL"),
    ("Países Bajos", "NL"),
    ("Niederlande", "NL"),
    ("Paesi Bassi", "NL"),
    ("Belgique", "BE"),
    ("België", "BE"),
    ("Belgien", "BE"),
    ("Belgium", "BE"),
    ("Belgio", "BE"),
    ("Bélgica", "BE"),
    ("Frankreich", "FR"),
    ("Francia", "FR"),
    ("Frankrijk", "FR"),
    ("Italia", "IT"),
    ("Italy", "IT"),
    ("Italien", "IT"),
    ("Italie", "IT"),
    ("España", "ES"),
    ("Spain", "ES"),
    ("Espagne", "ES"),
    ("Spanien", "ES"),
    ("Spagna", "ES"),
    ("Espanya", "ES"),
    ("Portugal", "PT"),
    ("Sverige", "SE"),
    ("Sweden", "SE"),
    ("Schweden", "SE"),
    ("Suède", "SE"),
    ("Norge", "NO"),
    ("Noreg", "NO"),
    ("Norway", "NO"),
    ("Norwegen", "NO"),
    ("Norvège", "NO"),
    ("Danmark", "DK"),
    ("Denmark", "DK"),
    ("Dänemark", "DK"),
    ("Danemark", "DK"),
    ("Suomi", "FI"),
    ("Finland", "FI"),
    ("Finnland", "FI"),
    ("Ísland", "IS"),
    ("Iceland", "IS"),
    ("Éire", "IE"),
    ("Ireland", "IE"),
    ("Republic of Ireland", "IE"),
    ("Irlande", "IE"),
    ("Irland", "IE"),
    ("Irlanda", "IE"),
    ("Lëtzebuerg", "LU"),
    ("Luxemburg", "LU"),
    ("Polska", "PL"),
    ("Poland", "PL"),
    ("Polen", "PL"),
    ("Česko", "CZ"),
    ("Česká republika", "CZ"),
    ("Czech Republic", "CZ"),
    ("Tschechien", "CZ"),
    ("Slovensko", "SK"),
    ("Slovakia", "SK"),
    ("Magyarország", "HU"),
    ("Hungary", "HU"),
    ("Ελλάδα", "GR"),
    ("Hellas", "GR"),
    ("Ellada", "GR"),
    ("Greece", "GR"),
    ("Hrvatska", "HR"),
    ("Croatia", "HR"),
    ("Slovenija", "SI"),
    ("Slovenia", "SI"),
    ("România", "RO"),
    ("Romania", "RO"),
    ("България", "BG"),
    ("Bulgaria", "BG"),
    ("Россия", "RU"),
    ("Rossiya", "RU"),
    ("Russia", "RU"),
    ("Україна", "UA"),
    ("Ukraine", "UA"),
    ("Türkiye", "TR"),
    ("Turkey", "TR"),
    ("Eesti", "EE"),
    ("Estonia", "EE"),
    ("Latvija", "LV"),
    ("Latvia", "LV"),
    ("Lietuva", "LT"),
    ("Lithuania", "LT"),
    ("México", "MX"),
    ("Mexico", "MX"),
    ("Méjico", "MX"),
    ("Estados Unidos Mexicanos", "MX"),
    ("Brasil", "BR"),
    ("Brazil", "BR"),
    ("Perú", "PE"),
    ("Peru", "PE"),
    ("Panamá", "PA"),
    ("República Dominicana", "DO"),
    ("Dominican Republic", "DO"),
    ("Venezuela", "VE"),
    ("Bolivia", "BO"),
    ("Japan", "JP"),
    ("日本", "JP"),
    ("日本国", "JP"),
    ("Nippon", "JP"),
    ("Nihon", "JP"),
    ("Japon", "JP"),
    ("Japón", "JP"),
    ("China", "CN"),
    ("中国", "CN"),
    ("PRC", "CN"),
    ("People's Republic of China", "CN"),
    ("Mainland China", "CN"),
    ("Hong Kong", "HK"),
    ("香港", "HK"),
    ("Hong Kong SAR", "HK"),
    ("Macau", "MO"),
    ("Taiwan", "TW"),
    ("台灣", "TW"),
    ("台湾", "TW"),
    ("South Korea", "KR"),
    ("Korea", "KR"),
    ("Republic of Korea", "KR"),
    ("대한민국", "KR"),
    ("한국", "KR"),
    ("North Korea", "KP"),
    ("India", "IN"),
    ("Bharat", "IN"),
    ("Singapore", "SG"),
    ("Singapura", "SG"),
    ("Vietnam", "VN"),
    ("Viet Nam", "VN"),
    ("Philippines", "PH"),
    ("Laos", "LA"),
    ("Iran", "IR"),
    ("Syria", "SY"),
    ("Moldova", "MD"),
    ("Tanzania", "TZ"),
    ("Australia", "AU"),
    ("New Zealand", "NZ"),
    ("Aotearoa", "NZ"),
    ("N.Z.", "NZ"),
    ("South Africa", "ZA"),
    ("RSA", "ZA"),
    ("Suid-Afrika", "ZA"),
    ("UAE", "AE"),
    ("U.A.E.", "AE"),
    ("United Arab Emirates", "AE"),
    ("Emirates", "AE"),
    ("Saudi Arabia", "SA"),
    ("KSA", "SA"),
    ("Ivory Coast", "CI"),
    ("Côte d'Ivoire", "CI"),
    ("Cape Verde", "CV"),
    ("Czechia", "CZ"),
    ("Vatican", "VA"),
    ("Vatican City", "VA"),
    ("Bosnia", "BA"),
    ("Bosnia and Herzegovina", "BA"),
    ("Macedonia", "MK"),
    ("North Macedonia", "MK"),
    ("British Virgin Islands", "VG"),
    ("BVI", "VG"),
    ("Bahamas", "BS"),
    ("The Bahamas", "BS"),
    ("Cayman Islands", "KY"),
    ("Gambia", "GM"),
    ("Congo", "CG"),
    ("DR Congo", "CD"),
    ("DRC", "CD"),
    ("Falkland Islands", "FK"),
    ("Myanmar", "MM"),
    ("Burma", "MM"),
    ("Eswatini", "SZ"),
    ("Swaziland", "SZ"),
    ("Trinidad", "TT"),
    ("Trinidad and Tobago", "TT"),
    ("St Lucia", "LC"),
    ("St Kitts and Nevis", "KN"),
    ("St Vincent and the Grenadines", "VC"),
    ("Micronesia", "FM"),
    ("Palestine", "PS"),
    ("Brunei", "BN"),
];

/// U.S. territories named as a country: they ship as the United States with this state code.
const US_TERRITORIES: &[(&str, &str)] = &[
    ("Puerto Rico", "PR"),
    ("PR", "PR"),
    ("PRI", "PR"),
    ("Guam", "GU"),
    ("GU", "GU"),
    ("GUM", "GU"),
    ("U.S. Virgin Islands", "VI"),
    ("US Virgin Islands", "VI"),
    ("United States Virgin Islands", "VI"),
    ("Virgin Islands of the United States", "VI"),
    ("Virgin Islands", "VI"),
    ("Virgin Islands (U.S.)", "VI"),
    ("USVI", "VI"),
    ("VI", "VI"),
    ("VIR", "VI"),
    ("American Samoa", "AS"),
    ("AS", "AS"),
    ("ASM", "AS"),
    ("Northern Mariana Islands", "MP"),
    ("Commonwealth of the Northern Mariana Islands", "MP"),
    ("CNMI", "MP"),
    ("MP", "MP"),
    ("MNP", "MP"),
];

static TABLE: LazyLock<KeyTable<CountryRef>> = LazyLock::new(build_table);

fn build_table() -> KeyTable<CountryRef> {
    let mut map = std::collections::BTreeMap::new();
    for c in celes::Country::get_countries() {
        let r = CountryRef::plain(c.alpha2);
        for name in [c.alpha2, c.alpha3, c.long_name] {
            insert_with_the(&mut map, name, r);
        }
        for alias in c.aliases.iter() {
            insert_with_the(&mut map, alias, r);
        }
    }
    // Hand aliases win over celes where both name a key.
    for (name, alpha2) in ALIASES {
        if let Some(c) = celes_alpha2(alpha2) {
            insert_with_the(&mut map, name, CountryRef::plain(c));
        }
    }
    for (name, state) in US_TERRITORIES {
        insert_with_the(&mut map, name, CountryRef { alpha2: "US", territory: Some(state) });
    }
    KeyTable::new(map)
}

/// The `'static` alpha-2 code from celes for a code written in our alias table.
fn celes_alpha2(code: &str) -> Option<&'static str> {
    celes::Country::get_countries().iter().find(|c| c.alpha2 == code).map(|c| c.alpha2)
}

fn insert_with_the(
    map: &mut std::collections::BTreeMap<String, CountryRef>,
    name: &str,
    r: CountryRef,
) {
    let key = key_string(name);
    if let Some(rest) = key.strip_prefix("THE").filter(|r| r.len() > 3) {
        map.insert(rest.to_string(), r);
    }
    map.insert(key, r);
}

/// The country that `text` names, if any (any case; English, local or short form, or code).
pub fn lookup_country(text: &str) -> Option<CountryRef> {
    if !TABLE.may_hold(text) {
        return None;
    }
    let key = Key::new(text)?;
    lookup_key(key.as_bytes())
}

/// The country for a folded key.
pub(crate) fn lookup_key(key: &[u8]) -> Option<CountryRef> {
    if key.is_empty() || key.len() > 48 {
        return None;
    }
    TABLE.get(key).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a2(s: &str) -> Option<&'static str> {
        lookup_country(s).map(|c| c.alpha2)
    }

    #[test]
    fn english_codes_and_short_forms() {
        assert_eq!(a2("USA"), Some("US"));
        assert_eq!(a2("u.s.a."), Some("US"));
        assert_eq!(a2("United States of America"), Some("US"));
        assert_eq!(a2("UK"), Some("GB"));
        assert_eq!(a2("Great Britain"), Some("GB"));
        assert_eq!(a2("CAN"), Some("CA"));
        assert_eq!(a2("deu"), Some("DE"));
        assert_eq!(a2("Holland"), Some("NL"));
        assert_eq!(a2("The Netherlands"), Some("NL"));
        assert_eq!(a2("Bahamas"), Some("BS"));
    }

    #[test]
    fn local_language_names() {
        for (name, code) in [
            ("Deutschland", "DE"),
            ("España", "ES"),
            ("México", "MX"),
            ("Österreich", "AT"),
            ("Schweiz", "CH"),
            ("Suisse", "CH"),
            ("Nederland", "NL"),
            ("Italia", "IT"),
            ("Brasil", "BR"),
            ("日本", "JP"),
            ("Nippon", "JP"),
            ("Sverige", "SE"),
            ("Norge", "NO"),
            ("Danmark", "DK"),
            ("Belgique", "BE"),
            ("België", "BE"),
            ("Éire", "IE"),
        ] {
            assert_eq!(a2(name), Some(code), "{name}");
        }
    }

    #[test]
    fn territories_are_the_us_with_a_state() {
        let pr = lookup_country("Puerto Rico");
        assert_eq!(pr, Some(CountryRef { alpha2: "US", territory: Some("PR") }));
        assert_eq!(lookup_country("USVI").and_then(|c| c.territory), Some("VI"));
        assert_eq!(a2("British Virgin Islands"), Some("VG"));
    }

    #[test]
    fn non_countries_are_none() {
        assert_eq!(a2("Narnia"), None);
        assert_eq!(a2(""), None);
        assert_eq!(a2("123 Main St"), None);
    }
}
