//! The reqwest transport end to end, in real time, against the simulated Ordoro and QBO served on
//! 127.0.0.1 over HTTP/1.1: requests and answers cross a real socket, and network failures
//! (refused connections, silence, a connection dropped after the work was done) come back as
//! the right transport error kinds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use qbo_ordoro::model::ordoro::{LineProduct, NewOrder, NewOrderLine, OrdoroAddress};
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::ordoro::api::OrdoroApiExt;
use qbo_ordoro::sim::Fault;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimCredentials, SimLatency};
use qbo_ordoro::sim::qbo::{QboSim, simple_sale};
use qbo_ordoro::store::StoredToken;
use qbo_ordoro::transport::ReqwestTransport;
use qbo_ordoro::{
    Clock, ErrorKind, HttpTransport, OrdoroApi, SharedTransport, TokenStore, TokioClock,
    TransportErrorKind,
};
use qbo_ordoro::{OrdoroClient, OrdoroConfig};
use qbo_ordoro::{QboApi, QboClient, QboConfig, QboEnvironment};
use secrecy::ExposeSecret;

use crate::support::http::{closed_port, serve, silent_server};
use qbo_ordoro::sim::loopback::LoopbackServer;

const KEY_ID: &str = "loopback-id";
const KEY_SECRET: &str = "loopback-secret-5e1";

struct Served {
    sim: Arc<OrdoroSim>,
    client: OrdoroClient,
    base: String,
    _server: LoopbackServer,
}

async fn serve_ordoro() -> Served {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let config = OrdoroSimConfig {
        latency: SimLatency::zero(),
        timeout_after: Duration::from_millis(10),
        credentials: Some(SimCredentials {
            key_id: KEY_ID.into(),
            key_secret: KEY_SECRET.to_owned().into(),
        }),
        ..OrdoroSimConfig::default()
    };
    let sim = Arc::new(OrdoroSim::with_config(clock.clone(), config));
    sim.add_sales_channel(31);
    let (addr, server) = serve(SharedTransport::from_arc(sim.clone())).await;
    let base = format!("http://{addr}");
    let config = OrdoroConfig::new(KEY_ID, KEY_SECRET.to_owned())
        .with_base_url(&base)
        .allowing_insecure_loopback();
    let transport = SharedTransport::new(ReqwestTransport::new().unwrap());
    let client = OrdoroClient::new(config, transport, clock).unwrap();
    Served { sim, client, base, _server: server }
}

