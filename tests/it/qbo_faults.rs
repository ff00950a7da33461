//! QBO faults in every shape (camelCase and PascalCase JSON, zero-padded codes, a fault inside an
//! HTTP 200, the XML throttle on 403 and 429, HTML error pages) become the right `Error` kinds,
//! with the `intuit_tid` request id, through the client. (The fault reader's own tests are unit
//! tests in `src/qbo/http/fault.rs`, over the same fixtures.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::Utc;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::qbo::api::UpdatedQuery;
use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{
    Clock, ErrorKind, HttpRequest, HttpResponse, HttpTransport, Service, SharedTransport,
    TokioClock, TransportError, TransportErrorKind,
};
use qbo_ordoro::{QboApi, QboClient};
use secrecy::SecretString;

use crate::support::fakes::MemTokens;
use crate::support::sim::client::{REALM, config, start};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/qbo/faults/{name}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/..")
    ))
    .unwrap()
}

fn response(status: u16, body: Vec<u8>) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("intuit_tid", "1-65f0c0de-7a1b2c3d4e5f")
        .body(Bytes::from(body))
        .unwrap()
}

type Script = VecDeque<Result<HttpResponse, TransportError>>;

/// Answers API calls from a script, and the token endpoint with a fresh pair each time.
#[derive(Debug)]
struct Scripted {
    clock: Arc<dyn Clock>,
    api: Mutex<Script>,
    api_calls: Mutex<Vec<chrono::DateTime<Utc>>>,
    refreshes: Mutex<u32>,
}

impl Scripted {
    fn new(clock: Arc<dyn Clock>, api: Vec<Result<HttpResponse, TransportError>>) -> Arc<Self> {
        Arc::new(Scripted {
            clock,
            api: Mutex::new(api.into()),
            api_calls: Mutex::new(Vec::new()),
            refreshes: Mutex::new(0),
        })
    }
}

#[async_trait::async_trait]
impl HttpTransport for Scripted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.uri().path().ends_with("/tokens/bearer") {
            let mut n = self.refreshes.lock().unwrap();
            *n += 1;
            let body = format!(
                r#"{{"access_token":"at-{n}","refresh_token":"rt-{n}","expires_in":3600,"token_type":"bearer"}}"#
            );
            return Ok(response(200, body.into_bytes()));
        }
        self.api_calls.lock().unwrap().push(self.clock.now());
        self.api
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(response(200, br#"{"QueryResponse":{}}"#.to_vec())))
    }
}

fn scripted_client(
    script: Vec<Result<HttpResponse, TransportError>>,
) -> (QboClient, Arc<Scripted>, Arc<dyn Clock>) {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start()));
    let transport = Scripted::new(clock.clone(), script);
    let token = StoredToken {
        access_token: Some(SecretString::from("at-0")),
        access_expires_at: Some(start() + chrono::Duration::hours(1)),
        ..StoredToken::new(SecretString::from("rt-0"))
    };
    let store = MemTokens::with(REALM, token);
    let client = QboClient::new(
        config("sim-client-secret"),
        SharedTransport::from_arc(transport.clone()),
        clock.clone(),
        store,
    )
    .unwrap();
    (client, transport, clock)
}

fn updated_query() -> UpdatedQuery {
    UpdatedQuery {
        entity: EntityKind::Invoice,
        from: start() - chrono::Duration::days(1),
        to: start(),
        start_position: 1,
        max_results: 100,
    }
}

#[tokio::test(start_paused = true)]
async fn a_fault_inside_an_http_200_is_an_error() {
    let (client, _, _) =
        scripted_client(vec![Ok(response(200, fixture("200_validation_4001.json")))]);
    let err = client.query_updated(&updated_query()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert_eq!(err.code(), Some("4001"));
}

#[tokio::test(start_paused = true)]
async fn a_401_refreshes_once_and_retries_once() {
    let (client, transport, _) = scripted_client(vec![
        Ok(response(401, fixture("401_camelcase_3200.json"))),
        Ok(response(401, fixture("401_zero_padded_003200.json"))),
        Ok(response(200, br#"{"QueryResponse":{}}"#.to_vec())),
    ]);
    let err = client.query_updated(&updated_query()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication);
    assert_eq!(err.code(), Some("3200"));
    assert_eq!(*transport.refreshes.lock().unwrap(), 1, "exactly one refresh");
    assert_eq!(transport.api_calls.lock().unwrap().len(), 2, "exactly one retry");
}

#[tokio::test(start_paused = true)]
async fn the_403_xml_throttle_waits_60_seconds_then_succeeds() {
    let (client, transport, _) =
        scripted_client(vec![Ok(response(403, fixture("403_throttle.xml")))]);
    let page = client.query_updated(&updated_query()).await.unwrap();
    assert!(page.transactions.is_empty());
    let calls = transport.api_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1] - calls[0], chrono::Duration::seconds(60));
}

#[tokio::test(start_paused = true)]
async fn html_5xx_pages_are_retried_then_reported_as_service_errors() {
    let script = (0..5).map(|_| Ok(response(502, fixture("502_bad_gateway.html")))).collect();
    let (client, transport, _) = scripted_client(script);
    let err = client.get_transaction(EntityKind::Invoice, "1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Service);
    assert_eq!(err.status(), Some(502));
    assert_eq!(
        transport.api_calls.lock().unwrap().len(),
        5,
        "RetryPolicy::qbo makes five attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_that_times_out_is_retried_and_then_a_transport_error() {
    let timeout = || Err(TransportError::new(TransportErrorKind::Timeout, "no answer"));
    let (client, transport, _) =
        scripted_client(vec![timeout(), Ok(response(404, b"<html/>".to_vec()))]);
    assert_eq!(client.get_transaction(EntityKind::Invoice, "1").await.unwrap(), None);
    assert_eq!(transport.api_calls.lock().unwrap().len(), 2);

    let (client, _, _) = scripted_client((0..5).map(|_| timeout()).collect());
    let err = client.get_transaction(EntityKind::Invoice, "1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.service(), Some(Service::Qbo));
}

#[test]
fn configuration_requires_https_except_on_allowed_loopback() {
    use qbo_ordoro::QboEnvironment;
    let custom = |api: &str, token: &str| QboEnvironment::Custom {
        api_base: api.to_string(),
        token_url: token.to_string(),
    };
    let mut cfg = config("secret");
    assert!(cfg.validate().is_ok());
    cfg.environment = custom("http://quickbooks.example", "https://token.example/t");
    assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config);
    cfg.environment = custom("http://127.0.0.1:8080", "http://localhost:8080/t");
    assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config, "not allowed by default");
    cfg.allow_insecure_loopback = true;
    assert!(cfg.validate().is_ok());
    cfg.environment = custom("http://[::1]:8080", "https://token.example/t");
    assert!(cfg.validate().is_ok());
    cfg.environment = custom("http://10.0.0.5:8080", "https://token.example/t");
    assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config, "not a loopback host");
    let mut cfg = config("secret");
    cfg.realm_id = "12/../34".into();
    assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config);
    let cfg = config("");
    assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config);
}
