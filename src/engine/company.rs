//! What a run knows of the company and its customers: the company's own country (the country of
//! an address block that names none), read from QBO's CompanyInfo at most once a day and cached
//! in the [`Store`](crate::Store), and the customers' ship-to addresses, read at most once per
//! customer per run for the ship-to fallback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tracing::{debug, warn};

use super::SyncEngine;
use crate::model::qbo::{CompanyInfo, QboCustomer};
use crate::store::CompanyCountry;
use crate::{Error, QboApi, Result};

/// The country of a company whose country is not known: the U.S., as QBO's own default.
pub const DEFAULT_COMPANY_COUNTRY: &str = "US";

/// How long a country read from CompanyInfo is used before it is read again.
const COUNTRY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The company's country as an ISO 3166-1 alpha-2 code, from its CompanyInfo: `Country`, else the
/// company address's `Country`, else the legal address's, the first that names a country (a
/// code, `USA`, or a name in any language [`lookup_country`](crate::address::lookup_country)
/// knows). `None` when none does.
///
/// ```
/// use qbo_ordoro::company_country;
/// use qbo_ordoro::model::qbo::{CompanyInfo, PhysicalAddress};
///
/// let info = CompanyInfo {
///     country: Some("".into()),
///     company_addr: Some(PhysicalAddress { country: Some("Australia".into()), ..Default::default() }),
///     ..Default::default()
/// };
/// assert_eq!(company_country(&info).as_deref(), Some("AU"));
/// assert_eq!(company_country(&CompanyInfo::default()), None);
/// ```
pub fn company_country(info: &CompanyInfo) -> Option<String> {
    info.country_texts()
        .into_iter()
        .find_map(crate::address::lookup_country)
        .map(|c| c.alpha2.to_string())
}

/// A customer read once for the whole run, shared by the transactions that wait on it.
type CustomerRead =
    Shared<BoxFuture<'static, std::result::Result<Option<QboCustomer>, Arc<Error>>>>;

/// The customers a run has read (or is reading), by id: one read per customer per run, even when
/// several of its sales are handled at once.
#[derive(Default)]
pub(crate) struct CustomerCache {
    reads: Mutex<HashMap<String, CustomerRead>>,
}

impl std::fmt::Debug for CustomerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.reads.lock().map(|r| r.len()).unwrap_or_default();
        f.debug_struct("CustomerCache").field("customers", &n).finish()
    }
}

impl CustomerCache {
    /// The customer `id`, read through `qbo` the first time it is asked for in this run. A failed
    /// read is kept too: the run does not ask again, and the next run does.
    pub(crate) async fn get(
        &self,
        qbo: &Arc<dyn QboApi>,
        id: &str,
    ) -> std::result::Result<Option<QboCustomer>, Arc<Error>> {
        let read = {
            let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            reads
                .entry(id.to_string())
                .or_insert_with(|| {
                    let qbo = qbo.clone();
                    let id = id.to_string();
                    async move { qbo.get_customer(&id).await.map_err(Arc::new) }.boxed().shared()
                })
                .clone()
        };
        read.await
    }
}

impl SyncEngine {
    /// The company's country for a run that starts now: the configured one when set (no request),
    /// else the one cached in the store when read within the last day, else CompanyInfo's, read
    /// now and cached (not in a dry run, which writes nothing). A failed read does not stop the
    /// run: the cached country is used even if stale, else the U.S., with a warning.
    pub(crate) async fn run_country(&self, dry_run: bool) -> Result<String> {
        if let Some(country) = self.config.mapping.company_country() {
            return Ok(country.to_string());
        }
        let realm = self.realm();
        let cached = self.store.company_country(realm).await?;
        let now = self.clock.now();
        let fresh = |c: &CompanyCountry| c.read_at <= now && now - c.read_at < COUNTRY_TTL;
        let or_default = |c: Option<String>| c.unwrap_or_else(|| DEFAULT_COMPANY_COUNTRY.into());
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(or_default(c.country.clone()));
        }
        let stale = cached.and_then(|c| c.country);
        match self.qbo.company_info().await {
            Ok(Some(info)) => {
                let country = company_country(&info);
                if country.is_none() {
                    warn!(
                        realm, named = ?info.country_texts(),
                        "QBO's CompanyInfo names no country this crate knows; addresses without a \
                         country are read as U.S. ones (set SyncConfig.mapping's company country \
                         to say otherwise)"
                    );
                }
                debug!(
                    realm,
                    country = country.as_deref().unwrap_or("none"),
                    "company country read"
                );
                if !dry_run {
                    let saved = CompanyCountry { country: country.clone(), read_at: now };
                    self.store.save_company_country(realm, &saved).await?;
                }
                Ok(or_default(country))
            }
            // A port that cannot read the company: what was known, else the U.S.
            Ok(None) => Ok(or_default(stale)),
            Err(err) => {
                let using = stale.clone().unwrap_or_else(|| DEFAULT_COMPANY_COUNTRY.into());
                let from = if stale.is_some() { "the last one read" } else { "the default" };
                warn!(
                    realm, error = %err, country = %using,
                    "could not read the company's country from QBO's CompanyInfo; addresses \
                     without a country are read in {from} for this run"
                );
                Ok(using)
            }
        }
    }
}
