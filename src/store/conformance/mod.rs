//! A conformance suite for [`Store`] implementations (feature `testing`): the behaviour the
//! engine relies on, as async checks any store can run. A host that keeps the engine's state in
//! its own database runs them against its store in its own tests; `MemoryStore` and
//! `SqliteStore` run them in this crate's tests. A check panics (like `assert!`) when the store
//! gets something wrong; each wants a new, empty store.
//!
//! ```
//! # async fn check() {
//! use qbo_ordoro::MemoryStore;
//! use qbo_ordoro::store::conformance;
//!
//! // Every check, each on a new store:
//! conformance::run_all(MemoryStore::new).await;
//! // Or one check, as a test of its own:
//! conformance::commit_removes_a_ledger_entry(&MemoryStore::new()).await;
//! # }
//! # futures_util::FutureExt::now_or_never(check()).expect("MemoryStore never waits");
//! ```
//!
//! A change that adds state to the [`Store`] adds its checks here. The fleet's
//! [`Coordinator`](crate::fleet::Coordinator)s have their own suite, [`coordinator`].

pub mod coordinator;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    Action, Commit, CompanyCountry, CompanySettings, FailureInfo, LedgerChange, LedgerEntry,
    LedgerKey, LedgerState, LogCursor, LogEntry, LogPage, LogQuery, RetryEntry, RunSummary,
    SentLine, SentOrder, Store, StoredToken,
};
use crate::Reason;
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::ordoro::OrdoroAddress;
use crate::model::qbo::{EntityKind, QboItem};

/// A company's country is absent until saved, kept per realm with the instant it was read
/// (to the nanosecond), replaced by the next save, and may be saved as unknown (`None`).
pub async fn company_country_is_kept_per_realm(store: &dyn Store) {
    assert_eq!(store.company_country("r1").await.unwrap(), None);
    let read_at = instant(100) + chrono::Duration::nanoseconds(123_456_789);
    let au = CompanyCountry { country: Some("AU".into()), read_at };
    store.save_company_country("r1", &au).await.unwrap();
    let unknown = CompanyCountry { country: None, read_at: instant(200) };
    store.save_company_country("r2", &unknown).await.unwrap();
    assert_eq!(store.company_country("r1").await.unwrap(), Some(au));
    assert_eq!(store.company_country("r2").await.unwrap(), Some(unknown));
    let gb = CompanyCountry { country: Some("GB".into()), read_at: instant(300) };
    store.save_company_country("r1", &gb).await.unwrap();
    assert_eq!(store.company_country("r1").await.unwrap(), Some(gb));
    assert_eq!(store.company_country("r3").await.unwrap(), None);
}

/// What was sent to a transaction's order is absent until saved, read back whole (every
/// address field, the `None` ones as `None`; the lines in order; the instant to the
/// nanosecond), kept per transaction (the same QBO id as another entity or in another company
/// is another transaction) and replaced by the next save.
pub async fn sent_orders_are_kept_per_transaction(store: &dyn Store) {
    let inv = ledger_key("r1", EntityKind::Invoice, "42");
    let receipt = ledger_key("r1", EntityKind::SalesReceipt, "42");
    let elsewhere = ledger_key("r2", EntityKind::Invoice, "42");
    assert_eq!(store.sent_order(&inv).await.unwrap(), None);
    let ship_to = OrdoroAddress {
        name: Some("Zoë O'Brien".into()),
        street1: Some("1 Main St".into()),
        street2: None,
        city: Some("Austin".into()),
        state: Some("TX".into()),
        zip: Some("78701".into()),
        country: Some("US".into()),
        phone: Some("".into()),
        ..OrdoroAddress::default()
    };
    let first = SentOrder {
        order_number: "3-QBO-INV-42".into(),
        shipping_address: ship_to.clone(),
        billing_address: OrdoroAddress { name: Some("Accounts".into()), ..Default::default() },
        lines: vec![
            SentLine { cart_orderitem_id: Some("1".into()), sku: "A-1".into() },
            SentLine { cart_orderitem_id: None, sku: "ZZ \"quoted\"".into() },
        ],
        sent_at: instant(100) + chrono::Duration::nanoseconds(123_456_789),
    };
    store.save_sent_order(&inv, &first).await.unwrap();
    assert_eq!(store.sent_order(&inv).await.unwrap(), Some(first.clone()));
    assert_eq!(store.sent_order(&receipt).await.unwrap(), None);
    assert_eq!(store.sent_order(&elsewhere).await.unwrap(), None);

    let second = SentOrder {
        order_number: "3-QBO-INV-42".into(),
        shipping_address: OrdoroAddress { phone: None, ..ship_to },
        billing_address: OrdoroAddress::default(),
        lines: Vec::new(),
        sent_at: instant(200),
    };
    store.save_sent_order(&inv, &second).await.unwrap();
    store.save_sent_order(&receipt, &first).await.unwrap();
    assert_eq!(store.sent_order(&inv).await.unwrap(), Some(second));
    assert_eq!(store.sent_order(&receipt).await.unwrap(), Some(first));
}

/// Runs every check of this suite, each on a new store from `new_store`, and panics at the
/// first behaviour the store gets wrong.
pub async fn run_all<S: Store>(mut new_store: impl FnMut() -> S) {
    run_all_async(|| std::future::ready(new_store())).await;
}

/// [`run_all`] for a store that is opened asynchronously (over a database connection): each new
/// store comes from a future, as in
/// `run_all_async(|| async { PostgresStore::connect(&url, 4).await.expect("connect") })`.
pub async fn run_all_async<S: Store, F: std::future::Future<Output = S>>(
    mut new_store: impl FnMut() -> F,
) {
    cursors_are_kept_per_name(&new_store().await).await;
    cursor_keeps_nanoseconds(&new_store().await).await;
    ledger_entries_are_put_read_and_replaced(&new_store().await).await;
    pending_entries_are_the_pending_ones_of_the_realm(&new_store().await).await;
    commit_writes_ledger_log_and_cursor(&new_store().await).await;
    commit_without_ledger_or_cursor_leaves_them_alone(&new_store().await).await;
    log_entries_round_trip_every_field(&new_store().await).await;
    log_query_filters_each_field(&new_store().await).await;
    log_query_date_range_is_half_open(&new_store().await).await;
    log_query_limit_takes_the_first_matches(&new_store().await).await;
    log_query_results_keep_the_written_order(&new_store().await).await;
    log_query_filters_entity_reason_and_text(&new_store().await).await;
    log_text_finds_the_customer(&new_store().await).await;
    log_pages_run_newest_first_in_time_then_written_order(&new_store().await).await;
    log_pages_neither_skip_nor_repeat_while_entries_are_added(&new_store().await).await;
    log_pages_run_oldest_first_and_back(&new_store().await).await;
    log_pages_filter_like_queries(&new_store().await).await;
    log_cursors_round_trip_through_their_text(&new_store().await).await;
    run_summary_counts_by_action(&new_store().await).await;
    tokens_round_trip(&new_store().await).await;
    tokens_never_show_in_debug_output(&new_store().await).await;
    commit_removes_a_ledger_entry(&new_store().await).await;
    removing_an_absent_ledger_entry_is_not_an_error(&new_store().await).await;
    every_reason_reads_back(&new_store().await).await;
    tokens_keep_their_expiries_and_grant(&new_store().await).await;
    connected_realms_are_those_with_tokens(&new_store().await).await;
    forgetting_a_token_disconnects_the_company_and_keeps_its_state(&new_store().await).await;
    a_run_starts_once_per_company(&new_store().await).await;
    company_country_is_kept_per_realm(&new_store().await).await;
    sent_orders_are_kept_per_transaction(&new_store().await).await;
    items_are_cached_per_realm_newest_first(&new_store().await).await;
    sku_mappings_are_kept_per_realm_and_key(&new_store().await).await;
    retry_entries_are_kept_per_realm(&new_store().await).await;
    processed_events_are_kept_per_realm_until_forgotten(&new_store().await).await;
    company_settings_are_kept_per_realm(&new_store().await).await;
    unusable_company_settings_are_refused(&new_store().await).await;
}

