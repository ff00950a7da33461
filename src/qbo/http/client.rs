//! [`QboClient`]: the [`QboApi`] port over HTTP. It writes each call in the query language
//! (`minorversion` on every call), paces and retries through [`PacedTransport`] with QBO's budget
//! and throttle, signs with an access token from the [`TokenManager`] (one refresh and one retry
//! after a 401), and turns QBO's documents and faults into typed pages and [`Error`]s.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::oauth::TokenManager;
use super::{fault, query};
use crate::error::{Error, ErrorKind, Service};
use crate::model::qbo::{
    CdcEnvelope, ChangedTransaction, CompanyInfo, CompanyInfoEnvelope, CustomerEnvelope,
    EntityKind, QboClass, QboCustomer, QboItem, QueryEnvelope, SalesTransaction, Transaction,
};
use crate::qbo::api::{
    ChangeFeed, DeletedTransaction, MAX_PAGE_SIZE, QboApi, RawTransaction, TxnDateQuery, TxnPage,
    UpdatedQuery,
};
use crate::store::TokenStore;
use crate::transport::{
    HttpResponse, PacedTransport, RateBudget, RetryPolicy, SendFailure, SharedBudget,
    SharedTransport, Signer,
};
use crate::{Clock, Result};

/// QBO's sandbox API.
pub const SANDBOX_API_BASE: &str = "https://sandbox-quickbooks.api.intuit.com";
/// QBO's production API.
pub const PRODUCTION_API_BASE: &str = "https://quickbooks.api.intuit.com";
/// Intuit's OAuth 2.0 token endpoint (sandbox and production alike).
pub const TOKEN_URL: &str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer";
/// The minor version sent on every call (1 to 74 are retired).
pub const MINOR_VERSION: u32 = 75;

/// Which QBO to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QboEnvironment {
    /// `https://sandbox-quickbooks.api.intuit.com` (sandbox keys).
    Sandbox,
    /// `https://quickbooks.api.intuit.com` (production keys).
    Production,
    /// Other URLs (a proxy, a simulator on loopback).
    Custom {
        /// The API base, without `/v3`.
        api_base: String,
        /// The OAuth token endpoint.
        token_url: String,
    },
}

impl QboEnvironment {
    /// The API base URL.
    pub fn api_base(&self) -> &str {
        match self {
            QboEnvironment::Sandbox => SANDBOX_API_BASE,
            QboEnvironment::Production => PRODUCTION_API_BASE,
            QboEnvironment::Custom { api_base, .. } => api_base,
        }
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> &str {
        match self {
            QboEnvironment::Sandbox | QboEnvironment::Production => TOKEN_URL,
            QboEnvironment::Custom { token_url, .. } => token_url,
        }
    }
}

/// How to reach one QBO company. Debug output hides the client secret.
#[derive(Debug, Clone)]
pub struct QboConfig {
    /// The company (realm) id.
    pub realm_id: String,
    /// Sandbox, production or custom URLs.
    pub environment: QboEnvironment,
    /// The app's OAuth client id.
    pub client_id: String,
    /// The app's OAuth client secret.
    pub client_secret: SecretString,
    /// `minorversion` sent on every call ([`MINOR_VERSION`]).
    pub minor_version: u32,
    /// Allow plain `http://` URLs for loopback hosts (127.0.0.1, localhost, ::1) only.
    pub allow_insecure_loopback: bool,
}

impl QboConfig {
    /// A configuration with minor version 75 and https required.
    pub fn new(
        realm_id: impl Into<String>,
        environment: QboEnvironment,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        QboConfig {
            realm_id: realm_id.into(),
            environment,
            client_id: client_id.into(),
            client_secret,
            minor_version: MINOR_VERSION,
            allow_insecure_loopback: false,
        }
    }

    /// Checks the configuration: a realm id of letters and digits, an app id and secret, and
    /// https URLs (plain http only for loopback hosts, and only when allowed).
    pub fn validate(&self) -> Result<()> {
        let realm = self.realm_id.trim();
        if realm.is_empty() || !realm.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::config(format!(
                "the QuickBooks realm id {:?} is not valid: it is the company id, digits only",
                self.realm_id
            )));
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::config("the QuickBooks client id is empty"));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(Error::config("the QuickBooks client secret is empty"));
        }
        check_url("API base", self.environment.api_base(), self.allow_insecure_loopback)?;
        check_url("token URL", self.environment.token_url(), self.allow_insecure_loopback)
    }
}

