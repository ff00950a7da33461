//! What makes the simulated world live while the connector serves it: the simulated QBO on a
//! loopback port (its consent page and token endpoint, for "Connect QuickBooks"), its webhook
//! deliveries POSTed to the connector's own `POST /webhooks/qbo` over loopback HTTP, and a new
//! sale now and then.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use qbo_ordoro::sim::loopback::LoopbackServer;
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::sim::qbo::webhooks::{WebhookDelivery, WebhookSink};
use qbo_ordoro::{Clock, ReqwestTransport, SharedTransport};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::args::Args;
use crate::simulated;

/// How often the simulated QBO is asked for the deliveries that are due.
const DELIVERY_TICK: Duration = Duration::from_millis(250);

/// The simulated world's moving parts, ready to start once the connector is.
#[derive(Debug)]
pub struct Simulation {
    /// The simulated QBO (the connector's engines talk to it in-process).
    pub qbo: Arc<QboSim>,
    /// Its clock.
    pub clock: Arc<dyn Clock>,
    /// The simulated QBO on a loopback port, for the browser and the OAuth token calls.
    pub server: LoopbackServer,
    /// Where the deliveries go: the connector's `POST /webhooks/qbo`.
    pub webhook_url: String,
    /// The command line (`--sale-every`).
    pub args: Args,
    /// Seeds the sales and their timing.
    pub seed: u64,
}

/// The started tasks; stopped with [`Live::stop`].
#[derive(Debug)]
pub struct Live {
    tasks: Vec<JoinHandle<()>>,
    _server: LoopbackServer,
}

impl Live {
    /// Stops making sales and delivering webhooks, and the loopback QBO.
    pub fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Hands each delivery to the relay task (the sink is called synchronously by the simulator).
#[derive(Debug)]
struct ChannelSink(mpsc::UnboundedSender<WebhookDelivery>);

impl WebhookSink for ChannelSink {
    fn deliver(&self, delivery: WebhookDelivery) {
        // The relay ends only at shutdown; a delivery then has nowhere to go.
        let _ = self.0.send(delivery);
    }
}

impl Simulation {
    /// Starts the webhook relay, the delivery clock and the sales.
    pub fn start(self) -> Live {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.qbo.set_webhook_sink(Arc::new(ChannelSink(sender)));
        let mut tasks = vec![
            tokio::spawn(relay(receiver, self.webhook_url.clone())),
            tokio::spawn(deliver_when_due(self.qbo.clone())),
        ];
        if self.args.next_sale_in(0).is_some() {
            tasks.push(tokio::spawn(make_sales(
                self.qbo.clone(),
                self.clock.clone(),
                self.args.clone(),
                self.seed,
            )));
        }
        Live { tasks, _server: self.server }
    }
}

/// Asks the simulator for the deliveries due, a few times a second (it holds each one 1 to 10 s
/// after the change, as Intuit does).
async fn deliver_when_due(qbo: Arc<QboSim>) {
    let mut tick = tokio::time::interval(DELIVERY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        qbo.deliver_due();
    }
}

/// POSTs each delivery to the connector as Intuit would: the same headers, the raw body.
async fn relay(mut deliveries: mpsc::UnboundedReceiver<WebhookDelivery>, url: String) {
    let http = match ReqwestTransport::new() {
        Ok(http) => SharedTransport::new(http),
        Err(e) => {
            warn!(error = %e, "cannot start HTTP: the simulated webhooks will not be delivered");
            return;
        }
    };
    while let Some(delivery) = deliveries.recv().await {
        let mut request = http::Request::post(&url);
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        let Ok(request) = request.body(Bytes::from(delivery.body.clone())) else {
            warn!("a simulated webhook delivery has a header that cannot be sent; dropped");
            continue;
        };
        match http.send(request).await {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => {
                warn!(status = %answer.status(), "the webhook endpoint refused a delivery")
            }
            Err(e) => warn!(error = %e, "cannot deliver a simulated webhook"),
        }
    }
}

/// Makes a new eligible sale in the simulated company now and then (`--sale-every`).
async fn make_sales(qbo: Arc<QboSim>, clock: Arc<dyn Clock>, args: Args, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut last_id = 0;
    loop {
        let Some(wait) = args.next_sale_in(rng.random_range(0..=1000)) else { return };
        clock.sleep(wait).await;
        let now = clock.now();
        // Ids from the clock (seconds since the sample's anchor) are new in every process, so a
        // sale is never mistaken for one an earlier process made (the state file keeps those).
        let id = ((now - simulated::anchor()).num_seconds().max(0) as u64).max(last_id + 1);
        last_id = id;
        let sale = simulated::new_sale(rng.random(), id, now);
        let stored = qbo.insert(simulated::REALM, sale.clone());
        info!(
            entity = %sale.kind,
            id = %stored.id,
            doc_number = stored.doc_number.as_deref().unwrap_or("-"),
            "the simulated company made a sale; QuickBooks will notify it by webhook"
        );
    }
}