/// A company's settings are absent until saved, kept per realm, and replaced whole by the next
/// save (intervals to the second).
pub async fn company_settings_are_kept_per_realm(store: &dyn Store) {
    use std::time::Duration;
    assert_eq!(store.company_settings("r1").await.unwrap(), None);
    let first = CompanySettings {
        classes: vec!["Ordoro".into(), "Wholesale".into()],
        update_existing: true,
        cancel_on_void: true,
        webhooks: true,
        poll_interval: Duration::from_secs(120),
        catch_up_interval: Duration::from_secs(6 * 3600),
    };
    store.save_company_settings("r1", &first).await.unwrap();
    store.save_company_settings("r2", &CompanySettings::default()).await.unwrap();
    assert_eq!(store.company_settings("r1").await.unwrap(), Some(first));
    assert_eq!(store.company_settings("r2").await.unwrap(), Some(CompanySettings::default()));
    let second = CompanySettings { classes: vec!["Retail".into()], ..CompanySettings::default() };
    store.save_company_settings("r1", &second).await.unwrap();
    assert_eq!(store.company_settings("r1").await.unwrap(), Some(second));
    assert_eq!(store.company_settings("r3").await.unwrap(), None);
}

/// Settings that cannot run (no class, a zero interval) are a `Config` error and leave what was
/// saved before untouched.
pub async fn unusable_company_settings_are_refused(store: &dyn Store) {
    use std::time::Duration;
    let kept = CompanySettings { webhooks: true, ..CompanySettings::default() };
    store.save_company_settings("r1", &kept).await.unwrap();
    let no_class = CompanySettings { classes: Vec::new(), ..CompanySettings::default() };
    let zero = CompanySettings { poll_interval: Duration::ZERO, ..CompanySettings::default() };
    for bad in [no_class, zero] {
        let err = store.save_company_settings("r1", &bad).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config, "{err}");
        assert_eq!(store.company_settings("r1").await.unwrap().as_ref(), Some(&kept));
    }
    assert!(
        store
            .save_company_settings(
                "r2",
                &CompanySettings {
                    catch_up_interval: Duration::ZERO,
                    ..CompanySettings::default()
                }
            )
            .await
            .is_err()
    );
    assert_eq!(store.company_settings("r2").await.unwrap(), None);
}

/// Processed webhook events are kept per company by key, a key marked again keeps its first
/// time, and forgetting drops exactly those first processed before the given instant.
pub async fn processed_events_are_kept_per_realm_until_forgotten(store: &dyn Store) {
    let keys = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert!(store.processed_events("r1", &keys(&["id:a"])).await.unwrap().is_empty());
    store.mark_events_processed("r1", &keys(&["id:a", "id:b"]), instant(10)).await.unwrap();
    store.mark_events_processed("r2", &keys(&["id:c"]), instant(10)).await.unwrap();
    let asked = keys(&["id:a", "id:b", "id:c", "id:d"]);
    assert_eq!(
        sorted(store.processed_events("r1", &asked).await.unwrap()),
        keys(&["id:a", "id:b"])
    );
    assert_eq!(store.processed_events("r2", &asked).await.unwrap(), keys(&["id:c"]));
    // Marked again later: the first time stays, so retention counts from it.
    store.mark_events_processed("r1", &keys(&["id:a", "id:e"]), instant(30)).await.unwrap();
    assert_eq!(store.forget_events_before(instant(20)).await.unwrap(), 3);
    assert_eq!(
        store.processed_events("r1", &keys(&["id:a", "id:b", "id:e"])).await.unwrap(),
        keys(&["id:e"])
    );
    assert!(store.processed_events("r2", &keys(&["id:c"])).await.unwrap().is_empty());
    assert_eq!(store.forget_events_before(instant(20)).await.unwrap(), 0);
}

fn item(id: &str, token: &str, sku: Option<&str>) -> QboItem {
    QboItem {
        id: id.into(),
        sync_token: Some(token.into()),
        name: Some(format!("Item {id}")),
        fully_qualified_name: Some(format!("Parent:Item {id}")),
        sku: sku.map(Into::into),
        active: Some(false),
        item_type: Some("Group".into()),
        ..QboItem::default()
    }
}

/// Cached items are read back whole by realm and id (absent ones left out); a later read
/// replaces an item unless the cached one has a higher SyncToken (SyncToken 10 is newer than 9).
pub async fn items_are_cached_per_realm_newest_first(store: &dyn Store) {
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(store.cached_items("r1", &ids(&["1"])).await.unwrap().is_empty());
    let one = item("1", "9", Some("WID-1"));
    store.cache_items("r1", &[one.clone(), item("2", "0", None)]).await.unwrap();
    store.cache_items("r2", &[item("1", "0", Some("OTHER"))]).await.unwrap();
    let got = store.cached_items("r1", &ids(&["1", "3", "2"])).await.unwrap();
    assert_eq!(got, vec![one, item("2", "0", None)]);
    let newer = item("1", "10", Some("WID-2"));
    store.cache_items("r1", std::slice::from_ref(&newer)).await.unwrap();
    store.cache_items("r1", &[item("1", "9", Some("STALE"))]).await.unwrap();
    assert_eq!(store.cached_items("r1", &ids(&["1"])).await.unwrap(), vec![newer]);
    let other = store.cached_items("r2", &ids(&["1"])).await.unwrap();
    assert_eq!(other[0].sku.as_deref(), Some("OTHER"));
}

