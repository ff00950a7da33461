//! Ordoro's answers turned into [`Error`]s: the status decides the kind, the error body
//! (`{"error_message", "param"|"params"}`) gives the message and code, and the
//! `X-Ordoro-Request-Id` header is kept for support. Bodies that are not JSON (a proxy's HTML
//! page) become typed errors too; their text is never copied into the message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};

use crate::model::ordoro::OrdoroErrorBody;
use crate::{Error, ErrorKind, Service, TransportError, TransportErrorKind};

/// The response header that carries Ordoro's request id.
pub const REQUEST_ID_HEADER: &str = "x-ordoro-request-id";

/// The request id Ordoro put on a response, if any.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Maps a non-2xx answer to an [`Error`]. `now` anchors a `Retry-After` given as an HTTP date.
pub(crate) fn from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let kind = kind_for_status(status);
    let (message, code) = describe_body(status, headers, body);
    let mut error =
        Error::new(kind, message).with_service(Service::Ordoro).with_status(status.as_u16());
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(id) = request_id(headers) {
        error = error.with_request_id(id);
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(wait) = retry_after(headers, now)
    {
        error = error.with_retry_after(wait);
    }
    error
}

fn kind_for_status(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 | 403 => ErrorKind::Authentication,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        400..=499 => ErrorKind::BadInput,
        _ => ErrorKind::Service,
    }
}

