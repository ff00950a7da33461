//! Connecting a company (`qbo::connect`) against the simulated QBO: the consent URL, the
//! callback and its `state`, the code exchange, the refresh token's expiries and grant kept
//! through rotations, revoke, which token a run uses, transport failures that name their cause,
//! and no secret in Debug output, logs or errors.

use std::sync::Arc;
use std::time::Duration;

use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::qbo::connect::{
    Callback, OAuthApp, SCOPE, TokenChoice, choose_refresh_token, parse_callback,
};
use qbo_ordoro::sim::loopback::LoopbackServer;
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, simple_sale};
use qbo_ordoro::store::{StoredToken, token_fingerprint};
use qbo_ordoro::{
    Clock, ErrorKind, MemoryStore, QboApi, QboClient, QboConfig, QboEnvironment, ReqwestTransport,
    SharedTransport, SqliteStore, TokenStore, TokioClock,
};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

use crate::support::capture_logs;
use crate::support::sim::client::{REALM, start};

const SECRET: &str = "cs-connect-77aa66bb55cc";
const REDIRECT: &str = "http://localhost:8765/callback";

fn sim(clock: Arc<dyn Clock>) -> Arc<QboSim> {
    let sim = Arc::new(QboSim::with_config(
        clock,
        QboSimConfig { client_secret: SECRET.into(), ..QboSimConfig::default() },
    ));
    sim.consent_as(REALM);
    sim
}

fn app() -> OAuthApp {
    OAuthApp::new("sim-client-id", SECRET.to_string().into(), REDIRECT).unwrap()
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock::starting_at(start()))
}

fn query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

#[test]
fn the_consent_url_names_the_app_the_scope_the_redirect_and_a_random_state() {
    let app = app();
    let a = app.consent().unwrap();
    let b = app.consent().unwrap();
    assert!(a.url.starts_with("https://appcenter.intuit.com/connect/oauth2?"), "{}", a.url);
    let params = query(&a.url);
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("client_id"), Some("sim-client-id"));
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("scope"), Some(SCOPE));
    assert_eq!(get("redirect_uri"), Some(REDIRECT));
    assert_eq!(get("state"), Some(a.state.as_str()));
    assert_eq!(a.state.len(), 32);
    assert!(a.state.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.state, b.state, "each consent gets its own state");
}

