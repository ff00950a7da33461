//! What each page shows, as askama templates (`templates/web/*.html`) over plain strings.
//! askama escapes every value it writes into HTML, so text from QBO or Ordoro (a customer, an
//! address line, an error detail) is shown, never run.

use askama::Template;

use super::session::Flash;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page's title.
    pub title: String,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// Logged in with the admin password (shows "Log out").
    pub logged_in: bool,
    /// A message from the last action.
    pub flash: Option<Flash>,
}

/// One run in a company's table.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub kind: String,
    pub started: String,
    pub summary: String,
    pub problem: String,
}

/// One company on the overview.
#[derive(Debug, Clone)]
pub struct CompanyCard {
    pub realm: String,
    /// `connected`, `reconnect needed`, or `connected, reconnect by DATE`.
    pub state: String,
    /// True when the merchant must act.
    pub state_alarm: bool,
    pub running: String,
    pub next: String,
    pub webhooks: bool,
    pub queued: usize,
    pub runs: Vec<RunRow>,
}

#[derive(Template)]
#[template(path = "web/overview.html")]
pub struct OverviewPage {
    pub frame: Frame,
    pub can_connect: bool,
    pub companies: Vec<CompanyCard>,
    pub today: String,
    pub month_ago: String,
}

/// An option of a filter's list.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One entry of the log page.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub at: String,
    pub entity: String,
    pub doc: String,
    pub link: String,
    pub customer: String,
    pub action: String,
    pub reason: String,
    pub order: String,
    pub detail: String,
    pub fix: String,
}

#[derive(Template)]
#[template(path = "web/log.html")]
pub struct LogPageView {
    pub frame: Frame,
    pub realm: String,
    pub actions: Vec<Choice>,
    pub reasons: Vec<Choice>,
    pub entities: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub q: String,
    pub rows: Vec<LogRow>,
    pub older: Option<String>,
    pub newer: Option<String>,
    pub csv: String,
}

/// A field of the parsed address.
#[derive(Debug, Clone)]
pub struct AddressField {
    pub name: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "web/transaction.html")]
pub struct TransactionPage {
    pub frame: Frame,
    pub realm: String,
    pub entity: String,
    pub entity_slug: String,
    pub id: String,
    pub found: bool,
    pub document: String,
    pub decision: String,
    pub decision_detail: String,
    pub order_body: Option<String>,
    pub address: Vec<AddressField>,
    pub address_error: Option<String>,
    pub ledger: String,
    pub history: Vec<LogRow>,
}

#[derive(Template)]
#[template(path = "web/settings.html")]
pub struct SettingsPage {
    pub frame: Frame,
    pub realm: String,
    pub classes: String,
    pub update_existing: bool,
    pub cancel_on_void: bool,
    pub webhooks: bool,
    pub poll_minutes: u64,
    pub catch_up_hours: u64,
}

#[derive(Template)]
#[template(path = "web/login.html")]
pub struct LoginPage {
    pub frame: Frame,
    pub error: bool,
}

#[derive(Template)]
#[template(path = "web/error.html")]
pub struct ErrorPage {
    pub frame: Frame,
    pub message: String,
}

#[derive(Template)]
#[template(path = "web/notice.html")]
pub struct NoticePage {
    pub frame: Frame,
    pub message: String,
}
