//! Picks and parses the ship-to and bill-to of a transaction: ship-to from `ShipAddr`, else
//! `BillAddr`; bill-to from `BillAddr`, else the ship-to; the billing e-mail on both.

use crate::address::{
    AddressContext, AddressError, AddressErrorCode, ParsedAddress, parse_address,
};
use crate::model::ordoro::OrdoroAddress;
use crate::model::qbo::{PhysicalAddress, SalesTransaction};

use super::MappingConfig;
use super::lines::clean;

/// Both addresses of an order, parsed, with what was noticed on the way.
#[derive(Debug)]
pub(crate) struct Addresses {
    pub ship_to: ParsedAddress,
    pub bill_to: ParsedAddress,
    pub warnings: Vec<String>,
}

/// Parses the addresses, or returns the ship-to's error (an order never ships to a guess).
pub(crate) fn resolve(
    doc: &SalesTransaction,
    config: &MappingConfig,
) -> Result<Addresses, AddressError> {
    let bill_to_fallback = config.bill_to_fallback();
    let parse = parser(doc, config);
    let ship_src = present(doc.ship_addr.as_ref());
    let bill_src = present(doc.bill_addr.as_ref());
    let mut warnings = Vec::new();
    let ship_to = ship_to_with(doc, &parse)?;
    warnings.extend(ship_to.warnings.iter().map(|w| format!("ship-to: {w}")));
    let bill_to = match (ship_src, bill_src) {
        (Some(_), Some(bill)) => match parse(bill) {
            Ok(parsed) => {
                warnings.extend(parsed.warnings.iter().map(|w| format!("bill-to: {w}")));
                parsed
            }
            Err(e) if bill_to_fallback => {
                warnings.push(format!(
                    "bill-to address could not be read ({}: {}); the ship-to is used as bill-to",
                    e.code.as_str(),
                    e.message
                ));
                ship_to.clone()
            }
            Err(e) => return Err(labelled(e, "bill-to")),
        },
        _ => ship_to.clone(),
    };
    Ok(Addresses { ship_to, bill_to, warnings })
}

/// The ship-to alone, parsed as [`resolve`] parses it: from `ShipAddr`, else `BillAddr`.
pub(crate) fn ship_to(
    doc: &SalesTransaction,
    config: &MappingConfig,
) -> Result<ParsedAddress, AddressError> {
    ship_to_with(doc, &parser(doc, config))
}

/// Reads an address block of `doc` with what the parser is told of its customer and the
/// company's country.
fn parser(
    doc: &SalesTransaction,
    config: &MappingConfig,
) -> impl Fn(&PhysicalAddress) -> Result<ParsedAddress, AddressError> {
    let display = doc.customer_ref.as_ref().and_then(|c| clean(c.name.as_deref()));
    let country = config.company_country().map(str::to_string);
    move |addr: &PhysicalAddress| {
        parse_address(addr, &context_for(addr, display.clone(), country.clone()))
    }
}

/// The ship-to: `ShipAddr` when it holds text, else `BillAddr`, else an `empty_input` error.
fn ship_to_with(
    doc: &SalesTransaction,
    parse: &impl Fn(&PhysicalAddress) -> Result<ParsedAddress, AddressError>,
) -> Result<ParsedAddress, AddressError> {
    match (present(doc.ship_addr.as_ref()), present(doc.bill_addr.as_ref())) {
        (Some(ship), _) => parse(ship).map_err(|e| labelled(e, "ship-to")),
        (None, Some(bill)) => {
            parse(bill).map_err(|e| labelled(e, "ship-to (from BillAddr, as ShipAddr is empty)"))
        }
        (None, None) => Err(AddressError {
            code: AddressErrorCode::EmptyInput,
            message: "the transaction has neither a ShipAddr nor a BillAddr; add the ship-to \
                      address in QuickBooks"
                .into(),
            raw_lines: Vec::new(),
        }),
    }
}

