//! The update policy: bring an order that still awaits fulfilment up to date with its changed
//! transaction, through Ordoro's sub-resource calls (addresses, totals, and lines diffed by
//! `cart_orderitem_id`), writing only what differs.

use std::collections::HashMap;

use super::SyncEngine;
use super::handle::{Outcome, Record, RunCtx, left_alone_reason};
use super::log::TxnFacts;
use crate::model::ordoro::{
    NewOrder, NewOrderLine, Order, OrderFinancial, OrderLine, OrdoroAddress, PostOrderLine,
    PutOrderLine,
};
use crate::store::{Action, LedgerChange, LedgerEntry, LedgerState};
use crate::{Reason, Result};

/// One write that brings an order closer to its transaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    ShippingAddress(OrdoroAddress),
    BillingAddress(OrdoroAddress),
    Financial(OrderFinancial),
    AddLine(PostOrderLine),
    UpdateLine(i64, PutOrderLine),
    DeleteLine(i64),
}

fn address_differs(current: Option<&OrdoroAddress>, wanted: &OrdoroAddress) -> bool {
    let Some(current) = current else { return true };
    let core = |a: &OrdoroAddress| {
        (
            a.name.clone(),
            a.company.clone(),
            a.street1.clone(),
            a.street2.clone(),
            a.city.clone(),
            a.state.clone(),
            a.zip.clone(),
            a.country.clone(),
        )
    };
    // Ordoro may not echo contact fields; only a value we send can differ.
    let contact_differs =
        |ours: &Option<String>, theirs: &Option<String>| ours.is_some() && ours != theirs;
    core(current) != core(wanted)
        || contact_differs(&wanted.email, &current.email)
        || contact_differs(&wanted.phone, &current.phone)
}

fn financial_of(order: &NewOrder) -> OrderFinancial {
    OrderFinancial {
        product_amount: order.product_amount,
        shipping_amount: order.shipping_amount,
        tax_amount: order.tax_amount,
        discount_amount: order.discount_amount,
        grand_total: order.grand_total,
    }
}

fn financial_differs(current: Option<&OrderFinancial>, wanted: &OrderFinancial) -> bool {
    let current = current.cloned().unwrap_or_default();
    let differs =
        |w: Option<rust_decimal::Decimal>, c: Option<rust_decimal::Decimal>| w.is_some() && w != c;
    differs(wanted.product_amount, current.product_amount)
        || differs(wanted.shipping_amount, current.shipping_amount)
        || differs(wanted.tax_amount, current.tax_amount)
        || differs(wanted.discount_amount, current.discount_amount)
        || differs(wanted.grand_total, current.grand_total)
}

fn new_line_key(line: &NewOrderLine) -> String {
    match &line.cart_orderitem_id {
        Some(id) => format!("id:{id}"),
        None => format!("sku:{}", line.product.sku),
    }
}

fn order_line_key(line: &OrderLine) -> String {
    match (&line.cart_orderitem_id, &line.sku) {
        (Some(id), _) => format!("id:{id}"),
        (None, Some(sku)) => format!("sku:{sku}"),
        (None, None) => String::new(),
    }
}

fn line_differs(current: &OrderLine, wanted: &NewOrderLine) -> bool {
    current.quantity != Some(wanted.quantity)
        || (wanted.item_price.is_some() && current.item_price != wanted.item_price)
        || (wanted.total_price.is_some()
            && current.total_price.is_some()
            && current.total_price != wanted.total_price)
}

/// The writes that turn `current` into `wanted`, in a safe order: lines first (deletes, then
/// changes, then additions), then addresses, then totals.
pub(crate) fn plan_update(current: &Order, wanted: &NewOrder) -> Vec<Step> {
    let mut steps = Vec::new();
    let wanted_lines: HashMap<String, &NewOrderLine> =
        wanted.lines.iter().map(|l| (new_line_key(l), l)).collect();
    let mut present = std::collections::HashSet::new();
    for line in &current.lines {
        let key = order_line_key(line);
        match (wanted_lines.get(&key), line.id) {
            (None, Some(id)) => steps.push(Step::DeleteLine(id)),
            (Some(w), Some(id)) => {
                present.insert(key);
                if line_differs(line, w) {
                    steps.push(Step::UpdateLine(
                        id,
                        PutOrderLine {
                            quantity: Some(w.quantity),
                            item_price: w.item_price,
                            total_price: w.total_price,
                        },
                    ));
                }
            }
            (Some(_), None) => {
                present.insert(key);
            }
            (None, None) => {}
        }
    }
    steps.sort_by_key(|s| !matches!(s, Step::DeleteLine(_)));
    for line in &wanted.lines {
        if !present.contains(&new_line_key(line)) {
            steps.push(Step::AddLine(PostOrderLine {
                sku: line.product.sku.clone(),
                quantity: line.quantity,
                item_price: line.item_price,
                total_price: line.total_price,
                product_name: line.product_name.clone().or_else(|| Some(line.product.name.clone())),
                cart_orderitem_id: line.cart_orderitem_id.clone(),
            }));
        }
    }
    if address_differs(current.shipping_address.as_ref(), &wanted.shipping_address) {
        steps.push(Step::ShippingAddress(wanted.shipping_address.clone()));
    }
    if address_differs(current.billing_address.as_ref(), &wanted.billing_address) {
        steps.push(Step::BillingAddress(wanted.billing_address.clone()));
    }
    let financial = financial_of(wanted);
    if financial_differs(current.financial.as_ref(), &financial) {
        steps.push(Step::Financial(financial));
    }
    steps
}

/// A short description of a plan for the log ("shipping address, 1 line added, totals").
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
    if count(|s| matches!(s, Step::ShippingAddress(_))) > 0 {
        parts.push("shipping address".to_string());
    }
    if count(|s| matches!(s, Step::BillingAddress(_))) > 0 {
        parts.push("billing address".to_string());
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
        let steps = plan_update(&current, wanted);
        if steps.is_empty() {
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
        Ok(done(Action::Updated, None, format!("order {order_number} updated: {what}")))
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
        let steps = plan_update(&current, &wanted);
        assert_eq!(steps.first(), Some(&Step::DeleteLine(11)));
        assert!(steps.contains(&Step::UpdateLine(
            10,
            PutOrderLine {
                quantity: Some(2),
                item_price: Some(Decimal::from(5)),
                total_price: Some(Decimal::from(10)),
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
        assert_eq!(plan_update(&current, &wanted), Vec::new());
    }
}
