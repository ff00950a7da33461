//! Products the warehouse knows (issue 20), through the real clients against both simulators:
//! each line's SKU from the SKU mapping, then the QBO item's `Sku`, then its name; the
//! unknown-SKU, fractional-quantity and bundle policies; the retry set. Every test counts the
//! products Ordoro created on the fly, the junk a wrong SKU leaves in the catalogue.

use chrono::{TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, SyncConfig, UnknownSkuPolicy};
use qbo_ordoro::mapping::{BundlePolicy, FractionalPolicy, MappingConfig, SkuKey, SkuMapping};
use qbo_ordoro::model::ordoro::Order;
use qbo_ordoro::model::qbo::EntityKind::Invoice;
use qbo_ordoro::model::qbo::{
    GroupLineDetail, Line, LineDetail, QboItem, Ref, SalesItemLineDetail,
};
use qbo_ordoro::sim::qbo::simple_sale;
use qbo_ordoro::{Reason, RunReport, Store};
use rust_decimal::Decimal;

use crate::support::sim::services::{REALM, Services};

struct World(Services);

impl std::ops::Deref for World {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

async fn world() -> World {
    World(Services::start(Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()).await)
}

fn item(id: &str, name: &str, sku: Option<&str>) -> QboItem {
    QboItem {
        id: id.into(),
        name: Some(name.into()),
        sku: sku.map(Into::into),
        ..QboItem::default()
    }
}

fn sale_line(id: &str, item_id: &str, name: &str, qty: &str, price: &str) -> Line {
    let qty: Decimal = qty.parse().unwrap();
    let price: Decimal = price.parse().unwrap();
    Line {
        id: Some(id.into()),
        amount: Some(qty * price),
        detail: LineDetail::SalesItem(SalesItemLineDetail {
            item_ref: Some(Ref { value: item_id.into(), name: Some(name.into()) }),
            qty: Some(qty),
            unit_price: Some(price),
            ..Default::default()
        }),
        line_num: None,
        description: None,
        linked_txn: Vec::new(),
    }
}

impl World {
    /// Seeds an invoice marked `Ordoro` with these lines (its total their sum); returns its id.
    fn sale(&self, lines: Vec<Line>) -> String {
        let total: Decimal = lines.iter().filter_map(|l| l.amount).sum();
        let mut txn = simple_sale(Invoice, "1001", Some(("1", "Ordoro")), total);
        txn.doc.line = lines;
        self.qbo.insert(REALM, txn).id
    }

    async fn run(&self, config: SyncConfig) -> RunReport {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        let report = self.engine(config).run_incremental(&RunOptions::default()).await.unwrap();
        assert_eq!(report.aborted, None);
        report
    }

    fn only_order(&self) -> Order {
        let orders = self.ordoro.orders();
        assert_eq!(orders.len(), 1, "{orders:?}");
        orders.into_iter().next().unwrap()
    }

