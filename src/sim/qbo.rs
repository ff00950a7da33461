//! A simulated QuickBooks Online: an [`HttpTransport`] that serves the accounting API and the
//! OAuth endpoints (authorize, token with the `authorization_code` and `refresh_token` grants,
//! revoke) for one or more companies in QBO's wire format, in virtual time.
//!
//! It keeps QBO's rules: the query-language subset the client sends (with `\'` escapes, 1-based
//! `STARTPOSITION`, `MAXRESULTS` up to 1000 and an empty page without the entity key), reads by
//! id (fault 610 when missing), the change feed with delete stubs, Pacific timestamps with the
//! U.S. daylight-saving offset, whole-second `LastUpdatedTime` (so ties happen), a SyncToken bump
//! on every edit, rotating refresh tokens (`invalid_grant` for a used one), access tokens that
//! expire after an hour (a camelCase 401 fault), the XML 429 past 500 requests a minute or 10 at
//! once per company, `intuit_tid` on every response, latency slept on the clock, and seeded
//! fault injection. Tests seed companies and change them through plain methods, including at the
//! k-th query (an edit between two page requests).
//!
//! Where it matters to a sync it answers as QBO does: each company's `CompanyInfo` (by id and by
//! `SELECT * FROM CompanyInfo`; a U.S. company unless seeded otherwise), its customers (by id
//! and by `SELECT * FROM Customer WHERE Id IN (...)`), its items (`SELECT * FROM Item WHERE Id
//! IN (...)` or by `MetaData.LastUpdatedTime`, inactive ones only with an `Active` condition;
//! with or without `Sku`, sub-items with their `Parent:Child` names, bundles of `Type: Group`);
//! every invoice and sales receipt served
//! with its `SubTotalLineDetail` line, as real ones always are; date-times without an offset in
//! queries and `changedSince` (python-quickbooks sends `2017-01-01T00:00:00`) read in the
//! company's time zone, Pacific, the zone QBO stamps every time in; and a change feed cut at
//! 1,000 objects across the entities asked for, each entity's changed objects before its
//! deletes, with nothing in the answer that says it was cut (QBO gives no such signal).

mod ql;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, SecondsFormat, Timelike, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Fault as DiceFault, FaultDice, FaultPlan, RateMeter};
use crate::Clock;
use crate::model::qbo::{
    CompanyInfo, EntityKind, Line, LineDetail, MetaData, PhysicalAddress, QboClass, QboCustomer,
    QboItem, Ref, SalesTransaction, Transaction,
};
use crate::store::StoredToken;
use crate::transport::{
    HttpRequest, HttpResponse, HttpTransport, TransportError, TransportErrorKind,
};

pub use ql::{Condition, Literal, Op, Statement, parse as parse_statement};
use webhooks::{Change, Webhooks};
pub use webhooks::{
    CollectingSink, WebhookConfig, WebhookDelivery, WebhookFaults, WebhookFormat, WebhookSink,
    WebhookStats,
};

use crate::webhook::Operation;

/// The Pacific offset at an instant: -07:00 from the second Sunday of March at 2:00 (standard
/// time) to the first Sunday of November at 2:00 (daylight time), -08:00 otherwise.
pub fn pacific_offset(at: DateTime<Utc>) -> FixedOffset {
    let year = at.year();
    let dst_start = nth_sunday(year, 3, 2).and_hms_opt(10, 0, 0).map(|t| t.and_utc());
    let dst_end = nth_sunday(year, 11, 1).and_hms_opt(9, 0, 0).map(|t| t.and_utc());
    let seconds = match (dst_start, dst_end) {
        (Some(start), Some(end)) if at >= start && at < end => -7 * 3600,
        _ => -8 * 3600,
    };
    FixedOffset::east_opt(seconds).unwrap_or_else(|| Utc.fix())
}

/// The `n`-th Sunday of `month` in `year`.
fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
    first + chrono::Duration::days(i64::from(to_sunday + 7 * (n - 1)))
}

/// An instant in Pacific time, as QBO writes it.
pub fn to_pacific(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&pacific_offset(at))
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0).unwrap_or(at)
}

/// How often the token endpoint hands out a new refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// A new refresh token on every refresh.
    EveryRefresh,
    /// A new refresh token once the current one is this old (QBO: about 24 h).
    After(Duration),
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct QboSimConfig {
    /// The app's client id the token endpoint accepts.
    pub client_id: String,
    /// The app's client secret the token endpoint accepts.
    pub client_secret: String,
    /// Requests a minute per company before a 429.
    pub per_minute: usize,
    /// Requests at once per company before a 429.
    pub max_in_flight: u32,
    /// Latency of a query page, a read or a change-feed call.
    pub latency: Duration,
    /// Latency of the token endpoint.
    pub token_latency: Duration,
    /// How long an access token lives.
    pub access_ttl: Duration,
    /// Refresh-token rotation.
    pub rotation: Rotation,
    /// How long a simulated timeout takes before the transport gives up.
    pub timeout_after: Duration,
    /// Serve one row more than `MAXRESULTS` when there is one (QBO's 101-for-100 quirk).
    pub overfill: bool,
    /// Seeded fault injection (none by default).
    pub faults: FaultPlan,
    /// Seed of the token values.
    pub seed: u64,
    /// How long a connection lasts whatever happens (QBO: 5 years), reported as
    /// `x_refresh_token_hard_expires_in`.
    pub hard_expiry: Duration,
    /// Webhooks for every change the simulator's mutators make (off, `None`, by default; see
    /// [`webhooks`]).
    pub webhooks: Option<WebhookConfig>,
}

impl Default for QboSimConfig {
    fn default() -> Self {
        QboSimConfig {
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            per_minute: 500,
            max_in_flight: 10,
            latency: Duration::ZERO,
            token_latency: Duration::ZERO,
            access_ttl: Duration::from_secs(3600),
            rotation: Rotation::EveryRefresh,
            timeout_after: Duration::from_secs(30),
            overfill: false,
            faults: FaultPlan::none(),
            seed: 0,
            hard_expiry: Duration::from_secs(5 * 365 * 24 * 3600),
            webhooks: None,
        }
    }
}

/// Counters of what the simulator served, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QboSimStats {
    /// Every request that arrived (token endpoint included).
    pub requests: u64,
    /// Query requests answered (any outcome after admission).
    pub queries: u64,
    /// Reads by id.
    pub reads: u64,
    /// Change-feed calls.
    pub cdc: u64,
    /// Reads of the company (`CompanyInfo`, by id or by query).
    pub company_reads: u64,
    /// Reads of customers (by id or by query).
    pub customer_reads: u64,
    /// Queries of items.
    pub item_reads: u64,
    /// Successful token refreshes.
    pub token_refreshes: u64,
    /// `invalid_grant` answers.
    pub invalid_grants: u64,
    /// 429 answers (over the limit, or injected).
    pub throttled: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// Injected 5xx answers.
    pub server_errors: u64,
    /// Injected timeouts (and lost responses).
    pub timeouts: u64,
    /// API calls without `minorversion=75`.
    pub missing_minor_version: u64,
    /// Most API requests of one company in flight at once.
    pub peak_in_flight: u32,
}

#[derive(Debug, Default)]
struct Company {
    invoices: BTreeMap<u64, SalesTransaction>,
    receipts: BTreeMap<u64, SalesTransaction>,
    deleted: Vec<(EntityKind, String, DateTime<Utc>)>,
    classes: Vec<QboClass>,
    info: Option<CompanyInfo>,
    customers: BTreeMap<u64, QboCustomer>,
    items: BTreeMap<u64, QboItem>,
    next_id: u64,
    in_flight: u32,
}

impl Company {
    fn table(&mut self, kind: EntityKind) -> &mut BTreeMap<u64, SalesTransaction> {
        match kind {
            EntityKind::Invoice => &mut self.invoices,
            EntityKind::SalesReceipt => &mut self.receipts,
        }
    }

    fn rows(&self, kind: EntityKind) -> &BTreeMap<u64, SalesTransaction> {
        match kind {
            EntityKind::Invoice => &self.invoices,
            EntityKind::SalesReceipt => &self.receipts,
        }
    }
}

