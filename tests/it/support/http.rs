//! Loopback servers for the reqwest transport's end-to-end tests: a simulator served on
//! `127.0.0.1` (the library's `sim::loopback`), a port that refuses connections, and a server that
//! never answers.

use std::net::SocketAddr;

use qbo_ordoro::SharedTransport;
use qbo_ordoro::sim::loopback::LoopbackServer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `transport` on a fresh loopback port until the server is stopped or dropped. Returns
/// the address to send to.
pub async fn serve(transport: SharedTransport) -> (SocketAddr, LoopbackServer) {
    let server = LoopbackServer::start(transport).await.expect("serve on a loopback port");
    (server.addr(), server)
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
