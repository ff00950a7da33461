//! Postcode grammars (nom) per country format, each returning the normalised form: ZIP+4 joined
//! with `-`, Canadian `A1A 1A1`, UK outward and inward code with one space, Irish Eircodes,
//! Dutch `1234 AB`, Japanese `123-4567`, Brazilian CEP `12345-678`, and fixed-length digit codes.

use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char as ch, satisfy};
use nom::combinator::{all_consuming, opt, recognize};
use nom::{IResult, Parser};

type Res<'a, O> = IResult<&'a str, O, ()>;

/// A postcode format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// U.S. ZIP or ZIP+4.
    Us,
    /// Canadian `A1A 1A1`.
    Ca,
    /// UK postcode.
    Gb,
    /// Irish Eircode.
    Ie,
    /// Dutch `1234 AB`.
    Nl,
    /// Japanese `123-4567`.
    Jp,
    /// Brazilian CEP `12345-678`.
    Br,
    /// Portuguese `1234-567` (or the old `1234`).
    Pt,
    /// Swedish `123 45`.
    Se,
    /// Czech, Slovak and Greek `123 45`.
    ThreeTwo,
    /// Polish `12-345`.
    Pl,
    /// Exactly this many digits.
    Digits(usize),
    /// Anything alphanumeric with a digit, 2 to 10 characters.
    Generic,
}

/// Whether a format's postcodes can be written as two tokens (`SW1A 1AA`, `1012 AB`).
impl Format {
    pub(crate) fn two_tokens(self) -> bool {
        matches!(
            self,
            Format::Us
                | Format::Ca
                | Format::Gb
                | Format::Ie
                | Format::Nl
                | Format::Se
                | Format::ThreeTwo
        )
    }

    /// The normalised postcode for `text`, or `None` when it does not fit the format.
    pub(crate) fn normalize(self, text: &str) -> Option<String> {
        // A token that starts and ends with an ASCII letter or digit (nearly all) has nothing
        // to trim.
        let bare = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
        let text = if bare(text.as_bytes().first()) && bare(text.as_bytes().last()) {
            text
        } else {
            text.trim().trim_start_matches('〒').trim_end_matches(['.', ',', ';']).trim()
        };
        if text.is_empty() || text.len() > 16 {
            return None;
        }
        match self {
            Format::Us => us_zip(text),
            Format::Ca => ca_postal(text),
            Format::Gb => gb_postcode(text),
            Format::Ie => eircode(text),
            Format::Nl => nl_postcode(text),
            Format::Jp => split_digits(text, 3, 4, "-"),
            Format::Br => split_digits(text, 5, 3, "-"),
            Format::Pt => split_digits(text, 4, 3, "-").or_else(|| digits_exact(text, 4)),
            Format::Se | Format::ThreeTwo => split_digits(text, 3, 2, " "),
            Format::Pl => split_digits(text, 2, 3, "-"),
            Format::Digits(n) => digits_exact(text, n),
            Format::Generic => generic(text),
        }
    }
}

fn digits(n: usize) -> impl Fn(&str) -> Res<'_, &str> {
    move |i| take_while_m_n(n, n, |c: char| c.is_ascii_digit()).parse(i)
}

fn sep(i: &str) -> Res<'_, Option<char>> {
    opt(satisfy(|c| c == '-' || c == ' ' || c == '–' || c == '—')).parse(i)
}

/// Five digits, then optionally a separator and four more (ZIP+4). Written out rather than
/// with the combinators: every U.S. city line asks it, often twice.
fn us_zip(text: &str) -> Option<String> {
    let is_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let five = text.get(..5).filter(|f| is_digits(f, 5))?;
    let rest = text.get(5..)?;
    if rest.is_empty() {
        return Some(five.to_string());
    }
    let four = rest.strip_prefix(['-', ' ', '–', '—']).unwrap_or(rest);
    is_digits(four, 4).then(|| joined(five, "-", four))
}

