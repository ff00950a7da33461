//! The `sync` example's progress bar (`examples/sync/progress.rs`, included here as it is): the
//! count of transactions handled, and the run's total once the pages read tell it, through the
//! decorators the example puts around the QBO port and the store.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind::{Invoice, SalesReceipt};
use qbo_ordoro::model::qbo::{MetaData, Transaction};
use qbo_ordoro::sim::ordoro::OrdoroSim;
use qbo_ordoro::sim::qbo::{QboSim, simple_sale, to_pacific, us_company_info};
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::{Clock, OrdoroClient, QboClient, SharedTransport, Store, TokenStore, TokioClock};
use rust_decimal::Decimal;

#[allow(dead_code)] // the example's own calls (begin's labels, finish) are not all made here
#[path = "../../examples/sync/progress.rs"]
mod progress;

use progress::{Progress, ProgressQbo, ProgressStore};

const REALM: &str = "9130350000000001";
const CART: i64 = 4242;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_bar_counts_the_transactions_handled_out_of_those_read() {
    let clock = Arc::new(TokioClock::starting_at(start()));
    let qbo = Arc::new(QboSim::new(clock.clone()));
    let ordoro = Arc::new(OrdoroSim::new(clock.clone()));
    ordoro.add_sales_channel(CART);
    let mut company = us_company_info();
    company.country = Some("Canada".into());
    qbo.set_company_info(REALM, company);
    let store = Arc::new(MemoryStore::new());
    store.save_token(REALM, &qbo.connect(REALM)).await.unwrap();
    let at = to_pacific(clock.now() - chrono::Duration::minutes(30));
    let sales = [(Invoice, "1001"), (Invoice, "1002"), (SalesReceipt, "1003"), (Invoice, "1004")];
    for (kind, doc_number) in sales {
        let mut txn: Transaction =
            simple_sale(kind, doc_number, Some(("1", "Ordoro")), Decimal::new(1500, 2));
        txn.doc.meta_data = Some(MetaData { create_time: Some(at), last_updated_time: Some(at) });
        qbo.insert(REALM, txn);
    }

    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let client = QboClient::new(
        qbo.client_config(REALM),
        SharedTransport::from_arc(qbo.clone()),
        dyn_clock.clone(),
        store.clone(),
    )
    .unwrap();
    let ordoro_client = OrdoroClient::new(
        ordoro.client_config(),
        SharedTransport::from_arc(ordoro.clone()),
        dyn_clock.clone(),
    )
    .unwrap();
    let progress = Progress::new(true);
    let store_dyn: Arc<dyn Store> = store.clone();
    let config = SyncConfig {
        mapping: MappingConfig::default().with_cart(Some(CART)),
        ..SyncConfig::default()
    };
    let engine = SyncEngine::builder()
        .qbo(Arc::new(ProgressQbo::new(Arc::new(client), progress.clone())))
        .ordoro(Arc::new(ordoro_client))
        .store(Arc::new(ProgressStore::new(store_dyn, progress.clone())))
        .clock(dyn_clock)
        .config(config)
        .build()
        .unwrap();

    progress.begin("run 1", true);
    assert_eq!(progress.total(), None, "no total before a page is read");
    let report = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 4);
    assert_eq!(progress.total(), Some(4), "the pages read give the total");
    assert_eq!(progress.handled(), 4);
    // The optional QBO calls pass through the decorator too: the company's country was read.
    assert_eq!(report.company_country, "CA");

    // The next run starts from nothing again.
    tokio::time::advance(Duration::from_secs(600)).await;
    progress.begin("run 2", true);
    assert_eq!((progress.total(), progress.handled()), (None, 0));
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(progress.total(), Some(0), "an idle run read two empty pages: a total of none");
}
