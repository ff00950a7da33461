//! The web connector in a real browser: headless Chromium driven through chromedriver (see
//! `support::browser`), over pages served on a loopback port.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use crate::support::browser::Browser;

/// Serves `router` on a fresh loopback port; returns its base URL (no trailing slash).
async fn serve(router: Router) -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve the pages") });
    format!("http://{addr}")
}

/// The harness's own check: the script detector sees a page that does run `alert(1)` (an open
/// alert and the spy's record), and sees nothing on a page that shows the same text escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_tells_a_page_that_runs_a_script_from_one_that_shows_it() {
    let base = serve(
        Router::new()
            .route("/runs", get(|| async { Html("<p id=t>hi</p><script>alert(1)</script>") }))
            .route(
                "/shows",
                get(|| async { Html("<p id=t>&lt;script&gt;alert(1)&lt;/script&gt;</p>") }),
            ),
    )
    .await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/shows")).await;
    assert_eq!(browser.text("#t").await, "<script>alert(1)</script>");
    assert_eq!(browser.scripts_ran().await, Vec::<String>::new());

    browser.goto(&format!("{base}/runs")).await;
    let ran = browser.scripts_ran().await;
    assert!(ran.contains(&"open dialog:1".to_string()), "{ran:?}");
    assert!(ran.contains(&"\"alert:1\"".to_string()), "{ran:?}");
    browser.close().await;
}