fn check_url(what: &str, url: &str, allow_loopback: bool) -> Result<()> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| Error::config(format!("the QuickBooks {what} {url:?} is not a URL")))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if allow_loopback && is_loopback(host) => Ok(()),
        Some("http") => Err(Error::config(format!(
            "the QuickBooks {what} {url:?} must use https (plain http is allowed only for a \
             loopback host, and only when allow_insecure_loopback is set)"
        ))),
        _ => Err(Error::config(format!("the QuickBooks {what} {url:?} must be an https URL"))),
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]")
}

/// The QBO client of one company. Cheap to share behind an `Arc`.
pub struct QboClient {
    config: QboConfig,
    raw: SharedTransport,
    http: PacedTransport,
    tokens: Arc<TokenManager>,
}

impl fmt::Debug for QboClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QboClient")
            .field("config", &self.config)
            .field("http", &self.http)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl QboClient {
    /// A client over `transport` (the host's raw transport; the client paces it with QBO's
    /// budget of 500 a minute and 10 at once, and 60 s of quiet after a 429), keeping its OAuth
    /// tokens in `tokens`, waiting on `clock`. The company's refresh token must be in `tokens`
    /// before the first call; each rotated one is saved there before it is used.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use qbo_ordoro::{
    ///     Clock, QboClient, QboConfig, QboEnvironment, ReqwestTransport, SharedTransport,
    ///     SqliteStore, TokioClock,
    /// };
    ///
    /// # fn demo() -> qbo_ordoro::Result<()> {
    /// let config = QboConfig::new(
    ///     "9130350000000001",            // the company (realm) id
    ///     QboEnvironment::Production,
    ///     "app-client-id",
    ///     "app-client-secret".into(), // kept as a secret: never in Debug output or logs
    /// );
    /// let tokens = Arc::new(SqliteStore::open("qbo-ordoro-state.sqlite3")?);
    /// let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    /// let http = SharedTransport::new(ReqwestTransport::new()?);
    /// let qbo = QboClient::new(config, http, clock, tokens)?;
    /// # Ok(()) }
    /// ```
    pub fn new(
        config: QboConfig,
        transport: SharedTransport,
        clock: Arc<dyn Clock>,
        tokens: Arc<dyn TokenStore>,
    ) -> Result<Self> {
        config.validate()?;
        let budget = SharedBudget::new(RateBudget::QBO, clock.clone());
        let http = paced(&transport, budget, RetryPolicy::qbo(0));
        // The token endpoint is another host with its own limits: its own budget, and a POST
        // that is never repeated once sent (a lost answer may have rotated the token).
        let token_http = PacedTransport::new(
            transport.clone(),
            clock,
            RateBudget::new(60, 2),
            RetryPolicy { max_attempts: 3, ..RetryPolicy::qbo(0) },
        );
        let manager = TokenManager::new(
            config.realm_id.clone(),
            config.environment.token_url(),
            config.client_id.clone(),
            config.client_secret.clone(),
            tokens,
            token_http,
        );
        Ok(QboClient { config, raw: transport, http, tokens: Arc::new(manager) })
    }

    /// Draws on `budget` instead of a budget of its own: give every client of one company the
    /// same budget so that together they stay under QBO's limit.
    pub fn with_budget(mut self, budget: SharedBudget) -> Self {
        let retry = self.http.retry_policy().clone();
        self.http = paced(&self.raw, budget, retry);
        self
    }

    /// Retries by `policy` (the default is [`RetryPolicy::qbo`] with seed 0).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        let budget = self.http.budget().clone();
        self.http = paced(&self.raw, budget, policy);
        self
    }

    /// Uses `tokens` (shared with another client of the same company, so one refresh runs at a
    /// time across both).
    pub fn with_token_manager(mut self, tokens: Arc<TokenManager>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The token manager, to share with another client of the same company.
    pub fn token_manager(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The budget this client draws on, to share with another client of the same company.
    pub fn budget(&self) -> &SharedBudget {
        self.http.budget()
    }

    /// The configuration.
    pub fn config(&self) -> &QboConfig {
        &self.config
    }

    /// The JSON object of transaction `entity` `id` (`GET /{entity}/{id}`), or `None` when QBO
    /// has no such transaction.
    async fn entity_object(&self, entity: EntityKind, id: &str) -> Result<Option<Value>> {
        let url = query::entity_url(
            self.config.environment.api_base(),
            &self.config.realm_id,
            entity,
            id,
            self.config.minor_version,
        );
        match self.get(&url).await {
            Ok(mut value) => {
                let doc = value.get_mut(entity.as_str()).map(Value::take).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Service,
                        format!("QuickBooks answered without the {entity} object"),
                    )
                    .with_service(Service::Qbo)
                })?;
                Ok(Some(doc))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GETs `url` signed with an access token and reads the JSON document (or the fault).
    async fn get(&self, url: &str) -> Result<Value> {
        fault::read_response(&self.fetch(url).await?)
    }

    /// GETs `url` signed with an access token; after a 401, refreshes once and tries once more.
    async fn fetch(&self, url: &str) -> Result<HttpResponse> {
        let first = BearerSigner::new(&self.tokens);
        let mut response = self.send_get(url, &first).await?;
        if response.status().as_u16() == 401
            && let Some(rejected) = first.used()
        {
            tracing::info!(realm = %self.config.realm_id, "QuickBooks refused the access token; refreshing once");
            self.tokens.refresh_after_rejection(&rejected).await?;
            response = self.send_get(url, &BearerSigner::new(&self.tokens)).await?;
        }
        Ok(response)
    }

    async fn send_get(&self, url: &str, signer: &BearerSigner<'_>) -> Result<HttpResponse> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::new())
            .map_err(|_| Error::config(format!("could not build a request for {url}")))?;
        self.http.send_signed(request, signer).await.map_err(|failure| match failure {
            SendFailure::Sign(e) => e,
            SendFailure::Transport(e) => {
                Error::new(ErrorKind::Transport, e.describe("QuickBooks", url))
                    .with_service(Service::Qbo)
                    .with_source(e)
            }
        })
    }

    async fn query_response(&self, statement: &str) -> Result<HttpResponse> {
        let url = query::query_url(
            self.config.environment.api_base(),
            &self.config.realm_id,
            statement,
            self.config.minor_version,
        );
        tracing::debug!(realm = %self.config.realm_id, statement, "QBO query");
        self.fetch(&url).await
    }

    async fn query(&self, statement: &str) -> Result<QueryEnvelope> {
        // Read into the typed envelope directly: a page's JSON tree would be several times the
        // size of the page.
        fault::read_typed(&self.query_response(statement).await?)
    }

    async fn page(&self, entity: EntityKind, statement: &str) -> Result<TxnPage> {
        let response = self.query_response(statement).await?;
        let envelope: QueryEnvelope = match fault::read_typed(&response) {
            Ok(envelope) => envelope,
            Err(err) => return self.page_row_by_row(&response, entity, err),
        };
        // Move the rows out of the envelope: a page of 1000 is megabytes, not worth a copy.
        let mut rows = envelope.query_response;
        let rows = match entity {
            EntityKind::Invoice => rows.invoice.take(),
            EntityKind::SalesReceipt => rows.sales_receipt.take(),
        };
        Ok(TxnPage { transactions: rows.unwrap_or_default(), server_time: envelope.time })
    }

    /// A page that did not read whole: if it is a page at all, its rows are read one by one, so
    /// that a transaction with a field the model cannot read is kept (and logged as failed by the
    /// engine) rather than making every transaction after it wait. `err`, the whole-page error,
    /// stands when the body is not a page or some row has no readable identity.
    fn page_row_by_row(
        &self,
        response: &HttpResponse,
        entity: EntityKind,
        err: Error,
    ) -> Result<TxnPage> {
        let Ok(body) = fault::read_response(response) else { return Err(err) };
        let Some(page) = lenient_page(&body, entity) else { return Err(err) };
        for txn in page.transactions.iter().filter(|t| t.unreadable.is_some()) {
            tracing::warn!(
                realm = %self.config.realm_id, entity = %entity, id = %txn.id,
                unreadable = txn.unreadable.as_deref().unwrap_or(""),
                "QBO sent a transaction with fields this crate cannot read"
            );
        }
        Ok(page)
    }
}

impl QboClient {
    /// Customers by id in one query (`SELECT * FROM Customer WHERE Id IN (...)`), inactive ones
    /// included, at most 1000 ids at a time; ids that match no customer are simply absent.
    pub async fn customers(&self, ids: &[&str]) -> Result<Vec<QboCustomer>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(MAX_PAGE_SIZE as usize) {
            let envelope = self.query(&query::customers_statement(chunk)).await?;
            let rows = envelope.query_response.other.get("Customer").cloned();
            let rows: Vec<Value> = match rows {
                Some(Value::Array(rows)) => rows,
                _ => Vec::new(),
            };
            found.extend(rows.into_iter().filter_map(|r| serde_json::from_value(r).ok()));
        }
        Ok(found)
    }
}