/// `a`, `joiner`, `b` in one string (a postcode's two parts; cheaper than `format!`).
fn joined(a: &str, joiner: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + joiner.len() + b.len());
    s.push_str(a);
    s.push_str(joiner);
    s.push_str(b);
    s
}

/// `head` digits, an optional separator, `tail` digits; joined with `joiner`.
fn split_digits(text: &str, head: usize, tail: usize, joiner: &str) -> Option<String> {
    let (_, (a, _, b)) = all_consuming((digits(head), sep, digits(tail))).parse(text).ok()?;
    Some(joined(a, joiner, b))
}

fn digits_exact(text: &str, n: usize) -> Option<String> {
    all_consuming(digits(n)).parse(text).ok().map(|(_, d)| d.to_string())
}

fn alpha(i: &str) -> Res<'_, char> {
    satisfy(|c| c.is_ascii_alphabetic()).parse(i)
}

fn digit(i: &str) -> Res<'_, char> {
    satisfy(|c| c.is_ascii_digit()).parse(i)
}

/// Canada Post letters: never D, F, I, O, Q, U; W and Z never first.
fn ca_letter(first: bool) -> impl Fn(&str) -> Res<'_, char> {
    move |i| {
        satisfy(|c: char| {
            let u = c.to_ascii_uppercase();
            u.is_ascii_uppercase() && !"DFIOQU".contains(u) && !(first && (u == 'W' || u == 'Z'))
        })
        .parse(i)
    }
}

fn ca_postal(text: &str) -> Option<String> {
    let (_, (fsa, _, ldu)) = all_consuming((
        recognize((ca_letter(true), digit, ca_letter(false))),
        sep,
        recognize((digit, ca_letter(false), digit)),
    ))
    .parse(text)
    .ok()?;
    Some(format!("{} {}", fsa.to_ascii_uppercase(), ldu.to_ascii_uppercase()))
}

/// UK postcodes: outward `A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`, then inward `9AA`.
fn gb_postcode(text: &str) -> Option<String> {
    let compact: String =
        text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if compact == "GIR0AA" {
        return Some("GIR 0AA".into());
    }
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return None;
    }
    let split = compact.len() - 3;
    let (outward, inward) = (compact.get(..split)?, compact.get(split..)?);
    let outward_ok = all_consuming(nom::branch::alt((
        recognize((alpha, alpha, digit, digit)),
        recognize((alpha, alpha, digit, alpha)),
        recognize((alpha, alpha, digit)),
        recognize((alpha, digit, digit)),
        recognize((alpha, digit, alpha)),
        recognize((alpha, digit)),
    )))
    .parse(outward)
    .is_ok();
    let inward_ok = all_consuming((
        digit,
        satisfy(|c| "ABDEFGHJLNPQRSTUWXYZ".contains(c)),
        satisfy(|c| "ABDEFGHJLNPQRSTUWXYZ".contains(c)),
    ))
    .parse(inward)
    .is_ok();
    (outward_ok && inward_ok).then(|| joined(outward, " ", inward))
}

/// Irish Eircode: routing key `A65`, `D6W`, then four characters of the unique identifier.
fn eircode(text: &str) -> Option<String> {
    let compact: String =
        text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if compact.len() != 7 || !compact.is_ascii() {
        return None;
    }
    const LETTERS: &str = "ACDEFHKNPRTVWXY";
    let unique = |c: char| c.is_ascii_digit() || LETTERS.contains(c);
    let (rest, routing) = recognize((
        satisfy(|c| LETTERS.contains(c)),
        digit,
        satisfy(|c: char| c.is_ascii_digit() || c == 'W'),
    ))
    .parse(compact.as_str())
    .ok()?;
    let tail: Res<'_, &str> = all_consuming(take_while_m_n(4, 4, unique)).parse(rest);
    tail.ok()?;
    Some(joined(routing, " ", rest))
}