/// SKU mappings are kept per realm and key (an id and a name of the same text are two keys),
/// replaced by a put of the same key, listed ids first, and removed (true only when there was
/// one).
pub async fn sku_mappings_are_kept_per_realm_and_key(store: &dyn Store) {
    let map = |key: SkuKey, sku: &str| SkuMapping { key, sku: sku.into() };
    assert!(store.sku_mappings("r1").await.unwrap().is_empty());
    store.put_sku_mapping("r1", &map(SkuKey::ItemName("Widget".into()), "W-0")).await.unwrap();
    store.put_sku_mapping("r1", &map(SkuKey::ItemId("5".into()), "ID-5")).await.unwrap();
    store.put_sku_mapping("r1", &map(SkuKey::ItemName("5".into()), "NAME-5")).await.unwrap();
    store.put_sku_mapping("r1", &map(SkuKey::ItemName("Widget".into()), "W-1")).await.unwrap();
    store.put_sku_mapping("r2", &map(SkuKey::ItemId("5".into()), "R2")).await.unwrap();
    assert_eq!(
        store.sku_mappings("r1").await.unwrap(),
        vec![
            map(SkuKey::ItemId("5".into()), "ID-5"),
            map(SkuKey::ItemName("5".into()), "NAME-5"),
            map(SkuKey::ItemName("Widget".into()), "W-1"),
        ]
    );
    assert!(store.remove_sku_mapping("r1", &SkuKey::ItemId("5".into())).await.unwrap());
    assert!(!store.remove_sku_mapping("r1", &SkuKey::ItemId("5".into())).await.unwrap());
    assert_eq!(store.sku_mappings("r1").await.unwrap().len(), 2);
    assert_eq!(store.sku_mappings("r2").await.unwrap().len(), 1);
}

/// The retry set keeps one entry per transaction and realm (a put replaces it), every field
/// round-trips (the instant to the nanosecond), and removing an absent entry is not an error.
pub async fn retry_entries_are_kept_per_realm(store: &dyn Store) {
    let entry = |realm: &str, entity, id: &str, reason| RetryEntry {
        key: ledger_key(realm, entity, id),
        sync_token: Some("3".into()),
        reason,
        failed_at: instant(100) + chrono::Duration::nanoseconds(7),
        run_id: "run-1".into(),
    };
    assert!(store.retry_entries("r1").await.unwrap().is_empty());
    let a = entry("r1", EntityKind::Invoice, "7", Reason::UnknownSku);
    let b = entry("r1", EntityKind::SalesReceipt, "7", Reason::FractionalQuantity);
    store.put_retry_entry(&a).await.unwrap();
    store.put_retry_entry(&b).await.unwrap();
    store
        .put_retry_entry(&entry("r2", EntityKind::Invoice, "7", Reason::UnknownSku))
        .await
        .unwrap();
    let again = RetryEntry { sync_token: None, run_id: "run-2".into(), ..a.clone() };
    store.put_retry_entry(&again).await.unwrap();
    assert_eq!(store.retry_entries("r1").await.unwrap(), vec![again.clone(), b.clone()]);
    store.remove_retry_entry(&again.key).await.unwrap();
    store.remove_retry_entry(&again.key).await.unwrap();
    assert_eq!(store.retry_entries("r1").await.unwrap(), vec![b]);
    assert_eq!(store.retry_entries("r2").await.unwrap().len(), 1);
}

/// A cursor is absent until set, kept per name, and replaced by the next set.
pub async fn cursors_are_kept_per_name(store: &dyn Store) {
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), None);
    store.set_cursor("r1/Invoice", instant(10)).await.unwrap();
    store.set_cursor("r1/SalesReceipt", instant(20)).await.unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(10)));
    assert_eq!(store.cursor("r1/SalesReceipt").await.unwrap(), Some(instant(20)));
    assert_eq!(store.cursor("r2/Invoice").await.unwrap(), None);

    store.set_cursor("r1/Invoice", instant(30)).await.unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(30)));
    assert_eq!(store.cursor("r1/SalesReceipt").await.unwrap(), Some(instant(20)));
}

/// A cursor reads back to the nanosecond.
pub async fn cursor_keeps_nanoseconds(store: &dyn Store) {
    let at = Utc.timestamp_opt(1_714_000_000, 123_456_789).single().unwrap();
    store.set_cursor("c", at).await.unwrap();
    assert_eq!(store.cursor("c").await.unwrap(), Some(at));
}

/// A ledger entry is put, read back whole and replaced; the same QBO id as another entity or in
/// another company is another transaction.
pub async fn ledger_entries_are_put_read_and_replaced(store: &dyn Store) {
    let inv = ledger_key("r1", EntityKind::Invoice, "42");
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), None);

    let pending = ledger_entry("r1", EntityKind::Invoice, "42", LedgerState::Pending);
    store.put_ledger_entry(&pending).await.unwrap();
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), Some(pending.clone()));

    let created = LedgerEntry {
        order_number: Some("M-QBO-r1-INV-42".into()),
        sync_token: "3".into(),
        state: LedgerState::Created,
        updated_at: instant(99),
        ..pending.clone()
    };
    store.put_ledger_entry(&created).await.unwrap();
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), Some(created));

    // The same QBO id as a sales receipt, or in another company, is another transaction.
    assert_eq!(
        store.ledger_entry(&ledger_key("r1", EntityKind::SalesReceipt, "42")).await.unwrap(),
        None
    );
    assert_eq!(
        store.ledger_entry(&ledger_key("r2", EntityKind::Invoice, "42")).await.unwrap(),
        None
    );
    let receipt = ledger_entry("r1", EntityKind::SalesReceipt, "42", LedgerState::Cancelled);
    store.put_ledger_entry(&receipt).await.unwrap();
    assert_eq!(store.ledger_entry(&receipt.key).await.unwrap(), Some(receipt));
    assert_eq!(store.ledger_entry(&inv).await.unwrap().unwrap().state, LedgerState::Created);
}

/// `pending_entries` lists the pending entries of one company only, in key order (entity, then QBO
/// id), and forgets one once it is settled.
pub async fn pending_entries_are_the_pending_ones_of_the_realm(store: &dyn Store) {
    let entries = [
        ledger_entry("r1", EntityKind::SalesReceipt, "7", LedgerState::Pending),
        ledger_entry("r1", EntityKind::Invoice, "9", LedgerState::Pending),
        ledger_entry("r1", EntityKind::Invoice, "10", LedgerState::Created),
        ledger_entry("r1", EntityKind::Invoice, "11", LedgerState::Cancelled),
        ledger_entry("r2", EntityKind::Invoice, "9", LedgerState::Pending),
    ];
    for entry in &entries {
        store.put_ledger_entry(entry).await.unwrap();
    }
    // In key order: entity, then QBO id.
    assert_eq!(
        store.pending_entries("r1").await.unwrap(),
        vec![entries[1].clone(), entries[0].clone()]
    );
    assert_eq!(store.pending_entries("r2").await.unwrap(), vec![entries[4].clone()]);
    assert_eq!(store.pending_entries("r3").await.unwrap(), vec![]);

    let settled = LedgerEntry { state: LedgerState::Created, ..entries[1].clone() };
    store.put_ledger_entry(&settled).await.unwrap();
    assert_eq!(store.pending_entries("r1").await.unwrap(), vec![entries[0].clone()]);
}