/// The `Item` rows of a query answer; a row that does not read is left out (with a warning):
/// its lines then keep the item's name as their SKU.
fn item_rows(envelope: QueryEnvelope) -> Vec<QboItem> {
    let rows = match envelope.query_response.other.get("Item") {
        Some(Value::Array(rows)) => rows.clone(),
        _ => Vec::new(),
    };
    rows.into_iter()
        .filter_map(|row| match serde_json::from_value::<QboItem>(row) {
            Ok(item) if !item.id.is_empty() => Some(item),
            _ => {
                tracing::warn!(
                    "QBO sent an item this crate cannot read; its lines keep their names as SKUs"
                );
                None
            }
        })
        .collect()
}

/// The page of `entity` in a query answer, each row read with
/// [`SalesTransaction::from_value_lenient`]; `None` when the answer is not such a page.
fn lenient_page(body: &Value, entity: EntityKind) -> Option<TxnPage> {
    let response = body.get("QueryResponse")?.as_object()?;
    let transactions = match response.get(entity.as_str()) {
        None | Some(Value::Null) => Vec::new(),
        Some(rows) => rows
            .as_array()?
            .iter()
            .map(SalesTransaction::from_value_lenient)
            .collect::<Option<Vec<_>>>()?,
    };
    let server_time = body.get("time").and_then(|t| serde_json::from_value(t.clone()).ok());
    Some(TxnPage { transactions, server_time })
}

