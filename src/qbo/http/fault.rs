//! QBO faults in every shape they arrive in (PascalCase or camelCase JSON, zero-padded codes, a
//! `Fault` inside an HTTP 200, the XML throttle body on 403 or 429, HTML error pages) turned into
//! [`Error`]s with the `intuit_tid` request id, and the response classification the pacing layer
//! uses to recognise QBO's throttle.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Service};
use crate::model::qbo::{Fault, FaultEnvelope, parse_xml_fault};
use crate::transport::{HttpResponse, ResponseClass};

/// How long QBO asks for quiet after a throttle.
pub const THROTTLE_WAIT: Duration = Duration::from_secs(60);

/// The response header holding QBO's transaction id, for support.
pub const REQUEST_ID_HEADER: &str = "intuit_tid";

/// The `intuit_tid` of a response, if it has one.
pub fn request_id(response: &HttpResponse) -> Option<String> {
    response.headers().get(REQUEST_ID_HEADER)?.to_str().ok().map(str::to_string)
}

/// What a QBO response means to the retry loop: 429, or 403 with the `3001` throttle fault, is a
/// throttle with QBO's 60 s wait; 500, 502, 503 and 504 are retryable; everything else is final.
pub fn classify(response: &HttpResponse) -> ResponseClass {
    let status = response.status().as_u16();
    match status {
        429 => ResponseClass::Throttled { wait: Some(THROTTLE_WAIT) },
        403 if fault_code(response) == Some(3001) => {
            ResponseClass::Throttled { wait: Some(THROTTLE_WAIT) }
        }
        500 | 502 | 503 | 504 => ResponseClass::Retryable,
        _ => ResponseClass::Done,
    }
}

fn fault_code(response: &HttpResponse) -> Option<u32> {
    parse_fault(response.body())?.error.first()?.code_number()
}

/// The fault a body carries: JSON (`Fault` or `fault`) or the XML throttle body.
pub fn parse_fault(body: &[u8]) -> Option<Fault> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return fault_of_json(&value);
    }
    parse_xml_fault(std::str::from_utf8(body).ok()?)
}

/// The fault inside a JSON document, if its top level has one.
pub fn fault_of_json(value: &Value) -> Option<Fault> {
    let object = value.as_object()?;
    let has_fault =
        object.get("Fault").or_else(|| object.get("fault")).is_some_and(|f| f.is_object());
    if !has_fault {
        return None;
    }
    serde_json::from_value::<FaultEnvelope>(value.clone()).ok().map(|e| e.fault)
}

/// Reads a successful QBO response straight into `T`, without building a JSON tree first: a
/// page of 1000 transactions is megabytes of JSON and its tree several times that, which set a
/// backfill's peak memory. Anything else (a status not 2xx, a `Fault` inside a 200, a body that
/// is not JSON or not a `T`) is read by [`read_response`], so the errors are the same.
pub fn read_typed<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, Error> {
    let status = response.status().as_u16();
    if (200..300).contains(&status)
        && fault_free(response.body())
        && let Ok(doc) = serde_json::from_slice::<T>(response.body())
    {
        return Ok(doc);
    }
    let value = read_response(response)?;
    Ok(serde_json::from_value(value)?)
}

/// True when `body` is a JSON object whose top level has no `Fault` or `fault` object (as
/// [`fault_of_json`] would find), read without keeping anything but the keys of such a fault.
/// False for anything else, including a body that is not JSON.
fn fault_free(body: &[u8]) -> bool {
    type Ignored = std::collections::BTreeMap<String, IgnoredAny>;
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Fault", default)]
        upper: Option<Ignored>,
        #[serde(rename = "fault", default)]
        lower: Option<Ignored>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.upper.is_none() && p.lower.is_none())
}

/// Reads a QBO response: the JSON document of a successful one, or the [`Error`] its status or
/// fault stands for (a `Fault` inside an HTTP 200 is an error too).
pub fn read_response(response: &HttpResponse) -> Result<Value, Error> {
    let status = response.status().as_u16();
    let json = serde_json::from_slice::<Value>(response.body()).ok();
    let fault = match &json {
        Some(v) => fault_of_json(v),
        None => std::str::from_utf8(response.body()).ok().and_then(parse_xml_fault),
    };
    if (200..300).contains(&status) && fault.is_none() {
        return json.ok_or_else(|| {
            decorate(
                Error::new(ErrorKind::Service, "QuickBooks answered with a body that is not JSON"),
                response,
            )
        });
    }
    Err(decorate(error_for(Some(status), fault.as_ref()), response))
}

fn decorate(error: Error, response: &HttpResponse) -> Error {
    let mut error = error.with_service(Service::Qbo).with_status(response.status().as_u16());
    if let Some(id) = request_id(response) {
        error = error.with_request_id(id);
    }
    error
}