/// A commit writes its log entry, its ledger entry and the cursor move.
pub async fn commit_writes_ledger_log_and_cursor(store: &dyn Store) {
    let entry = LedgerEntry {
        order_number: Some("M-1".into()),
        state: LedgerState::Created,
        ..ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Pending)
    };
    let line = log_entry("run-1", "r1", "1", Action::Created, instant(5));
    store
        .commit(&Commit {
            log: line.clone(),
            ledger: Some(LedgerChange::Put(entry.clone())),
            cursor: Some(("r1/Invoice".into(), instant(4))),
        })
        .await
        .unwrap();
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(4)));
}

/// A commit without a ledger change or a cursor move leaves the ledger and the cursors as they
/// were.
pub async fn commit_without_ledger_or_cursor_leaves_them_alone(store: &dyn Store) {
    let entry = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Created);
    store.put_ledger_entry(&entry).await.unwrap();
    store.set_cursor("r1/Invoice", instant(1)).await.unwrap();

    let line = log_entry("run-2", "r1", "1", Action::Skipped, instant(5));
    store.commit(&log_only(line.clone())).await.unwrap();
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry));
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(1)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
}

/// A log entry reads back equal in every field, the offset of `last_updated` included.
pub async fn log_entries_round_trip_every_field(store: &dyn Store) {
    let pacific = FixedOffset::west_opt(8 * 3600).unwrap();
    let last_updated = pacific.with_ymd_and_hms(2024, 4, 24, 16, 3, 12).single().unwrap();
    let full = LogEntry {
        run_id: "run-1".into(),
        at: Utc.timestamp_opt(1_714_000_000, 5).single().unwrap(),
        realm: "9130".into(),
        entity: EntityKind::SalesReceipt,
        qbo_id: "177".into(),
        doc_number: Some("1042".into()),
        customer: Some("Zoë O'Brien & \"Sons\", Ltd".into()),
        sync_token: Some("2".into()),
        last_updated: Some(last_updated),
        action: Action::Failed,
        reason: Some(Reason::Rejected),
        detail: Some("Ordoro refused the order: the ship-to has no street.".into()),
        order_number: Some("M-QBO-9130-SR-177".into()),
        failure: Some(FailureInfo {
            service: Some("ordoro".into()),
            status: Some(400),
            code: Some("street1".into()),
            message: "street1 is required".into(),
            request_id: Some("req-7".into()),
        }),
        dry_run: true,
    };
    let bare = log_entry("run-1", "9130", "178", Action::Skipped, instant(1));
    let message_only = LogEntry {
        failure: Some(FailureInfo { message: "disk full".into(), ..FailureInfo::default() }),
        ..log_entry("run-1", "9130", "179", Action::Failed, instant(2))
    };
    for entry in [&full, &bare, &message_only] {
        store.commit(&log_only(entry.clone())).await.unwrap();
    }
    let read = store.query_log(&LogQuery::default()).await.unwrap();
    assert_eq!(read, vec![full, bare, message_only]);
    // DateTime equality ignores the offset; the log must keep QBO's own.
    assert_eq!(read[0].last_updated.unwrap().offset(), &pacific);
}

/// Six entries that differ in every filtered field, for the query checks.
async fn write_query_fixture(store: &dyn Store) {
    let entries = [
        LogEntry {
            doc_number: Some("1001".into()),
            order_number: Some("M-1".into()),
            ..log_entry("run-1", "r1", "1", Action::Created, instant(10))
        },
        LogEntry {
            doc_number: Some("1002".into()),
            ..log_entry("run-1", "r1", "2", Action::Skipped, instant(20))
        },
        LogEntry {
            doc_number: Some("1001".into()),
            ..log_entry("run-1", "r2", "1", Action::Failed, instant(30))
        },
        LogEntry {
            doc_number: Some("1001".into()),
            order_number: Some("M-1".into()),
            ..log_entry("run-2", "r1", "1", Action::Updated, instant(40))
        },
        log_entry("run-2", "r1", "3", Action::Skipped, instant(50)),
        LogEntry {
            order_number: Some("M-4".into()),
            ..log_entry("run-2", "r1", "4", Action::Created, instant(60))
        },
    ];
    for entry in entries {
        store.commit(&log_only(entry)).await.unwrap();
    }
}

