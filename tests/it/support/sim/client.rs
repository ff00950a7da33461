//! A QBO client wired to the simulator in virtual time, for the QBO client tests: the company,
//! the start of the clock, the client's settings, and the stored token forms.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{Clock, SharedTransport};
use qbo_ordoro::{QboClient, QboConfig, QboEnvironment};
use secrecy::SecretString;

use crate::support::fakes::MemTokens;

pub const REALM: &str = "9130350000000001";

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 9, 0, 0).unwrap()
}

pub fn config(secret: &str) -> QboConfig {
    QboConfig::new(REALM, QboEnvironment::Production, "sim-client-id", SecretString::from(secret))
}

/// A client of `REALM` over `sim`, its store holding `token`.
pub fn client(
    sim: &Arc<QboSim>,
    clock: Arc<dyn Clock>,
    token: StoredToken,
) -> (QboClient, Arc<MemTokens>) {
    let store = MemTokens::with(REALM, token);
    let client = QboClient::new(
        config("sim-client-secret"),
        SharedTransport::from_arc(sim.clone()),
        clock,
        store.clone(),
    )
    .unwrap();
    (client, store)
}

/// A stored token whose access token is gone: the first call must refresh.
pub fn refresh_only(token: &StoredToken) -> StoredToken {
    StoredToken::new(token.refresh_token.clone())
}