fn order(order_id: &str) -> NewOrder {
    let address = OrdoroAddress {
        name: Some("Ada Lovelace".into()),
        street1: Some("1 Analytical Way".into()),
        city: Some("London".into()),
        zip: Some("N1 9GU".into()),
        country: Some("GB".into()),
        ..OrdoroAddress::default()
    };
    NewOrder {
        order_id: order_id.into(),
        cart: Some(31),
        cart_order_id: Some(order_id.into()),
        grand_total: Some("19.99".parse().unwrap()),
        billing_address: address.clone(),
        shipping_address: address,
        lines: vec![NewOrderLine {
            quantity: 1,
            item_price: Some("19.99".parse().unwrap()),
            product: LineProduct { sku: "ENG-1".into(), name: "Engine".into(), price: None },
            ..NewOrderLine::default()
        }],
        ..NewOrder::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordoro_order_is_created_found_and_cancelled_over_loopback() {
    let served = serve_ordoro().await;
    let created = served.client.create_order(&order("QBO INV/88")).await.unwrap();
    assert_eq!(created.order_number, "1-QBO INV/88");
    assert_eq!(created.financial.unwrap().grand_total, Some("19.99".parse().unwrap()));

    let fetched = served.client.get_order("1-QBO INV/88").await.unwrap().unwrap();
    assert_eq!(fetched.lines[0].sku.as_deref(), Some("ENG-1"));
    let found = served.client.find_by_order_id("QBO INV/88", Some(31)).await.unwrap();
    assert_eq!(found.map(|o| o.order_number), Some("1-QBO INV/88".to_owned()));
    assert_eq!(served.client.get_order("1-missing").await.unwrap(), None);
    let cancelled = served.client.cancel_order("1-QBO INV/88").await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(served.sim.orders().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_headers_and_bodies_pass_through_unchanged() {
    let served = serve_ordoro().await;
    let transport = ReqwestTransport::new().unwrap();
    let request =
        http::Request::get(format!("{}/v3/order/M-none", served.base)).body(Bytes::new()).unwrap();
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status(), 401, "no credentials: a response, not an error");
    assert!(response.headers()["x-ordoro-request-id"].to_str().unwrap().starts_with("sim-ordoro-"));
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["error_message"], "Invalid API key credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_after_the_create_is_outcome_unknown_and_the_lookup_finds_it() {
    let served = serve_ordoro().await;
    served.sim.script_faults([Fault::LostResponse]);
    let err = served.client.create_order(&order("LOST-1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    let found = served.client.find_by_order_id("LOST-1", Some(31)).await.unwrap();
    assert_eq!(found.map(|o| o.order_number), Some("1-LOST-1".to_owned()));
    assert_eq!(served.sim.count_by_order_id("LOST-1"), 1);

    served.sim.script_faults([Fault::LostResponse]);
    let raw = ReqwestTransport::new().unwrap();
    let request =
        http::Request::get(format!("{}/v3/order", served.base)).body(Bytes::new()).unwrap();
    let dropped = raw.send(request).await.unwrap_err();
    assert_eq!(dropped.kind(), TransportErrorKind::Io, "{dropped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error() {
    let addr = closed_port().await;
    let transport = ReqwestTransport::new().unwrap();
    let request = http::Request::get(format!("http://{addr}/v3/order")).body(Bytes::new()).unwrap();
    let err = transport.send(request).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect);
    assert!(err.request_not_sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_timeout() {
    let (addr, server) = silent_server().await;
    let transport =
        ReqwestTransport::with_timeouts(Duration::from_millis(300), Duration::from_secs(5))
            .unwrap();
    let request = http::Request::post(format!("http://{addr}/v3/order"))
        .body(Bytes::from_static(b"{}"))
        .unwrap();
    let err = transport.send(request).await.unwrap_err();
    server.abort();
    assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err}");
    assert!(!err.request_not_sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_answers_not_followed() {
    let redirecting = Arc::new(Redirect);
    let (addr, server) = serve(SharedTransport::from_arc(redirecting)).await;
    let transport = ReqwestTransport::new().unwrap();
    let request = http::Request::get(format!("http://{addr}/v3/order")).body(Bytes::new()).unwrap();
    let response = transport.send(request).await.unwrap();
    server.stop();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "https://elsewhere.example/steal");
}

/// Answers every request with a redirect to another host.
#[derive(Debug)]
struct Redirect;

#[async_trait::async_trait]
impl HttpTransport for Redirect {
    async fn send(
        &self,
        _request: qbo_ordoro::HttpRequest,
    ) -> Result<qbo_ordoro::HttpResponse, qbo_ordoro::TransportError> {
        Ok(http::Response::builder()
            .status(302)
            .header("location", "https://elsewhere.example/steal")
            .body(Bytes::new())
            .unwrap())
    }
}

/// Keeps one company's OAuth token in memory.
#[derive(Debug)]
struct OneToken(std::sync::Mutex<Option<StoredToken>>);

#[async_trait::async_trait]
impl TokenStore for OneToken {
    async fn load_token(&self, _realm: &str) -> qbo_ordoro::Result<Option<StoredToken>> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn save_token(&self, _realm: &str, token: &StoredToken) -> qbo_ordoro::Result<()> {
        *self.0.lock().unwrap() = Some(token.clone());
        Ok(())
    }

    async fn forget_token(&self, _realm: &str) -> qbo_ordoro::Result<bool> {
        Ok(self.0.lock().unwrap().take().is_some())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qbo_token_refresh_and_reads_round_trip_over_loopback() {
    const REALM: &str = "9130350000000001";
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let sim = Arc::new(QboSim::new(clock.clone()));
    let connected = sim.connect(REALM);
    sim.add_class(REALM, "Ordoro", true, None);
    let sale =
        simple_sale(EntityKind::Invoice, "1001", Some(("1", "Ordoro")), "19.99".parse().unwrap());
    let stored = sim.insert(REALM, sale);
    let (addr, server) = serve(SharedTransport::from_arc(sim.clone())).await;

    // No access token yet: the first call refreshes through the token endpoint on loopback.
    let tokens = Arc::new(OneToken(std::sync::Mutex::new(Some(StoredToken::new(
        connected.refresh_token.clone(),
    )))));
    let environment = QboEnvironment::Custom {
        api_base: format!("http://{addr}"),
        token_url: format!("http://{addr}/oauth2/v1/tokens/bearer"),
    };
    let mut config =
        QboConfig::new(REALM, environment, "sim-client-id", "sim-client-secret".into());
    config.allow_insecure_loopback = true;
    let transport = SharedTransport::new(ReqwestTransport::new().unwrap());
    let client = QboClient::new(config, transport, clock, tokens.clone()).unwrap();

    let fetched = client.get_transaction(EntityKind::Invoice, &stored.id).await.unwrap().unwrap();
    assert_eq!(fetched.doc_number.as_deref(), Some("1001"));
    assert_eq!(fetched.total_amt, Some("19.99".parse().unwrap()));
    let by_number = client.find_by_doc_number(EntityKind::Invoice, "1001").await.unwrap();
    assert_eq!(by_number.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [stored.id.as_str()]);
    let classes = client.find_classes("Ordoro").await.unwrap();
    assert_eq!(classes.len(), 1);
    assert!(client.get_transaction(EntityKind::Invoice, "999999").await.unwrap().is_none());
    server.stop();

    let saved = tokens.0.lock().unwrap().clone().unwrap();
    assert!(saved.access_token.is_some(), "the refreshed token was saved");
    assert_ne!(
        saved.refresh_token.expose_secret(),
        connected.refresh_token.expose_secret(),
        "the refresh rotated the token"
    );
    assert!(sim.is_refresh_token_valid(saved.refresh_token.expose_secret()));
}
