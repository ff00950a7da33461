//! The lines above the city line: which is the recipient, which the company, which the street
//! lines. Reads them top-down with the line classifiers ([`super::classify`]): the first line
//! that reads as a street starts the street lines, `Attn:` and `c/o` lines and the lines that
//! match the customer go where they say, and the rest above the street are the name, then the
//! company.

use super::classify::{
    StreetKind, attn_name, is_care_of, is_company_like, is_numbered_name, is_urbanization,
    street_kind,
};
use super::text::{Few, clean_field, same_key};
use super::words::has_street_word;
use super::{AddressContext, AddressErrorCode};

/// The three address-name fields and the street lines read from the lines above the city line.
#[derive(Debug, Default)]
pub(crate) struct Upper {
    pub(crate) name: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) street1: Option<String>,
    pub(crate) street2: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag<'a> {
    Attn(&'a str),
    CareOf,
    Display,
    Company,
    /// A Puerto Rico urbanization: a street line, never the first when another follows.
    Urbanization,
    Plain(StreetKind),
}

/// Reads the lines above the city line: recipient, company, `Attn:`/`c/o` lines and streets.
/// In structured mode `Line1` is the street unless it matches the customer or is followed by
/// a numbered street line.
pub(crate) fn read_upper(
    lines: &[&str],
    ctx: &AddressContext,
    structured: bool,
    warnings: &mut Vec<String>,
) -> Result<Upper, AddressErrorCode> {
    // At most five lines reach here; the stack lists keep the hot path free of allocations.
    let mut tags: Few<Tag<'_>> = Few::new(Tag::Plain(StreetKind::NotStreet));
    for line in lines {
        let _ = tags.push(tag_line(line, ctx));
    }
    let first_street = find_first_street(tags.as_slice(), lines, structured)?;
    let mut up = Upper::default();
    let mut others: Few<&str> = Few::new("");
    let mut streets: Few<&str> = Few::new("");
    let mut care_of: Few<&str> = Few::new("");
    let mut attn: Option<(&str, &str)> = None;
    let mut attn_to_company: Option<&str> = None;
    let mut urbanizations: Few<usize> = Few::new(0);
    for (i, (tag, line)) in tags.as_slice().iter().zip(lines).enumerate() {
        match *tag {
            Tag::Attn(n) if attn.is_none() => attn = Some((n, line)),
            Tag::Attn(_) | Tag::CareOf => {
                care_of.push(line);
            }
            Tag::Display if up.name.is_none() => up.name = Some(clean_field(line, false)),
            Tag::Company if up.company.is_none() => up.company = Some(clean_field(line, false)),
            Tag::Display | Tag::Company => {
                warnings.push(format!("duplicate line ignored: {}", line.trim()))
            }
            Tag::Plain(_) if i < first_street => {
                others.push(line);
            }
            Tag::Plain(_) => {
                streets.push(line);
            }
            Tag::Urbanization => {
                urbanizations.push(i);
                streets.push(line);
            }
        }
    }
    // `Attn:` names the recipient unless two other lines already name a recipient and a company.
    if let Some((name, line)) = attn {
        if up.name.is_none() && others.as_slice().len() < 2 {
            up.name = Some(clean_field(name, false));
        } else {
            attn_to_company = Some(line);
        }
    }
    for line in others.as_slice() {
        if up.name.as_deref().is_some_and(|n| same_key(n, line)) {
            warnings.push(format!("duplicate name line ignored: {}", line.trim()));
            continue;
        }
        if up.name.is_none() {
            up.name = Some(clean_field(line, false));
        } else {
            push_company(&mut up.company, line);
        }
    }
    for line in attn_to_company.iter().chain(care_of.as_slice()) {
        push_company(&mut up.company, line);
    }
    // street1 is the first street line that is not an urbanization (typed above the street or
    // below it, an urbanization is the second line), the rest join into street2 as typed.
    let mut ordered: Few<&str> = Few::new("");
    let urb_count = urbanizations.as_slice().len();
    let first = streets.as_slice().iter().position(|l| !is_urbanization(l));
    if let Some(first) = first.filter(|_| urb_count > 0) {
        let all = streets.as_slice();
        ordered.push(all[first]);
        for (j, l) in all.iter().enumerate() {
            if j != first {
                ordered.push(l);
            }
        }
        streets = ordered;
    }
    let streets = streets.as_slice();
    up.street1 = streets.first().map(|s| clean_field(s, false));
    for (i, line) in streets.iter().enumerate().skip(1) {
        let line = clean_field(line, false);
        match up.street2.as_mut() {
            Some(s2) => {
                s2.push_str(", ");
                s2.push_str(&line);
            }
            None => up.street2 = Some(line),
        }
        if i == 2 {
            warnings.push("street lines after the second were joined into street2".into());
        }
    }
    if up.street1.is_none() {
        return Err(AddressErrorCode::MissingStreetLine);
    }
    Ok(up)
}

