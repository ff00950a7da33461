//! A simulator, or any [`HttpTransport`](crate::HttpTransport), served on `127.0.0.1` over
//! HTTP/1.1, for what needs a real socket: another process (the `bench_sync` example's child), a
//! browser, or the reqwest transport tested end to end. A transport error from the simulator (a
//! timeout, a lost answer) closes the connection without an answer, as a real server or network
//! that gives up mid-request would. Needs a tokio runtime.

use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{SharedTransport, TransportError};

/// A transport served on a loopback port until [`stop`](Self::stop) or drop.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use qbo_ordoro::sim::loopback::LoopbackServer;
/// use qbo_ordoro::sim::ordoro::OrdoroSim;
/// use qbo_ordoro::{Clock, SharedTransport, TokioClock};
///
/// let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
/// let ordoro = Arc::new(OrdoroSim::new(clock));
/// let server = LoopbackServer::start(SharedTransport::from_arc(ordoro)).await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LoopbackServer {
    /// Serves `transport` on a fresh port of `127.0.0.1`, from now until stopped or dropped.
    pub async fn start(transport: SharedTransport) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        Ok(LoopbackServer { addr, task: tokio::spawn(accept_loop(listener, transport)) })
    }

    /// The address to send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`, a base URL for a client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections (dropping the server does the same).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, transport: SharedTransport) {
    while let Ok((stream, _)) = listener.accept().await {
        let transport = transport.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(transport.clone(), request));
            // A connection closed on purpose (a simulated lost answer) ends here; nothing to do.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Hands one request to the transport. An `Err` makes hyper drop the connection unanswered.
async fn answer(
    transport: SharedTransport,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, TransportError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let response = transport.send(http::Request::from_parts(parts, body)).await?;
    Ok(response.map(Full::new))
}