#[derive(Debug)]
struct RefreshGrant {
    realm: String,
    issued: DateTime<Utc>,
    /// When the grant ends whatever happens (kept through rotations).
    hard_expires: DateTime<Utc>,
}

/// An authorization code handed out by the consent, good once within [`CODE_TTL`].
#[derive(Debug)]
struct PendingCode {
    realm: String,
    redirect_uri: String,
    issued: DateTime<Utc>,
}

/// How long an authorization code can be exchanged.
const CODE_TTL: Duration = Duration::from_secs(600);
/// The rolling lifetime of a refresh token QBO reports (100 days).
const REFRESH_TTL_SECS: i64 = 8_726_400;

#[derive(Default)]
struct State {
    companies: BTreeMap<String, Company>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    access_tokens: HashMap<String, (String, DateTime<Utc>)>,
    codes: HashMap<String, PendingCode>,
    consent_realm: Option<String>,
    hooks: BTreeMap<u64, Vec<Hook>>,
    stats: QboSimStats,
    tid: u64,
}

type Hook = Box<dyn FnOnce(&QboSim) + Send>;

/// The simulated QuickBooks Online. See the module documentation.
pub struct QboSim {
    clock: Arc<dyn Clock>,
    config: QboSimConfig,
    dice: FaultDice,
    rng: Mutex<SmallRng>,
    meters: Mutex<HashMap<String, Arc<RateMeter>>>,
    state: Mutex<State>,
    webhooks: Webhooks,
}

impl fmt::Debug for QboSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QboSim").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// An answer: a response, or no response at all.
type Answer = Result<HttpResponse, TransportError>;

/// One admitted request of a company; dropping it frees the company's in-flight slot.
struct InFlightSlot<'a> {
    sim: &'a QboSim,
    realm: &'a str,
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        self.sim.release(self.realm);
    }
}