fn push_company(company: &mut Option<String>, line: &str) {
    let line = clean_field(line, false);
    match company {
        Some(c) if !same_key(c, &line) => {
            c.push_str(", ");
            c.push_str(&line);
        }
        Some(_) => {}
        None => *company = Some(line),
    }
}

fn tag_line<'a>(line: &'a str, ctx: &AddressContext) -> Tag<'a> {
    if let Some(n) = attn_name(line) {
        return Tag::Attn(n);
    }
    if is_care_of(line) {
        return Tag::CareOf;
    }
    if ctx.display_name.as_deref().is_some_and(|d| same_key(d, line)) {
        return Tag::Display;
    }
    if ctx.company_name.as_deref().is_some_and(|c| same_key(c, line)) {
        return Tag::Company;
    }
    if is_urbanization(line) {
        return Tag::Urbanization;
    }
    Tag::Plain(street_kind(line))
}

fn find_first_street(
    tags: &[Tag<'_>],
    lines: &[&str],
    structured: bool,
) -> Result<usize, AddressErrorCode> {
    let kind = |i: usize| match tags.get(i) {
        Some(Tag::Plain(k)) => Some(*k),
        _ => None,
    };
    let strong_after = |i: usize| (i + 1..tags.len()).any(|j| kind(j) == Some(StreetKind::Strong));
    // `1-800-FLOWERS` or `24 Hour Fitness` above `12 Main St` names the company.
    let street_word_after = |i: usize| {
        (i + 1..tags.len()).any(|j| {
            kind(j) == Some(StreetKind::Strong) && lines.get(j).is_some_and(|l| has_street_word(l))
        })
    };
    let numbered_name =
        |i: usize| street_word_after(i) && lines.get(i).is_some_and(|l| is_numbered_name(l));
    let first = (0..tags.len()).find(|&i| match kind(i) {
        Some(StreetKind::Strong) if numbered_name(i) => false,
        Some(StreetKind::Strong | StreetKind::Digit) => true,
        Some(StreetKind::Word) => !strong_after(i),
        _ => false,
    });
    if let Some(i) = first {
        return Ok(i);
    }
    if tags.contains(&Tag::Urbanization) {
        // The urbanization is the only street line: every plain line is above the street.
        return Ok(tags.len());
    }
    let plain: Vec<usize> = (0..tags.len()).filter(|&i| kind(i).is_some()).collect();
    if structured {
        return plain.first().copied().ok_or(AddressErrorCode::MissingStreetLine);
    }
    // No line reads as a street: with two or more plain lines, the lowest is the street (a
    // house name, a street without a number), unless it names a company.
    match plain.as_slice() {
        [_, .., last] if !lines.get(*last).is_some_and(|l| is_company_like(l)) => Ok(*last),
        _ => Err(AddressErrorCode::MissingStreetLine),
    }
}
