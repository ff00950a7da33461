//! The update policy: bring an order that still awaits fulfilment up to date with its changed
//! transaction, through Ordoro's sub-resource calls (addresses, totals, and lines diffed by
//! `cart_orderitem_id`), writing only what differs.
//!
//! Every body is partial: it names only the fields the sync owns and that changed, because
//! Ordoro keeps what a body leaves out and erases what it sends as `null`. What the sync owns:
//! - **totals** and **the lines it sent** (each carries the QBO line id as `cart_orderitem_id`)
//!   are the sale's own, kept equal to QBO; a line the warehouse added is left alone;
//! - **an address field** is shared with the warehouse, who may add a phone number or a second
//!   street line QBO never had. The sync sets a field whose QBO value changed since it last sent
//!   it (or, for an order with no record of what was sent, differs from Ordoro's), never sends a
//!   field QBO has no value for, and erases one only when the merchant cleared it in QBO after
//!   it was sent and Ordoro still holds what was sent; the log says which and why.
//!
//! What was sent is the [`SentOrder`] the store keeps per transaction, written once Ordoro has
//! accepted every write of an update. The order's notes and tags are written at creation only.

use std::collections::{HashMap, HashSet};

use tracing::debug;

use super::SyncEngine;
use super::handle::{Outcome, Record, RunCtx, left_alone_reason};
use super::log::TxnFacts;
use crate::model::ordoro::{
    AddressField, AddressUpdate, NewOrder, NewOrderLine, Order, OrderFinancial, OrderLine,
    OrdoroAddress, PostOrderLine, PutOrderLine,
};
use crate::store::{Action, LedgerChange, LedgerEntry, LedgerKey, LedgerState, SentOrder};
use crate::{Reason, Result};

/// One write that brings an order closer to its transaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    ShippingAddress(AddressUpdate),
    BillingAddress(AddressUpdate),
    Financial(OrderFinancial),
    AddLine(PostOrderLine),
    UpdateLine(i64, PutOrderLine),
    DeleteLine(i64),
}

/// The fields of one address to write: see the module docs for which.
fn address_update(
    current: Option<&OrdoroAddress>,
    wanted: &OrdoroAddress,
    sent: Option<&OrdoroAddress>,
) -> AddressUpdate {
    let none = OrdoroAddress::default();
    let current = current.unwrap_or(&none);
    let mut update = AddressUpdate::default();
    for field in AddressField::ALL {
        let (ours, theirs) = (field.of(wanted), field.of(current));
        let was_sent = sent.map(|s| field.of(s));
        match (ours, was_sent) {
            // Unchanged in QBO since it was sent: what Ordoro holds now (a warehouse user's
            // correction) stays.
            (ours, Some(sent)) if ours == sent => {}
            (Some(ours), _) => {
                if theirs != Some(ours) {
                    update.set(field, ours);
                }
            }
            // Cleared in QBO after it was sent: erase it, unless someone has since replaced it
            // in Ordoro (then the value is theirs).
            (None, Some(sent)) => {
                if sent.is_some() && theirs == sent {
                    update.clear(field);
                }
            }
            // QBO never had it, or nothing says the sync sent it: leave it out.
            (None, None) => {}
        }
    }
    update
}

/// The totals that differ from Ordoro's: only those are sent.
fn financial_update(current: Option<&OrderFinancial>, wanted: &NewOrder) -> OrderFinancial {
    let current = current.cloned().unwrap_or_default();
    let changed =
        |w: Option<rust_decimal::Decimal>, c: Option<rust_decimal::Decimal>| w.filter(|_| w != c);
    OrderFinancial {
        product_amount: changed(wanted.product_amount, current.product_amount),
        shipping_amount: changed(wanted.shipping_amount, current.shipping_amount),
        tax_amount: changed(wanted.tax_amount, current.tax_amount),
        discount_amount: changed(wanted.discount_amount, current.discount_amount),
        grand_total: changed(wanted.grand_total, current.grand_total),
    }
}

fn new_line_key(line: &NewOrderLine) -> String {
    line_key(line.cart_orderitem_id.as_deref(), Some(&line.product.sku))
}

fn order_line_key(line: &OrderLine) -> String {
    line_key(line.cart_orderitem_id.as_deref(), line.sku.as_deref())
}

fn line_key(cart_orderitem_id: Option<&str>, sku: Option<&str>) -> String {
    match (cart_orderitem_id, sku) {
        (Some(id), _) => format!("id:{id}"),
        (None, Some(sku)) => format!("sku:{sku}"),
        (None, None) => String::new(),
    }
}