/// Each field of a [`LogQuery`] filters, and set fields combine.
pub async fn log_query_filters_each_field(store: &dyn Store) {
    write_query_fixture(store).await;
    let find = |q: LogQuery| async move {
        let found = store.query_log(&q).await.unwrap();
        found.iter().map(|e| format!("{}/{}/{}", e.run_id, e.realm, e.qbo_id)).collect::<Vec<_>>()
    };
    assert_eq!(find(LogQuery::default()).await.len(), 6);
    assert_eq!(
        find(LogQuery { realm: Some("r2".into()), ..Default::default() }).await,
        ["run-1/r2/1"]
    );
    assert_eq!(
        find(LogQuery { run_id: Some("run-2".into()), ..Default::default() }).await,
        ["run-2/r1/1", "run-2/r1/3", "run-2/r1/4"]
    );
    assert_eq!(
        find(LogQuery { qbo_id: Some("1".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-1/r2/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { qbo_id: Some("1".into()), realm: Some("r1".into()), ..Default::default() })
            .await,
        ["run-1/r1/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { doc_number: Some("1001".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-1/r2/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { order_number: Some("M-1".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { action: Some(Action::Skipped), ..Default::default() }).await,
        ["run-1/r1/2", "run-2/r1/3"]
    );
    assert_eq!(
        find(LogQuery {
            action: Some(Action::Created),
            run_id: Some("run-2".into()),
            ..Default::default()
        })
        .await,
        ["run-2/r1/4"]
    );
    assert_eq!(
        find(LogQuery { doc_number: Some("nope".into()), ..Default::default() }).await,
        Vec::<String>::new()
    );
}

/// `from` is inclusive and `to` exclusive, also with bounds far outside any stored instant.
pub async fn log_query_date_range_is_half_open(store: &dyn Store) {
    write_query_fixture(store).await;
    let between = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| async move {
        let q = LogQuery { from, to, ..Default::default() };
        store.query_log(&q).await.unwrap().iter().map(|e| e.at).collect::<Vec<DateTime<Utc>>>()
    };
    assert_eq!(between(Some(instant(20)), Some(instant(40))).await, [instant(20), instant(30)]);
    assert_eq!(between(Some(instant(21)), Some(instant(41))).await, [instant(30), instant(40)]);
    assert_eq!(between(Some(instant(50)), None).await, [instant(50), instant(60)]);
    assert_eq!(between(None, Some(instant(20))).await, [instant(10)]);
    assert_eq!(between(Some(instant(30)), Some(instant(30))).await, Vec::<DateTime<Utc>>::new());
    // Bounds far outside any stored instant still compare as instants.
    assert_eq!(
        between(Some(DateTime::<Utc>::MIN_UTC), Some(DateTime::<Utc>::MAX_UTC)).await.len(),
        6
    );
    assert_eq!(between(Some(DateTime::<Utc>::MAX_UTC), None).await, Vec::<DateTime<Utc>>::new());
    assert_eq!(between(None, Some(DateTime::<Utc>::MIN_UTC)).await, Vec::<DateTime<Utc>>::new());
}

/// `limit` keeps the first matches in the written order.
pub async fn log_query_limit_takes_the_first_matches(store: &dyn Store) {
    write_query_fixture(store).await;
    let q = LogQuery { realm: Some("r1".into()), limit: Some(2), ..Default::default() };
    assert_eq!(ids(&store.query_log(&q).await.unwrap()), ["1", "2"]);
    let q = LogQuery { limit: Some(0), ..Default::default() };
    assert_eq!(store.query_log(&q).await.unwrap(), vec![]);
    let q = LogQuery { limit: Some(usize::MAX), ..Default::default() };
    assert_eq!(store.query_log(&q).await.unwrap().len(), 6);
}

/// Results come in the order written, not in time order.
pub async fn log_query_results_keep_the_written_order(store: &dyn Store) {
    // Written out of time order (a re-run of an older range): results follow the writing.
    for (id, secs) in [("c", 30), ("a", 10), ("b", 20)] {
        store
            .commit(&log_only(log_entry("run-1", "r1", id, Action::Skipped, instant(secs))))
            .await
            .unwrap();
    }
    assert_eq!(ids(&store.query_log(&LogQuery::default()).await.unwrap()), ["c", "a", "b"]);
    let q = LogQuery { from: Some(instant(15)), ..Default::default() };
    assert_eq!(ids(&store.query_log(&q).await.unwrap()), ["c", "b"]);
}

/// Entity, reason and free text filter, in `query_log` and `log_page` alike. The text matches the
/// DocNumber, the QBO id or the order number whole, ASCII letters in either case, the spaces
/// around it ignored; a prefix is no match, blank text no filter.
pub async fn log_query_filters_entity_reason_and_text(store: &dyn Store) {
    let entries = [
        LogEntry {
            doc_number: Some("INV-1001".into()),
            order_number: Some("M-QBO-INV-7".into()),
            ..log_entry("run-1", "r1", "7", Action::Created, instant(10))
        },
        LogEntry {
            entity: EntityKind::SalesReceipt,
            doc_number: Some("1001".into()),
            reason: Some(Reason::ClassMismatch),
            ..log_entry("run-1", "r1", "8", Action::Skipped, instant(20))
        },
        LogEntry {
            reason: Some(Reason::Address(crate::address::AddressErrorCode::MissingState)),
            doc_number: Some("inv-1001".into()),
            ..log_entry("run-1", "r2", "9", Action::Failed, instant(30))
        },
        LogEntry {
            entity: EntityKind::SalesReceipt,
            reason: Some(Reason::ClassMismatch),
            doc_number: Some("7".into()),
            ..log_entry("run-2", "r1", "10", Action::Skipped, instant(40))
        },
    ];
    for entry in entries {
        store.commit(&log_only(entry)).await.unwrap();
    }
    let both = |q: LogQuery| async move {
        let listed = ids(&store.query_log(&q).await.unwrap()).join(",");
        let page = store.log_page(&LogQuery { limit: Some(10), ..q }).await.unwrap();
        assert_eq!(ids(&page.entries).join(","), listed, "log_page and query_log disagree");
        listed
    };
    let text = |t: &str| LogQuery { text: Some(t.into()), ..LogQuery::default() };
    let entity = Some(EntityKind::SalesReceipt);
    assert_eq!(both(LogQuery { entity, ..LogQuery::default() }).await, "8,10");
    let reason = Some(Reason::ClassMismatch);
    assert_eq!(both(LogQuery { reason, ..LogQuery::default() }).await, "8,10");
    let reason = Some(Reason::Address(crate::address::AddressErrorCode::MissingState));
    assert_eq!(both(LogQuery { reason, ..LogQuery::default() }).await, "9");
    assert_eq!(both(LogQuery { reason: Some(Reason::Voided), ..LogQuery::default() }).await, "");
    // DocNumber in either case, QBO id, order number; each whole.
    assert_eq!(both(text("INV-1001")).await, "7,9");
    assert_eq!(both(text("  inv-1001 ")).await, "7,9");
    assert_eq!(both(text("1001")).await, "8");
    assert_eq!(both(text("7")).await, "7,10");
    assert_eq!(both(text("m-qbo-inv-7")).await, "7");
    assert_eq!(both(text("INV-100")).await, "", "a prefix is no match");
    assert_eq!(both(text("   ")).await, "7,8,9,10", "blank text filters nothing");
    let q = LogQuery { realm: Some("r1".into()), ..text("inv-1001") };
    assert_eq!(both(q).await, "7");
    let q = LogQuery { action: Some(Action::Skipped), entity, ..text("7") };
    assert_eq!(both(q).await, "10");
}

/// The free text finds an entry by its customer's name too: whole, ASCII letters in either
/// case (other letters as written), in `query_log` and `log_page` alike, with the other filters;
/// an entry without a customer is found by its other values only.
pub async fn log_text_finds_the_customer(store: &dyn Store) {
    let customer = |name: &str| Some(name.to_owned());
    let entries = [
        LogEntry {
            customer: customer("Kate Whelan"),
            doc_number: Some("1001".into()),
            ..log_entry("run-1", "r1", "1", Action::Created, instant(10))
        },
        LogEntry {
            customer: customer("KATE WHELAN"),
            reason: Some(Reason::ClassMismatch),
            ..log_entry("run-1", "r1", "2", Action::Skipped, instant(20))
        },
        LogEntry {
            customer: customer("Kate Whelan"),
            ..log_entry("run-1", "r2", "3", Action::Failed, instant(30))
        },
        LogEntry {
            customer: customer("Zoë Ödegaard"),
            ..log_entry("run-2", "r1", "4", Action::Created, instant(40))
        },
        // A customer named like another entry's DocNumber: both are found.
        LogEntry {
            customer: customer("1001"),
            ..log_entry("run-2", "r1", "5", Action::Created, instant(50))
        },
        log_entry("run-2", "r1", "6", Action::Created, instant(60)),
    ];
    for entry in entries {
        store.commit(&log_only(entry)).await.unwrap();
    }
    let both = |q: LogQuery| async move {
        let listed = ids(&store.query_log(&q).await.unwrap()).join(",");
        let newest = LogQuery { limit: Some(10), newest_first: true, ..q };
        let mut paged = ids(&store.log_page(&newest).await.unwrap().entries).join(",");
        paged = paged.split(',').rev().collect::<Vec<_>>().join(",");
        assert_eq!(paged, listed, "log_page and query_log disagree");
        listed
    };
    let text = |t: &str| LogQuery { text: Some(t.into()), ..LogQuery::default() };
    assert_eq!(both(text("Kate Whelan")).await, "1,2,3");
    assert_eq!(both(text(" kate whelan  ")).await, "1,2,3");
    assert_eq!(both(text("Kate")).await, "", "a part of the name is no match");
    assert_eq!(both(text("Zoë Ödegaard")).await, "4");
    assert_eq!(both(text("zoë ödegaard")).await, "", "only ASCII letters ignore their case");
    assert_eq!(both(text("ZOë ÖDEGAARD")).await, "4");
    assert_eq!(both(text("1001")).await, "1,5");
    let q = LogQuery { realm: Some("r1".into()), ..text("kate whelan") };
    assert_eq!(both(q).await, "1,2");
    let q = LogQuery { action: Some(Action::Skipped), ..text("Kate Whelan") };
    assert_eq!(both(q).await, "2");
    // Read back as written.
    let found = store.query_log(&text("zOë ÖdEGAARD")).await.unwrap();
    assert_eq!(
        found.iter().map(|e| e.customer.clone()).collect::<Vec<_>>(),
        [customer("Zoë Ödegaard")]
    );
}

/// Pages are in time order, newest first when asked, entries written at the same instant in
/// the order written (the later first); `query_log` keeps the written order.
pub async fn log_pages_run_newest_first_in_time_then_written_order(store: &dyn Store) {
    for (id, secs) in [("c", 30), ("a", 10), ("b", 20), ("b2", 20), ("d", 40)] {
        store
            .commit(&log_only(log_entry("run-1", "r1", id, Action::Skipped, instant(secs))))
            .await
            .unwrap();
    }
    let newest = LogQuery { newest_first: true, ..LogQuery::default() };
    let page = store.log_page(&newest).await.unwrap();
    assert_eq!(ids(&page.entries), ["d", "c", "b2", "b", "a"]);
    assert_eq!(page.cursors.len(), 5);
    assert!(page.cursors.windows(2).all(|w| w[0] > w[1]), "cursors follow the order");
    assert_eq!((page.next, page.previous), (None, None), "one page, no links");
    let page = store.log_page(&LogQuery::default()).await.unwrap();
    assert_eq!(ids(&page.entries), ["a", "b", "b2", "c", "d"]);
    assert_eq!(ids(&store.query_log(&newest).await.unwrap()), ["c", "a", "b", "b2", "d"]);
    let empty = LogQuery { limit: Some(0), ..newest };
    assert_eq!(store.log_page(&empty).await.unwrap(), LogPage::default());
}

/// Paging newest first from each page's `next` reads every entry once, in order, while newer
/// entries are written between the reads; the last page has no `next`. The default page size
/// is 50.
pub async fn log_pages_neither_skip_nor_repeat_while_entries_are_added(store: &dyn Store) {
    let mut written = Vec::new();
    for i in 0..23_i64 {
        // Pairs share an instant, so the cursor's sequence number matters.
        let entry =
            log_entry("run-1", "r1", &format!("{i}"), Action::Created, instant(100 + i / 2));
        store.commit(&log_only(entry)).await.unwrap();
        written.push(format!("{i}"));
    }
    written.reverse();
    let mut query = LogQuery { newest_first: true, limit: Some(4), ..LogQuery::default() };
    let mut read = Vec::new();
    let mut added = 0;
    for pages in 1.. {
        let page = store.log_page(&query).await.unwrap();
        assert!(page.entries.len() <= 4);
        assert_eq!(page.previous.is_some(), pages > 1, "page {pages}: previous link");
        read.extend(page.entries.iter().map(|e| e.qbo_id.clone()));
        // Sales keep arriving while a person reads: newer than every entry read.
        added += 1;
        let entry = log_entry(
            "run-2",
            "r1",
            &format!("new-{added}"),
            Action::Created,
            instant(500 + added),
        );
        store.commit(&log_only(entry)).await.unwrap();
        match query.next_page(&page) {
            Some(next) => query = next,
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(read, written);
    let all = store.log_page(&LogQuery { newest_first: true, ..LogQuery::default() }).await;
    let all = all.unwrap();
    assert_eq!(all.entries.len(), 23 + added as usize, "a default page holds up to 50");
    assert_eq!(all.entries[0].qbo_id, format!("new-{added}"));
}

/// Oldest first, `next` leads on and `previous` leads back to the same pages, the first one
/// with no `previous`; a previous page of a newest-first view is newest first too.
pub async fn log_pages_run_oldest_first_and_back(store: &dyn Store) {
    for i in 0..7_i64 {
        let entry = log_entry("run-1", "r1", &format!("{i}"), Action::Created, instant(i));
        store.commit(&log_only(entry)).await.unwrap();
    }
    for newest_first in [false, true] {
        let first = LogQuery { newest_first, limit: Some(3), ..LogQuery::default() };
        let mut pages = vec![store.log_page(&first).await.unwrap()];
        let mut query = first.clone();
        while let Some(next) = query.next_page(pages.last().unwrap()) {
            pages.push(store.log_page(&next).await.unwrap());
            query = next;
        }
        let shown: Vec<String> = pages.iter().map(|p| ids(&p.entries).join(",")).collect();
        let expected = if newest_first { ["6,5,4", "3,2,1", "0"] } else { ["0,1,2", "3,4,5", "6"] };
        assert_eq!(shown, expected);
        // And back: each previous page is the page before, the first has no previous.
        let mut back = pages.last().unwrap().clone();
        for earlier in pages.iter().rev().skip(1) {
            let previous = query.previous_page(&back).expect("a previous page");
            back = store.log_page(&previous).await.unwrap();
            assert_eq!(ids(&back.entries), ids(&earlier.entries));
            query = previous;
        }
        assert_eq!(query.previous_page(&back), None, "the first page has no previous");
    }
}

/// A page of a filtered view holds only matches, its cursor keeps the filters, and a date range
/// bounds the pages.
pub async fn log_pages_filter_like_queries(store: &dyn Store) {
    write_query_fixture(store).await;
    let realm = Some("r1".to_owned());
    let q = LogQuery { realm, newest_first: true, limit: Some(2), ..LogQuery::default() };
    let page = store.log_page(&q).await.unwrap();
    assert_eq!(ids(&page.entries), ["4", "3"]);
    let page = store.log_page(&q.next_page(&page).unwrap()).await.unwrap();
    assert_eq!(ids(&page.entries), ["1", "2"]);
    let page = store.log_page(&q.next_page(&page).unwrap()).await.unwrap();
    assert_eq!(ids(&page.entries), ["1"]);
    assert_eq!(page.next, None);
    let ranged = LogQuery { from: Some(instant(20)), to: Some(instant(50)), ..q };
    let page = store.log_page(&ranged).await.unwrap();
    assert_eq!(page.entries.iter().map(|e| e.at).collect::<Vec<_>>(), [instant(40), instant(20)]);
    assert_eq!(page.next, None, "the range holds two of r1's entries");
}

/// A cursor written as text and read back continues where the page left off.
pub async fn log_cursors_round_trip_through_their_text(store: &dyn Store) {
    let at = instant(7) + chrono::Duration::nanoseconds(123_456_789);
    for i in 0..5 {
        let entry = log_entry("run-1", "r1", &format!("{i}"), Action::Created, at);
        store.commit(&log_only(entry)).await.unwrap();
    }
    let q = LogQuery { newest_first: true, limit: Some(2), ..LogQuery::default() };
    let page = store.log_page(&q).await.unwrap();
    let next = page.next.expect("more than one page");
    let text = next.to_string();
    let read: LogCursor = text.parse().expect("a cursor reads back");
    assert_eq!(read, next);
    assert_eq!(read.at, at, "to the nanosecond");
    let by_text = store.log_page(&LogQuery { before: Some(read), ..q.clone() }).await.unwrap();
    assert_eq!(ids(&by_text.entries), ["2", "1"]);
    assert!("".parse::<LogCursor>().is_err());
    assert!(text.replace('~', "-").parse::<LogCursor>().is_err());
}

/// `run_summary` counts one company's run by action, and only that company's.
pub async fn run_summary_counts_by_action(store: &dyn Store) {
    let actions = [
        ("run-1", Action::Created),
        ("run-1", Action::Created),
        ("run-1", Action::Created),
        ("run-1", Action::Updated),
        ("run-1", Action::Skipped),
        ("run-1", Action::Skipped),
        ("run-1", Action::Failed),
        ("run-2", Action::Failed),
        ("run-2", Action::Skipped),
    ];
    for (i, (run, action)) in actions.into_iter().enumerate() {
        let id = i.to_string();
        store.commit(&log_only(log_entry(run, "r1", &id, action, instant(0)))).await.unwrap();
    }
    // Another company's run that happens to have the same id.
    store
        .commit(&log_only(log_entry("run-1", "r2", "9", Action::Created, instant(0))))
        .await
        .unwrap();
    let summary = store.run_summary("r1", "run-1").await.unwrap();
    assert_eq!(summary, RunSummary { created: 3, updated: 1, skipped: 2, failed: 1 });
    assert_eq!(summary.to_string(), "created=3 updated=1 skipped=2 failed=1");
    assert_eq!(summary.total(), 7);
    assert_eq!(summary.count(Action::Skipped), 2);
    assert_eq!(
        store.run_summary("r1", "run-2").await.unwrap(),
        RunSummary { created: 0, updated: 0, skipped: 1, failed: 1 }
    );
    assert_eq!(
        store.run_summary("r2", "run-1").await.unwrap(),
        RunSummary { created: 1, updated: 0, skipped: 0, failed: 0 }
    );
    assert_eq!(store.run_summary("r1", "run-3").await.unwrap(), RunSummary::default());
}

/// Tokens are kept per company, and a save replaces everything (a rotation may drop the access
/// token).
pub async fn tokens_round_trip(store: &dyn Store) {
    assert!(store.load_token("r1").await.unwrap().is_none());

    store.save_token("r1", &stored_token("refresh-1", Some("access-1"))).await.unwrap();
    store.save_token("r2", &stored_token("refresh-2", None)).await.unwrap();
    let r1 = store.load_token("r1").await.unwrap().expect("r1 tokens");
    assert_eq!(r1.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(r1.access_token.as_ref().map(|a| a.expose_secret()), Some("access-1"));
    assert_eq!(r1.access_expires_at, Some(instant(3600)));
    let r2 = store.load_token("r2").await.unwrap().expect("r2 tokens");
    assert_eq!(r2.refresh_token.expose_secret(), "refresh-2");
    assert!(r2.access_token.is_none());
    assert_eq!(r2.access_expires_at, None);

    // A rotation replaces everything, including dropping the access token.
    store.save_token("r1", &stored_token("refresh-1b", None)).await.unwrap();
    let r1 = store.load_token("r1").await.unwrap().expect("r1 tokens");
    assert_eq!(r1.refresh_token.expose_secret(), "refresh-1b");
    assert!(r1.access_token.is_none());
    assert_eq!(r1.access_expires_at, None);
}

/// No token shows in the Debug output of the tokens or of the store.
pub async fn tokens_never_show_in_debug_output(store: &dyn Store) {
    let saved = stored_token("refresh-SECRET", Some("access-SECRET"));
    store.save_token("r1", &saved).await.unwrap();
    let loaded = store.load_token("r1").await.unwrap().expect("tokens");
    for shown in [format!("{saved:?}"), format!("{loaded:?}"), format!("{store:?}")] {
        assert!(!shown.contains("SECRET"), "a secret leaked into {shown}");
    }
    assert!(format!("{loaded:?}").contains("[redacted]"));
}

/// The refresh token's expiries and its grant's fingerprint read back, and a save replaces them.
pub async fn tokens_keep_their_expiries_and_grant(store: &dyn Store) {
    let grant = super::token_fingerprint(&SecretString::from("refresh-0"));
    let token = StoredToken {
        refresh_expires_at: Some(instant(8_726_400)),
        refresh_hard_expires_at: Some(Utc.timestamp_opt(1_900_000_000, 5).single().unwrap()),
        grant_fingerprint: Some(grant.clone()),
        ..stored_token("refresh-1", Some("access-1"))
    };
    store.save_token("r1", &token).await.unwrap();
    let read = store.load_token("r1").await.unwrap().expect("tokens");
    assert_eq!(read.refresh_expires_at, token.refresh_expires_at);
    assert_eq!(read.refresh_hard_expires_at, token.refresh_hard_expires_at);
    assert_eq!(read.grant_fingerprint.as_deref(), Some(grant.as_str()));
    assert_eq!(read.reconnect_by(), Some(instant(8_726_400)));

    store.save_token("r1", &stored_token("refresh-2", None)).await.unwrap();
    let read = store.load_token("r1").await.unwrap().expect("tokens");
    assert_eq!((read.refresh_expires_at, read.refresh_hard_expires_at), (None, None));
    assert_eq!(read.grant_fingerprint, None);
}

/// The connected companies are the realms with saved tokens, in order, each once.
pub async fn connected_realms_are_those_with_tokens(store: &dyn Store) {
    assert!(store.connected_realms().await.unwrap().is_empty());
    store.save_token("r2", &stored_token("refresh-2", None)).await.unwrap();
    store.save_token("r1", &stored_token("refresh-1", None)).await.unwrap();
    store.save_token("r1", &stored_token("refresh-1b", None)).await.unwrap();
    assert_eq!(store.connected_realms().await.unwrap(), ["r1", "r2"]);
}

/// Forgetting a company's tokens (a disconnect) says whether there were any, leaves
/// `load_token` empty and the company out of `connected_realms`, touches no other company's, and
/// keeps everything else of the company (ledger, log, cursors, settings), so that connecting it
/// again carries on where it left off.
pub async fn forgetting_a_token_disconnects_the_company_and_keeps_its_state(store: &dyn Store) {
    store.save_token("r1", &stored_token("refresh-1", Some("access-1"))).await.unwrap();
    store.save_token("r2", &stored_token("refresh-2", None)).await.unwrap();
    let entry = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Created);
    let line = log_entry("run-1", "r1", "1", Action::Created, instant(1));
    let commit = Commit {
        log: line.clone(),
        ledger: Some(LedgerChange::Put(entry.clone())),
        cursor: Some(("r1/Invoice".into(), instant(2))),
    };
    store.commit(&commit).await.unwrap();
    let settings = CompanySettings { classes: vec!["Retail".into()], ..CompanySettings::default() };
    store.save_company_settings("r1", &settings).await.unwrap();

    assert!(store.forget_token("r1").await.unwrap(), "r1 had tokens");
    assert!(store.load_token("r1").await.unwrap().is_none());
    assert_eq!(store.connected_realms().await.unwrap(), ["r2"]);
    let other = store.load_token("r2").await.unwrap().expect("r2 keeps its tokens");
    assert_eq!(other.refresh_token.expose_secret(), "refresh-2");
    assert!(!store.forget_token("r1").await.unwrap(), "nothing left to forget");
    assert!(!store.forget_token("r3").await.unwrap(), "never connected");

    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(2)));
    assert_eq!(store.company_settings("r1").await.unwrap(), Some(settings));

    store.save_token("r1", &stored_token("refresh-again", None)).await.unwrap();
    assert_eq!(store.connected_realms().await.unwrap(), ["r1", "r2"]);
    let again = store.load_token("r1").await.unwrap().expect("connected again");
    assert_eq!(again.refresh_token.expose_secret(), "refresh-again");
    assert!(again.access_token.is_none(), "nothing of the forgotten tokens comes back");
}

/// A run id starts once per company: a second start of the same id is refused, whether or not
/// the first run logged anything; another company may use the same id.
pub async fn a_run_starts_once_per_company(store: &dyn Store) {
    assert!(store.start_run("r1", "run-1").await.unwrap());
    assert!(!store.start_run("r1", "run-1").await.unwrap(), "run-1 of r1 started twice");
    assert!(store.start_run("r1", "run-2").await.unwrap());
    assert!(store.start_run("r2", "run-1").await.unwrap());
    assert!(store.query_log(&LogQuery::default()).await.unwrap().is_empty(), "nothing logged");
}

/// A commit that removes a ledger entry removes it together with writing its log entry; the
/// entry is no longer pending.
pub async fn commit_removes_a_ledger_entry(store: &dyn Store) {
    let pending = ledger_entry("r1", EntityKind::Invoice, "5", LedgerState::Pending);
    store.put_ledger_entry(&pending).await.unwrap();
    let line = log_entry("run-1", "r1", "5", Action::Skipped, instant(5));
    let commit = Commit {
        log: line.clone(),
        ledger: Some(LedgerChange::Remove(pending.key.clone())),
        cursor: Some(("r1/Invoice".into(), instant(5))),
    };
    store.commit(&commit).await.unwrap();
    assert_eq!(store.ledger_entry(&pending.key).await.unwrap(), None);
    assert_eq!(store.pending_entries("r1").await.unwrap(), vec![]);
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(5)));
}

/// Removing a ledger entry that is not there is not an error, and touches no other entry.
pub async fn removing_an_absent_ledger_entry_is_not_an_error(store: &dyn Store) {
    let other = ledger_entry("r1", EntityKind::Invoice, "6", LedgerState::Created);
    store.put_ledger_entry(&other).await.unwrap();
    let absent = ledger_key("r1", EntityKind::SalesReceipt, "6");
    let line = log_entry("run-1", "r1", "6", Action::Skipped, instant(6));
    let commit =
        Commit { log: line.clone(), ledger: Some(LedgerChange::Remove(absent)), cursor: None };
    store.commit(&commit).await.unwrap();
    assert_eq!(store.ledger_entry(&other.key).await.unwrap(), Some(other));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
}

/// Every [`Reason`] code reads back as itself.
pub async fn every_reason_reads_back(store: &dyn Store) {
    let written: Vec<LogEntry> = Reason::all()
        .enumerate()
        .map(|(i, reason)| LogEntry {
            reason: Some(reason),
            ..log_entry("run-1", "r1", &i.to_string(), Action::Skipped, instant(0))
        })
        .collect();
    for entry in &written {
        store.commit(&log_only(entry.clone())).await.unwrap();
    }
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), written);
}

