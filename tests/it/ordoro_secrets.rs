//! The Ordoro API key never reaches a log line, a Debug output or an error message: across a
//! create, throttles and retries, a lost answer, a refused duplicate and refused credentials,
//! with every log level on. The subscriber is the test thread's default (the tests share one
//! binary), and the test runs on a current-thread runtime, so it sees every event of the test.

use std::sync::Arc;

use base64::Engine as _;
use qbo_ordoro::model::ordoro::{LineProduct, NewOrder, NewOrderLine, OrdoroAddress};
use qbo_ordoro::sim::Fault;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimCredentials};
use qbo_ordoro::{Clock, OrdoroApi, SharedTransport, TokioClock};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};

use crate::support::capture_logs;

const KEY_ID: &str = "client-id-7f3a";
const KEY_SECRET: &str = "s3cr3t-Ordoro-KEY-9d1c";

fn order(order_id: &str) -> NewOrder {
    NewOrder {
        order_id: order_id.into(),
        billing_address: OrdoroAddress { name: Some("Jane".into()), ..OrdoroAddress::default() },
        shipping_address: OrdoroAddress { name: Some("Jane".into()), ..OrdoroAddress::default() },
        lines: vec![NewOrderLine {
            quantity: 1,
            product: LineProduct { sku: "A".into(), name: "A".into(), price: None },
            ..NewOrderLine::default()
        }],
        ..NewOrder::default()
    }
}

fn client_with(
    sim: &Arc<OrdoroSim>,
    clock: Arc<dyn Clock>,
    secret: &str,
) -> (OrdoroClient, OrdoroConfig) {
    let config = OrdoroConfig::new(KEY_ID, secret.to_owned()).with_base_url("https://ordoro.sim");
    let client =
        OrdoroClient::new(config.clone(), SharedTransport::from_arc(sim.clone()), clock).unwrap();
    (client, config)
}

#[tokio::test(start_paused = true)]
async fn secrets_never_reach_logs_debug_output_or_errors() {
    let (captured, _guard) = capture_logs();

    let clock: Arc<dyn Clock> =
        Arc::new(TokioClock::starting_at("2026-03-02T15:00:00Z".parse().unwrap()));
    let credentials =
        SimCredentials { key_id: KEY_ID.into(), key_secret: KEY_SECRET.to_owned().into() };
    let sim_config =
        OrdoroSimConfig { credentials: Some(credentials), ..OrdoroSimConfig::default() };
    let sim = Arc::new(OrdoroSim::with_config(clock.clone(), sim_config.clone()));
    let (client, config) = client_with(&sim, clock.clone(), KEY_SECRET);
    let (wrong_client, _) = client_with(&sim, clock, "not-the-secret");

    let mut shown = vec![
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{sim:?}"),
        format!("{sim_config:?}"),
    ];
    client.create_order(&order("INV-1")).await.unwrap();
    // GET: throttled, then a 500, then served; the next create loses its answer.
    sim.script_faults([Fault::Throttle, Fault::ServerError(500), Fault::None, Fault::LostResponse]);
    client.get_order("M-INV-1").await.unwrap();
    let lost = client.create_order(&order("INV-2")).await.unwrap_err();
    let duplicate = client.create_order(&order("INV-1")).await.unwrap_err();
    let refused = wrong_client.get_order("M-INV-1").await.unwrap_err();
    for err in [&lost, &duplicate, &refused] {
        shown.push(format!("{err:?}"));
        shown.push(err.to_string());
    }

    let logs = captured.text();
    assert!(logs.contains("ordoro answered"), "the capture works: {logs}");
    assert!(logs.contains("throttled"), "the pacing layer logged its retry: {logs}");
    assert!(logs.contains("no answer from ordoro"), "the lost answer was logged: {logs}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{KEY_SECRET}"));
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(KEY_SECRET);
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(KEY_SECRET), "secret in {text}");
        assert!(!text.contains(&basic), "credentials in {text}");
        assert!(!text.contains(&secret_b64), "encoded secret in {text}");
        assert!(!text.to_ascii_lowercase().contains("basic "), "an Authorization value in {text}");
    }
}