/// True when the sync may delete `line`, which QBO no longer has: it carries a source line id
/// (only the sync sets one), or the record of what was sent lists it. Without a record, a line
/// without a source id may be the warehouse's, so it stays.
fn line_is_ours(line: &OrderLine, sent: Option<&SentOrder>) -> bool {
    line.cart_orderitem_id.is_some()
        || sent.is_some_and(|s| {
            let key = order_line_key(line);
            s.lines.iter().any(|l| line_key(l.cart_orderitem_id.as_deref(), Some(&l.sku)) == key)
        })
}

/// The fields of a line that differ from Ordoro's. A total Ordoro does not echo goes with the
/// line's other changes, so that it never stays behind them.
fn line_update(current: &OrderLine, wanted: &NewOrderLine) -> PutOrderLine {
    let mut put = PutOrderLine::default();
    if current.quantity != Some(wanted.quantity) {
        put.quantity = Some(wanted.quantity);
    }
    if wanted.item_price.is_some() && current.item_price != wanted.item_price {
        put.item_price = wanted.item_price;
    }
    let total_differs = current.total_price.is_some() && current.total_price != wanted.total_price;
    let total_unknown = current.total_price.is_none() && put != PutOrderLine::default();
    if wanted.total_price.is_some() && (total_differs || total_unknown) {
        put.total_price = wanted.total_price;
    }
    put
}

/// The line writes, in a safe order: deletes, then changes, then additions.
fn plan_lines(current: &Order, wanted: &NewOrder, sent: Option<&SentOrder>) -> Vec<Step> {
    let mut deletes = Vec::new();
    let mut changes = Vec::new();
    let wanted_lines: HashMap<String, &NewOrderLine> =
        wanted.lines.iter().map(|l| (new_line_key(l), l)).collect();
    let mut present = HashSet::new();
    for line in &current.lines {
        let key = order_line_key(line);
        match (wanted_lines.get(&key), line.id) {
            (None, Some(id)) if line_is_ours(line, sent) => deletes.push(Step::DeleteLine(id)),
            (Some(w), Some(id)) => {
                present.insert(key);
                let put = line_update(line, w);
                if put != PutOrderLine::default() {
                    changes.push(Step::UpdateLine(id, put));
                }
            }
            (Some(_), None) => {
                present.insert(key);
            }
            (None, _) => {}
        }
    }
    let additions = wanted.lines.iter().filter(|l| !present.contains(&new_line_key(l))).map(|l| {
        Step::AddLine(PostOrderLine {
            sku: l.product.sku.clone(),
            quantity: l.quantity,
            item_price: l.item_price,
            total_price: l.total_price,
            product_name: l.product_name.clone().or_else(|| Some(l.product.name.clone())),
            cart_orderitem_id: l.cart_orderitem_id.clone(),
        })
    });
    deletes.into_iter().chain(changes).chain(additions.collect::<Vec<_>>()).collect()
}

/// The writes that turn `current` into `wanted`, given what was last `sent` (when recorded for
/// this very order), in a safe order: lines first (deletes, then changes, then additions), then
/// addresses, then totals.
pub(crate) fn plan_update(
    current: &Order,
    wanted: &NewOrder,
    sent: Option<&SentOrder>,
) -> Vec<Step> {
    let mut steps = plan_lines(current, wanted, sent);
    let shipping = address_update(
        current.shipping_address.as_ref(),
        &wanted.shipping_address,
        sent.map(|s| &s.shipping_address),
    );
    if !shipping.is_empty() {
        steps.push(Step::ShippingAddress(shipping));
    }
    let billing = address_update(
        current.billing_address.as_ref(),
        &wanted.billing_address,
        sent.map(|s| &s.billing_address),
    );
    if !billing.is_empty() {
        steps.push(Step::BillingAddress(billing));
    }
    let financial = financial_update(current.financial.as_ref(), wanted);
    if financial != OrderFinancial::default() {
        steps.push(Step::Financial(financial));
    }
    steps
}