/// The error a status and fault stand for (status `None` for a fault inside a batch item).
pub fn error_for(status: Option<u16>, fault: Option<&Fault>) -> Error {
    let first = fault.and_then(|f| f.error.first());
    let code = first.and_then(|e| e.code_number());
    let fault_type = fault.and_then(|f| f.fault_type.as_deref()).unwrap_or("").to_ascii_lowercase();
    let said = first.map(describe).unwrap_or_default();
    let status_num = status.unwrap_or(200);
    let (kind, message) = match (code, status_num) {
        (Some(3001), _) | (_, 429) => (
            ErrorKind::RateLimited,
            "QuickBooks throttled the request (over 500 requests a minute or 10 at once for this \
             company); wait 60 s and retry"
                .to_string(),
        ),
        (Some(3200), _) => (
            ErrorKind::Authentication,
            "QuickBooks refused the access token (expired or revoked)".to_string(),
        ),
        (Some(3100), _) => (
            ErrorKind::Authentication,
            "QuickBooks refused the app for this company (ApplicationAuthorizationFailed; sandbox \
             and production keys may be mixed up): ask the merchant to reconnect and authorise \
             QuickBooks"
                .to_string(),
        ),
        (Some(3201), _) => (
            ErrorKind::Authentication,
            "the connection is not authorised for this QuickBooks company: ask the merchant to \
             reconnect and authorise QuickBooks"
                .to_string(),
        ),
        (Some(120), _) => (
            ErrorKind::Authentication,
            "QuickBooks refused authorisation (the company's subscription may have lapsed): ask \
             the merchant to check the subscription and reconnect QuickBooks"
                .to_string(),
        ),
        (Some(6190), _) => (
            ErrorKind::Authentication,
            "the QuickBooks company's status is invalid (its subscription has ended): ask the \
             merchant to reactivate it and reconnect QuickBooks"
                .to_string(),
        ),
        (Some(610), _) => (ErrorKind::NotFound, format!("QuickBooks found no such object{said}")),
        (Some(4001), _) => {
            (ErrorKind::BadInput, format!("QuickBooks rejected the query as invalid{said}"))
        }
        (Some(4002), _) => (
            ErrorKind::BadInput,
            format!(
                "QuickBooks could not process the query (one bad record can fail a whole page; \
                 retry the window with a smaller page){said}"
            ),
        ),
        (Some(c), _) if c >= 10000 => {
            (ErrorKind::Service, format!("QuickBooks had a system fault{said}"))
        }
        _ if fault_type == "systemfault" || status_num >= 500 => {
            (ErrorKind::Service, format!("QuickBooks failed to answer (HTTP {status_num}){said}"))
        }
        _ if fault_type.starts_with("authentication") || status_num == 401 => (
            ErrorKind::Authentication,
            "QuickBooks refused the credentials (authentication failed)".to_string(),
        ),
        _ if fault_type.starts_with("authorization") || status_num == 403 => (
            ErrorKind::Authentication,
            format!(
                "QuickBooks refused access (not authorised): ask the merchant to reconnect and \
                 authorise QuickBooks{said}"
            ),
        ),
        _ if fault_type == "validationfault" => {
            (ErrorKind::BadInput, format!("QuickBooks rejected the request{said}"))
        }
        _ if status_num == 404 => {
            (ErrorKind::NotFound, format!("QuickBooks found no such resource{said}"))
        }
        _ if (400..500).contains(&status_num) => (
            ErrorKind::BadInput,
            format!("QuickBooks rejected the request (HTTP {status_num}){said}"),
        ),
        _ => (ErrorKind::Service, format!("QuickBooks answered with a fault{said}")),
    };
    let mut error = Error::new(kind, message).with_service(Service::Qbo);
    if let Some(s) = status {
        error = error.with_status(s);
    }
    if let Some(c) = code {
        error = error.with_code(c.to_string());
    }
    if kind == ErrorKind::RateLimited {
        error = error.with_retry_after(THROTTLE_WAIT);
    }
    error
}