/// Signs each attempt with the current access token, taken when the attempt is sent, and
/// remembers which token it used (to refresh after a 401 only if no one has yet).
struct BearerSigner<'a> {
    tokens: &'a TokenManager,
    used: std::sync::Mutex<Option<SecretString>>,
}

impl<'a> BearerSigner<'a> {
    fn new(tokens: &'a TokenManager) -> Self {
        BearerSigner { tokens, used: std::sync::Mutex::new(None) }
    }

    fn used(&self) -> Option<SecretString> {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl Signer for BearerSigner<'_> {
    async fn sign(&self, request: &mut crate::HttpRequest) -> Result<()> {
        let token = self.tokens.access_token().await?;
        let mut authorization =
            http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(
                |_| {
                    Error::new(ErrorKind::Authentication, "the stored access token is malformed")
                        .with_service(Service::Qbo)
                },
            )?;
        authorization.set_sensitive(true);
        request.headers_mut().insert(http::header::AUTHORIZATION, authorization);
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(())
    }
}

fn paced(raw: &SharedTransport, budget: SharedBudget, retry: RetryPolicy) -> PacedTransport {
    PacedTransport::with_budget(raw.clone(), budget, retry)
        .with_classifier(Arc::new(fault::classify))
}

fn check_page(start_position: u32, max_results: u32) -> Result<()> {
    if start_position == 0 {
        return Err(Error::bad_input("STARTPOSITION is 1-based: 0 is not allowed"));
    }
    if max_results == 0 || max_results > MAX_PAGE_SIZE {
        return Err(Error::bad_input(format!(
            "a page holds 1 to {MAX_PAGE_SIZE} rows; {max_results} was asked"
        )));
    }
    Ok(())
}

#[async_trait::async_trait]
impl QboApi for QboClient {
    fn realm_id(&self) -> &str {
        &self.config.realm_id
    }

    async fn query_updated(&self, q: &UpdatedQuery) -> Result<TxnPage> {
        check_page(q.start_position, q.max_results)?;
        self.page(q.entity, &query::updated_statement(q)).await
    }

    async fn query_txn_date(&self, q: &TxnDateQuery) -> Result<TxnPage> {
        check_page(q.start_position, q.max_results)?;
        self.page(q.entity, &query::txn_date_statement(q)).await
    }