/// A short description of a plan for the log ("shipping address (phone cleared in QBO), 1 line
/// added, totals"): an erased field is always named, with why.
pub(crate) fn describe(steps: &[Step]) -> String {
    let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
    let mut parts = Vec::new();
    let mut lines = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} line{} {what}", if n == 1 { "" } else { "s" }));
        }
    };
    lines(count(|s| matches!(s, Step::DeleteLine(_))), "removed");
    lines(count(|s| matches!(s, Step::UpdateLine(..))), "changed");
    lines(count(|s| matches!(s, Step::AddLine(_))), "added");
    for step in steps {
        let (what, update) = match step {
            Step::ShippingAddress(u) => ("shipping address", u),
            Step::BillingAddress(u) => ("billing address", u),
            _ => continue,
        };
        let cleared = update.cleared();
        if cleared.is_empty() {
            parts.push(what.to_string());
        } else {
            let names: Vec<&str> = cleared.iter().map(|f| f.as_str()).collect();
            parts.push(format!("{what} ({} cleared in QBO)", names.join(", ")));
        }
    }
    if count(|s| matches!(s, Step::Financial(_))) > 0 {
        parts.push("totals".to_string());
    }
    parts.join(", ")
}

impl SyncEngine {
    async fn apply_step(&self, order_number: &str, step: &Step) -> Result<()> {
        match step {
            Step::ShippingAddress(a) => self.ordoro.update_shipping_address(order_number, a).await,
            Step::BillingAddress(a) => self.ordoro.update_billing_address(order_number, a).await,
            Step::Financial(f) => self.ordoro.update_financial(order_number, f).await,
            Step::AddLine(l) => self.ordoro.add_line(order_number, l).await,
            Step::UpdateLine(id, l) => self.ordoro.update_line(order_number, *id, l).await,
            Step::DeleteLine(id) => self.ordoro.delete_line(order_number, *id).await,
        }
    }

    /// Brings the order of a changed transaction up to date, unless it has left the queue.
    pub(crate) async fn update_order(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        known: LedgerEntry,
        wanted: &NewOrder,
    ) -> Result<Outcome> {
        let number = known.order_number.clone();
        let label = number.clone().unwrap_or_else(|| known.order_id.clone());
        // Once this version is dealt with (applied, or deliberately not), re-reads say unchanged.
        let handled = LedgerChange::Put(LedgerEntry {
            sync_token: facts.sync_token.clone().unwrap_or_else(|| known.sync_token.clone()),
            state: LedgerState::Created,
            updated_at: self.clock.now(),
            ..known.clone()
        });
        let done = |action: Action, reason: Option<Reason>, detail: String| {
            let mut log = self.entry(ctx, facts, action, reason, detail);
            log.order_number = number.clone();
            Outcome::Done(Record { log, ledger: Some(handled.clone()) })
        };
        let read = match &number {
            Some(n) => self.ordoro.get_order(n).await,
            None => self.lookup(&known.order_id).await,
        };
        let current = match read {
            Ok(Some(order)) => order,
            Ok(None) => {
                let detail = format!("order {label} is no longer in Ordoro; nothing to update");
                return Ok(done(Action::Failed, Some(Reason::OrderNotFound), detail));
            }
            Err(err) => {
                return Ok(self.failed(ctx, facts, &err, "could not read the order to update it"));
            }
        };
        let order_number = current.order_number.clone();
        if let Some(reason) = left_alone_reason(&current) {
            let detail = format!(
                "order {order_number} is {}; the change in QBO was not applied",
                current.status
            );
            return Ok(done(Action::Skipped, Some(reason), detail));
        }
        let sent = self.sent_to(&known.key, &order_number).await?;
        let steps = plan_update(&current, wanted, sent.as_ref());
        if steps.is_empty() {
            if !ctx.dry_run() {
                self.remember_sent(&known.key, &order_number, wanted, sent.as_ref()).await?;
            }
            let detail = format!("order {order_number} already matches the transaction");
            return Ok(done(Action::Skipped, Some(Reason::Unchanged), detail));
        }
        let what = describe(&steps);
        if ctx.dry_run() {
            let detail = format!("would update order {order_number}: {what}");
            return Ok(done(Action::Updated, None, detail));
        }
        for step in &steps {
            if let Err(err) = self.apply_step(&order_number, step).await {
                let context = format!("could not update order {order_number} ({what})");
                let outcome =
                    self.failed(ctx, facts, &err, &context).with_order(Some(order_number));
                return Ok(if outcome.is_handled() {
                    outcome.with_ledger(handled)
                } else {
                    outcome
                });
            }
        }
        self.remember_sent(&known.key, &order_number, wanted, sent.as_ref()).await?;
        debug!(order_number = %order_number, changes = %what, "order updated");
        Ok(done(Action::Updated, None, format!("order {order_number} updated: {what}")))
    }

