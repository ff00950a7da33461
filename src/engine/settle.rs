//! Settling a create that may or may not have happened: the one path by which the engine learns
//! whether the order of a pending ledger entry exists ([`SyncEngine::settle`]), and the order
//! numbers it reads Ordoro by ([`OrderNumbers`]).
//!
//! Ordoro's list (`GET /v3/order?cart_order_id=`) may be served from an index that lags the
//! write, and Ordoro does not document that it refuses a repeated `order_id`; so a lookup that
//! finds nothing right after a lost create proves nothing, and a retry could make a second
//! order. The engine therefore reads the order by its number (`GET /v3/order/{order_number}`,
//! always current), derived as the channel's index, a dash and the `order_id` (the layout
//! Ordoro's document implies: "prepended with a cart or sales channel index"); it checks that
//! layout against every number Ordoro returns and stops deriving for a channel the moment one
//! differs, falling back to the list. And it trusts "not found" only once
//! [`SyncConfig::settle_after`](super::SyncConfig::settle_after) has passed since the create was
//! sent: until then the entry stays pending, the cursor waits for it, and other transactions go
//! on.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use super::SyncEngine;
use super::handle::{Outcome, Record, RunCtx};
use super::log::TxnFacts;
use crate::model::ordoro::Order;
use crate::ordoro::api::OrdoroApiExt;
use crate::store::{Action, LedgerEntry, LedgerState, SentOrder};
use crate::{OrdoroApi, Reason, Result};

/// The log's context for a failed lookup of a pending create.
pub(crate) const SETTLE_FAILED: &str = "could not settle an earlier create";

/// What a lookup in Ordoro says of a create that may or may not have happened.
pub(crate) enum Settled {
    /// The order exists: the ledger entry, now [`LedgerState::Created`] with its number.
    Created(LedgerEntry),
    /// No order has this `order_id`, and the create was sent long enough ago that it cannot
    /// still appear: it never happened.
    NotCreated,
    /// No order is seen yet, but the create was sent too recently for that to prove anything:
    /// the entry stays pending and the outcome (not handled) says until when.
    NotYet(Box<Outcome>),
    /// The lookup failed, so the create is still unsettled; the outcome logs why.
    Unknown(Box<Outcome>),
}

/// How Ordoro numbers one sales channel's orders, as far as this process has learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// Not known yet; `asked` once the channel was read without learning an index.
    Unknown { asked: bool },
    /// Every number is this prefix (`"3-"`) followed by the `order_id`.
    Prefix(String),
    /// A number Ordoro returned did not follow the layout: nothing is derived for the channel.
    Broken,
}

/// The order-number layout of each sales channel (by cart id; `None` is an account's manual
/// channel), learnt from `GET /cart/{id}/` or from the first order Ordoro returns, and checked
/// against every number it returns after. Kept for the life of the engine, so the channel is
/// read at most once per process while that read succeeds.
#[derive(Debug, Default)]
pub(crate) struct OrderNumbers {
    layouts: Mutex<HashMap<Option<i64>, Layout>>,
}

impl OrderNumbers {
    fn layout(&self, channel: Option<i64>) -> Layout {
        let layouts = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        layouts.get(&channel).cloned().unwrap_or(Layout::Unknown { asked: false })
    }

    fn set(&self, channel: Option<i64>, layout: Layout) {
        self.layouts.lock().unwrap_or_else(|e| e.into_inner()).insert(channel, layout);
    }

    /// The number Ordoro gives `order_id` in `channel`, when the layout is known and sound;
    /// reads the channel's index (once) when it is not known yet.
    async fn derive(
        &self,
        ordoro: &dyn OrdoroApi,
        channel: Option<i64>,
        order_id: &str,
    ) -> Option<String> {
        match self.layout(channel) {
            Layout::Prefix(prefix) => return Some(format!("{prefix}{order_id}")),
            Layout::Broken | Layout::Unknown { asked: true } => return None,
            Layout::Unknown { asked: false } => {}
        }
        let cart = channel?;
        match ordoro.get_sales_channel(cart).await {
            Ok(Some(found)) if found.index.is_some_and(|i| i > 0) => {
                let prefix = format!("{}-", found.index.unwrap_or_default());
                self.set(channel, Layout::Prefix(prefix.clone()));
                Some(format!("{prefix}{order_id}"))
            }
            Ok(_) => {
                debug!(
                    cart,
                    "the sales channel has no index; unsettled creates are looked up by list"
                );
                self.set(channel, Layout::Unknown { asked: true });
                None
            }
            Err(err) => {
                debug!(cart, error = %err, "could not read the sales channel; looking up by list this time");
                None
            }
        }
    }