/// What the parser is told of the customer. QBO's display name is a person or a business, and
/// typed blocks run top-down recipient then company, so a display name typed below the block's
/// first line names the company; anywhere else (or not typed at all) it is the recipient.
fn context_for(
    addr: &PhysicalAddress,
    display: Option<String>,
    default_country: Option<String>,
) -> AddressContext {
    let key = |s: &str| clean(Some(s)).map(|c| c.to_lowercase());
    let typed_below_first = display.as_deref().and_then(key).is_some_and(|d| {
        addr.lines().iter().flatten().filter_map(|l| key(l)).skip(1).any(|l| l == d)
    });
    if typed_below_first {
        AddressContext { display_name: None, company_name: display, default_country }
    } else {
        AddressContext { display_name: display, company_name: None, default_country }
    }
}

/// The first address of `BillEmail` (QBO allows a comma-separated list).
pub(crate) fn first_email(doc: &SalesTransaction) -> Option<String> {
    let all = doc.bill_email.as_ref()?.address.as_deref()?;
    all.split([',', ';']).find_map(|a| clean(Some(a)))
}

/// Ordoro's address fields from a parsed address and the e-mail.
pub(crate) fn to_ordoro(p: &ParsedAddress, email: Option<&str>) -> OrdoroAddress {
    OrdoroAddress {
        name: p.name.clone(),
        company: p.company.clone(),
        street1: p.street1.clone(),
        street2: p.street2.clone(),
        city: p.city.clone(),
        state: p.state.clone(),
        zip: p.zip.clone(),
        country: p.country.clone(),
        email: email.map(str::to_string),
        phone: None,
    }
}

/// The address when it holds any text; an address with only an id or a geocode counts as absent.
fn present(addr: Option<&PhysicalAddress>) -> Option<&PhysicalAddress> {
    addr.filter(|a| {
        let fields = [&a.city, &a.country_sub_division_code, &a.postal_code, &a.country];
        a.lines().iter().any(|l| clean(*l).is_some())
            || fields.iter().any(|f| clean(f.as_deref()).is_some())
    })
}

fn labelled(mut e: AddressError, which: &str) -> AddressError {
    e.message = format!("{which}: {}", e.message);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::qbo::EmailAddress;

    #[test]
    fn first_email_takes_the_first_non_blank_address() {
        let doc = SalesTransaction {
            bill_email: Some(EmailAddress { address: Some(" , a@x.com; b@y.com".into()) }),
            ..Default::default()
        };
        assert_eq!(first_email(&doc).as_deref(), Some("a@x.com"));
        assert_eq!(first_email(&SalesTransaction::default()), None);
    }

    #[test]
    fn display_name_below_the_first_line_is_the_company() {
        let block = PhysicalAddress::from_lines(&["Grace Pariente", " cool  cars", "65 Ocean Dr."]);
        let ctx = context_for(&block, Some("Cool Cars".into()), None);
        assert_eq!(ctx.company_name.as_deref(), Some("Cool Cars"));
        assert_eq!(ctx.display_name, None);
        let first = PhysicalAddress::from_lines(&["Cool Cars", "65 Ocean Dr."]);
        assert_eq!(
            context_for(&first, Some("Cool Cars".into()), None).display_name.as_deref(),
            Some("Cool Cars")
        );
        let absent = PhysicalAddress::from_lines(&["65 Ocean Dr."]);
        assert_eq!(
            context_for(&absent, Some("Cool Cars".into()), None).display_name.as_deref(),
            Some("Cool Cars")
        );
        assert_eq!(context_for(&absent, None, None), AddressContext::default());
    }

    #[test]
    fn an_address_with_only_an_id_and_geocode_is_absent() {
        let a = PhysicalAddress {
            id: Some("7".into()),
            lat: Some("INVALID".into()),
            line1: Some("  ".into()),
            ..Default::default()
        };
        assert!(present(Some(&a)).is_none());
        let b = PhysicalAddress { postal_code: Some("60601".into()), ..Default::default() };
        assert!(present(Some(&b)).is_some());
    }
}