    /// What was last sent to order `order_number` of transaction `key`; a record of another
    /// order (the transaction's earlier order) is not this one's.
    async fn sent_to(&self, key: &LedgerKey, order_number: &str) -> Result<Option<SentOrder>> {
        let sent = self.store.sent_order(key).await?;
        Ok(sent.filter(|s| s.order_number == order_number))
    }

    /// Records that order `order_number` of transaction `key` now holds what the sync owns of
    /// `order` (Ordoro accepted every write), unless `known` already says so. Also the call
    /// that records a create's body once Ordoro has the order.
    pub(crate) async fn remember_sent(
        &self,
        key: &LedgerKey,
        order_number: &str,
        order: &NewOrder,
        known: Option<&SentOrder>,
    ) -> Result<()> {
        let sent = SentOrder::new(order_number, order, self.clock.now());
        if known.is_some_and(|k| k.same_values(&sent)) {
            return Ok(());
        }
        self.store.save_sent_order(key, &sent).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ordoro::LineProduct;
    use rust_decimal::Decimal;

    fn new_line(id: &str, sku: &str, qty: i64, price: i64) -> NewOrderLine {
        NewOrderLine {
            cart_orderitem_id: Some(id.to_string()),
            product_name: Some(sku.to_string()),
            item_price: Some(Decimal::from(price)),
            quantity: qty,
            total_price: Some(Decimal::from(price * qty)),
            product: LineProduct { sku: sku.to_string(), name: sku.to_string(), price: None },
        }
    }

    fn order_line(line_id: i64, id: &str, sku: &str, qty: i64, price: i64) -> OrderLine {
        OrderLine {
            id: Some(line_id),
            sku: Some(sku.to_string()),
            product_name: Some(sku.to_string()),
            quantity: Some(qty),
            item_price: Some(Decimal::from(price)),
            total_price: Some(Decimal::from(price * qty)),
            cart_orderitem_id: Some(id.to_string()),
        }
    }

    #[test]
    fn lines_are_diffed_by_source_line_id() {
        let wanted = NewOrder {
            lines: vec![new_line("1", "A", 2, 5), new_line("3", "C", 1, 7)],
            ..Default::default()
        };
        let current = Order {
            order_number: "1-QBO-INV-1".into(),
            status: "awaiting_fulfillment".into(),
            lines: vec![order_line(10, "1", "A", 1, 5), order_line(11, "2", "B", 1, 3)],
            shipping_address: Some(OrdoroAddress::default()),
            billing_address: Some(OrdoroAddress::default()),
            ..Default::default()
        };
        let steps = plan_update(&current, &wanted, None);
        assert_eq!(steps.first(), Some(&Step::DeleteLine(11)));
        assert!(steps.contains(&Step::UpdateLine(
            10,
            // The unit price did not change, so it is not sent.
            PutOrderLine {
                quantity: Some(2),
                item_price: None,
                total_price: Some(Decimal::from(10))
            }
        )));
        assert!(steps.iter().any(|s| matches!(s, Step::AddLine(l) if l.sku == "C")));
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert_eq!(describe(&steps), "1 line removed, 1 line changed, 1 line added");
    }

    #[test]
    fn an_order_that_matches_needs_no_write() {
        let wanted = NewOrder {
            lines: vec![new_line("1", "A", 2, 5)],
            grand_total: Some(Decimal::from(10)),
            ..Default::default()
        };
        let current = Order {
            order_number: "1-QBO-INV-1".into(),
            status: "awaiting_fulfillment".into(),
            lines: vec![order_line(10, "1", "A", 2, 5)],
            shipping_address: Some(OrdoroAddress::default()),
            billing_address: Some(OrdoroAddress::default()),
            financial: Some(OrderFinancial {
                grand_total: Some(Decimal::new(1000, 2)),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(plan_update(&current, &wanted, None), Vec::new());
    }

    fn address(pairs: &[(AddressField, &str)]) -> OrdoroAddress {
        let mut a = OrdoroAddress::default();
        for (field, value) in pairs {
            *field.slot(&mut a) = Some((*value).to_string());
        }
        a
    }

    use AddressField::{City, Phone, Street1, Street2};

    #[test]
    fn without_a_record_only_values_are_sent_and_nothing_is_erased() {
        let current = address(&[(Street1, "1 Old Rd"), (Street2, "Dock 4"), (Phone, "555")]);
        let wanted = address(&[(Street1, "9 New Rd"), (City, "Austin")]);
        let update = address_update(Some(&current), &wanted, None);
        let mut expected = AddressUpdate::default();
        expected.set(Street1, "9 New Rd");
        expected.set(City, "Austin");
        assert_eq!(update, expected);
        let body = serde_json::to_value(&update).unwrap();
        assert_eq!(body, serde_json::json!({"street1": "9 New Rd", "city": "Austin"}));
    }

    #[test]
    fn a_field_cleared_in_qbo_after_it_was_sent_is_erased() {
        let sent = address(&[(Street1, "1 Main St"), (Street2, "Suite 5"), (Phone, "555")]);
        let current = sent.clone();
        let wanted = address(&[(Street1, "1 Main St"), (Phone, "555")]);
        let update = address_update(Some(&current), &wanted, Some(&sent));
        assert_eq!(update.cleared(), vec![Street2]);
        assert_eq!(serde_json::to_value(&update).unwrap(), serde_json::json!({"street2": null}));
        let steps = vec![Step::ShippingAddress(update)];
        assert_eq!(describe(&steps), "shipping address (street2 cleared in QBO)");
    }

    #[test]
    fn what_the_warehouse_holds_stays_unless_qbo_changes_it() {
        // Sent "1 Main St" without a phone; the warehouse fixed the street and added a phone.
        let sent = address(&[(Street1, "1 Main St"), (Street2, "Suite 5")]);
        let current = address(&[(Street1, "1 Main Street"), (Street2, "Apt 9"), (Phone, "555")]);
        // QBO unchanged: nothing to write.
        assert!(address_update(Some(&current), &sent, Some(&sent)).is_empty());
        // The merchant clears street2 in QBO, but the warehouse has replaced it: theirs now.
        let wanted = address(&[(Street1, "1 Main St")]);
        assert!(address_update(Some(&current), &wanted, Some(&sent)).is_empty());
        // The merchant changes the street in QBO: that one field is sent.
        let wanted = address(&[(Street1, "2 Main St"), (Street2, "Suite 5")]);
        let mut expected = AddressUpdate::default();
        expected.set(Street1, "2 Main St");
        assert_eq!(address_update(Some(&current), &wanted, Some(&sent)), expected);
    }

    #[test]
    fn only_the_totals_that_differ_are_sent() {
        let wanted = NewOrder {
            product_amount: Some(Decimal::from(10)),
            tax_amount: Some(Decimal::from(2)),
            grand_total: Some(Decimal::from(12)),
            ..Default::default()
        };
        let current = OrderFinancial {
            product_amount: Some(Decimal::new(1000, 2)),
            tax_amount: Some(Decimal::from(1)),
            grand_total: Some(Decimal::from(11)),
            shipping_amount: Some(Decimal::from(7)),
            discount_amount: None,
        };
        let update = financial_update(Some(&current), &wanted);
        let expected = OrderFinancial {
            tax_amount: Some(Decimal::from(2)),
            grand_total: Some(Decimal::from(12)),
            ..Default::default()
        };
        assert_eq!(update, expected);
    }

    #[test]
    fn a_line_without_a_source_id_is_removed_only_when_the_sync_sent_it() {
        let warehouse_line = OrderLine {
            id: Some(12),
            sku: Some("GIFT".into()),
            quantity: Some(1),
            ..Default::default()
        };
        let current = Order {
            order_number: "1-QBO-INV-1".into(),
            lines: vec![order_line(10, "1", "A", 1, 5), warehouse_line],
            shipping_address: Some(OrdoroAddress::default()),
            billing_address: Some(OrdoroAddress::default()),
            ..Default::default()
        };
        let wanted = NewOrder { lines: vec![new_line("1", "A", 1, 5)], ..Default::default() };
        assert_eq!(plan_update(&current, &wanted, None), Vec::new());
        let sent = SentOrder {
            order_number: "1-QBO-INV-1".into(),
            shipping_address: OrdoroAddress::default(),
            billing_address: OrdoroAddress::default(),
            lines: vec![crate::store::SentLine { cart_orderitem_id: None, sku: "GIFT".into() }],
            sent_at: chrono::DateTime::UNIX_EPOCH,
        };
        assert_eq!(plan_update(&current, &wanted, Some(&sent)), vec![Step::DeleteLine(12)]);
    }
}