impl QboSim {
    /// A simulator with default settings, on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, QboSimConfig::default())
    }

    /// A simulator with `config`, on `clock`.
    pub fn with_config(clock: Arc<dyn Clock>, config: QboSimConfig) -> Self {
        QboSim {
            dice: FaultDice::new(config.faults.clone()),
            rng: Mutex::new(SmallRng::seed_from_u64(config.seed)),
            webhooks: Webhooks::new(config.webhooks.clone()),
            clock,
            config,
            meters: Mutex::new(HashMap::new()),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings.
    pub fn config(&self) -> &QboSimConfig {
        &self.config
    }

    /// Client settings this simulator accepts for company `realm`: its app's client id and
    /// secret, and the production URLs it answers. A [`QboClient`](crate::QboClient) built
    /// from them over this simulator as the transport talks to it as it would to QBO.
    pub fn client_config(&self, realm: &str) -> crate::QboConfig {
        crate::QboConfig::new(
            realm,
            crate::QboEnvironment::Production,
            self.config.client_id.clone(),
            self.config.client_secret.clone().into(),
        )
    }

    /// Turns the seeded faults off (`true`) or back on (see [`FaultDice::set_calm`]), the
    /// webhook faults included.
    pub fn set_calm(&self, calm: bool) {
        self.dice.set_calm(calm);
        self.webhooks.set_calm(calm);
    }

    /// What the simulator has served so far.
    pub fn stats(&self) -> QboSimStats {
        self.lock().stats
    }

    /// The rate meter of `realm` (its peak is the most requests served in any minute).
    pub fn rate_meter(&self, realm: &str) -> Arc<RateMeter> {
        let mut meters = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        meters
            .entry(realm.to_string())
            .or_insert_with(|| {
                Arc::new(RateMeter::new(self.config.per_minute, Duration::from_secs(60)))
            })
            .clone()
    }

    /// Adds an empty company (done implicitly by every seeding method).
    pub fn add_company(&self, realm: &str) {
        self.lock().companies.entry(realm.to_string()).or_default();
    }

    /// Replaces what `realm`'s `CompanyInfo` says (a U.S. company until this is called: see
    /// [`us_company_info`]).
    pub fn set_company_info(&self, realm: &str, info: CompanyInfo) {
        self.lock().companies.entry(realm.to_string()).or_default().info = Some(info);
    }

    /// What `realm`'s `CompanyInfo` says.
    pub fn company_info(&self, realm: &str) -> CompanyInfo {
        self.lock()
            .companies
            .get(realm)
            .and_then(|c| c.info.clone())
            .unwrap_or_else(us_company_info)
    }

    /// Adds a customer as QBO would after its creation (an id when it has none or a taken one,
    /// SyncToken `0`, `MetaData` now); returns the stored customer.
    pub fn add_customer(&self, realm: &str, mut customer: QboCustomer) -> QboCustomer {
        let now = to_pacific(whole_seconds(self.clock.now()));
        let mut state = self.lock();
        let company = state.companies.entry(realm.to_string()).or_default();
        let id = free_id(&company.customers, &customer.id);
        customer.id = id.to_string();
        customer.sync_token.get_or_insert_with(|| "0".into());
        customer.active.get_or_insert(true);
        let meta = customer
            .meta_data
            .get_or_insert(MetaData { create_time: Some(now), last_updated_time: Some(now) });
        let at = meta.last_updated_time.unwrap_or(now).with_timezone(&Utc);
        company.customers.insert(id, customer.clone());
        drop(state);
        self.notify(Change {
            realm,
            entity: "Customer",
            id: &customer.id,
            op: Operation::Create,
            at,
        });
        customer
    }

    /// A stored customer.
    pub fn customer(&self, realm: &str, id: &str) -> Option<QboCustomer> {
        let key: u64 = id.parse().ok()?;
        self.lock().companies.get(realm)?.customers.get(&key).cloned()
    }

    /// Adds an item as QBO would after its creation (an id when it has none or a taken one,
    /// SyncToken `0`, `Active` true unless given, `MetaData` now; a sub-item's
    /// `FullyQualifiedName` is `Parent:Child` from its `ParentRef`); returns the stored item.
    pub fn add_item(&self, realm: &str, mut item: QboItem) -> QboItem {
        let now = to_pacific(whole_seconds(self.clock.now()));
        let mut state = self.lock();
        let company = state.companies.entry(realm.to_string()).or_default();
        let id = free_id(&company.items, &item.id);
        item.id = id.to_string();
        item.sync_token.get_or_insert_with(|| "0".into());
        item.active.get_or_insert(true);
        let name = item.name.clone().unwrap_or_default();
        let parent = item.parent_ref.as_ref().and_then(|p| p.value.parse::<u64>().ok());
        let parent_name = parent
            .and_then(|p| company.items.get(&p))
            .map(|p| p.fully_qualified_name.clone().or_else(|| p.name.clone()).unwrap_or_default());
        item.sub_item = Some(parent_name.is_some());
        item.fully_qualified_name = Some(match parent_name {
            Some(p) => format!("{p}:{name}"),
            None => name,
        });
        item.meta_data = Some(MetaData { create_time: Some(now), last_updated_time: Some(now) });
        company.items.insert(id, item.clone());
        drop(state);
        let at = now.with_timezone(&Utc);
        self.notify(Change { realm, entity: "Item", id: &item.id, op: Operation::Create, at });
        item
    }

    /// Edits an item as a person would in QBO: applies `change`, bumps the SyncToken and stamps
    /// `LastUpdatedTime` with the clock. `None` when it does not exist.
    pub fn edit_item(
        &self,
        realm: &str,
        id: &str,
        change: impl FnOnce(&mut QboItem),
    ) -> Option<QboItem> {
        let now = to_pacific(whole_seconds(self.clock.now()));
        let key: u64 = id.parse().ok()?;
        let mut state = self.lock();
        let item = state.companies.get_mut(realm)?.items.get_mut(&key)?;
        change(item);
        item.id = id.to_string();
        let token = item.sync_token.as_deref().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        item.sync_token = Some((token + 1).to_string());
        let created = item.meta_data.as_ref().and_then(|m| m.create_time);
        item.meta_data = Some(MetaData { create_time: created, last_updated_time: Some(now) });
        let item = item.clone();
        drop(state);
        let at = now.with_timezone(&Utc);
        self.notify(Change { realm, entity: "Item", id, op: Operation::Update, at });
        Some(item)
    }

    /// A stored item.
    pub fn item(&self, realm: &str, id: &str) -> Option<QboItem> {
        let key: u64 = id.parse().ok()?;
        self.lock().companies.get(realm)?.items.get(&key).cloned()
    }

    /// Adds a class; returns it with its id. `parent` makes it a sub-class (`Parent:Child`).
    pub fn add_class(
        &self,
        realm: &str,
        name: &str,
        active: bool,
        parent: Option<&QboClass>,
    ) -> QboClass {
        let mut state = self.lock();
        let company = state.companies.entry(realm.to_string()).or_default();
        company.next_id += 1;
        let id = format!("50000000000000{:05}", company.next_id);
        let class = QboClass {
            id,
            name: name.to_string(),
            fully_qualified_name: Some(match parent {
                Some(p) => {
                    format!("{}:{name}", p.fully_qualified_name.as_deref().unwrap_or(&p.name))
                }
                None => name.to_string(),
            }),
            sub_class: Some(parent.is_some()),
            parent_ref: parent.map(|p| Ref { value: p.id.clone(), name: Some(p.name.clone()) }),
            active: Some(active),
            sync_token: Some("0".into()),
        };
        company.classes.push(class.clone());
        drop(state);
        let at = whole_seconds(self.clock.now());
        self.notify(Change { realm, entity: "Class", id: &class.id, op: Operation::Create, at });
        class
    }

    /// Stores a transaction as QBO would after its creation: an id if it has none (or a
    /// non-numeric one), SyncToken `0` if empty, and `MetaData` kept when given (restamped in
    /// Pacific time at whole seconds) or set to now. Returns the stored document.
    pub fn insert(&self, realm: &str, txn: Transaction) -> SalesTransaction {
        let now = whole_seconds(self.clock.now());
        let mut state = self.lock();
        let company = state.companies.entry(realm.to_string()).or_default();
        let mut doc = txn.doc;
        let id = match doc.id.parse::<u64>() {
            Ok(id) if !company.rows(txn.kind).contains_key(&id) => id,
            _ => {
                let taken = |c: &Company, id: u64| {
                    c.invoices.contains_key(&id) || c.receipts.contains_key(&id)
                };
                company.next_id += 1;
                while taken(company, company.next_id) {
                    company.next_id += 1;
                }
                company.next_id
            }
        };
        company.next_id = company.next_id.max(id);
        doc.id = id.to_string();
        if doc.sync_token.is_empty() {
            doc.sync_token = "0".into();
        }
        let meta = doc.meta_data.take().unwrap_or_default();
        let updated =
            meta.last_updated_time.map(|t| whole_seconds(t.with_timezone(&Utc))).unwrap_or(now);
        let created =
            meta.create_time.map(|t| whole_seconds(t.with_timezone(&Utc))).unwrap_or(updated);
        doc.meta_data = Some(MetaData {
            create_time: Some(to_pacific(created)),
            last_updated_time: Some(to_pacific(updated)),
        });
        doc.domain.get_or_insert_with(|| "QBO".into());
        doc.sparse.get_or_insert(false);
        company.table(txn.kind).insert(id, doc.clone());
        drop(state);
        let entity = txn.kind.as_str();
        let at = updated;
        self.notify(Change { realm, entity, id: &doc.id, op: Operation::Create, at });
        doc
    }

    /// Edits a transaction as a person would in QBO: applies `change`, bumps the SyncToken and
    /// stamps `LastUpdatedTime` with the clock (whole seconds). `None` when it does not exist.
    pub fn edit(
        &self,
        realm: &str,
        kind: EntityKind,
        id: &str,
        change: impl FnOnce(&mut SalesTransaction),
    ) -> Option<SalesTransaction> {
        self.change(realm, kind, id, Operation::Update, change)
    }

    /// An edit that notifies `op` (an update, or a void).
    fn change(
        &self,
        realm: &str,
        kind: EntityKind,
        id: &str,
        op: Operation,
        change: impl FnOnce(&mut SalesTransaction),
    ) -> Option<SalesTransaction> {
        let now = whole_seconds(self.clock.now());
        let key: u64 = id.parse().ok()?;
        let mut state = self.lock();
        let doc = state.companies.get_mut(realm)?.table(kind).get_mut(&key)?;
        change(doc);
        doc.id = id.to_string();
        let token = doc.sync_token.parse::<u64>().unwrap_or(0) + 1;
        doc.sync_token = token.to_string();
        let created = doc.meta_data.as_ref().and_then(|m| m.create_time);
        doc.meta_data =
            Some(MetaData { create_time: created, last_updated_time: Some(to_pacific(now)) });
        let doc = doc.clone();
        drop(state);
        self.notify(Change { realm, entity: kind.as_str(), id, op, at: now });
        Some(doc)
    }

    /// Touches a transaction (an edit that changes nothing but its SyncToken and time).
    pub fn touch(&self, realm: &str, kind: EntityKind, id: &str) -> Option<SalesTransaction> {
        self.edit(realm, kind, id, |_| {})
    }

    /// Voids a transaction as QBO does: every amount and quantity zeroed, `Voided` prepended to
    /// the private note.
    pub fn void(&self, realm: &str, kind: EntityKind, id: &str) -> Option<SalesTransaction> {
        self.change(realm, kind, id, Operation::Void, |doc| {
            zero_lines(&mut doc.line);
            doc.total_amt = Some(Decimal::ZERO);
            doc.balance = Some(Decimal::ZERO);
            if let Some(tax) = &mut doc.txn_tax_detail {
                tax.total_tax = Some(Decimal::ZERO);
            }
            doc.private_note = Some(match doc.private_note.take() {
                Some(note) if !note.is_empty() => format!("Voided - {note}"),
                _ => "Voided".into(),
            });
        })
    }

    /// Deletes a transaction; the change feed reports it as a delete stub from now on.
    pub fn delete(&self, realm: &str, kind: EntityKind, id: &str) -> bool {
        let now = whole_seconds(self.clock.now());
        let Ok(key) = id.parse::<u64>() else { return false };
        let mut state = self.lock();
        let Some(company) = state.companies.get_mut(realm) else { return false };
        if company.table(kind).remove(&key).is_none() {
            return false;
        }
        company.deleted.push((kind, id.to_string(), now));
        drop(state);
        self.notify(Change { realm, entity: kind.as_str(), id, op: Operation::Delete, at: now });
        true
    }

    /// A stored transaction.
    pub fn get(&self, realm: &str, kind: EntityKind, id: &str) -> Option<SalesTransaction> {
        let key: u64 = id.parse().ok()?;
        self.lock().companies.get(realm)?.rows(kind).get(&key).cloned()
    }

    /// Every stored transaction of `kind`, by id.
    pub fn all(&self, realm: &str, kind: EntityKind) -> Vec<SalesTransaction> {
        self.lock()
            .companies
            .get(realm)
            .map(|c| c.rows(kind).values().cloned().collect())
            .unwrap_or_default()
    }

    /// Runs `hook` when the `k`-th query (1-based, counted over all companies) is about to be
    /// answered: the way to edit a transaction between two page requests.
    pub fn on_query(&self, k: u64, hook: impl FnOnce(&QboSim) + Send + 'static) {
        self.lock().hooks.entry(k).or_default().push(Box::new(hook));
    }

    /// Issues a fresh refresh token and access token for `realm`, as the OAuth consent would;
    /// the host stores them.
    pub fn connect(&self, realm: &str) -> StoredToken {
        self.add_company(realm);
        let now = self.clock.now();
        let refresh = self.new_token("rt");
        let access = self.new_token("at");
        let expires = now + chrono::Duration::from_std(self.config.access_ttl).unwrap_or_default();
        let hard_expires =
            now + chrono::Duration::from_std(self.config.hard_expiry).unwrap_or_default();
        let mut state = self.lock();
        state.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant { realm: realm.to_string(), issued: now, hard_expires },
        );
        state.access_tokens.insert(access.clone(), (realm.to_string(), expires));
        StoredToken {
            access_token: Some(access.into()),
            access_expires_at: Some(expires),
            ..StoredToken::new(refresh.into())
        }
    }

    /// Revokes every token of `realm` (the merchant disconnected): refreshes then answer
    /// `invalid_grant`.
    pub fn revoke(&self, realm: &str) {
        let mut state = self.lock();
        state.refresh_tokens.retain(|_, g| g.realm != realm);
        state.access_tokens.retain(|_, (r, _)| r != realm);
    }

    /// Ends every access token of `realm` now (as if an hour had passed): the next call with one
    /// gets the 401 fault.
    pub fn expire_access_tokens(&self, realm: &str) {
        let now = self.clock.now();
        for (r, expires) in self.lock().access_tokens.values_mut() {
            if r == realm {
                *expires = now;
            }
        }
    }

    /// True when `token` is a refresh token the endpoint would accept now.
    pub fn is_refresh_token_valid(&self, token: &str) -> bool {
        self.lock().refresh_tokens.contains_key(token)
    }

    fn new_token(&self, prefix: &str) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        format!("{prefix}-{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>())
    }

    fn response(&self, status: u16, content_type: &str, body: Vec<u8>, tid: u64) -> HttpResponse {
        let mut response = http::Response::new(Bytes::from(body));
        *response.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&format!("sim-{tid:08x}")) {
            headers.insert("intuit_tid", v);
        }
        response
    }

    fn json(&self, status: u16, body: Value, tid: u64) -> HttpResponse {
        self.response(status, "application/json", body.to_string().into_bytes(), tid)
    }

    fn time(&self) -> String {
        let now = self.clock.now();
        to_pacific(now).to_rfc3339_opts(SecondsFormat::Millis, false)
    }

    fn fault(
        &self,
        status: u16,
        fault_type: &str,
        code: &str,
        message: &str,
        detail: &str,
        tid: u64,
    ) -> HttpResponse {
        self.json(
            status,
            json!({"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}],
                   "type": fault_type}, "time": self.time()}),
            tid,
        )
    }

    fn invalid_query(&self, detail: &str, tid: u64) -> HttpResponse {
        self.fault(
            400,
            "ValidationFault",
            "4001",
            "Invalid query",
            &format!("QueryParserError: {detail}"),
            tid,
        )
    }

    fn throttle(&self, tid: u64) -> HttpResponse {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
            <IntuitResponse xmlns=\"http://schema.intuit.com/finance/v3\"><Fault type=\"SERVICE\">\
            <Error code=\"3001\"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\
            <Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>";
        self.response(429, "application/xml", body.as_bytes().to_vec(), tid)
    }

    fn unauthorized(&self, tid: u64) -> HttpResponse {
        self.json(
            401,
            json!({"warnings": null, "intuitObject": null,
                   "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                        "detail": "Token expired: sim", "code": "3200", "element": null}],
                             "type": "AUTHENTICATION"},
                   "report": null, "queryResponse": null, "batchItemResponse": [], "attachableResponse": [],
                   "syncErrorResponse": null, "requestId": null,
                   "time": self.clock.now().timestamp_millis(), "status": null, "cdcresponse": []}),
            tid,
        )
    }

    fn next_tid(&self) -> u64 {
        let mut state = self.lock();
        state.tid += 1;
        state.stats.requests += 1;
        state.tid
    }

    async fn token_endpoint(&self, request: &HttpRequest, tid: u64) -> Answer {
        self.clock.sleep(self.config.token_latency).await;
        if !self.client_authorized(request) {
            return Ok(self.json(401, json!({"error": "invalid_client"}), tid));
        }
        let form: HashMap<String, String> =
            form_urlencoded::parse(request.body()).into_owned().collect();
        match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {}
            Some("authorization_code") => return Ok(self.exchange_code(&form, tid)),
            _ => return Ok(self.json(400, json!({"error": "unsupported_grant_type"}), tid)),
        }
        let presented = form.get("refresh_token").cloned().unwrap_or_default();
        let now = self.clock.now();
        let fresh_refresh = self.new_token("rt");
        let access = self.new_token("at");
        let mut state = self.lock();
        let Some(grant) = state.refresh_tokens.get(&presented) else {
            state.stats.invalid_grants += 1;
            return Ok(self.json(400, json!({"error": "invalid_grant"}), tid));
        };
        let realm = grant.realm.clone();
        let hard_expires = grant.hard_expires;
        let rotate = match self.config.rotation {
            Rotation::EveryRefresh => true,
            Rotation::After(age) => {
                now - grant.issued >= chrono::Duration::from_std(age).unwrap_or_default()
            }
        };
        let refresh = if rotate {
            state.refresh_tokens.remove(&presented);
            state.refresh_tokens.insert(
                fresh_refresh.clone(),
                RefreshGrant { realm: realm.clone(), issued: now, hard_expires },
            );
            fresh_refresh
        } else {
            presented
        };
        let ttl = self.config.access_ttl;
        state.access_tokens.insert(
            access.clone(),
            (realm, now + chrono::Duration::from_std(ttl).unwrap_or_default()),
        );
        state.stats.token_refreshes += 1;
        drop(state);
        Ok(self.token_answer(&access, &refresh, hard_expires, tid))
    }

    /// The token endpoint's success body, QBO's fields and lifetimes included.
    fn token_answer(
        &self,
        access: &str,
        refresh: &str,
        hard_expires: DateTime<Utc>,
        tid: u64,
    ) -> HttpResponse {
        let hard = (hard_expires - self.clock.now()).num_seconds().max(0);
        self.json(
            200,
            json!({"token_type": "bearer", "access_token": access, "refresh_token": refresh,
                   "expires_in": self.config.access_ttl.as_secs(),
                   "x_refresh_token_expires_in": REFRESH_TTL_SECS.min(hard),
                   "x_refresh_token_hard_expires_in": hard}),
            tid,
        )
    }

    /// Chooses the company the next consent connects (by default the first one).
    pub fn consent_as(&self, realm: &str) {
        self.add_company(realm);
        self.lock().consent_realm = Some(realm.to_string());
    }

    /// What a browser and a consenting merchant do with the authorize URL `authorize_url`: the
    /// URL Intuit redirects back to, `{redirect_uri}?code=...&state=...&realmId=...`. A wrong
    /// client id, response type, scope or a missing redirect URI or state is an error, as
    /// Intuit's page would show it.
    pub fn consent(&self, authorize_url: &str) -> crate::Result<String> {
        let query = authorize_url.split_once('?').map_or("", |(_, q)| q);
        let params: HashMap<String, String> =
            form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let refuse = |what: &str| {
            crate::Error::new(
                crate::ErrorKind::BadInput,
                format!("the simulated consent refused: {what}"),
            )
        };
        let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
        if param("client_id") != Some(&self.config.client_id) {
            return Err(refuse("unknown client_id"));
        }
        if param("response_type").map(String::as_str) != Some("code") {
            return Err(refuse("response_type must be code"));
        }
        if !param("scope").is_some_and(|s| s.split(' ').any(|s| s == crate::qbo::connect::SCOPE)) {
            return Err(refuse("the scope must include com.intuit.quickbooks.accounting"));
        }
        let redirect_uri = param("redirect_uri").ok_or_else(|| refuse("no redirect_uri"))?;
        let state = param("state").ok_or_else(|| refuse("no state"))?;
        let code = self.new_token("code");
        let now = self.clock.now();
        let mut lock = self.lock();
        let realm = match lock.consent_realm.clone() {
            Some(realm) => realm,
            None => lock.companies.keys().next().cloned().ok_or_else(|| refuse("no company"))?,
        };
        lock.codes.insert(
            code.clone(),
            PendingCode { realm: realm.clone(), redirect_uri: redirect_uri.clone(), issued: now },
        );
        let back = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", state)
            .append_pair("realmId", &realm)
            .finish();
        let joint = if redirect_uri.contains('?') { '&' } else { '?' };
        Ok(format!("{redirect_uri}{joint}{back}"))
    }

    /// `GET /connect/oauth2`: a 302 to the redirect URI, as after the merchant's consent.
    fn authorize_endpoint(&self, request: &HttpRequest, tid: u64) -> HttpResponse {
        match self.consent(&request.uri().to_string()) {
            Ok(location) => {
                let mut response = self.response(302, "text/html", Vec::new(), tid);
                if let Ok(v) = http::HeaderValue::from_str(&location) {
                    response.headers_mut().insert(http::header::LOCATION, v);
                }
                response
            }
            Err(e) => self.response(400, "text/plain", e.message().as_bytes().to_vec(), tid),
        }
    }

    /// `grant_type=authorization_code`: a code of a consent, once, within its time, with the
    /// consent's redirect URI.
    fn exchange_code(&self, form: &HashMap<String, String>, tid: u64) -> HttpResponse {
        let now = self.clock.now();
        let refresh = self.new_token("rt");
        let access = self.new_token("at");
        let presented = form.get("code").cloned().unwrap_or_default();
        let mut state = self.lock();
        let pending = state.codes.remove(&presented);
        let ttl = chrono::Duration::from_std(CODE_TTL).unwrap_or_default();
        let Some(pending) = pending
            .filter(|p| now - p.issued <= ttl && form.get("redirect_uri") == Some(&p.redirect_uri))
        else {
            state.stats.invalid_grants += 1;
            return self.json(400, json!({"error": "invalid_grant"}), tid);
        };
        let hard_expires =
            now + chrono::Duration::from_std(self.config.hard_expiry).unwrap_or_default();
        let realm = pending.realm;
        state.companies.entry(realm.clone()).or_default();
        state.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant { realm: realm.clone(), issued: now, hard_expires },
        );
        let access_ttl = chrono::Duration::from_std(self.config.access_ttl).unwrap_or_default();
        state.access_tokens.insert(access.clone(), (realm, now + access_ttl));
        drop(state);
        self.token_answer(&access, &refresh, hard_expires, tid)
    }

    /// `POST /v2/oauth2/tokens/revoke` with `{"token": ...}`: the company of that refresh or
    /// access token is disconnected. An unknown token is not an error (RFC 7009).
    fn revoke_endpoint(&self, request: &HttpRequest, tid: u64) -> HttpResponse {
        if !self.client_authorized(request) {
            return self.json(401, json!({"error": "invalid_client"}), tid);
        }
        let token = serde_json::from_slice::<Value>(request.body())
            .ok()
            .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned));
        let Some(token) = token else {
            return self.json(400, json!({"error": "invalid_request"}), tid);
        };
        let realm = {
            let state = self.lock();
            state
                .refresh_tokens
                .get(&token)
                .map(|g| g.realm.clone())
                .or_else(|| state.access_tokens.get(&token).map(|(r, _)| r.clone()))
        };
        if let Some(realm) = realm {
            self.revoke(&realm);
        }
        self.response(200, "application/json", Vec::new(), tid)
    }

    /// True when the request carries the app's client id and secret (HTTP Basic).
    fn client_authorized(&self, request: &HttpRequest) -> bool {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.config.client_id, self.config.client_secret))
        );
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected)
    }

    /// Admits a request of `realm` against its minute and in-flight limits.
    fn admit(&self, realm: &str) -> bool {
        let now = self.clock.now();
        let meter = self.rate_meter(realm);
        let mut state = self.lock();
        let company = state.companies.entry(realm.to_string()).or_default();
        if company.in_flight >= self.config.max_in_flight {
            state.stats.throttled += 1;
            return false;
        }
        if !meter.admit(now) {
            state.stats.throttled += 1;
            return false;
        }
        company.in_flight += 1;
        let n = company.in_flight;
        state.stats.peak_in_flight = state.stats.peak_in_flight.max(n);
        true
    }

    fn release(&self, realm: &str) {
        if let Some(c) = self.lock().companies.get_mut(realm) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }

    fn authorized(&self, request: &HttpRequest, realm: &str) -> bool {
        let now = self.clock.now();
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        self.lock()
            .access_tokens
            .get(token)
            .is_some_and(|(r, expires)| r == realm && *expires > now)
    }

    async fn api(&self, request: HttpRequest, realm: String, rest: String, tid: u64) -> Answer {
        let (fault, extra) = self.dice.roll();
        if fault == DiceFault::Throttle {
            self.lock().stats.throttled += 1;
            return Ok(self.throttle(tid));
        }
        if !self.admit(&realm) {
            return Ok(self.throttle(tid));
        }
        // Released on drop too: a caller that gives up on the request (a crashed process, a
        // timeout around the call) must not leave the company's in-flight count raised forever.
        let _slot = InFlightSlot { sim: self, realm: &realm };
        self.admitted(request, &realm, &rest, tid, fault, extra).await
    }

    async fn admitted(
        &self,
        request: HttpRequest,
        realm: &str,
        rest: &str,
        tid: u64,
        fault: DiceFault,
        extra: Duration,
    ) -> Answer {
        if !self.authorized(&request, realm) {
            self.lock().stats.unauthorized += 1;
            return Ok(self.unauthorized(tid));
        }
        let params: HashMap<String, String> = request
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        if params.get("minorversion").map(String::as_str) != Some("75") {
            self.lock().stats.missing_minor_version += 1;
        }
        match fault {
            DiceFault::ServerError(code) => {
                self.clock.sleep(self.config.latency + extra).await;
                self.lock().stats.server_errors += 1;
                return Ok(if code == 500 {
                    self.fault(
                        500,
                        "SystemFault",
                        "10000",
                        "An application error has occurred while processing your request",
                        "System Failure Error: An unexpected error occurred",
                        tid,
                    )
                } else {
                    self.response(
                        code,
                        "text/html",
                        format!("<html><body><h1>{code} Service Unavailable</h1></body></html>")
                            .into_bytes(),
                        tid,
                    )
                });
            }
            DiceFault::Timeout => {
                self.clock.sleep(self.config.timeout_after).await;
                self.lock().stats.timeouts += 1;
                return Err(TransportError::new(TransportErrorKind::Timeout, "simulated timeout"));
            }
            _ => {}
        }
        self.clock.sleep(self.config.latency + extra).await;
        let answer = self.route(&request, realm, rest, &params, tid);
        if fault == DiceFault::LostResponse {
            // A read has no side effect to keep: the work was done, the answer is lost.
            self.lock().stats.timeouts += 1;
            return Err(TransportError::new(
                TransportErrorKind::Timeout,
                "simulated lost response",
            ));
        }
        Ok(answer)
    }

    fn route(
        &self,
        request: &HttpRequest,
        realm: &str,
        rest: &str,
        params: &HashMap<String, String>,
        tid: u64,
    ) -> HttpResponse {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["query"] => {
                let statement = if request.method() == http::Method::POST {
                    String::from_utf8_lossy(request.body()).into_owned()
                } else {
                    params.get("query").cloned().unwrap_or_default()
                };
                self.run_hooks();
                self.lock().stats.queries += 1;
                self.query(realm, &statement, tid)
            }
            ["cdc"] => {
                self.lock().stats.cdc += 1;
                self.cdc(realm, params, tid)
            }
            [entity, id] if entity.eq_ignore_ascii_case("companyinfo") => {
                self.lock().stats.company_reads += 1;
                let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
                if id == realm {
                    let info = self.company_info(realm);
                    self.json(200, json!({"CompanyInfo": info, "time": self.time()}), tid)
                } else {
                    self.not_found(tid)
                }
            }
            [entity, id] if entity.eq_ignore_ascii_case("customer") => {
                self.lock().stats.customer_reads += 1;
                let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
                match self.customer(realm, &id) {
                    Some(c) => self.json(200, json!({"Customer": c, "time": self.time()}), tid),
                    None => self.not_found(tid),
                }
            }
            [entity, id] => {
                self.lock().stats.reads += 1;
                match EntityKind::parse(entity) {
                    Some(kind) => {
                        let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
                        match self.get(realm, kind, &id) {
                            Some(doc) => self.json(
                                200,
                                json!({kind.as_str(): served(&doc), "time": self.time()}),
                                tid,
                            ),
                            None => self.not_found(tid),
                        }
                    }
                    None => self.fault(
                        400,
                        "ValidationFault",
                        "4000",
                        "Unsupported entity",
                        entity,
                        tid,
                    ),
                }
            }
            _ => self.response(
                404,
                "text/html",
                b"<html><body>Not Found</body></html>".to_vec(),
                tid,
            ),
        }
    }

    fn not_found(&self, tid: u64) -> HttpResponse {
        self.fault(
            400,
            "ValidationFault",
            "610",
            "Object Not Found",
            "Object Not Found : Something you're trying to use has been made inactive. Check the \
             fields with accounts, customers, items, vendors or employees.",
            tid,
        )
    }

    fn run_hooks(&self) {
        let hooks = {
            let mut state = self.lock();
            let k = state.stats.queries + 1;
            state.hooks.remove(&k).unwrap_or_default()
        };
        for hook in hooks {
            hook(self);
        }
    }

    fn query(&self, realm: &str, text: &str, tid: u64) -> HttpResponse {
        let statement = match ql::parse(text) {
            Ok(s) => s,
            Err(e) => return self.invalid_query(&e, tid),
        };
        let start = statement.start_position.unwrap_or(1);
        if start == 0 {
            return self
                .invalid_query("STARTPOSITION value 0 is too small. Min allowed value is 1", tid);
        }
        let max = statement.max_results.unwrap_or(100);
        if max > 1000 {
            return self.invalid_query(
                &format!("MAXRESULTS value {max} is too large. Max allowed value is 1000"),
                tid,
            );
        }
        let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let mut take = if statement.count { 0 } else { usize::try_from(max).unwrap_or(usize::MAX) };
        if self.config.overfill && max > 0 && !statement.count {
            take += 1;
        }
        let entity = statement.entity.to_ascii_lowercase();
        let (key, total, page) = if entity == "class" {
            match self.class_rows(realm, &statement, skip, take) {
                Ok((total, page)) => ("Class", total, page),
                Err(e) => return self.invalid_query(&e, tid),
            }
        } else if entity == "companyinfo" {
            self.lock().stats.company_reads += 1;
            let info = serde_json::to_value(self.company_info(realm)).unwrap_or_default();
            let page: Vec<Value> = std::iter::once(info).skip(skip).take(take).collect();
            ("CompanyInfo", 1, page)
        } else if entity == "item" {
            self.lock().stats.item_reads += 1;
            match self.item_rows(realm, &statement, skip, take) {
                Ok((total, page)) => ("Item", total, page),
                Err(e) => return self.invalid_query(&e, tid),
            }
        } else if entity == "customer" {
            self.lock().stats.customer_reads += 1;
            match self.customer_rows(realm, &statement, skip, take) {
                Ok((total, page)) => ("Customer", total, page),
                Err(e) => return self.invalid_query(&e, tid),
            }
        } else if let Some(kind) = EntityKind::parse(&entity) {
            match self.txn_rows(realm, kind, &statement, skip, take) {
                Ok((total, page)) => (kind.as_str(), total, page),
                Err(e) => return self.invalid_query(&e, tid),
            }
        } else {
            return self
                .invalid_query(&format!("entity {} is not supported here", statement.entity), tid);
        };
        if statement.count {
            return self.json(
                200,
                json!({"QueryResponse": {"totalCount": total}, "time": self.time()}),
                tid,
            );
        }
        let mut response = serde_json::Map::new();
        if !page.is_empty() {
            response.insert("startPosition".into(), json!(start));
            response.insert("maxResults".into(), json!(page.len()));
            response.insert(key.into(), Value::Array(page));
        }
        self.json(200, json!({"QueryResponse": response, "time": self.time()}), tid)
    }

    /// The rows matching `s`, in its order: how many there are, and rows `skip..skip + take`
    /// serialised (only the page is serialised, so paging a large company stays cheap).
    fn txn_rows(
        &self,
        realm: &str,
        kind: EntityKind,
        s: &Statement,
        skip: usize,
        take: usize,
    ) -> Result<(usize, Vec<Value>), String> {
        let filters = s.conditions.iter().map(TxnFilter::prepare).collect::<Result<Vec<_>, _>>()?;
        let state = self.lock();
        let Some(company) = state.companies.get(realm) else { return Ok((0, Vec::new())) };
        let mut rows: Vec<&SalesTransaction> = company
            .rows(kind)
            .values()
            .filter(|doc| filters.iter().all(|f| f.keeps(doc)))
            .collect();
        if let Some((field, desc)) = &s.order_by {
            if field != "metadata.lastupdatedtime"
                && field != "txndate"
                && field != "id"
                && field != "docnumber"
            {
                return Err(format!("property '{field}' is not sortable"));
            }
            let key = |d: &SalesTransaction| match field.as_str() {
                "txndate" => d.txn_date.map(|t| t.to_string()).unwrap_or_default(),
                "docnumber" => d.doc_number.clone().unwrap_or_default(),
                "id" => format!("{:020}", d.id.parse::<u64>().unwrap_or(0)),
                _ => d.last_updated().map(|t| format!("{:020}", t.timestamp())).unwrap_or_default(),
            };
            rows.sort_by_cached_key(|a| key(a));
            if *desc {
                rows.reverse();
            }
        }
        page_of(rows, skip, take, served)
    }

    /// Customers matching `s` (`Id`, `DisplayName`, `Active`), in id order; inactive ones only
    /// when a condition names `Active`, as QBO does for list entities.
    fn customer_rows(
        &self,
        realm: &str,
        s: &Statement,
        skip: usize,
        take: usize,
    ) -> Result<(usize, Vec<Value>), String> {
        let state = self.lock();
        let Some(company) = state.companies.get(realm) else { return Ok((0, Vec::new())) };
        let rows = list_rows(company.customers.values(), s, |c| c.active, customer_matches)?;
        page_of(rows, skip, take, |row| row)
    }

    /// Items matching `s` (`Id`, `Name`, `Sku`, `Type`, `Active`,
    /// `MetaData.LastUpdatedTime`), in id order or by last update; inactive ones only when a
    /// condition names `Active`, as QBO does for list entities.
    fn item_rows(
        &self,
        realm: &str,
        s: &Statement,
        skip: usize,
        take: usize,
    ) -> Result<(usize, Vec<Value>), String> {
        let state = self.lock();
        let Some(company) = state.companies.get(realm) else { return Ok((0, Vec::new())) };
        let mut rows = list_rows(company.items.values(), s, |i| i.active, item_matches)?;
        match s.order_by.as_ref().map(|(f, desc)| (f.as_str(), *desc)) {
            None | Some(("id", false)) => {}
            Some(("metadata.lastupdatedtime", desc)) => {
                rows.sort_by_key(|i| i.meta_data.as_ref().and_then(|m| m.last_updated_time));
                if desc {
                    rows.reverse();
                }
            }
            Some((field, _)) => return Err(format!("property '{field}' is not sortable")),
        }
        page_of(rows, skip, take, |row| row)
    }

    fn class_rows(
        &self,
        realm: &str,
        s: &Statement,
        skip: usize,
        take: usize,
    ) -> Result<(usize, Vec<Value>), String> {
        let state = self.lock();
        let Some(company) = state.companies.get(realm) else { return Ok((0, Vec::new())) };
        let rows = list_rows(company.classes.iter(), s, |c| c.active, class_matches)?;
        page_of(rows, skip, take, |row| row)
    }

    fn cdc(&self, realm: &str, params: &HashMap<String, String>, tid: u64) -> HttpResponse {
        let Some(since) = params.get("changedSince").and_then(|s| parse_instant(s)) else {
            return self.fault(
                400,
                "ValidationFault",
                "4001",
                "Invalid changedSince",
                "changedSince is missing or not a date",
                tid,
            );
        };
        let now = self.clock.now();
        if now - since > chrono::Duration::days(30) {
            return self.fault(
                400,
                "ValidationFault",
                "4001",
                "Invalid changedSince",
                "changedSince can be at most 30 days in the past",
                tid,
            );
        }
        let entities: Vec<EntityKind> = params
            .get("entities")
            .map(|e| e.split(',').filter_map(|n| EntityKind::parse(n.trim())).collect())
            .unwrap_or_default();
        let state = self.lock();
        let mut groups = Vec::new();
        let mut budget = 1000usize;
        if let Some(company) = state.companies.get(realm) {
            for kind in entities {
                let mut changed: Vec<&SalesTransaction> = company
                    .rows(kind)
                    .values()
                    .filter(|d| d.last_updated().is_some_and(|t| t.with_timezone(&Utc) >= since))
                    .collect();
                changed.sort_by_key(|d| d.last_updated());
                let mut items: Vec<Value> =
                    changed.iter().filter_map(|d| serde_json::to_value(served(d)).ok()).collect();
                for (k, id, at) in &company.deleted {
                    if *k == kind && *at >= since {
                        items.push(json!({"status": "Deleted", "domain": "QBO", "Id": id,
                                          "MetaData": {"LastUpdatedTime": to_pacific(*at).to_rfc3339()}}));
                    }
                }
                items.truncate(budget);
                budget -= items.len();
                if !items.is_empty() {
                    let n = items.len();
                    groups.push(json!({kind.as_str(): items, "startPosition": 1, "maxResults": n, "totalCount": n}));
                }
            }
        }
        drop(state);
        if groups.is_empty() {
            groups.push(json!({}));
        }
        self.json(
            200,
            json!({"CDCResponse": [{"QueryResponse": groups}], "time": self.time()}),
            tid,
        )
    }
}

