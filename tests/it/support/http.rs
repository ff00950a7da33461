//! Serves any `HttpTransport` (a simulator) on `127.0.0.1` over HTTP/1.1, so that the reqwest
//! transport can be tested end to end against the simulators. A transport error from the
//! simulator (a timeout, a lost response) closes the connection without an answer, which is
//! what a real client sees when a server or the network gives up mid-request.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use qbo_ordoro::{SharedTransport, TransportError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `transport` on a fresh loopback port until the handle is aborted or dropped with the
/// runtime. Returns the address to send to.
pub async fn serve(transport: SharedTransport) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    let handle = tokio::spawn(accept_loop(listener, transport));
    (addr, handle)
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

/// A loopback port that refuses connections (bound, then closed).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    listener.local_addr().expect("a bound listener has an address")
}

/// A server that accepts connections and never answers; keeps them open until aborted.
pub async fn silent_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    let handle = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, handle)
}