/// The message and code of an error body; a generic message when the body is not Ordoro's.
fn describe_body(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> (String, Option<String>) {
    match serde_json::from_slice::<OrdoroErrorBody>(body) {
        Ok(parsed) if !parsed.error_message.trim().is_empty() => {
            (parsed.error_message, parsed.param.filter(|p| !p.is_empty()))
        }
        _ => (opaque_body_message(status, headers, body), None),
    }
}

fn opaque_body_message(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    let reason = status.canonical_reason().unwrap_or("unknown status");
    if body.is_empty() {
        format!("Ordoro answered {reason} with an empty body")
    } else {
        format!(
            "Ordoro answered {reason} with a body that is not an Ordoro error ({content_type}, {} bytes)",
            body.len()
        )
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A 2xx answer whose body is not what the call expects.
pub(crate) fn undecodable_success(
    status: StatusCode,
    headers: &HeaderMap,
    what: &str,
    cause: serde_json::Error,
) -> Error {
    let mut error = Error::new(
        ErrorKind::Service,
        format!("Ordoro answered {status} but the body is not {what}: {cause}"),
    )
    .with_service(Service::Ordoro)
    .with_status(status.as_u16());
    if let Some(id) = request_id(headers) {
        error = error.with_request_id(id);
    }
    error
}

/// No response arrived.
pub(crate) fn from_transport(operation: &str, url: &str, e: TransportError) -> Error {
    let message = format!("no answer to {operation}: {}", e.describe("Ordoro", url));
    let kind = if e.is_withheld() { ErrorKind::LeaseLost } else { ErrorKind::Transport };
    Error::new(kind, message).with_service(Service::Ordoro).with_source(e)
}

/// Turns an error of a write that must not be repeated blindly (a create, an added line) into
/// [`ErrorKind::OutcomeUnknown`] when the write may have happened: the request may have reached
/// Ordoro (not a connect failure) and Ordoro did not answer with a definite refusal (a 4xx).
/// `effect` names the write for the message ("the order was created").
pub(crate) fn settle_unrepeatable(
    error: Error,
    transport_kind: Option<TransportErrorKind>,
    effect: &str,
) -> Error {
    let may_have_happened = match transport_kind {
        Some(kind) => !matches!(kind, TransportErrorKind::Connect | TransportErrorKind::Withheld),
        None => error.kind() == ErrorKind::Service,
    };
    if may_have_happened {
        let message = format!(
            "unclear whether {effect} ({}); look it up before trying again",
            error.message()
        );
        let kept = Error::new(ErrorKind::OutcomeUnknown, message);
        copy_context(&error, kept).with_source(error)
    } else {
        error
    }
}

fn copy_context(from: &Error, mut to: Error) -> Error {
    if let Some(service) = from.service() {
        to = to.with_service(service);
    }
    if let Some(status) = from.status() {
        to = to.with_status(status);
    }
    if let Some(code) = from.code() {
        to = to.with_code(code);
    }
    if let Some(id) = from.request_id() {
        to = to.with_request_id(id);
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    const CREATED: &str = "the order was created";

    fn now() -> DateTime<Utc> {
        "2026-03-02T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (400, ErrorKind::BadInput),
            (422, ErrorKind::BadInput),
            (401, ErrorKind::Authentication),
            (403, ErrorKind::Authentication),
            (404, ErrorKind::NotFound),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Service),
            (503, ErrorKind::Service),
        ];
        for (status, kind) in cases {
            let e =
                from_response(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), b"", now());
            assert_eq!(e.kind(), kind, "{status}");
            assert_eq!(e.service(), Some(Service::Ordoro));
            assert_eq!(e.status(), Some(status));
        }
    }

    #[test]
    fn param_and_params_become_the_code() {
        let h = headers(&[("x-ordoro-request-id", "req-1")]);
        let a = br#"{"error_message": "bad zip", "param": "zip"}"#;
        let b = br#"{"error_message": "bad lines", "params": ["lines", 0]}"#;
        let ea = from_response(StatusCode::BAD_REQUEST, &h, a, now());
        let eb = from_response(StatusCode::BAD_REQUEST, &h, b, now());
        assert_eq!((ea.message(), ea.code()), ("bad zip", Some("zip")));
        assert_eq!((eb.message(), eb.code()), ("bad lines", Some(r#"["lines",0]"#)));
        assert_eq!(ea.request_id(), Some("req-1"));
    }

    #[test]
    fn html_page_gives_a_generic_message_without_its_text() {
        let h = headers(&[("content-type", "text/html")]);
        let body = b"<html><body>502 Bad Gateway nginx secret-internal-host</body></html>";
        let e = from_response(StatusCode::BAD_GATEWAY, &h, body, now());
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(e.message().contains("text/html"), "{}", e.message());
        assert!(!e.to_string().contains("secret-internal-host"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let secs = headers(&[("retry-after", "42")]);
        assert_eq!(retry_after(&secs, now()), Some(Duration::from_secs(42)));
        let date = headers(&[("retry-after", "Mon, 02 Mar 2026 12:00:30 GMT")]);
        assert_eq!(retry_after(&date, now()), Some(Duration::from_secs(30)));
        let past = headers(&[("retry-after", "Mon, 02 Mar 2026 11:00:00 GMT")]);
        assert_eq!(retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now()), None);
        let e = from_response(StatusCode::TOO_MANY_REQUESTS, &secs, b"{}", now());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(42)));
    }

    #[test]
    fn create_errors_settle_to_outcome_unknown_only_when_the_order_may_exist() {
        let service = from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"", now());
        assert_eq!(settle_unrepeatable(service, None, CREATED).kind(), ErrorKind::OutcomeUnknown);
        let refused = from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"", now());
        assert_eq!(settle_unrepeatable(refused, None, CREATED).kind(), ErrorKind::BadInput);
        let io = || TransportError::new(TransportErrorKind::Timeout, "timed out");
        let timeout = from_transport("create", "https://api.ordoro.com/v3/order", io());
        let settled = settle_unrepeatable(timeout, Some(TransportErrorKind::Timeout), CREATED);
        assert_eq!(settled.kind(), ErrorKind::OutcomeUnknown);
        let connect = TransportError::new(TransportErrorKind::Connect, "refused");
        let not_sent = settle_unrepeatable(
            from_transport("create", "https://api.ordoro.com/v3/order", connect),
            Some(TransportErrorKind::Connect),
            CREATED,
        );
        assert_eq!(not_sent.kind(), ErrorKind::Transport);
    }

    #[test]
    fn duplicate_order_is_recognised() {
        use crate::ordoro::api::is_duplicate_order;
        let body = br#"{"error_message": "Order 1-INV-1 already exists", "param": "order_id"}"#;
        let e = from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, now());
        assert!(is_duplicate_order(&e));
        let other = br#"{"error_message": "order_id must be a string", "param": "order_id"}"#;
        let e = from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), other, now());
        assert!(!is_duplicate_order(&e));
    }
}