/// An instant as QBO reads one in a query or in `changedSince`: RFC 3339 with an offset (`Z`
/// included); a date-time without an offset (`2017-01-01T00:00:00`, as python-quickbooks
/// sends), or a date alone (midnight), in the company's time zone. QBO documents no zone for
/// them; Pacific is the zone it stamps every time in and the one its staff say the API speaks,
/// so a local time is read there.
/// The rows of a list entity (customers, classes) that every condition of `s` keeps; inactive
/// ones only when a condition names `Active`, as QBO does for list entities.
fn list_rows<'a, T>(
    rows: impl Iterator<Item = &'a T>,
    s: &Statement,
    active: impl Fn(&T) -> Option<bool>,
    matches: impl Fn(&T, &Condition) -> Result<bool, String>,
) -> Result<Vec<&'a T>, String> {
    let filters_active = s.conditions.iter().any(|c| c.field == "active");
    let mut kept = Vec::new();
    for row in rows {
        let mut keep = filters_active || active(row) != Some(false);
        for c in &s.conditions {
            keep &= matches(row, c)?;
        }
        if keep {
            kept.push(row);
        }
    }
    Ok(kept)
}

/// The rows a query matched, counted, and the page of them asked for (`STARTPOSITION`,
/// `MAXRESULTS`), each as `shape` serves it (shaped on the page only, not on every match).
fn page_of<T, U: serde::Serialize>(
    rows: Vec<T>,
    skip: usize,
    take: usize,
    shape: impl Fn(T) -> U,
) -> Result<(usize, Vec<Value>), String> {
    let total = rows.len();
    let page = rows
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|row| serde_json::to_value(shape(row)).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total, page))
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0))?;
    Some(pacific_instant(local))
}

