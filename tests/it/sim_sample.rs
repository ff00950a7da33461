//! The sample-sales generator is deterministic, varied, and its sales add up.

use chrono::{Duration, TimeZone, Utc};
use qbo_ordoro::model::qbo::{EntityKind, LineDetail};
use qbo_ordoro::sim::sample::{Expected, generate, sample_company};
use rust_decimal::Decimal;

#[test]
fn the_same_seed_gives_the_same_sales() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let a = generate(7, 200, start, Duration::seconds(1));
    let b = generate(7, 200, start, Duration::seconds(1));
    let c = generate(8, 200, start, Duration::seconds(1));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_sample_company_exercises_every_outcome_and_both_entities() {
    let sales = sample_company(Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap());
    assert!(sales.len() >= 50);
    for outcome in [Expected::Order, Expected::NotMarked, Expected::Voided] {
        assert!(sales.iter().any(|s| s.expected == outcome), "{outcome:?} missing");
    }
    for kind in EntityKind::ALL {
        assert!(sales.iter().any(|s| s.txn.kind == kind), "{kind} missing");
    }
    let has = |pred: &dyn Fn(&LineDetail) -> bool| {
        sales.iter().any(|s| s.txn.doc.line.iter().any(|l| pred(&l.detail)))
    };
    assert!(has(&|d| matches!(d, LineDetail::Group(_))), "a bundle");
    assert!(has(&|d| matches!(d, LineDetail::Discount(_))), "a discount");
    assert!(sales.iter().any(|s| s.txn.doc.class_ref.is_none() && s.expected == Expected::Order));
}

#[test]
fn generated_sales_add_up_to_their_total() {
    let start = Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap();
    for sale in generate(11, 500, start, Duration::milliseconds(400)) {
        let doc = &sale.txn.doc;
        let mut sum = Decimal::ZERO;
        for line in &doc.line {
            match &line.detail {
                LineDetail::SalesItem(_) => sum += line.amount.unwrap_or_default(),
                LineDetail::Group(g) => {
                    sum += g.line.iter().filter_map(|l| l.amount).sum::<Decimal>()
                }
                LineDetail::Discount(_) => sum -= line.amount.unwrap_or_default(),
                _ => {}
            }
        }
        sum += doc.txn_tax_detail.as_ref().and_then(|t| t.total_tax).unwrap_or_default();
        if sale.expected != Expected::Voided {
            assert_eq!(Some(sum), doc.total_amt, "sale {} {}", sale.txn.kind, doc.id);
        } else {
            assert_eq!(doc.total_amt, Some(Decimal::ZERO));
        }
    }
}

#[test]
fn eligible_sales_all_map_to_an_order() {
    use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
    use qbo_ordoro::sim::sample::generate_eligible;
    let start = Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap();
    let sales = generate_eligible(5, 1000, start, Duration::seconds(2));
    assert_eq!(sales.len(), 1000);
    for kind in EntityKind::ALL {
        assert!(sales.iter().any(|s| s.txn.kind == kind), "{kind} missing");
    }
    let config = MappingConfig::default();
    for sale in &sales {
        assert_eq!(sale.expected, Expected::Order);
        let decision = decide(&sale.txn, &config);
        assert!(
            matches!(decision, Decision::Create(_)),
            "sale {} {}: {decision:?}",
            sale.txn.kind,
            sale.txn.doc.id
        );
    }
}