    async fn get_transaction(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<SalesTransaction>> {
        match self.entity_object(entity, id).await? {
            Some(doc) => Ok(Some(serde_json::from_value(doc)?)),
            None => Ok(None),
        }
    }

    async fn get_transaction_json(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<RawTransaction>> {
        let Some(json) = self.entity_object(entity, id).await? else { return Ok(None) };
        // Read as a run reads it; a document that reads only in part keeps what reads (and
        // names the rest), so that a person still sees it.
        let doc = match serde_json::from_value(json.clone()) {
            Ok(doc) => doc,
            Err(strict) => SalesTransaction::from_value_lenient(&json).ok_or(strict)?,
        };
        Ok(Some(RawTransaction { json, verbatim: true, doc }))
    }

    async fn find_by_doc_number(
        &self,
        entity: EntityKind,
        doc_number: &str,
    ) -> Result<Vec<SalesTransaction>> {
        let mut found: Vec<SalesTransaction> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut start = 1u32;
        loop {
            let statement = query::doc_number_statement(entity, doc_number, start, MAX_PAGE_SIZE);
            let page = self.page(entity, &statement).await?;
            let n = u32::try_from(page.transactions.len()).unwrap_or(u32::MAX);
            let before = found.len();
            found.extend(page.transactions.into_iter().filter(|t| seen.insert(t.id.clone())));
            // A full page with nothing new is a server repeating itself: stop rather than loop.
            if n < MAX_PAGE_SIZE || found.len() == before {
                return Ok(found);
            }
            start = start.saturating_add(n);
        }
    }

    async fn find_classes(&self, name: &str) -> Result<Vec<QboClass>> {
        let mut found: Vec<QboClass> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut start = 1u32;
        loop {
            let envelope = self.query(&query::class_statement(name, start, MAX_PAGE_SIZE)).await?;
            let rows = envelope.query_response.class.unwrap_or_default();
            let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
            let before = found.len();
            found.extend(rows.into_iter().filter(|c| seen.insert(c.id.clone())));
            // A full page with nothing new is a server repeating itself: stop rather than loop.
            if n < MAX_PAGE_SIZE || found.len() == before {
                return Ok(found);
            }
            start = start.saturating_add(n);
        }
    }

    async fn company_info(&self) -> Result<Option<CompanyInfo>> {
        let url = query::company_info_url(
            self.config.environment.api_base(),
            &self.config.realm_id,
            self.config.minor_version,
        );
        match self.get(&url).await {
            Ok(value) => Ok(serde_json::from_value::<CompanyInfoEnvelope>(value)?.company_info),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_customer(&self, id: &str) -> Result<Option<QboCustomer>> {
        let url = query::customer_url(
            self.config.environment.api_base(),
            &self.config.realm_id,
            id,
            self.config.minor_version,
        );
        match self.get(&url).await {
            Ok(value) => Ok(serde_json::from_value::<CustomerEnvelope>(value)?.customer),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn items(&self, ids: &[String]) -> Result<Vec<QboItem>> {
        let mut found = Vec::new();
        for chunk in query::id_chunks(ids, query::ITEMS_STATEMENT_FIXED) {
            found.extend(item_rows(self.query(&query::items_statement(chunk)).await?));
        }
        Ok(found)
    }

    async fn items_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<QboItem>> {
        let mut found: Vec<QboItem> = Vec::new();
        let mut start = 1u32;
        loop {
            let statement = query::items_changed_statement(since, start, MAX_PAGE_SIZE);
            let envelope = self.query(&statement).await?;
            let n = envelope
                .query_response
                .other
                .get("Item")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let before = found.len();
            found.extend(item_rows(envelope));
            // A full page with nothing new is a server repeating itself: stop rather than loop.
            if n < MAX_PAGE_SIZE as usize || found.len() == before {
                return Ok(found);
            }
            start = start.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    async fn transactions(
        &self,
        entity: EntityKind,
        ids: &[String],
    ) -> Result<Vec<SalesTransaction>> {
        let mut found = Vec::new();
        for chunk in query::id_chunks(ids, query::TRANSACTIONS_STATEMENT_FIXED) {
            let page = self.page(entity, &query::transactions_statement(entity, chunk)).await?;
            found.extend(page.transactions);
        }
        Ok(found)
    }

    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Result<ChangeFeed> {
        if entities.is_empty() {
            return Ok(ChangeFeed::default());
        }
        let url = query::cdc_url(
            self.config.environment.api_base(),
            &self.config.realm_id,
            entities,
            since,
            self.config.minor_version,
        );
        let envelope: CdcEnvelope = serde_json::from_value(self.get(&url).await?)?;
        let mut feed = ChangeFeed { server_time: envelope.time, ..ChangeFeed::default() };
        for kind in entities {
            for item in envelope.items(*kind) {
                match item {
                    ChangedTransaction::Changed(doc) => {
                        feed.changed.push(Transaction { kind: *kind, doc: (**doc).clone() })
                    }
                    ChangedTransaction::Deleted(stub) => feed.deleted.push(DeletedTransaction {
                        entity: *kind,
                        id: stub.id.clone(),
                        deleted_at: stub.meta_data.as_ref().and_then(|m| m.last_updated_time),
                    }),
                }
            }
        }
        Ok(feed)
    }
}

/// Statuses the `qbo_fault_body` fuzz body picks from with its first byte.
const FUZZ_STATUSES: [u16; 12] = [200, 200, 201, 400, 401, 403, 404, 429, 500, 502, 503, 504];

/// The body of the `qbo_fault_body` fuzz target, also replayed by the test suite: the first byte
/// picks an HTTP status, the second a content type and which client call reads the answer; the
/// rest is the response body. It goes through [`fault::read_response`] and [`fault::classify`],
/// then through the real [`QboClient`] (a 401 refresh against the same answer, retries on a
/// virtual clock, page, entity, change-feed, CompanyInfo and customer decoding). Returns true
/// when the call succeeded.
/// Panics only when an error loses its service or status, or a failure status is taken for a
/// success.
#[doc(hidden)]
pub fn fuzz_qbo_response(data: &[u8]) -> bool {
    use futures_util::FutureExt as _;

    let [status_byte, selector, body @ ..] = data else { return false };
    let status = FUZZ_STATUSES[usize::from(*status_byte) % FUZZ_STATUSES.len()];
    let Ok(status) = http::StatusCode::from_u16(status) else { return false };
    let content_type = ["application/json", "application/xml", "text/html", "text/plain"];
    let mut response = http::Response::new(Bytes::copy_from_slice(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type[usize::from(selector & 3)]),
    );
    headers.insert(fault::REQUEST_ID_HEADER, http::HeaderValue::from_static("fuzz-tid"));
    let _ = fault::classify(&response);
    if let Err(e) = fault::read_response(&response) {
        assert_eq!(e.service(), Some(Service::Qbo));
        assert_eq!(e.status(), Some(status.as_u16()));
        assert_eq!(e.request_id(), Some("fuzz-tid"));
    } else {
        assert!(status.is_success(), "a {status} answer was read as a success");
    }
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let clock: Arc<dyn Clock> = Arc::new(crate::ManualClock::new(start));
    let store = Arc::new(crate::store::MemoryStore::new());
    let token = crate::store::StoredToken {
        access_token: Some("fuzz-access".to_owned().into()),
        access_expires_at: Some(start + chrono::Duration::hours(1)),
        ..crate::store::StoredToken::new("fuzz-refresh".to_owned().into())
    };
    if store.save_token("1", &token).now_or_never().is_none() {
        return false;
    }
    let config = QboConfig::new(
        "1",
        QboEnvironment::Production,
        "fuzz-client",
        "fuzz-secret".to_owned().into(),
    );
    let transport = SharedTransport::new(crate::transport::CannedTransport::new(response));
    let Ok(client) = QboClient::new(config, transport, clock, store) else { return false };
    let from = start - chrono::Duration::days(1);
    let ok = match (selector >> 2) % 7 {
        0 => {
            let query = UpdatedQuery {
                entity: EntityKind::Invoice,
                from,
                to: start,
                start_position: 1,
                max_results: MAX_PAGE_SIZE,
            };
            client.query_updated(&query).now_or_never().is_some_and(|r| r.is_ok())
        }
        1 => client
            .get_transaction(EntityKind::SalesReceipt, "1")
            .now_or_never()
            .is_some_and(|r| matches!(r, Ok(Some(_)))),
        2 => client.changes_since(&EntityKind::ALL, from).now_or_never().is_some_and(|r| r.is_ok()),
        3 => client.find_classes("Ordoro").now_or_never().is_some_and(|r| r.is_ok()),
        4 => client.company_info().now_or_never().is_some_and(|r| matches!(r, Ok(Some(_)))),
        5 => client.get_customer("1").now_or_never().is_some_and(|r| matches!(r, Ok(Some(_)))),
        _ => client
            .find_by_doc_number(EntityKind::Invoice, "1001")
            .now_or_never()
            .is_some_and(|r| r.is_ok()),
    };
    assert!(!ok || status.is_success(), "a {status} answer was taken for a success");
    ok
}
