//! No token, client secret or Authorization header reaches a log line, a Debug output or an
//! error message, across refreshes, 401s, a rejected refresh token, a bad client secret,
//! throttles and retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::sim::FaultPlan;
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, simple_sale};
use qbo_ordoro::{Clock, SharedTransport, TokioClock};
use qbo_ordoro::{QboApi, QboClient, QboConfig, QboEnvironment};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

use crate::support::capture_logs;
use crate::support::fakes::MemTokens;
use crate::support::sim::client::{REALM, refresh_only, start};

const CLIENT_SECRET: &str = "cs-9f8e7d6c5b4a39281706";

fn client_with_secret(
    sim: &Arc<QboSim>,
    clock: Arc<dyn Clock>,
    store: Arc<MemTokens>,
    secret: &str,
) -> (QboClient, QboConfig) {
    let config =
        QboConfig::new(REALM, QboEnvironment::Sandbox, "sim-client-id", SecretString::from(secret));
    let client =
        QboClient::new(config.clone(), SharedTransport::from_arc(sim.clone()), clock, store)
            .unwrap();
    (client, config)
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_logs_debug_output_or_errors() {
    let (logs, _guard) = capture_logs();

    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let faults =
        FaultPlan { seed: 3, server_error: 0.2, spurious_throttle: 0.1, ..FaultPlan::none() };
    let sim = Arc::new(QboSim::with_config(
        clock.clone(),
        QboSimConfig { client_secret: CLIENT_SECRET.into(), faults, ..Default::default() },
    ));
    let token = sim.connect(REALM);
    let inv = sim.insert(REALM, simple_sale(EntityKind::Invoice, "1", None, Decimal::ONE));
    let events = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::new(MemTokens { events: Some(events.clone()), ..Default::default() });
    store.tokens.lock().unwrap().insert(REALM.into(), refresh_only(&token));
    let (client, config) = client_with_secret(&sim, clock.clone(), store.clone(), CLIENT_SECRET);

    let mut outputs = vec![format!("{client:?}"), format!("{config:?}")];
    // A refresh, retries through 5xx and throttles, a 401 and its refresh.
    for _ in 0..5 {
        match client.get_transaction(EntityKind::Invoice, &inv.id).await {
            Ok(found) => assert!(found.is_some()),
            Err(e) => outputs.push(format!("{e:?} / {e}")),
        }
    }
    sim.expire_access_tokens(REALM);
    for _ in 0..3 {
        if let Err(e) = client.get_transaction(EntityKind::Invoice, &inv.id).await {
            outputs.push(format!("{e:?} / {e}"));
        }
    }
    outputs.push(format!("{:?}", store.current(REALM)));
    outputs.push(format!("{:?}", client.token_manager()));

    // A rejected refresh token, and a wrong client secret.
    sim.revoke(REALM);
    sim.expire_access_tokens(REALM);
    let err = client.find_classes("Ordoro").await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    outputs.push(format!("{err:?} / {err}"));
    let bad_store = MemTokens::with(REALM, refresh_only(&token));
    let (bad, _) = client_with_secret(&sim, clock.clone(), bad_store, "wrong-secret-4242");
    let err = bad.find_classes("Ordoro").await.unwrap_err();
    outputs.push(format!("{err:?} / {err}"));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut secrets: Vec<String> = vec![
        CLIENT_SECRET.into(),
        "wrong-secret-4242".into(),
        token.refresh_token.expose_secret().to_string(),
        token.access_token.as_ref().unwrap().expose_secret().to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("sim-client-id:{CLIENT_SECRET}")),
    ];
    secrets.extend(store.saved_refresh_tokens.lock().unwrap().iter().cloned());
    secrets
        .extend(events.lock().unwrap().iter().map(|e| e.trim_start_matches("saved ").to_string()));
    assert!(secrets.len() >= 8, "refreshes happened: {}", secrets.len());

    let logs = logs.text();
    assert!(logs.contains("refreshing the QuickBooks access token"), "logs were captured");
    assert!(logs.contains("retrying"), "retries were logged");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        for out in &outputs {
            assert!(!out.contains(secret.as_str()), "a secret reached {out}");
        }
    }
    assert!(!logs.to_ascii_lowercase().contains("bearer "), "an Authorization header was logged");
    assert!(!logs.contains("Basic "), "an Authorization header was logged");
}
