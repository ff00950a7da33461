//! The real services: the QBO and Ordoro clients over `ReqwestTransport`, with the QBO tokens
//! kept in the state file, and which refresh token a run uses.

use std::sync::Arc;

use qbo_ordoro::qbo::connect::{TokenChoice, choose_refresh_token};
use qbo_ordoro::{Clock, ErrorKind, OrdoroApi, QboApi, ReqwestTransport, SharedTransport, Store};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};
use qbo_ordoro::{QboClient, QboConfig, QboEnvironment};
use secrecy::SecretString;

use crate::settings::{ConfiguredToken, RealServices};

/// The two clients.
#[derive(Debug)]
pub struct Clients {
    /// QuickBooks Online.
    pub qbo: Arc<dyn QboApi>,
    /// Ordoro.
    pub ordoro: Arc<dyn OrdoroApi>,
}

/// Builds the clients for company `realm`, whose refresh token is in `store`
/// ([`choose_token`] put it there).
pub fn clients(
    real: &RealServices,
    realm: &str,
    ordoro_key: (String, SecretString),
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> qbo_ordoro::Result<Clients> {
    let transport = SharedTransport::new(ReqwestTransport::new()?);
    clients_over(real, realm, ordoro_key, store, clock, [transport.clone(), transport])
}

/// [`clients`] over the given transports, QBO's then Ordoro's (the `serve` example counts
/// each service's requests on its own).
pub fn clients_over(
    real: &RealServices,
    realm: &str,
    ordoro_key: (String, SecretString),
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    [qbo_transport, ordoro_transport]: [SharedTransport; 2],
) -> qbo_ordoro::Result<Clients> {
    let mut qbo_config = QboConfig::new(
        realm.to_string(),
        real.environment.clone(),
        real.client_id.clone(),
        real.client_secret.clone(),
    );
    // Other URLs may be a simulator on loopback: the clients still refuse plain http elsewhere.
    qbo_config.allow_insecure_loopback = matches!(real.environment, QboEnvironment::Custom { .. });
    let qbo = QboClient::new(qbo_config, qbo_transport, clock.clone(), store)?;
    let mut ordoro_config = OrdoroConfig::new(ordoro_key.0, ordoro_key.1);
    if let Some(base_url) = &real.ordoro_base_url {
        ordoro_config.base_url = base_url.clone();
        ordoro_config.allow_insecure_loopback = true;
    }
    let ordoro = OrdoroClient::new(ordoro_config, ordoro_transport, clock)?;
    Ok(Clients { qbo: Arc::new(qbo), ordoro: Arc::new(ordoro) })
}

/// Decides which refresh token the run uses ([`choose_refresh_token`]) and leaves it in
/// `store`; returns a sentence saying which, naming no token.
pub async fn choose_token(
    configured: Option<&ConfiguredToken>,
    store: &dyn Store,
    realm: &str,
    reconnect: &str,
) -> Result<String, String> {
    let choice = choose_refresh_token(store, realm, configured.map(|c| &c.token)).await.map_err(
        |e| match e.kind() {
            ErrorKind::Authentication => format!(
                "no QuickBooks refresh token is saved for company {realm}: connect it with \
                 `{reconnect}`, or set QBO_REFRESH_TOKEN"
            ),
            _ => e.to_string(),
        },
    )?;
    let source = configured.map_or("QBO_REFRESH_TOKEN", |c| c.source);
    let mut said = choice.describe(source).replace("the store", "the state file");
    if choice == TokenChoice::Adopted {
        said.push_str(&format!(": `{reconnect}`"));
    }
    Ok(said)
}
