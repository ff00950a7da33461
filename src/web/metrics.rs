//! [`Metrics`]: the counters `GET /metrics` shows in the Prometheus text format.
//!
//! - `qbo_ordoro_runs_total{realm, kind, result}`: runs by what started them
//!   ([`RunKind::as_str`](crate::schedule::RunKind::as_str)) and how they ended (`clean`, `stopped`);
//! - `qbo_ordoro_outcomes_total{realm, action, reason}`: the log's entries by action and
//!   [`Reason`](crate::Reason) code (empty for none), the same strings as the log;
//! - `qbo_ordoro_requests_total{service}` and `qbo_ordoro_throttled_total{service}`: every
//!   request a service's transport sent, and those answered 429 (counted by
//!   [`Metrics::transport`], below the clients' retries, so each attempt counts);
//! - `qbo_ordoro_webhook_deliveries_total{result, code}`: deliveries accepted, and refused by
//!   [`WebhookErrorCode`].

use std::sync::Arc;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::engine::RunReport;
use crate::schedule::RunRecord;
use crate::transport::{HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError};
use crate::webhook::WebhookErrorCode;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    realm: String,
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    realm: String,
    action: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    result: String,
    code: String,
}

/// The connector's counters. Cheap to clone: clones count into the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    runs: Family<RunLabels, Counter>,
    outcomes: Family<OutcomeLabels, Counter>,
    requests: Family<ServiceLabels, Counter>,
    throttled: Family<ServiceLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Counters at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("qbo_ordoro");
        let runs = Family::<RunLabels, Counter>::default();
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let requests = Family::<ServiceLabels, Counter>::default();
        let throttled = Family::<ServiceLabels, Counter>::default();
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "runs",
            "Sync runs by what started them and how they ended",
            runs.clone(),
        );
        registry.register(
            "outcomes",
            "Transaction log entries by action and reason",
            outcomes.clone(),
        );
        registry.register("requests", "HTTP requests sent, by service", requests.clone());
        registry.register("throttled", "HTTP requests answered 429, by service", throttled.clone());
        registry.register(
            "webhook_deliveries",
            "QBO webhook deliveries accepted and refused",
            deliveries.clone(),
        );
        Metrics { registry: Arc::new(registry), runs, outcomes, requests, throttled, deliveries }
    }

    /// `inner`, with each request counted under `service` (`"qbo"`, `"ordoro"`), and each 429
    /// answer as a throttle.
    pub fn transport(&self, service: &'static str, inner: SharedTransport) -> SharedTransport {
        // Both counters exist from the start, so a dashboard reads 0 rather than nothing.
        let labels = ServiceLabels { service: service.to_owned() };
        drop(self.requests.get_or_create(&labels));
        drop(self.throttled.get_or_create(&labels));
        SharedTransport::new(CountingTransport { service, inner, metrics: self.clone() })
    }

    /// Counts a finished run and its log entries.
    pub fn record_run(&self, realm: &str, record: &RunRecord, report: &RunReport) {
        let result = if record.problem.is_some() { "stopped" } else { "clean" };
        self.runs
            .get_or_create(&RunLabels {
                realm: realm.to_owned(),
                kind: record.kind.as_str().to_owned(),
                result: result.to_owned(),
            })
            .inc();
        for entry in &report.entries {
            let labels = OutcomeLabels {
                realm: realm.to_owned(),
                action: entry.action.as_str().to_owned(),
                reason: entry.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
            };
            self.outcomes.get_or_create(&labels).inc();
        }
    }

    /// Counts a webhook delivery: accepted (`None`) or refused with `code`.
    pub fn record_delivery(&self, refused: Option<WebhookErrorCode>) {
        let labels = match refused {
            None => DeliveryLabels { result: "accepted".into(), code: String::new() },
            Some(code) => DeliveryLabels { result: "refused".into(), code: code.as_str().into() },
        };
        self.deliveries.get_or_create(&labels).inc();
    }

    /// Every counter in the Prometheus text format (version 0.0.4 / OpenMetrics text).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Counts what passes through to the service.
#[derive(Debug)]
struct CountingTransport {
    service: &'static str,
    inner: SharedTransport,
    metrics: Metrics,
}

#[async_trait]
impl HttpTransport for CountingTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let labels = ServiceLabels { service: self.service.to_owned() };
        self.metrics.requests.get_or_create(&labels).inc();
        let response = self.inner.send(request).await;
        if response.as_ref().is_ok_and(|r| r.status() == http::StatusCode::TOO_MANY_REQUESTS) {
            self.metrics.throttled.get_or_create(&labels).inc();
        }
        response
    }
}