    /// Checks `order_number`, which Ordoro returned for `order_id` in `channel`, against the
    /// layout (learning it from the number when unknown); a number that does not follow it ends
    /// derivation for the channel.
    pub(crate) fn observe(&self, channel: Option<i64>, order_id: &str, order_number: &str) {
        let expected = match self.layout(channel) {
            Layout::Broken => return,
            Layout::Prefix(prefix) => format!("{prefix}{order_id}"),
            Layout::Unknown { .. } => match learnt_prefix(order_id, order_number) {
                Some(prefix) => return self.set(channel, Layout::Prefix(prefix)),
                None => String::new(),
            },
        };
        if expected != order_number {
            warn!(
                cart = ?channel, order_id, order_number, expected = %expected,
                "Ordoro numbered an order other than its sales channel's index and order id; \
                 unsettled creates of this channel are now looked up by list"
            );
            self.set(channel, Layout::Broken);
        }
    }
}

impl OrderNumbers {
    /// Ends derivation for `channel`: the order Ordoro holds as `number` belongs to another id.
    fn distrust(&self, channel: Option<i64>, number: &str, holder: Option<String>) {
        warn!(
            cart = ?channel, order_number = number, holder = ?holder,
            "the derived order number names another order; unsettled creates of this channel \
             are now looked up by list"
        );
        self.set(channel, Layout::Broken);
    }
}

/// The prefix of `order_number` before `order_id`, when it is one: a non-empty token ending in
/// a dash (`"3-"`, `"M-"`).
fn learnt_prefix(order_id: &str, order_number: &str) -> Option<String> {
    let prefix = order_number.strip_suffix(order_id)?;
    let head = prefix.strip_suffix('-')?;
    let plain = !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric());
    plain.then(|| prefix.to_string())
}

impl SyncEngine {
    /// Settles a create that may or may not have happened: the one way every path (a pending
    /// entry read with its transaction, one left by an interrupted run, a delete, an ambiguous
    /// answer to a create) learns whether the order exists. `context` heads the log's detail
    /// when the lookup fails.
    pub(crate) async fn settle(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        pending: &LedgerEntry,
        context: &str,
    ) -> Result<Settled> {
        let (found, how) = match self.find_created(pending).await {
            Ok(found) => found,
            Err(err) => {
                return Ok(Settled::Unknown(Box::new(self.failed(ctx, facts, &err, context))));
            }
        };
        if let Some(order) = found {
            self.remember_found(pending, &order).await?;
            return Ok(Settled::Created(self.created_entry(pending, order.order_number)));
        }
        let trusted_at = self.not_found_trusted_at(pending);
        if self.clock.now() >= trusted_at {
            return Ok(Settled::NotCreated);
        }
        Ok(Settled::NotYet(Box::new(self.unconfirmed(ctx, facts, pending, &how, trusted_at))))
    }

    /// Records what the order found for `pending` holds as what the sync sent, unless a record
    /// of that order exists: its create's answer was lost before the body was recorded, and
    /// right after the create Ordoro holds what was sent. Without it, a field the merchant
    /// clears in QBO later would never be cleared in Ordoro.
    async fn remember_found(&self, pending: &LedgerEntry, order: &Order) -> Result<()> {
        let known = self.store.sent_order(&pending.key).await?;
        if known.is_some_and(|k| k.order_number == order.order_number) {
            return Ok(());
        }
        self.store
            .save_sent_order(&pending.key, &SentOrder::of_order(order, self.clock.now()))
            .await
    }