#[test]
fn a_redirect_uri_must_be_https_or_localhost() {
    for bad in ["http://example.com/callback", "ftp://localhost/cb", "not a url"] {
        let err = OAuthApp::new("id", "secret".to_string().into(), bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
    }
    for good in ["https://connector.example.com/qbo/callback", "http://127.0.0.1:9/cb"] {
        OAuthApp::new("id", "secret".to_string().into(), good).unwrap();
    }
}

#[test]
fn the_callback_is_read_and_its_state_checked() {
    let ok = parse_callback(
        "http://localhost:8765/callback?code=AB11-code&state=s1&realmId=9130350000000001",
        "s1",
    )
    .unwrap();
    assert_eq!(ok.realm_id, "9130350000000001");
    assert_eq!(ok.code.expose_secret(), "AB11-code");
    // The query string alone does too.
    parse_callback("code=c&state=s1&realmId=1", "s1").unwrap();

    let forged = parse_callback("/callback?code=AB11-code&state=other&realmId=1", "s1");
    let err = forged.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert!(err.message().contains("state"), "{err}");
    assert!(!format!("{err:?} {err}").contains("AB11-code"), "the code leaked: {err:?}");

    let declined = parse_callback("/callback?error=access_denied&state=s1", "s1").unwrap_err();
    assert_eq!(declined.kind(), ErrorKind::Authentication);
    assert_eq!(declined.code(), Some("access_denied"));
    for missing in ["/callback?state=s1&realmId=1", "/callback?state=s1&code=c"] {
        assert_eq!(parse_callback(missing, "s1").unwrap_err().kind(), ErrorKind::BadInput);
    }
}

#[tokio::test(start_paused = true)]
async fn the_whole_flow_connects_a_company_whose_client_then_reads_it() {
    let clock = clock();
    let sim = sim(clock.clone());
    sim.insert(REALM, simple_sale(EntityKind::Invoice, "1", None, Decimal::ONE));
    let transport = SharedTransport::from_arc(sim.clone());
    let app = app();

    let consent = app.consent().unwrap();
    let redirected = sim.consent(&consent.url).unwrap();
    assert!(redirected.starts_with(REDIRECT), "{redirected}");
    let callback = parse_callback(&redirected, &consent.state).unwrap();
    let connection = app.exchange(&transport, clock.as_ref(), &callback).await.unwrap();
    assert_eq!(connection.realm_id, REALM);
    let token = &connection.token;
    assert!(token.access_token.is_some());
    assert_eq!(token.grant_fingerprint, Some(token_fingerprint(&token.refresh_token)));
    let hard = start() + chrono::Duration::days(5 * 365);
    assert_eq!(token.refresh_hard_expires_at, Some(hard));
    assert_eq!(token.refresh_expires_at, Some(start() + chrono::Duration::seconds(8_726_400)));
    assert_eq!(token.reconnect_by(), token.refresh_expires_at);

    // Saved where the client looks, the company reads; a refresh keeps the grant and the
    // hard expiry, and moves the rolling one.
    let store = Arc::new(MemoryStore::new());
    store.save_token(&connection.realm_id, token).await.unwrap();
    let config = QboConfig::new(REALM, QboEnvironment::Production, "sim-client-id", SECRET.into());
    let client = QboClient::new(config, transport.clone(), clock.clone(), store.clone()).unwrap();
    assert!(client.get_transaction(EntityKind::Invoice, "1").await.unwrap().is_some());
    tokio::time::advance(Duration::from_secs(2 * 3600)).await;
    assert!(client.get_transaction(EntityKind::Invoice, "1").await.unwrap().is_some());
    let rotated = store.load_token(REALM).await.unwrap().unwrap();
    assert_ne!(rotated.refresh_token.expose_secret(), token.refresh_token.expose_secret());
    assert_eq!(rotated.grant_fingerprint, token.grant_fingerprint, "the grant is kept");
    assert_eq!(rotated.refresh_hard_expires_at, Some(hard));
    assert!(rotated.refresh_expires_at > token.refresh_expires_at);

    // Disconnected: the company's tokens stop working.
    app.revoke(&transport, &rotated.refresh_token).await.unwrap();
    assert!(!sim.is_refresh_token_valid(rotated.refresh_token.expose_secret()));
    sim.expire_access_tokens(REALM);
    let err = client.get_transaction(EntityKind::Invoice, "1").await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_grant"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_code_is_good_once_with_the_redirect_uri_of_its_consent() {
    let clock = clock();
    let sim = sim(clock.clone());
    let transport = SharedTransport::from_arc(sim.clone());
    let app = app();
    let consent = app.consent().unwrap();
    let callback = parse_callback(&sim.consent(&consent.url).unwrap(), &consent.state).unwrap();
    app.exchange(&transport, clock.as_ref(), &callback).await.unwrap();
    let again = app.exchange(&transport, clock.as_ref(), &callback).await.unwrap_err();
    assert_eq!(again.code(), Some("invalid_grant"));
    assert!(again.message().contains("authorization code"), "{again}");

    let consent = app.consent().unwrap();
    let callback = parse_callback(&sim.consent(&consent.url).unwrap(), &consent.state).unwrap();
    let elsewhere =
        OAuthApp::new("sim-client-id", SECRET.to_string().into(), "https://x.test/cb").unwrap();
    let err = elsewhere.exchange(&transport, clock.as_ref(), &callback).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_grant"));
}

#[tokio::test(start_paused = true)]
async fn no_secret_of_the_flow_reaches_debug_output_logs_or_errors() {
    let (logs, _guard) = capture_logs();
    let clock = clock();
    let sim = sim(clock.clone());
    let transport = SharedTransport::from_arc(sim.clone());
    let app = app();
    let consent = app.consent().unwrap();
    let redirected = sim.consent(&consent.url).unwrap();
    let callback = parse_callback(&redirected, &consent.state).unwrap();
    let code = callback.code.expose_secret().to_string();
    let mut outputs = vec![format!("{app:?}"), format!("{callback:?}")];

    // A wrong client secret, then the right one, then the spent code again.
    let wrong =
        OAuthApp::new("sim-client-id", "wrong-secret-31337".to_string().into(), REDIRECT).unwrap();
    let err = wrong.exchange(&transport, clock.as_ref(), &callback).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    outputs.push(format!("{err:?} / {err}"));
    let connection = app.exchange(&transport, clock.as_ref(), &callback).await.unwrap();
    outputs.push(format!("{connection:?}"));
    let err = app.exchange(&transport, clock.as_ref(), &callback).await.unwrap_err();
    outputs.push(format!("{err:?} / {err}"));
    let refused = Callback { realm_id: REALM.into(), code: callback.code.clone() };
    let closed = OAuthApp::new("sim-client-id", SECRET.to_string().into(), REDIRECT)
        .unwrap()
        .with_environment(&QboEnvironment::Custom {
            api_base: "http://127.0.0.1:9".into(),
            token_url: "http://127.0.0.1:9/oauth2/v1/tokens/bearer".into(),
        });
    let http = SharedTransport::new(ReqwestTransport::new().unwrap());
    let err = closed.exchange(&http, clock.as_ref(), &refused).await.unwrap_err();
    outputs.push(format!("{err:?} / {err}"));
    app.revoke(&transport, &connection.token.refresh_token).await.unwrap();
    outputs.push(logs.text());

    let token = &connection.token;
    let secrets = [
        SECRET.to_string(),
        "wrong-secret-31337".to_string(),
        code,
        token.refresh_token.expose_secret().to_string(),
        token.access_token.as_ref().unwrap().expose_secret().to_string(),
    ];
    for output in &outputs {
        for secret in &secrets {
            assert!(!output.contains(secret.as_str()), "a secret leaked into: {output}");
        }
    }
    assert!(outputs[0].contains("[redacted]") && outputs[1].contains("[redacted]"));
}

/// A request that never connected is a transport error that names the host and the cause, for
/// the token refresh and for the API alike, never a rotated token.
#[tokio::test]
async fn a_connection_refused_names_the_host_and_the_cause() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let environment = QboEnvironment::Custom {
        api_base: base.clone(),
        token_url: format!("{base}/oauth2/v1/tokens/bearer"),
    };
    let mut config = QboConfig::new(REALM, environment, "id", "secret".into());
    config.allow_insecure_loopback = true;
    let store = Arc::new(MemoryStore::new());
    let token = StoredToken::new("rt-refused".to_string().into());
    store.save_token(REALM, &token).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let http = SharedTransport::new(ReqwestTransport::new().unwrap());
    let client = QboClient::new(config, http, clock, store.clone()).unwrap().with_retry_policy(
        qbo_ordoro::transport::pacing::RetryPolicy { max_attempts: 1, ..Default::default() },
    );
    let refresh = client.get_transaction(EntityKind::Invoice, "1").await.unwrap_err();
    assert_eq!(refresh.kind(), ErrorKind::Transport, "{refresh}");
    let said = refresh.to_string();
    assert!(said.contains("127.0.0.1"), "{said}");
    assert!(said.contains("could not connect"), "{said}");
    assert!(said.to_lowercase().contains("refused"), "the cause is named: {said}");
    assert!(!said.contains("rotated"), "{said}");

    // With a valid access token the API call itself fails to connect, naming the host.
    let fresh = StoredToken {
        access_token: Some("at".to_string().into()),
        access_expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..token
    };
    store.save_token(REALM, &fresh).await.unwrap();
    let err = client.get_transaction(EntityKind::Invoice, "1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.to_string().contains("QuickBooks at 127.0.0.1"), "{err}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}

/// The consent flow over real sockets: the simulated QBO on loopback, its authorize endpoint
/// answering the browser with a redirect.
#[tokio::test]
async fn the_simulated_authorize_endpoint_redirects_a_browser() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let sim = sim(clock.clone());
    let server = LoopbackServer::start(SharedTransport::from_arc(sim.clone())).await.unwrap();
    let environment = QboEnvironment::Custom {
        api_base: server.url(),
        token_url: format!("{}/oauth2/v1/tokens/bearer", server.url()),
    };
    let app = app().with_environment(&environment);
    let consent = app.consent().unwrap();
    assert!(consent.url.starts_with(&format!("{}/connect/oauth2?", server.url())));
    let http = SharedTransport::new(ReqwestTransport::new().unwrap());
    let request = http::Request::get(&consent.url).body(bytes::Bytes::new()).unwrap();
    let answer = http.send(request).await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()[http::header::LOCATION].to_str().unwrap().to_string();
    let callback = parse_callback(&location, &consent.state).unwrap();
    let connection = app.exchange(&http, clock.as_ref(), &callback).await.unwrap();
    assert_eq!(connection.realm_id, REALM);
    server.stop();
}

