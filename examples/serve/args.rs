//! The command line, parsed by clap into [`Args`]. `--help` prints to stdout and exits 0; a
//! mistake prints clap's error to stderr and exits 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Where the connector listens unless `--listen` says otherwise: loopback, so that nobody else
/// reaches it without a login.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How often the simulated company makes a sale unless `--sale-every` says otherwise: at a
/// random time between these bounds, drawn afresh after each sale.
pub const DEFAULT_SALE_EVERY: (Duration, Duration) =
    (Duration::from_secs(20), Duration::from_secs(60));

/// The help's text above the usage line.
const ABOUT: &str = "\
Runs the whole QuickBooks Online to Ordoro connector: its web pages (the companies, the
transaction log, each transaction, the settings), the QuickBooks connect flow, the webhook
endpoint and a scheduler per company.

With no credentials configured, it runs against built-in simulated QuickBooks and Ordoro services
(the sample company already connected, a new sale now and then, delivered by webhook), keeping
its state in ./qbo-ordoro-state-sim.sqlite3, the `sync` example's file. With credentials
(environment variables or --config), it talks to the real services and keeps its state in
./qbo-ordoro-state.sqlite3.";

/// The help's text below the flags.
const AFTER_HELP: &str = "\
Environment, against the real services (all or none, as for the sync example): QBO_CLIENT_ID,
QBO_CLIENT_SECRET, QBO_ENVIRONMENT (sandbox|production), ORDORO_KEY_ID, ORDORO_KEY_SECRET,
ORDORO_SALES_CHANNEL_ID (optional), and for this program QBO_REDIRECT_URI (https://HOST/oauth/
callback, as registered with Intuit), QBO_WEBHOOK_VERIFIER_TOKEN (the app's webhook verifier
token). QBO_REALM_ID and QBO_REFRESH_TOKEN are optional: companies connect on the overview page.

Login: QBO_ORDORO_ADMIN_PASSWORD, or its argon2 hash QBO_ORDORO_ADMIN_PASSWORD_HASH (or
admin_password / admin_password_hash in the config file's [web] table). Required to listen on any
address but loopback; then every page but the webhook route and the OAuth callback asks for it.

RUST_LOG sets what is logged to stderr (default info). Exit status: 0 after Ctrl-C, 1 when the
connector cannot start, 2 for a bad command line, 3 for a configuration error.";

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "serve",
    bin_name = "cargo run --example serve --",
    about = ABOUT,
    after_help = AFTER_HELP,
    disable_version_flag = true
)]
pub struct Args {
    /// The address to listen on (port 0: any free port; the URL printed says which)
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The SQLite state file (default: the sync example's, ./qbo-ordoro-state-sim.sqlite3
    /// against the simulated services, ./qbo-ordoro-state.sqlite3 against the real ones)
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// A TOML configuration file ([qbo], [ordoro], [sync], [sku] and [web] tables)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seconds between the simulated company's new sales (default: at random, 20 to 60; 0:
    /// never). Simulated services only
    #[arg(long, value_name = "SECONDS")]
    pub sale_every: Option<u64>,
    /// The connector is reached through a TLS reverse proxy: its cookies are marked Secure
    #[arg(long)]
    pub behind_tls: bool,
}

impl Args {
    /// The time to the next simulated sale, drawn with `draw` (a number in `0..=1000`) when
    /// `--sale-every` is not given; `None` when sales are off.
    pub fn next_sale_in(&self, draw: u64) -> Option<Duration> {
        match self.sale_every {
            Some(0) => None,
            Some(seconds) => Some(Duration::from_secs(seconds)),
            None => {
                let (low, high) = DEFAULT_SALE_EVERY;
                let span = (high - low).as_millis() as u64;
                Some(low + Duration::from_millis(span * draw.min(1000) / 1000))
            }
        }
    }
}

/// Parses the process's command line; exits 0 after `--help`, 2 on a mistake.
pub fn parse() -> Args {
    Args::parse()
}
