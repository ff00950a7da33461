//! The [`QboApi`] port: the calls the engine makes to QuickBooks Online for one company, in
//! typed pages and documents, and the [`UpdatedPager`] that reads a last-updated window through
//! it without losing a row. Implemented by [`QboClient`](crate::QboClient) over HTTP, by the
//! host's own client, or by test fakes. No business rule lives here: which transactions sync is
//! the engine's and the pure core's job.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

mod paging;

pub use paging::UpdatedPager;

use crate::Result;
use crate::model::qbo::{
    CompanyInfo, EntityKind, QboClass, QboCustomer, QboItem, SalesTransaction, Transaction,
};

/// The largest page QBO serves.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One page of transactions of one entity whose `MetaData.LastUpdatedTime` lies in
/// `[from, to]` (both inclusive), ordered by that time ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatedQuery {
    /// Invoice or sales receipt.
    pub entity: EntityKind,
    /// Lower bound, inclusive.
    pub from: DateTime<Utc>,
    /// Upper bound, inclusive (fixed at the run's start).
    pub to: DateTime<Utc>,
    /// 1-based position of the first row.
    pub start_position: u32,
    /// Page size, at most [`MAX_PAGE_SIZE`].
    pub max_results: u32,
}

/// One page of transactions of one entity whose `TxnDate` lies in `[from, to]` (inclusive),
/// ordered by last-updated time ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDateQuery {
    /// Invoice or sales receipt.
    pub entity: EntityKind,
    /// First transaction date, inclusive.
    pub from: NaiveDate,
    /// Last transaction date, inclusive.
    pub to: NaiveDate,
    /// 1-based position of the first row.
    pub start_position: u32,
    /// Page size, at most [`MAX_PAGE_SIZE`].
    pub max_results: u32,
}

/// A page of transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnPage {
    /// The rows, in the order QBO returned them.
    pub transactions: Vec<SalesTransaction>,
    /// The server's clock (`time`) at the response.
    pub server_time: Option<DateTime<FixedOffset>>,
}

/// A transaction deleted in QBO, as the change feed reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedTransaction {
    /// Invoice or sales receipt.
    pub entity: EntityKind,
    /// The deleted transaction's id.
    pub id: String,
    /// When it was deleted.
    pub deleted_at: Option<DateTime<FixedOffset>>,
}

/// What the change feed (`/cdc`) reported since a given time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeFeed {
    /// Transactions that changed (full documents).
    pub changed: Vec<Transaction>,
    /// Transactions that were deleted.
    pub deleted: Vec<DeletedTransaction>,
    /// The server's clock at the response.
    pub server_time: Option<DateTime<FixedOffset>>,
}

/// The calls the engine makes to QuickBooks Online for one company (realm).
#[async_trait::async_trait]
pub trait QboApi: std::fmt::Debug + Send + Sync {
    /// The company (realm) id this client reads.
    fn realm_id(&self) -> &str;

    /// One page of transactions by last-updated window (`WHERE MetaData.LastUpdatedTime >= from
    /// AND <= to ORDERBY MetaData.LastUpdatedTime STARTPOSITION n MAXRESULTS m`).
    async fn query_updated(&self, query: &UpdatedQuery) -> Result<TxnPage>;

    /// One page of transactions by transaction date.
    async fn query_txn_date(&self, query: &TxnDateQuery) -> Result<TxnPage>;

