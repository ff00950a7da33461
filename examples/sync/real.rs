//! The real services: the QBO and Ordoro clients over `ReqwestTransport`, with the QBO tokens
//! kept in the state file.

use std::sync::Arc;

use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{Clock, OrdoroApi, QboApi, ReqwestTransport, SharedTransport, Store};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};
use qbo_ordoro::{QboClient, QboConfig};

use crate::settings::RealServices;

/// The two clients.
#[derive(Debug)]
pub struct Clients {
    /// QuickBooks Online.
    pub qbo: Arc<dyn QboApi>,
    /// Ordoro.
    pub ordoro: Arc<dyn OrdoroApi>,
}

/// Builds the clients. The configured refresh token is saved into the store only when it holds
/// none for the company: after the first refresh the store's token is the live one (QBO rotates
/// it), and the configured one is spent.
pub async fn connect(
    real: &RealServices,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> qbo_ordoro::Result<Clients> {
    if store.load_token(&real.realm_id).await?.is_none() {
        let token = StoredToken {
            refresh_token: real.refresh_token.clone(),
            access_token: None,
            access_expires_at: None,
        };
        store.save_token(&real.realm_id, &token).await?;
    }
    let transport = SharedTransport::new(ReqwestTransport::new()?);
    let qbo = QboClient::new(
        QboConfig::new(
            real.realm_id.clone(),
            real.environment.clone(),
            real.client_id.clone(),
            real.client_secret.clone(),
        ),
        transport.clone(),
        clock.clone(),
        store,
    )?;
    let ordoro = OrdoroClient::new(
        OrdoroConfig::new(real.ordoro_key_id.clone(), real.ordoro_key_secret.clone()),
        transport,
        clock,
    )?;
    Ok(Clients { qbo: Arc::new(qbo), ordoro: Arc::new(ordoro) })
}