fn nl_postcode(text: &str) -> Option<String> {
    let (_, (d, _, l)) = all_consuming((
        recognize((satisfy(|c| ('1'..='9').contains(&c)), digits(3))),
        opt(ch(' ')),
        recognize((alpha, alpha)),
    ))
    .parse(text)
    .ok()?;
    Some(format!("{d} {}", l.to_ascii_uppercase()))
}

fn generic(text: &str) -> Option<String> {
    let ok = (2..=10).contains(&text.chars().count())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
        && text.bytes().any(|b| b.is_ascii_digit());
    ok.then(|| text.to_ascii_uppercase())
}

/// Strips a European country prefix written before a postcode (`D-10115`, `CH-8001`,
/// `SE-111 22`), returning the rest when one was there.
pub(crate) fn strip_country_prefix(token: &str) -> Option<&str> {
    let parsed: Res<'_, (&str, &str)> =
        (take_while_m_n(1, 3, |c: char| c.is_ascii_alphabetic()), tag("-")).parse(token);
    let (rest, _) = parsed.ok()?;
    rest.starts_with(|c: char| c.is_ascii_digit()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_zip_forms() {
        assert_eq!(Format::Us.normalize("94304"), Some("94304".into()));
        assert_eq!(Format::Us.normalize("94304-1234"), Some("94304-1234".into()));
        assert_eq!(Format::Us.normalize("94304 1234"), Some("94304-1234".into()));
        assert_eq!(Format::Us.normalize("943041234"), Some("94304-1234".into()));
        assert_eq!(Format::Us.normalize("9430"), None);
        assert_eq!(Format::Us.normalize("94304-12"), None);
        assert_eq!(Format::Us.normalize("94304–1234"), Some("94304-1234".into()), "en dash");
        assert_eq!(Format::Us.normalize("94304--1234"), None, "one separator at most");
        assert_eq!(Format::Us.normalize("94304-12345"), None);
        assert_eq!(Format::Us.normalize("9430é"), None);
        assert_eq!(Format::Us.normalize("94304é1234"), None);
        assert_eq!(Format::Us.normalize("943045"), None);
    }

    #[test]
    fn canadian_postal_codes() {
        assert_eq!(Format::Ca.normalize("m5v2t6"), Some("M5V 2T6".into()));
        assert_eq!(Format::Ca.normalize("M5V 2T6"), Some("M5V 2T6".into()));
        assert_eq!(Format::Ca.normalize("D5V 2T6"), None);
        assert_eq!(Format::Ca.normalize("M5V 2T"), None);
    }

    #[test]
    fn uk_and_irish_postcodes() {
        assert_eq!(Format::Gb.normalize("sw1a1aa"), Some("SW1A 1AA".into()));
        assert_eq!(Format::Gb.normalize("M1 1AE"), Some("M1 1AE".into()));
        assert_eq!(Format::Gb.normalize("EC1A 1BB"), Some("EC1A 1BB".into()));
        assert_eq!(Format::Gb.normalize("12345"), None);
        assert_eq!(Format::Ie.normalize("d02x285"), Some("D02 X285".into()));
        assert_eq!(Format::Ie.normalize("D6W 1234"), Some("D6W 1234".into()));
    }

    #[test]
    fn other_formats() {
        assert_eq!(Format::Nl.normalize("1012ab"), Some("1012 AB".into()));
        assert_eq!(Format::Jp.normalize("〒1000001"), Some("100-0001".into()));
        assert_eq!(Format::Br.normalize("01310100"), Some("01310-100".into()));
        assert_eq!(Format::Se.normalize("11122"), Some("111 22".into()));
        assert_eq!(Format::Pt.normalize("1100-148"), Some("1100-148".into()));
        assert_eq!(Format::Digits(5).normalize("10115"), Some("10115".into()));
        assert_eq!(Format::Digits(5).normalize("1011"), None);
    }

    #[test]
    fn country_prefixes() {
        assert_eq!(strip_country_prefix("CH-8001"), Some("8001"));
        assert_eq!(strip_country_prefix("D-10115"), Some("10115"));
        assert_eq!(strip_country_prefix("Saint-Denis"), None);
    }
}