/// `: {Message} ({Detail})`, without anything that may quote a token: QBO's 401 detail reads
/// `Token expired: AB0173...`.
fn describe(e: &crate::model::qbo::FaultError) -> String {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.to_ascii_lowercase().contains("token"))
            .map(|s| s.chars().take(300).collect::<String>())
    };
    match (clean(&e.message), clean(&e.detail)) {
        (Some(m), Some(d)) if m != d => format!(": {m} ({d})"),
        (Some(m), _) => format!(": {m}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::model::qbo::QueryEnvelope;

    /// A fault document of `tests/fixtures/qbo/faults`.
    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/qbo/faults/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    fn response(status: u16, body: Vec<u8>) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("intuit_tid", "1-65f0c0de-7a1b2c3d4e5f")
            .body(Bytes::from(body))
            .unwrap()
    }

    #[test]
    fn every_fault_shape_maps_to_its_kind() {
        let cases: &[(&str, u16, ErrorKind, Option<&str>)] = &[
            ("401_camelcase_3200.json", 401, ErrorKind::Authentication, Some("3200")),
            ("401_zero_padded_003200.json", 401, ErrorKind::Authentication, Some("3200")),
            ("401_subscription_120.json", 401, ErrorKind::Authentication, Some("120")),
            ("403_camelcase_3100.json", 403, ErrorKind::Authentication, Some("3100")),
            ("403_not_authorized_3201.json", 403, ErrorKind::Authentication, Some("3201")),
            ("403_throttle.xml", 403, ErrorKind::RateLimited, Some("3001")),
            ("429_throttle.xml", 429, ErrorKind::RateLimited, Some("3001")),
            ("200_validation_4001.json", 200, ErrorKind::BadInput, Some("4001")),
            ("400_object_not_found_610.json", 400, ErrorKind::NotFound, Some("610")),
            ("400_query_processing_4002.json", 400, ErrorKind::BadInput, Some("4002")),
            ("400_company_status_6190.json", 400, ErrorKind::Authentication, Some("6190")),
            ("500_system_fault_10000.json", 500, ErrorKind::Service, Some("10000")),
            ("502_bad_gateway.html", 502, ErrorKind::Service, None),
        ];
        for (name, status, kind, code) in cases {
            let err = read_response(&response(*status, fixture(name))).unwrap_err();
            assert_eq!(err.kind(), *kind, "{name}: {err}");
            assert_eq!(err.code(), *code, "{name}");
            assert_eq!(err.status(), Some(*status), "{name}");
            assert_eq!(err.service(), Some(Service::Qbo), "{name}");
            assert_eq!(err.request_id(), Some("1-65f0c0de-7a1b2c3d4e5f"), "{name}");
            assert!(!err.to_string().contains("SECRETPREFIX"), "{name}: a token fragment leaked");
            if *kind == ErrorKind::RateLimited {
                assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
            }
            if matches!(code, Some("3100" | "3201" | "120" | "6190")) {
                assert!(err.message().contains("reconnect"), "{name}: {err}");
            }
        }
    }

    #[test]
    fn reading_straight_into_a_type_gives_the_same_errors_as_reading_json() {
        let cases: &[(&str, u16)] = &[
            ("401_camelcase_3200.json", 401),
            ("403_throttle.xml", 403),
            ("200_validation_4001.json", 200),
            ("400_object_not_found_610.json", 400),
            ("502_bad_gateway.html", 502),
        ];
        for (name, status) in cases {
            let typed = read_typed::<QueryEnvelope>(&response(*status, fixture(name))).unwrap_err();
            let json = read_response(&response(*status, fixture(name))).unwrap_err();
            assert_eq!(typed.to_string(), json.to_string(), "{name}");
            assert_eq!((typed.kind(), typed.code()), (json.kind(), json.code()), "{name}");
            assert_eq!((typed.status(), typed.request_id()), (json.status(), json.request_id()));
        }
        let page = br#"{"QueryResponse":{"Invoice":[{"Id":"7","SyncToken":"0"}]},"Fault":null}"#;
        let ok = read_typed::<QueryEnvelope>(&response(200, page.to_vec())).unwrap();
        assert_eq!(
            ok.query_response.invoice.map(|rows| rows.len()),
            Some(1),
            "a null Fault is none"
        );
        let lower = br#"{"QueryResponse":{},"fault":{"error":[{"code":"4001","message":"no"}]}}"#;
        let err = read_typed::<QueryEnvelope>(&response(200, lower.to_vec())).unwrap_err();
        assert_eq!(err.code(), Some("4001"), "a camelCase fault inside a 200 is an error too");
        let err = read_typed::<QueryEnvelope>(&response(200, b"<html>oops</html>".to_vec()));
        assert_eq!(err.unwrap_err().kind(), ErrorKind::Service);
    }

    #[test]
    fn a_plain_404_and_an_html_401_are_typed_too() {
        let err = read_response(&response(404, b"<html>Not Found</html>".to_vec())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = read_response(&response(401, b"<html>Unauthorized</html>".to_vec())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Authentication);
        let ok = read_response(&response(200, br#"{"QueryResponse":{}}"#.to_vec())).unwrap();
        assert_eq!(ok["QueryResponse"], serde_json::json!({}));
        let err = read_response(&response(200, b"<html>oops</html>".to_vec())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Service);
    }

    #[test]
    fn the_xml_throttle_is_a_throttle_on_403_and_429() {
        assert_eq!(
            classify(&response(403, fixture("403_throttle.xml"))),
            ResponseClass::Throttled { wait: Some(Duration::from_secs(60)) }
        );
        assert_eq!(
            classify(&response(429, fixture("429_throttle.xml"))),
            ResponseClass::Throttled { wait: Some(Duration::from_secs(60)) }
        );
        assert_eq!(
            classify(&response(403, fixture("403_camelcase_3100.json"))),
            ResponseClass::Done
        );
        assert_eq!(
            classify(&response(502, fixture("502_bad_gateway.html"))),
            ResponseClass::Retryable
        );
        assert_eq!(
            classify(&response(200, fixture("200_validation_4001.json"))),
            ResponseClass::Done
        );
    }
}
