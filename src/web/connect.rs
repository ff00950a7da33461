//! The routes machines call or that lead out to Intuit: the consent flow (`/connect`,
//! `/reconnect`, `/oauth/callback`, a company's `/disconnect`), the webhook route, the health
//! check and the metrics.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tracing::{debug, info, warn};

use super::Shared;
use super::pages::{PageError, back_to_overview, notice};
use super::session::{CONSENT_COOKIE, Session, consent_cookie, cookie};
use crate::fleet::Coordinator;
use crate::qbo::connect::parse_callback;
use crate::webhook;

/// `GET /connect` and `GET /reconnect`: to Intuit's consent page, with a fresh `state` kept in
/// the session.
pub async fn start(State(shared): State<Arc<Shared>>) -> Result<Response, PageError> {
    let oauth = shared.oauth.as_ref().ok_or_else(|| {
        PageError::not_found(
            "connecting QuickBooks is not set up here: the host gives the connector its Intuit \
             app (client id, secret, redirect URI)",
        )
    })?;
    let consent = oauth.app.consent().map_err(PageError::from)?;
    shared.consents.issue(&consent.state);
    let mut response = Redirect::to(&consent.url).into_response();
    let cookie = consent_cookie(Some(&consent.state), shared.secure_cookies);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `GET /oauth/callback`: checks the `state` (the one this browser's consent cookie carries, issued
/// by this connector and not used yet), trades the code for the company's tokens, saves them,
/// and (re)starts the company's scheduler. It answers with a page linking to the overview
/// rather than a redirect: the browser arrives from Intuit's site, so only a click on the
/// connector's own page brings its `SameSite=Strict` session cookie back.
pub async fn callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let forget = consent_cookie(None, shared.secure_cookies);
    let mut response = match connect(&shared, &headers, query.as_deref().unwrap_or("")).await {
        Ok(message) => notice("Connected", message),
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(header::SET_COOKIE, forget);
    response
}

/// The callback's work; the message for the person.
async fn connect(shared: &Shared, headers: &HeaderMap, query: &str) -> Result<String, PageError> {
    let oauth = shared
        .oauth
        .as_ref()
        .ok_or_else(|| PageError::not_found("connecting QuickBooks is not set up here"))?;
    let expected = cookie(headers, CONSENT_COOKIE).unwrap_or_default();
    // The state is good for one callback, in the browser that asked for the consent.
    if expected.is_empty() || !shared.consents.take(&expected) {
        return Err(PageError::bad_request(
            "this browser did not start this QuickBooks connection, or it was already used or \
             is older than 10 minutes: click Connect QuickBooks again",
        ));
    }
    let callback = parse_callback(query, &expected)?;
    let connection = oauth.app.exchange(&oauth.transport, shared.clock.as_ref(), &callback).await?;
    let realm = connection.realm_id.clone();
    shared.store.save_token(&realm, &connection.token).await?;
    // A reconnect rebuilds the company's clients, so they read the new token.
    shared.remove_company(&realm).await;
    shared.add_company(&realm).await?;
    info!(%realm, "QuickBooks company connected");
    let by = connection
        .token
        .reconnect_by()
        .map(|by| format!("; reconnect by {}", by.format("%Y-%m-%d")))
        .unwrap_or_default();
    Ok(format!("Connected QuickBooks company {realm}{by}"))
}

/// `POST /companies/{realm}/disconnect`: revokes the company's token at Intuit (when the OAuth
/// app is configured), forgets it, and stops the company's scheduler. Its ledger, log and
/// cursors stay, so a reconnect carries on where it left off.
pub async fn disconnect(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
) -> Result<Response, PageError> {
    super::pages::company(&shared, &realm)?;
    let token = shared.store.load_token(&realm).await?;
    let mut note = String::new();
    if let (Some(oauth), Some(token)) = (&shared.oauth, &token)
        && let Err(e) = oauth.app.revoke(&oauth.transport, &token.refresh_token).await
    {
        // Forgetting the token is what disconnects the company here; a failed revoke only
        // leaves a token Intuit expires on its own.
        warn!(%realm, error = %e, "revoking the token failed; forgetting it all the same");
        note = format!(" (Intuit did not confirm the revoke: {e})");
    }
    shared.remove_company(&realm).await;
    shared.store.forget_token(&realm).await?;
    info!(%realm, "QuickBooks company disconnected");
    Ok(back_to_overview(&shared, &session, format!("Disconnected company {realm}{note}"), false))
}

/// `POST /webhooks/qbo`: verifies the delivery and answers at once; the runs happen on the
/// schedulers' tasks, or, with a webhook queue, on whichever fleet worker claims the company.
pub async fn webhook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = &shared.verifier else {
        return (StatusCode::NOT_FOUND, "webhooks are not set up here: no verifier token")
            .into_response();
    };
    let signature = headers.get(webhook::SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    match webhook::receive(signature, &body, token) {
        Ok(events) => {
            shared.metrics.record_delivery(None);
            if let Some(queue) = &shared.queue {
                return enqueue(queue.as_ref(), &events).await;
            }
            let companies: Vec<_> = shared.companies().values().cloned().collect();
            for scheduler in companies {
                scheduler.notify(events.clone());
            }
            StatusCode::OK.into_response()
        }
        Err(e) => {
            shared.metrics.record_delivery(Some(e.code));
            warn!(code = %e.code, "webhook delivery refused");
            let status = match e.code {
                webhook::WebhookErrorCode::MalformedPayload => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            (status, e.code.as_str()).into_response()
        }
    }
}

/// A verified delivery's events into the fleet's queue: 200 once written; 503 when the queue
/// cannot be written, so that QBO delivers them again (a delivery answered 200 is never sent
/// again, and its events would be lost until the next catch-up).
async fn enqueue(queue: &dyn Coordinator, events: &[webhook::ChangeEvent]) -> Response {
    match queue.enqueue_events(events).await {
        Ok(queued) => {
            debug!(events = events.len(), queued, "webhook events queued for the fleet");
            StatusCode::OK.into_response()
        }
        Err(e) => {
            warn!(error = %e, events = events.len(), "could not queue webhook events; QBO will deliver them again");
            (StatusCode::SERVICE_UNAVAILABLE, "the webhook queue cannot be written now; try again")
                .into_response()
        }
    }
}

/// `GET /healthz`: the process answers.
pub async fn health() -> &'static str {
    "ok"
}

/// `GET /metrics`: the counters in the Prometheus text format.
pub async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], shared.metrics.render()).into_response()
}
