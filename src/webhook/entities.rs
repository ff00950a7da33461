//! QBO's entity names as QBO spells them, so that an event names its entity the same way
//! whichever format it came in (CloudEvents writes the name in lower case inside its `type`).

/// The entities QBO's webhooks notify (and a few more QBO names), in QBO's spelling. A name is
/// looked up without regard to case.
const QBO_ENTITIES: &[&str] = &[
    "Account",
    "Attachable",
    "Bill",
    "BillPayment",
    "Budget",
    "Class",
    "CompanyCurrency",
    "CompanyInfo",
    "CreditCardPayment",
    "CreditMemo",
    "Currency",
    "Customer",
    "CustomerType",
    "Department",
    "Deposit",
    "Employee",
    "Entitlements",
    "Estimate",
    "ExchangeRate",
    "Invoice",
    "Item",
    "JournalCode",
    "JournalEntry",
    "Payment",
    "PaymentMethod",
    "Preferences",
    "Purchase",
    "PurchaseOrder",
    "RecurringTransaction",
    "RefundReceipt",
    "ReimburseCharge",
    "SalesReceipt",
    "TaxAgency",
    "TaxCode",
    "TaxPayment",
    "TaxRate",
    "Term",
    "TimeActivity",
    "Transfer",
    "Vendor",
    "VendorCredit",
];

/// QBO's spelling of `name` when it is one of QBO's entities, matched without regard to case.
pub(super) fn canonical(name: &str) -> Option<&'static str> {
    QBO_ENTITIES.iter().copied().find(|known| known.eq_ignore_ascii_case(name))
}

/// The entity named in a legacy event: QBO's spelling when known, else the name as given.
pub(super) fn from_legacy(name: &str) -> String {
    canonical(name).map_or_else(|| name.to_string(), str::to_string)
}

/// The entity named in a CloudEvents `type` (`salesreceipt`): QBO's spelling when known, else
/// the name with its first letter upper-cased, the nearest guess at QBO's spelling.
pub(super) fn from_cloud_event(name: &str) -> String {
    if let Some(known) = canonical(name) {
        return known.to_string();
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_the_table_is_found_in_any_case() {
        for name in QBO_ENTITIES {
            assert_eq!(canonical(name), Some(*name));
            assert_eq!(canonical(&name.to_lowercase()), Some(*name));
            assert_eq!(canonical(&name.to_uppercase()), Some(*name));
        }
        assert_eq!(from_cloud_event("salesreceipt"), "SalesReceipt");
        assert_eq!(from_cloud_event("billpayment"), "BillPayment");
        assert_eq!(from_legacy("INVOICE"), "Invoice");
    }

    #[test]
    fn an_unknown_name_keeps_its_spelling_or_gets_a_capital() {
        assert_eq!(from_legacy("fooBar"), "fooBar");
        assert_eq!(from_cloud_event("foobar"), "Foobar");
        assert_eq!(from_cloud_event("éclair"), "Éclair");
        assert_eq!(from_cloud_event(""), "");
    }
}