    /// One transaction by id; `None` when it does not exist.
    async fn get_transaction(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<SalesTransaction>>;

    /// One transaction by id with the JSON QBO sent for it, for a person to read
    /// ([`SyncEngine::inspect`](crate::SyncEngine::inspect)); `None` when it does not exist. The
    /// default reads [`QboApi::get_transaction`] and serialises the typed document, which keeps
    /// only the fields this crate reads ([`RawTransaction::verbatim`] is then false); a port
    /// that has the answer's JSON gives it as it came.
    async fn get_transaction_json(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<RawTransaction>> {
        Ok(self.get_transaction(entity, id).await?.map(RawTransaction::from_typed))
    }

    /// Transactions with this DocNumber (DocNumbers can repeat).
    async fn find_by_doc_number(
        &self,
        entity: EntityKind,
        doc_number: &str,
    ) -> Result<Vec<SalesTransaction>>;

    /// Classes whose leaf name is `name`, inactive ones included.
    async fn find_classes(&self, name: &str) -> Result<Vec<QboClass>>;

    /// The change feed for `entities` since `since` (at most 30 days back). QBO answers at most
    /// [`MAX_CHANGE_FEED`] objects and says nothing when it cuts an answer short: an answer of
    /// that many objects may be incomplete ([`ChangeFeed::may_be_cut`]).
    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Result<ChangeFeed>;

    /// The company itself (CompanyInfo), read for its country; `None` when this port cannot
    /// tell. The default answers `None` without a request, so a host's own port that predates
    /// this call keeps working (the engine then reads addresses in the cached country, or the
    /// U.S.).
    async fn company_info(&self) -> Result<Option<CompanyInfo>> {
        Ok(None)
    }

    /// One customer by id, inactive ones included; `None` when it does not exist (or this port
    /// cannot read customers: the default answers `None` without a request).
    async fn get_customer(&self, id: &str) -> Result<Option<QboCustomer>> {
        let _ = id;
        Ok(None)
    }

    /// Items by id, inactive ones included (an item made inactive after a sale still has its
    /// SKU), in as few queries as the query size allows (`SELECT * FROM Item WHERE Id IN (...)
    /// AND Active IN (true, false)`); ids that match no item are simply absent. The default
    /// answers none without a request: a port that cannot read items leaves every SKU the
    /// item's name, as before items were read.
    async fn items(&self, ids: &[String]) -> Result<Vec<QboItem>> {
        let _ = ids;
        Ok(Vec::new())
    }

    /// Items (inactive ones included) last updated at or after `since`, oldest first: what
    /// changed in a cache of items. The default answers none without a request.
    async fn items_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<QboItem>> {
        let _ = since;
        Ok(Vec::new())
    }

    /// Transactions of `entity` by id, in as few queries as the query size allows (`SELECT *
    /// FROM Invoice WHERE Id IN (...)`); ids that match nothing are absent. The default reads
    /// them one by one with [`QboApi::get_transaction`].
    async fn transactions(
        &self,
        entity: EntityKind,
        ids: &[String],
    ) -> Result<Vec<SalesTransaction>> {
        let mut found = Vec::new();
        for id in ids {
            found.extend(self.get_transaction(entity, id).await?);
        }
        Ok(found)
    }
}

/// A transaction as read for a person ([`QboApi::get_transaction_json`]): the JSON of the
/// entity's object and the document this crate reads from it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTransaction {
    /// The entity's JSON object (what `{"Invoice": {...}}` holds).
    pub json: serde_json::Value,
    /// True when `json` is what QBO sent; false when it was serialised from `doc` (fields this
    /// crate does not read are then missing).
    pub verbatim: bool,
    /// The document as the sync reads it.
    pub doc: SalesTransaction,
}

impl RawTransaction {
    /// The typed document serialised: not verbatim.
    pub fn from_typed(doc: SalesTransaction) -> Self {
        let json = serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null);
        RawTransaction { json, verbatim: false, doc }
    }
}

/// The most objects QBO's change feed answers at once ("Server responses can handle a maximum
/// of 1,000 objects"), across every entity asked for.
pub const MAX_CHANGE_FEED: usize = 1000;

impl ChangeFeed {
    /// How many objects the answer held (changed and deleted).
    pub fn len(&self) -> usize {
        self.changed.len() + self.deleted.len()
    }

    /// True when the answer held nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the answer held [`MAX_CHANGE_FEED`] objects or more: QBO cuts an answer at
    /// that many without a word, so there may be more (deletes come last in each entity's
    /// group, so they are the first to be cut).
    pub fn may_be_cut(&self) -> bool {
        self.len() >= MAX_CHANGE_FEED
    }
}
