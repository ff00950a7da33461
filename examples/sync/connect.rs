//! `--connect`: connects a QuickBooks company from the command line with the library's OAuth
//! calls (`qbo_ordoro::qbo::connect`) and saves the company and its tokens in the state file.
//!
//! It prints Intuit's consent URL, then takes the first of two answers: the browser's redirect to
//! a `localhost` redirect URI, caught by a small listener on that port (Intuit accepts a plain
//! http `localhost` redirect for sandbox keys only), or the URL the browser was redirected to,
//! pasted on standard input (for an https redirect URI, which production keys need). It checks
//! the `state`, exchanges the code with the same redirect URI, and saves the tokens.
//!
//! Against the simulated services, the simulated QBO is served on a loopback port so that a
//! browser (or a test) can follow the consent URL, and the listener takes any free port.

use std::io::BufRead;

use qbo_ordoro::qbo::connect::{Callback, Connection, OAuthApp, parse_callback};
use qbo_ordoro::{Clock, ErrorKind, HttpTransport, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The largest request head the callback listener reads.
const MAX_HEAD: usize = 16 * 1024;

/// Where the redirect arrives: a listener on the redirect URI's port when it is a localhost URI.
pub struct Redirect {
    /// The redirect URI, with the port the listener got when it asked for any (`:0`).
    pub uri: String,
    listener: Option<(TcpListener, String)>,
}

/// Opens the listener of a `http://localhost:PORT/PATH` redirect URI (port 0: any free port);
/// for any other URI there is none, and the URL is pasted.
pub async fn listen(redirect_uri: &str) -> Result<Redirect, String> {
    let uri: http::Uri = redirect_uri
        .parse()
        .map_err(|_| format!("the redirect URI {redirect_uri:?} is not a URL"))?;
    let local =
        uri.scheme_str() == Some("http") && matches!(uri.host(), Some("localhost" | "127.0.0.1"));
    if !local {
        return Ok(Redirect { uri: redirect_uri.to_string(), listener: None });
    }
    let port = uri.port_u16().unwrap_or(80);
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port} for the redirect: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let host = uri.host().unwrap_or("localhost");
    let path = uri.path().to_string();
    let query = uri.query().map_or(String::new(), |q| format!("?{q}"));
    let uri = format!("http://{host}:{port}{path}{query}");
    Ok(Redirect { uri, listener: Some((listener, path)) })
}

/// The whole flow: consent URL, callback, exchange, tokens saved. Returns the connection.
pub async fn connect(
    app: &OAuthApp,
    redirect: Redirect,
    transport: &dyn HttpTransport,
    clock: &dyn Clock,
    store: &dyn Store,
) -> Result<Connection, String> {
    let consent = app.consent().map_err(|e| e.to_string())?;
    eprintln!("sync: open this URL in a browser, sign in to QuickBooks and choose the company:");
    println!("{}", consent.url);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    match redirect.listener {
        Some((listener, path)) => {
            eprintln!(
                "sync: waiting for the browser's redirect to {} (or paste the URL it was \
                 redirected to here)",
                redirect.uri
            );
            tokio::spawn(serve_callbacks(listener, path, tx.clone()));
        }
        None => eprintln!(
            "sync: after the consent, the browser goes to {}; paste that whole URL here and \
             press Enter",
            redirect.uri
        ),
    }
    read_pasted_lines(tx);
    let callback = next_callback(&mut rx, &consent.state).await?;
    let connection = app.exchange(transport, clock, &callback).await.map_err(|e| e.to_string())?;
    store
        .save_token(&connection.realm_id, &connection.token)
        .await
        .map_err(|e| format!("the company connected, but its tokens could not be saved: {e}"))?;
    Ok(connection)
}

/// The first answer that is this consent's callback; others are reported and skipped. A refusal
/// (the merchant declined) ends the flow.
async fn next_callback(
    rx: &mut mpsc::UnboundedReceiver<String>,
    state: &str,
) -> Result<Callback, String> {
    while let Some(candidate) = rx.recv().await {
        match parse_callback(&candidate, state) {
            Ok(callback) => return Ok(callback),
            Err(e) if e.kind() == ErrorKind::BadInput => {
                eprintln!(
                    "sync: not the redirect of this consent ({}); still waiting",
                    e.message()
                );
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("standard input closed before the redirect arrived; run --connect again".into())
}

/// Sends each non-blank line of standard input (a pasted URL) to `tx`, from a thread of its own
/// (reading standard input blocks).
fn read_pasted_lines(tx: mpsc::UnboundedSender<String>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if !line.trim().is_empty() && tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
}

/// Answers each request on the listener: one to the redirect path is sent to `tx` as the URL
/// it came to, and the browser is told to go back to the terminal; anything else is a 404.
async fn serve_callbacks(listener: TcpListener, path: String, tx: mpsc::UnboundedSender<String>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let target = read_target(&mut socket).await;
        let ours = target.as_deref().is_some_and(|t| t.split('?').next() == Some(path.as_str()));
        let (status, page) = if ours {
            ("200 OK", "QuickBooks answered. You can close this tab and go back to the terminal.")
        } else {
            ("404 Not Found", "Not the QuickBooks redirect.")
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \
             {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
        if let (true, Some(target)) = (ours, target)
            && tx.send(target).is_err()
        {
            return;
        }
    }
}

/// The request target of `GET TARGET HTTP/1.1`, once the head has arrived.
async fn read_target(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_string)
}