#[tokio::test]
async fn a_configured_token_replaces_the_stored_one_unless_it_was_rotated_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("state.sqlite3")).unwrap();
    let memory = MemoryStore::new();
    for store in [&sqlite as &dyn TokenStore, &memory] {
        let first: SecretString = "rt-first".to_string().into();
        let refreshed = |refresh: &str, from: &SecretString| StoredToken {
            grant_fingerprint: Some(token_fingerprint(from)),
            ..StoredToken::new(refresh.to_string().into())
        };
        let stored = || async { store.load_token(REALM).await.unwrap().unwrap() };

        let none = choose_refresh_token(store, REALM, None).await.unwrap_err();
        assert_eq!(none.kind(), ErrorKind::Authentication);
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&first)).await.unwrap(),
            TokenChoice::ConfiguredSaved
        );
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&first)).await.unwrap(),
            TokenChoice::Same
        );
        // QBO rotated it: the store's is the live one, the configured one is spent.
        store.save_token(REALM, &refreshed("rt-rotated", &first)).await.unwrap();
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&first)).await.unwrap(),
            TokenChoice::Rotated
        );
        assert_eq!(stored().await.refresh_token.expose_secret(), "rt-rotated");
        assert_eq!(choose_refresh_token(store, REALM, None).await.unwrap(), TokenChoice::Stored);
        // A token of a new consent replaces it, and becomes the new grant.
        let new: SecretString = "rt-new-consent".to_string().into();
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&new)).await.unwrap(),
            TokenChoice::Replaced
        );
        assert_eq!(stored().await.refresh_token.expose_secret(), "rt-new-consent");
        assert_eq!(stored().await.grant_fingerprint, Some(token_fingerprint(&new)));
        // A token saved by an older version (no fingerprint) is kept, its origin recorded.
        store
            .save_token(
                REALM,
                &StoredToken { grant_fingerprint: None, ..refreshed("rt-old", &new) },
            )
            .await
            .unwrap();
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&first)).await.unwrap(),
            TokenChoice::Adopted
        );
        assert_eq!(stored().await.grant_fingerprint, Some(token_fingerprint(&first)));
        assert_eq!(
            choose_refresh_token(store, REALM, Some(&first)).await.unwrap(),
            TokenChoice::Rotated
        );
        for choice in [TokenChoice::Replaced, TokenChoice::Rotated, TokenChoice::Adopted] {
            let said = choice.describe("QBO_REFRESH_TOKEN");
            assert!(!said.contains("rt-"), "{said}");
        }
    }
}