    /// Finds the order of `pending`: by the number the ledger holds or the layout derives (a
    /// read that cannot lag), else by the list. Returns it, if any, and how it was looked for.
    async fn find_created(&self, pending: &LedgerEntry) -> Result<(Option<Order>, String)> {
        let channel = self.config.mapping.cart();
        let order_id = pending.order_id.as_str();
        let number = match &pending.order_number {
            Some(known) => Some(known.clone()),
            None if self.config.derive_order_numbers => {
                self.numbers.derive(self.ordoro.as_ref(), channel, order_id).await
            }
            None => None,
        };
        if let Some(number) = number {
            let order = self.ordoro.get_order(&number).await?;
            match order {
                Some(order) if order.cart_order_id.as_deref().is_none_or(|id| id == order_id) => {
                    return Ok((Some(order), format!("as order {number}")));
                }
                Some(other) => self.numbers.distrust(channel, &number, other.cart_order_id),
                None => return Ok((None, format!("as order {number}"))),
            }
        }
        let order = self.lookup(order_id).await?;
        if let Some(order) = &order {
            self.numbers.observe(channel, order_id, &order.order_number);
        }
        Ok((order, "in Ordoro's order list".to_string()))
    }

    /// Finds the order created for `order_id` in the configured sales channel through the list.
    pub(crate) async fn lookup(&self, order_id: &str) -> Result<Option<Order>> {
        self.ordoro.as_ref().find_by_order_id(order_id, self.config.mapping.cart()).await
    }

    /// When "not found" proves that the create of `pending` never happened: `settle_after` past
    /// the moment its pending entry was written, just before the create was sent.
    fn not_found_trusted_at(&self, pending: &LedgerEntry) -> DateTime<Utc> {
        let bound = chrono::Duration::from_std(self.config.settle_after).unwrap_or_default();
        pending.updated_at + bound
    }

    /// The outcome of a pending create not confirmed yet: logged as failed with
    /// `outcome_unknown`, not handled (the cursor waits), the entry left pending.
    fn unconfirmed(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        pending: &LedgerEntry,
        how: &str,
        trusted_at: DateTime<Utc>,
    ) -> Outcome {
        let detail = format!(
            "order {} was not found {how}, but its create was sent at {} and could still \
             appear; it is looked up again, and sent again only if still missing, from {}",
            pending.order_id,
            pending.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
            trusted_at.format("%Y-%m-%d %H:%M:%S UTC"),
        );
        let log =
            self.entry(ctx, facts, Action::Failed, Some(Reason::OutcomeUnknown), detail.clone());
        Outcome::Wait(Record { log, ledger: None }, trusted_at)
    }

    /// `pending`, now that its order exists as `order_number`.
    pub(crate) fn created_entry(&self, pending: &LedgerEntry, order_number: String) -> LedgerEntry {
        LedgerEntry {
            order_number: Some(order_number),
            state: LedgerState::Created,
            updated_at: self.clock.now(),
            ..pending.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_learnt_only_from_a_plain_token_and_a_dash() {
        assert_eq!(learnt_prefix("QBO-INV-5", "3-QBO-INV-5").as_deref(), Some("3-"));
        assert_eq!(learnt_prefix("QBO-INV-5", "M-QBO-INV-5").as_deref(), Some("M-"));
        assert_eq!(learnt_prefix("QBO-INV-5", "QBO-INV-5"), None);
        assert_eq!(learnt_prefix("QBO-INV-5", "3QBO-INV-5"), None);
        assert_eq!(learnt_prefix("QBO-INV-5", "3-QBO-INV-5-2"), None);
        assert_eq!(learnt_prefix("QBO-INV-5", "a b-QBO-INV-5"), None);
    }

    #[test]
    fn a_number_off_the_layout_ends_derivation_for_its_channel_only() {
        let numbers = OrderNumbers::default();
        numbers.observe(Some(7), "QBO-SR-1", "2-QBO-SR-1");
        assert_eq!(numbers.layout(Some(7)), Layout::Prefix("2-".into()));
        numbers.observe(Some(7), "QBO-SR-2", "2-QBO-SR-2");
        assert_eq!(numbers.layout(Some(7)), Layout::Prefix("2-".into()));
        numbers.observe(Some(7), "QBO-SR-3", "2-QBO-SR-3-2");
        assert_eq!(numbers.layout(Some(7)), Layout::Broken);
        numbers.observe(Some(7), "QBO-SR-4", "2-QBO-SR-4");
        assert_eq!(numbers.layout(Some(7)), Layout::Broken, "broken stays broken");
        assert_eq!(numbers.layout(None), Layout::Unknown { asked: false });
        numbers.observe(None, "QBO-SR-5", "QBO-SR-5");
        assert_eq!(numbers.layout(None), Layout::Broken);
    }
}