/// The instant a Pacific wall-clock time names. In the hour that repeats when daylight time
/// ends, the first (daylight) one; in the hour skipped when it starts, the time read at the
/// standard offset.
pub fn pacific_instant(local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let at = |hours: i64| local.and_utc() + chrono::Duration::hours(hours);
    let daylight = at(7);
    if pacific_offset(daylight).local_minus_utc() == -7 * 3600 {
        return daylight;
    }
    at(8)
}

/// A transaction as QBO serves it: with its `SubTotalLineDetail` line (the sum of the item and
/// bundle lines before it, shipping charges aside), which every real invoice and sales receipt
/// carries, placed before the first discount or shipping-charge line. One that has it already
/// is served as stored.
pub fn served(doc: &SalesTransaction) -> std::borrow::Cow<'_, SalesTransaction> {
    use std::borrow::Cow;
    if doc.line.iter().any(|l| matches!(l.detail, LineDetail::SubTotal)) {
        return Cow::Borrowed(doc);
    }
    let is_charge = |l: &Line| match &l.detail {
        LineDetail::Discount(_) => true,
        LineDetail::SalesItem(d) => {
            d.item_ref.as_ref().is_some_and(|r| r.value == "SHIPPING_ITEM_ID")
        }
        _ => false,
    };
    let at = doc.line.iter().position(is_charge).unwrap_or(doc.line.len());
    let amount: Decimal = doc.line[..at]
        .iter()
        .filter(|l| matches!(l.detail, LineDetail::SalesItem(_) | LineDetail::Group(_)))
        .filter_map(|l| l.amount)
        .sum();
    let mut doc = doc.clone();
    doc.line.insert(
        at,
        Line {
            id: None,
            line_num: None,
            description: None,
            amount: Some(amount),
            linked_txn: Vec::new(),
            detail: LineDetail::SubTotal,
        },
    );
    Cow::Owned(doc)
}

