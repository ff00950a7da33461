//! Shared set-up of the QBO client tests: an in-memory token store that records every save, and
//! a client wired to a simulator in virtual time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::qbo::{QboClient, QboConfig, QboEnvironment};
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{Clock, Result, SharedTransport, TokenStore};
use secrecy::{ExposeSecret, SecretString};

pub const REALM: &str = "9130350000000001";

/// Keeps tokens in memory and remembers every refresh token ever saved, in order.
#[derive(Debug, Default)]
pub struct MemTokens {
    pub tokens: Mutex<HashMap<String, StoredToken>>,
    pub saved_refresh_tokens: Mutex<Vec<String>>,
    pub events: Option<Arc<Mutex<Vec<String>>>>,
}

impl MemTokens {
    pub fn with(realm: &str, token: StoredToken) -> Arc<Self> {
        let store = MemTokens::default();
        store.tokens.lock().unwrap().insert(realm.to_string(), token);
        Arc::new(store)
    }

    pub fn current(&self, realm: &str) -> Option<StoredToken> {
        self.tokens.lock().unwrap().get(realm).cloned()
    }
}

#[async_trait::async_trait]
impl TokenStore for MemTokens {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        Ok(self.tokens.lock().unwrap().get(realm).cloned())
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.saved_refresh_tokens
            .lock()
            .unwrap()
            .push(token.refresh_token.expose_secret().to_string());
        if let (Some(events), Some(access)) = (&self.events, &token.access_token) {
            events.lock().unwrap().push(format!("saved {}", access.expose_secret()));
        }
        self.tokens.lock().unwrap().insert(realm.to_string(), token.clone());
        Ok(())
    }
}

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
    StoredToken {
        refresh_token: token.refresh_token.clone(),
        access_token: None,
        access_expires_at: None,
    }
}