    fn skus(&self) -> Vec<String> {
        self.only_order().lines.iter().filter_map(|l| l.sku.clone()).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn an_items_sku_is_the_lines_sku_and_ordoro_invents_nothing() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", Some("FOUNT-1")));
    w.ordoro.add_product("FOUNT-1", "Rock Fountain");
    w.sale(vec![sale_line("1", "5", "Rock Fountain", "2", "10")]);
    let report = w.run(SyncConfig::default()).await;
    assert_eq!(report.summary.created, 1, "{:?}", report.entries);
    assert_eq!(w.skus(), ["FOUNT-1"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_sub_item_has_its_own_sku_never_its_parents() {
    let w = world().await;
    w.qbo.add_item(REALM, item("10", "Chairs", Some("CHAIR-PARENT")));
    let parent = Some(Ref { value: "10".into(), name: Some("Chairs".into()) });
    w.qbo.add_item(
        REALM,
        QboItem { parent_ref: parent.clone(), ..item("11", "Oak", Some("CHAIR-OAK")) },
    );
    w.qbo.add_item(REALM, QboItem { parent_ref: parent, ..item("12", "Pine", None) });
    assert_eq!(
        w.qbo.item(REALM, "11").unwrap().fully_qualified_name.as_deref(),
        Some("Chairs:Oak")
    );
    w.ordoro.add_product("CHAIR-OAK", "Oak chair");
    w.sale(vec![
        sale_line("1", "11", "Chairs:Oak", "1", "80"),
        sale_line("2", "12", "Chairs:Pine", "1", "60"),
    ]);
    w.run(SyncConfig::default()).await;
    // The sub-item without a SKU keeps its name, as before: never the parent's SKU.
    assert_eq!(w.skus(), ["CHAIR-OAK", "Chairs:Pine"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 1, "{:?}", w.ordoro.products());
}

#[tokio::test(start_paused = true)]
async fn an_item_without_a_sku_keeps_its_name_as_before() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", None));
    w.sale(vec![sale_line("1", "5", "Rock Fountain", "1", "275")]);
    w.run(SyncConfig::default()).await;
    assert_eq!(w.skus(), ["Rock Fountain"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_inactive_item_still_gives_its_sku() {
    let w = world().await;
    w.qbo.add_item(REALM, QboItem { active: Some(false), ..item("5", "Old Lamp", Some("LAMP-1")) });
    w.ordoro.add_product("LAMP-1", "Lamp");
    w.sale(vec![sale_line("1", "5", "Old Lamp", "1", "30")]);
    w.run(SyncConfig::default()).await;
    assert_eq!(w.skus(), ["LAMP-1"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_mapping_comes_before_the_items_sku() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", Some("FOUNT-1")));
    w.qbo.add_item(REALM, item("6", "Garden Gnome", None));
    w.ordoro.add_product("RF-100", "Rock Fountain");
    w.ordoro.add_product("GN-7", "Gnome");
    let map = |key, sku: &str| SkuMapping { key, sku: sku.into() };
    w.store.put_sku_mapping(REALM, &map(SkuKey::ItemId("5".into()), "RF-100")).await.unwrap();
    w.store
        .put_sku_mapping(REALM, &map(SkuKey::ItemName("garden gnome".into()), "GN-7"))
        .await
        .unwrap();
    w.sale(vec![
        sale_line("1", "5", "Rock Fountain", "1", "275"),
        sale_line("2", "6", "Garden Gnome", "2", "24.95"),
    ]);
    w.run(SyncConfig::default()).await;
    assert_eq!(w.skus(), ["RF-100", "GN-7"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

fn require_known() -> SyncConfig {
    SyncConfig { unknown_skus: UnknownSkuPolicy::RequireKnown, ..SyncConfig::default() }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_sku_fails_under_require_known_until_a_mapping_fixes_it() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", None));
    w.ordoro.add_product("FOUNT-1", "Rock Fountain");
    let id = w.sale(vec![sale_line("1", "5", "Rock Fountain", "1", "275")]);

    let first = w.run(require_known()).await;
    assert_eq!(first.summary.failed, 1, "{:?}", first.entries);
    let entry = &first.entries[0];
    assert_eq!(entry.reason, Some(Reason::UnknownSku));
    let detail = entry.detail.as_deref().unwrap();
    assert!(detail.contains("line 1"), "{detail}");
    assert!(detail.contains("\"Rock Fountain\""), "{detail}");
    assert!(detail.contains("id:5=SKU"), "{detail}");
    assert!(w.ordoro.orders().is_empty());
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
    let retry = w.store.retry_entries(REALM).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].key.qbo_id, id);

    // Nothing changes in QBO: the run after the mapping is added reads the sale again.
    let map = SkuMapping { key: SkuKey::ItemId("5".into()), sku: "FOUNT-1".into() };
    w.store.put_sku_mapping(REALM, &map).await.unwrap();
    let second = w.run(require_known()).await;
    assert_eq!(second.summary.created, 1, "{:?}", second.entries);
    let detail = second.entries[0].detail.as_deref().unwrap();
    assert!(detail.starts_with("retried: it failed with unknown_sku"), "{detail}");
    assert_eq!(w.skus(), ["FOUNT-1"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
    assert!(w.store.retry_entries(REALM).await.unwrap().is_empty());

    // Out of the retry set: a later run reads it only through the window's overlap, unchanged.
    let third = w.run(require_known()).await;
    assert_eq!((third.summary.created, third.summary.failed), (0, 0), "{:?}", third.entries);
    assert!(third.entries.iter().all(|e| !e.detail.as_deref().unwrap_or("").contains("retried")));
    assert_eq!(w.ordoro.orders().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn require_known_looks_each_sku_up_once_a_run() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", Some("FOUNT-1")));
    w.ordoro.add_product("FOUNT-1", "Rock Fountain");
    for _ in 0..3 {
        w.sale(vec![sale_line("1", "5", "Rock Fountain", "1", "275")]);
    }
    let report = w.run(require_known()).await;
    assert_eq!(report.summary.created, 3);
    let lookups = w.ordoro.stats().requests_by_route.get("GET /product/{sku}/").copied();
    assert_eq!(lookups, Some(1));
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_fractional_quantity_with_a_real_sku_fails_until_rounding_up_is_allowed() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Mulch", Some("MULCH-BAG")));
    w.ordoro.add_product("MULCH-BAG", "Mulch");
    w.sale(vec![sale_line("1", "5", "Mulch", "2.5", "4")]);
    let first = w.run(SyncConfig::default()).await;
    assert_eq!(first.entries[0].reason, Some(Reason::FractionalQuantity), "{:?}", first.entries);
    assert!(w.ordoro.orders().is_empty());

    let round_up = SyncConfig {
        mapping: MappingConfig::default().with_fractional_quantities(FractionalPolicy::RoundUp),
        ..SyncConfig::default()
    };
    let second = w.run(round_up).await;
    assert_eq!(second.summary.created, 1, "{:?}", second.entries);
    let detail = second.entries[0].detail.as_deref().unwrap();
    assert!(detail.contains("retried: it failed with fractional_quantity"), "{detail}");
    assert!(detail.contains("rounded up to 3 units"), "{detail}");
    let line = &w.only_order().lines[0];
    assert_eq!((line.sku.as_deref(), line.quantity), (Some("MULCH-BAG"), Some(3)));
    assert_eq!(line.total_price, Some(Decimal::from(10)));
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_fractional_quantity_without_a_real_sku_keeps_the_one_unit_rule() {
    let w = world().await;
    w.sale(vec![sale_line("1", "5", "Consulting", "4.5", "100")]);
    let report = w.run(SyncConfig::default()).await;
    assert_eq!(report.summary.created, 1);
    let line = &w.only_order().lines[0];
    assert_eq!((line.sku.as_deref(), line.quantity), (Some("Consulting"), Some(1)));
    assert_eq!(w.ordoro.products_created_on_the_fly(), 1);
}

fn bundle_sale(w: &World) {
    w.qbo.add_item(REALM, item("5", "Rock Fountain", Some("FOUNT-1")));
    w.qbo.add_item(REALM, item("6", "Garden Gnome", Some("GNOME-1")));
    w.qbo.add_item(
        REALM,
        QboItem { item_type: Some("Group".into()), ..item("77", "Starter Kit", Some("KIT-1")) },
    );
    for (sku, name) in [("FOUNT-1", "Fountain"), ("GNOME-1", "Gnome"), ("KIT-1", "Kit")] {
        w.ordoro.add_product(sku, name);
    }
    let bundle = Line {
        id: Some("1".into()),
        amount: Some(Decimal::ZERO),
        detail: LineDetail::Group(GroupLineDetail {
            group_item_ref: Some(Ref { value: "77".into(), name: Some("Starter Kit".into()) }),
            quantity: Some(Decimal::from(2)),
            line: vec![
                sale_line("2", "5", "Rock Fountain", "2", "100"),
                sale_line("3", "6", "Garden Gnome", "4", "10"),
            ],
        }),
        line_num: None,
        description: None,
        linked_txn: Vec::new(),
    };
    w.sale(vec![bundle]);
}

#[tokio::test(start_paused = true)]
async fn a_bundle_is_sent_as_its_components_by_default() {
    let w = world().await;
    bundle_sale(&w);
    w.run(SyncConfig::default()).await;
    assert_eq!(w.skus(), ["FOUNT-1", "GNOME-1"]);
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_bundle_is_one_line_of_its_own_sku_when_asked() {
    let w = world().await;
    bundle_sale(&w);
    let config = SyncConfig {
        mapping: MappingConfig::default().with_bundles(BundlePolicy::OneLine),
        ..SyncConfig::default()
    };
    let report = w.run(config).await;
    assert_eq!(report.summary.created, 1, "{:?}", report.entries);
    let order = w.only_order();
    assert_eq!(w.skus(), ["KIT-1"]);
    let line = &order.lines[0];
    assert_eq!(line.quantity, Some(2));
    assert_eq!(line.total_price, Some(Decimal::from(240)));
    assert_eq!(line.item_price, Some(Decimal::from(120)));
    assert_eq!(w.ordoro.products_created_on_the_fly(), 0);
}

#[tokio::test(start_paused = true)]
async fn items_are_read_once_and_kept_across_runs() {
    let w = world().await;
    w.qbo.add_item(REALM, item("5", "Rock Fountain", Some("FOUNT-1")));
    w.sale(vec![sale_line("1", "5", "Rock Fountain", "1", "275")]);
    w.run(SyncConfig::default()).await;
    assert_eq!(w.qbo.stats().item_reads, 1, "one batched read of the page's items");
    assert_eq!(w.store.cached_items(REALM, &["5".into()]).await.unwrap().len(), 1);

    // The next run asks only for the items changed since, and sees the new SKU.
    w.qbo.edit_item(REALM, "5", |i| i.sku = Some("FOUNT-2".into()));
    w.sale(vec![sale_line("1", "5", "Rock Fountain", "1", "275")]);
    let report = w.run(SyncConfig::default()).await;
    assert_eq!(report.summary.created, 1);
    assert_eq!(w.qbo.stats().item_reads, 2, "one query of the items changed since");
    let last = w.ordoro.orders().pop().unwrap();
    assert_eq!(last.lines[0].sku.as_deref(), Some("FOUNT-2"));
    assert_eq!(w.ordoro.products_created_on_the_fly(), 2);

    // A run with no sale (once the window's overlap has passed them) reads no item.
    tokio::time::sleep(std::time::Duration::from_secs(15 * 60)).await;
    w.run(SyncConfig::default()).await;
    let before = w.qbo.stats().item_reads;
    let idle = w.run(SyncConfig::default()).await;
    assert_eq!(idle.summary.total(), 0, "{:?}", idle.entries);
    assert_eq!(w.qbo.stats().item_reads, before);
}