// Builders of the values the checks use, for a host's own further tests of its store.

/// An instant `secs` seconds after 2024-04-24T23:06:40Z, whole seconds.
pub fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_714_000_000 + secs, 0).single().expect("valid instant")
}

/// The key of `realm`'s transaction `entity` `qbo_id`.
pub fn ledger_key(realm: &str, entity: EntityKind, qbo_id: &str) -> LedgerKey {
    LedgerKey { realm: realm.into(), entity, qbo_id: qbo_id.into() }
}

/// A ledger entry in `state`, with no order number, SyncToken `0`, updated at `instant(0)`.
pub fn ledger_entry(
    realm: &str,
    entity: EntityKind,
    qbo_id: &str,
    state: LedgerState,
) -> LedgerEntry {
    LedgerEntry {
        key: ledger_key(realm, entity, qbo_id),
        order_id: format!("QBO-{realm}-{entity}-{qbo_id}"),
        order_number: None,
        sync_token: "0".into(),
        state,
        updated_at: instant(0),
    }
}

/// A log entry of an invoice with only the given fields set.
pub fn log_entry(
    run: &str,
    realm: &str,
    qbo_id: &str,
    action: Action,
    at: DateTime<Utc>,
) -> LogEntry {
    LogEntry {
        run_id: run.into(),
        at,
        realm: realm.into(),
        entity: EntityKind::Invoice,
        qbo_id: qbo_id.into(),
        doc_number: None,
        customer: None,
        sync_token: None,
        last_updated: None,
        action,
        reason: None,
        detail: None,
        order_number: None,
        failure: None,
        dry_run: false,
    }
}

/// A commit of `entry` alone: no ledger change, no cursor move.
pub fn log_only(entry: LogEntry) -> Commit {
    Commit { log: entry, ledger: None, cursor: None }
}

/// Tokens with this refresh token, and an access token expiring at `instant(3600)` if given.
pub fn stored_token(refresh: &str, access: Option<&str>) -> StoredToken {
    StoredToken {
        refresh_token: SecretString::from(refresh.to_owned()),
        access_token: access.map(|a| SecretString::from(a.to_owned())),
        access_expires_at: access.map(|_| instant(3600)),
        refresh_expires_at: None,
        refresh_hard_expires_at: None,
        grant_fingerprint: None,
    }
}

fn ids(entries: &[LogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.qbo_id.as_str()).collect()
}