/// What a company's `CompanyInfo` says until a test seeds another: a U.S. company, shaped as
/// QBO's sandbox company answers.
pub fn us_company_info() -> CompanyInfo {
    let addr = PhysicalAddress {
        id: Some("1".into()),
        line1: Some("123 Sierra Way".into()),
        city: Some("San Pablo".into()),
        country_sub_division_code: Some("CA".into()),
        postal_code: Some("87999".into()),
        lat: Some("36.6788345".into()),
        long: Some("-118.4542529".into()),
        ..Default::default()
    };
    CompanyInfo {
        id: Some("1".into()),
        sync_token: Some("4".into()),
        company_name: Some("Craig's Design and Landscaping Services".into()),
        legal_name: Some("Craig's Design and Landscaping Services".into()),
        country: Some("US".into()),
        company_addr: Some(addr.clone()),
        customer_communication_addr: Some(addr.clone()),
        legal_addr: Some(addr),
        supported_languages: Some("en".into()),
        meta_data: None,
    }
}

fn literal_str(l: &Literal) -> String {
    match l {
        Literal::Str(s) | Literal::Num(s) => s.clone(),
        Literal::Bool(b) => b.to_string(),
    }
}

fn compare<T: Ord>(value: &T, op: Op, targets: &[T]) -> bool {
    match op {
        Op::In => targets.contains(value),
        _ => targets.first().is_some_and(|t| match op {
            Op::Eq => value == t,
            Op::Lt => value < t,
            Op::Gt => value > t,
            Op::Le => value <= t,
            Op::Ge => value >= t,
            Op::In => false,
        }),
    }
}

/// A condition on transactions with its values parsed once per query, not once per row.
enum TxnFilter {
    Updated(Op, Vec<DateTime<Utc>>),
    Created(Op, Vec<DateTime<Utc>>),
    TxnDate(Op, Vec<NaiveDate>),
    Id(Op, Vec<String>),
    DocNumber(Op, Vec<String>),
}

impl TxnFilter {
    fn prepare(c: &Condition) -> Result<Self, String> {
        let instants = || {
            c.values
                .iter()
                .map(|v| {
                    parse_instant(&literal_str(v))
                        .ok_or_else(|| format!("{} is not a date-time", literal_str(v)))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let strings = || c.values.iter().map(literal_str).collect::<Vec<_>>();
        Ok(match c.field.as_str() {
            "metadata.lastupdatedtime" => TxnFilter::Updated(c.op, instants()?),
            "metadata.createtime" => TxnFilter::Created(c.op, instants()?),
            "txndate" => TxnFilter::TxnDate(
                c.op,
                c.values
                    .iter()
                    .map(|v| {
                        NaiveDate::parse_from_str(&literal_str(v), "%Y-%m-%d")
                            .map_err(|_| format!("{} is not a date", literal_str(v)))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            "id" => {
                if !matches!(c.op, Op::Eq | Op::In) {
                    return Err("only = and IN work on Id".into());
                }
                TxnFilter::Id(c.op, strings())
            }
            "docnumber" => TxnFilter::DocNumber(c.op, strings()),
            other => return Err(format!("property '{other}' is not queryable")),
        })
    }

    fn keeps(&self, doc: &SalesTransaction) -> bool {
        let meta = doc.meta_data.as_ref();
        let instant = |t: Option<DateTime<FixedOffset>>| t.map(|v| v.with_timezone(&Utc));
        match self {
            TxnFilter::Updated(op, targets) => instant(meta.and_then(|m| m.last_updated_time))
                .is_some_and(|v| compare(&v, *op, targets)),
            TxnFilter::Created(op, targets) => {
                instant(meta.and_then(|m| m.create_time)).is_some_and(|v| compare(&v, *op, targets))
            }
            TxnFilter::TxnDate(op, targets) => {
                doc.txn_date.is_some_and(|d| compare(&d, *op, targets))
            }
            TxnFilter::Id(op, targets) => compare(&doc.id, *op, targets),
            TxnFilter::DocNumber(op, targets) => {
                doc.doc_number.as_ref().is_some_and(|d| compare(d, *op, targets))
            }
        }
    }
}

fn customer_matches(customer: &QboCustomer, c: &Condition) -> Result<bool, String> {
    let targets = || c.values.iter().map(literal_str).collect::<Vec<String>>();
    match c.field.as_str() {
        "id" => {
            if !matches!(c.op, Op::Eq | Op::In) {
                return Err("only = and IN work on Id".into());
            }
            Ok(compare(&customer.id, c.op, &targets()))
        }
        "displayname" => {
            Ok(customer.display_name.as_ref().is_some_and(|n| compare(n, c.op, &targets())))
        }
        "active" => {
            let targets = booleans(c)?;
            Ok(compare(&customer.active.unwrap_or(true), c.op, &targets))
        }
        other => Err(format!("property '{other}' is not queryable")),
    }
}

fn item_matches(item: &QboItem, c: &Condition) -> Result<bool, String> {
    let targets = || c.values.iter().map(literal_str).collect::<Vec<String>>();
    let text = |v: &Option<String>| v.as_ref().is_some_and(|v| compare(v, c.op, &targets()));
    match c.field.as_str() {
        "id" => {
            if !matches!(c.op, Op::Eq | Op::In) {
                return Err("only = and IN work on Id".into());
            }
            Ok(compare(&item.id, c.op, &targets()))
        }
        "name" => Ok(text(&item.name)),
        "fullyqualifiedname" => Ok(text(&item.fully_qualified_name)),
        "sku" => Ok(text(&item.sku)),
        "type" => Ok(text(&item.item_type)),
        "active" => {
            let targets = booleans(c)?;
            Ok(compare(&item.active.unwrap_or(true), c.op, &targets))
        }
        "metadata.lastupdatedtime" => {
            let targets = c
                .values
                .iter()
                .map(|v| {
                    parse_instant(&literal_str(v))
                        .ok_or_else(|| format!("{} is not a date-time", literal_str(v)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let at = item.meta_data.as_ref().and_then(|m| m.last_updated_time);
            Ok(at.is_some_and(|t| compare(&t.with_timezone(&Utc), c.op, &targets)))
        }
        other => Err(format!("property '{other}' is not queryable")),
    }
}

/// `wanted` when it is a number no entry of `taken` has, else the next after the highest: the
/// id QBO would give a new customer or item.
fn free_id<T>(taken: &BTreeMap<u64, T>, wanted: &str) -> u64 {
    match wanted.parse::<u64>() {
        Ok(id) if !taken.contains_key(&id) => id,
        _ => taken.keys().next_back().map_or(1, |last| last + 1),
    }
}

/// The condition's values as booleans (`Active IN (true, false)`).
fn booleans(c: &Condition) -> Result<Vec<bool>, String> {
    c.values
        .iter()
        .map(|v| match v {
            Literal::Bool(b) => Ok(*b),
            other => Err(format!("{other:?} is not a boolean")),
        })
        .collect()
}

fn class_matches(class: &QboClass, c: &Condition) -> Result<bool, String> {
    match c.field.as_str() {
        "name" => {
            let targets: Vec<String> = c.values.iter().map(literal_str).collect();
            Ok(compare(&class.name, c.op, &targets))
        }
        "fullyqualifiedname" => {
            let targets: Vec<String> = c.values.iter().map(literal_str).collect();
            Ok(class.fully_qualified_name.as_ref().is_some_and(|n| compare(n, c.op, &targets)))
        }
        "active" => {
            let targets = booleans(c)?;
            Ok(compare(&class.active.unwrap_or(true), c.op, &targets))
        }
        "id" => {
            let targets: Vec<String> = c.values.iter().map(literal_str).collect();
            Ok(compare(&class.id, c.op, &targets))
        }
        other => Err(format!("property '{other}' is not queryable")),
    }
}

#[async_trait::async_trait]
impl HttpTransport for QboSim {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let tid = self.next_tid();
        let path = request.uri().path().to_string();
        if path.ends_with("/oauth2/v1/tokens/bearer") {
            return self.token_endpoint(&request, tid).await;
        }
        if path.ends_with("/connect/oauth2") {
            return Ok(self.authorize_endpoint(&request, tid));
        }
        if path.ends_with("/oauth2/tokens/revoke") {
            return Ok(self.revoke_endpoint(&request, tid));
        }
        let Some(rest) = path.strip_prefix("/v3/company/") else {
            return Ok(self.response(
                404,
                "text/html",
                b"<html><body>Not Found</body></html>".to_vec(),
                tid,
            ));
        };
        let (realm, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let realm = percent_encoding::percent_decode_str(realm).decode_utf8_lossy().into_owned();
        if !self.lock().companies.contains_key(&realm) {
            return Ok(self.json(
                403,
                json!({"fault": {"error": [{"message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                                            "detail": "", "code": "3100"}], "type": "SERVICE"},
                       "time": self.clock.now().timestamp_millis()}),
                tid,
            ));
        }
        self.api(request, realm, rest.to_string(), tid).await
    }
}

/// Zeroes every amount and quantity of `lines`, the components of bundles included, as QBO does
/// when it voids a transaction.
pub(crate) fn zero_lines(lines: &mut [crate::model::qbo::Line]) {
    for line in lines {
        line.amount = Some(Decimal::ZERO);
        match &mut line.detail {
            LineDetail::SalesItem(d) => d.qty = Some(Decimal::ZERO),
            LineDetail::Group(g) => zero_lines(&mut g.line),
            _ => {}
        }
    }
}

/// A plain sale for tests: one item line of `amount`, the header class `class` (by name, with
/// `class_id` as its value), a DocNumber, today's date, and a free-form ship-to block.
pub fn simple_sale(
    kind: EntityKind,
    doc_number: &str,
    class: Option<(&str, &str)>,
    amount: Decimal,
) -> Transaction {
    use crate::model::qbo::{Line, PhysicalAddress, SalesItemLineDetail};
    let doc = SalesTransaction {
        doc_number: Some(doc_number.to_string()),
        txn_date: NaiveDate::from_ymd_opt(2024, 3, 8),
        customer_ref: Some(Ref { value: "1".into(), name: Some("Kate Whelan".into()) }),
        class_ref: class
            .map(|(id, name)| Ref { value: id.to_string(), name: Some(name.to_string()) }),
        ship_addr: Some(PhysicalAddress::from_lines(&[
            "Kate Whelan",
            "45 First St.",
            "Menlo Park, CA  94304",
        ])),
        total_amt: Some(amount),
        line: vec![Line {
            id: Some("1".into()),
            line_num: Some(1),
            description: Some("Rock Fountain".into()),
            amount: Some(amount),
            linked_txn: Vec::new(),
            detail: LineDetail::SalesItem(SalesItemLineDetail {
                item_ref: Some(Ref { value: "5".into(), name: Some("Rock Fountain".into()) }),
                qty: Some(Decimal::ONE),
                unit_price: Some(amount),
                ..Default::default()
            }),
        }],
        ..Default::default()
    };
    Transaction { kind, doc }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap_or_default()
    }

    #[test]
    fn pacific_offset_follows_us_dst_rules() {
        // 2024: DST from 10 March 10:00 UTC to 3 November 09:00 UTC.
        assert_eq!(pacific_offset(utc(2024, 3, 10, 9, 59)).local_minus_utc(), -8 * 3600);
        assert_eq!(pacific_offset(utc(2024, 3, 10, 10, 0)).local_minus_utc(), -7 * 3600);
        assert_eq!(pacific_offset(utc(2024, 11, 3, 8, 59)).local_minus_utc(), -7 * 3600);
        assert_eq!(pacific_offset(utc(2024, 11, 3, 9, 0)).local_minus_utc(), -8 * 3600);
        assert_eq!(pacific_offset(utc(2024, 1, 15, 12, 0)).local_minus_utc(), -8 * 3600);
        assert_eq!(pacific_offset(utc(2024, 7, 4, 12, 0)).local_minus_utc(), -7 * 3600);
        // 2026: 8 March and 1 November.
        assert_eq!(pacific_offset(utc(2026, 3, 8, 10, 0)).local_minus_utc(), -7 * 3600);
        assert_eq!(pacific_offset(utc(2026, 11, 1, 9, 0)).local_minus_utc(), -8 * 3600);
        assert_eq!(nth_sunday(2026, 3, 2).weekday(), chrono::Weekday::Sun);
    }
}
