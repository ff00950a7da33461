//! The pages a person uses: the overview and its buttons, the transaction log and its CSV, one
//! transaction, the settings, the login.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use tracing::warn;

use super::Shared;
use super::session::Session;
use super::views::{
    AddressField, Choice, CompanyCard, ErrorPage, Frame, LogPageView, LogRow, LoginPage,
    NoticePage, OverviewPage, RunRow, SettingsPage, TransactionPage,
};
use crate::engine::{RunRange, RunReport, TxnRef};
use crate::mapping::Decision;
use crate::model::ordoro::OrdoroAddress;
use crate::model::qbo::EntityKind;
use crate::schedule::{RunRecord, Scheduler, SchedulerStatus};
use crate::store::{Action, CompanySettings, LogCursor, LogEntry, LogQuery, log_csv};
use crate::{Error, ErrorKind, Reason};

/// How long a button waits for its run before showing the overview anyway (the run goes on).
const BUTTON_WAIT: Duration = Duration::from_secs(20);
/// At most this many rows in one CSV download.
const CSV_LIMIT: usize = 100_000;

/// A page that could not be shown: its status and a message for the person.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    pub fn not_found(message: impl Into<String>) -> Self {
        PageError { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::BadInput | ErrorKind::Config => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Authentication => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_GATEWAY,
        };
        PageError { status, message: e.to_string() }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let frame = Frame { title, csrf: String::new(), logged_in: false, flash: None };
        let page = ErrorPage { frame, message: self.message };
        (self.status, render(&page)).into_response()
    }
}

/// A page that says what happened, with a link to the overview (for a request that came
/// without the session, which a redirect to a page would not bring back).
pub fn notice(title: &str, message: String) -> Response {
    let frame =
        Frame { title: title.to_owned(), csrf: String::new(), logged_in: false, flash: None };
    render(&NoticePage { frame, message })
}

/// The page as HTML, or a plain 500 when a template fails.
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            warn!(error = %e, "a page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response()
        }
    }
}

fn frame(shared: &Shared, session: &Session, title: impl Into<String>) -> Frame {
    Frame {
        title: title.into(),
        csrf: session.data.csrf.clone(),
        logged_in: session.data.logged_in,
        flash: shared.sessions.take_flash(&session.id),
    }
}

/// The company's scheduler, or a 404 naming it.
pub fn company(shared: &Shared, realm: &str) -> Result<Arc<Scheduler>, PageError> {
    shared
        .scheduler(realm)
        .ok_or_else(|| PageError::not_found(format!("company {realm} is not connected here")))
}

/// To the overview, with `message` on it.
pub fn back_to_overview(
    shared: &Shared,
    session: &Session,
    message: String,
    error: bool,
) -> Response {
    shared.sessions.flash(&session.id, message, error);
    Redirect::to("/").into_response()
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `GET /`.
pub async fn overview(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let mut companies = Vec::new();
    let schedulers: Vec<_> = shared.companies().values().cloned().collect();
    for scheduler in schedulers {
        companies.push(card(&shared, &scheduler.status()).await?);
    }
    let today = shared.clock.now().date_naive();
    let page = OverviewPage {
        frame: frame(&shared, &session, "Overview"),
        can_connect: shared.oauth.is_some(),
        companies,
        today: today.to_string(),
        month_ago: (today - chrono::Days::new(30)).to_string(),
    };
    Ok(render(&page))
}

async fn card(shared: &Shared, status: &SchedulerStatus) -> Result<CompanyCard, PageError> {
    let token = shared.store.load_token(&status.realm).await?;
    let refused =
        status.last_runs.front().is_some_and(|r| r.error_kind == Some(ErrorKind::Authentication));
    let by = token.as_ref().and_then(|t| t.reconnect_by());
    let (state, state_alarm) = match (token.is_some() && !refused, by) {
        (false, _) => ("reconnect needed".to_owned(), true),
        (true, Some(by)) => {
            let soon = by - shared.clock.now() < chrono::Duration::days(30);
            (format!("connected, reconnect by {}", by.format("%Y-%m-%d")), soon)
        }
        (true, None) => ("connected".to_owned(), false),
    };
    Ok(CompanyCard {
        realm: status.realm.clone(),
        state,
        state_alarm,
        running: status
            .running
            .as_ref()
            .map_or("no".to_owned(), |(kind, at)| format!("{kind} since {}", time(*at))),
        next: status
            .next
            .as_ref()
            .map_or("none".to_owned(), |next| format!("{} at {}", next.kind, time(next.at))),
        webhooks: status.settings.webhooks,
        queued: status.queued_events + status.queued_commands,
        runs: status.last_runs.iter().map(run_row).collect(),
    })
}

fn run_row(record: &RunRecord) -> RunRow {
    RunRow {
        kind: record.kind.to_string(),
        started: time(record.started_at),
        summary: if record.run_id.is_some() { record.summary.to_string() } else { String::new() },
        problem: record.problem.clone().unwrap_or_default(),
    }
}

/// What a button's run came to, for the overview's message.
async fn outcome(
    label: &str,
    run: impl std::future::Future<Output = crate::Result<RunReport>>,
) -> (String, bool) {
    match tokio::time::timeout(BUTTON_WAIT, run).await {
        Ok(Ok(report)) => match report.aborted {
            Some(why) => (format!("{label}: {} (stopped early: {why})", report.summary), true),
            None => (format!("{label}: {}", report.summary), false),
        },
        Ok(Err(e)) => (format!("{label} failed: {e}"), true),
        Err(_) => (format!("{label} is still running; its result will show below"), false),
    }
}

/// `POST /companies/{realm}/sync`: an incremental run now.
pub async fn sync_now(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let (message, error) = outcome("Sync now", scheduler.sync_now()).await;
    Ok(back_to_overview(&shared, &session, message, error))
}

#[derive(Debug, Deserialize)]
pub struct DatesForm {
    from: String,
    to: String,
}

fn date(value: &str, which: &str) -> Result<NaiveDate, PageError> {
    value.trim().parse().map_err(|_| {
        PageError::bad_request(format!("the {which} date {value:?} is not a date (YYYY-MM-DD)"))
    })
}

/// `POST /companies/{realm}/resync`: the transactions dated from `from` to `to`.
pub async fn resync(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
    Form(form): Form<DatesForm>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let (from, to) = (date(&form.from, "first")?, date(&form.to, "last")?);
    if from > to {
        let message = format!("Re-sync dates: {from} is after {to}; choose the earlier date first");
        return Ok(back_to_overview(&shared, &session, message, true));
    }
    let label = format!("Re-sync {from} to {to}");
    let (message, error) = outcome(&label, scheduler.resync(RunRange::TxnDate { from, to })).await;
    Ok(back_to_overview(&shared, &session, message, error))
}

/// The log page's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct LogFilters {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    after: String,
}

impl LogFilters {
    /// The store's query; a filter that does not read is a 400 saying which.
    fn query(&self, realm: &str) -> Result<LogQuery, PageError> {
        let blank = |s: &str| s.trim().is_empty();
        let bad = |what: &str, value: &str| {
            PageError::bad_request(format!(
                "the log filter {what}={value:?} is not one the log knows"
            ))
        };
        let mut query = LogQuery {
            realm: Some(realm.to_owned()),
            newest_first: true,
            text: Some(self.q.clone()).filter(|q| !blank(q)),
            ..LogQuery::default()
        };
        if !blank(&self.action) {
            query.action =
                Some(Action::parse(&self.action).ok_or_else(|| bad("action", &self.action))?);
        }
        if !blank(&self.reason) {
            query.reason =
                Some(self.reason.parse::<Reason>().map_err(|_| bad("reason", &self.reason))?);
        }
        if !blank(&self.entity) {
            query.entity =
                Some(EntityKind::parse(&self.entity).ok_or_else(|| bad("entity", &self.entity))?);
        }
        if !blank(&self.from) {
            query.from =
                Some(date(&self.from, "first")?.and_time(chrono::NaiveTime::MIN).and_utc());
        }
        if !blank(&self.to) {
            let last = date(&self.to, "last")?;
            let end = last.succ_opt().unwrap_or(last).and_time(chrono::NaiveTime::MIN).and_utc();
            query.to = Some(end);
        }
        let cursor = |s: &str| s.parse::<LogCursor>().map_err(|_| bad("page", s));
        if !blank(&self.before) {
            query.before = Some(cursor(&self.before)?);
        }
        if !blank(&self.after) {
            query.after = Some(cursor(&self.after)?);
        }
        Ok(query)
    }

    /// The filters (no page cursor) as a query string.
    fn encoded(&self, page: Option<(&str, LogCursor)>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("action", &self.action),
            ("reason", &self.reason),
            ("entity", &self.entity),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !value.trim().is_empty() {
                out.append_pair(name, value);
            }
        }
        if let Some((name, cursor)) = page {
            out.append_pair(name, &cursor.to_string());
        }
        out.finish()
    }
}

fn choices<T: Copy>(
    all: impl IntoIterator<Item = T>,
    chosen: &str,
    value: impl Fn(T) -> String,
) -> Vec<Choice> {
    let mut out =
        vec![Choice { value: String::new(), label: "all".into(), selected: chosen.is_empty() }];
    out.extend(all.into_iter().map(|item| {
        let v = value(item);
        Choice { selected: v == chosen, label: v.clone(), value: v }
    }));
    out
}

/// The path of a transaction's page.
fn transaction_link(realm: &str, entity: EntityKind, qbo_id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(qbo_id.as_bytes()).collect();
    format!("/companies/{realm}/transactions/{}/{id}", entity_slug(entity))
}

fn entity_slug(entity: EntityKind) -> String {
    entity.as_str().to_ascii_lowercase()
}

pub(crate) fn log_row(entry: &LogEntry) -> LogRow {
    let fix = match entry.action {
        Action::Failed | Action::Skipped => entry.reason.map(|r| r.how_to_fix()).unwrap_or(""),
        _ => "",
    };
    LogRow {
        at: time(entry.at),
        entity: entry.entity.as_str().to_owned(),
        doc: entry.doc_number.clone().unwrap_or_else(|| format!("id {}", entry.qbo_id)),
        link: transaction_link(&entry.realm, entry.entity, &entry.qbo_id),
        customer: entry.customer.clone().unwrap_or_default(),
        action: entry.action.as_str().to_owned(),
        reason: entry.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
        order: entry.order_number.clone().unwrap_or_default(),
        detail: entry
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .or_else(|| entry.detail.clone())
            .unwrap_or_default(),
        fix: fix.to_owned(),
    }
}

/// `GET /companies/{realm}/log`.
pub async fn log(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
    Query(filters): Query<LogFilters>,
) -> Result<Response, PageError> {
    company(&shared, &realm)?;
    let query = filters.query(&realm)?;
    let page = shared.store.log_page(&query).await?;
    let base = format!("/companies/{realm}/log?");
    let older = page.next.map(|c| format!("{base}{}", filters.encoded(Some(("before", c)))));
    let newer = page.previous.map(|c| format!("{base}{}", filters.encoded(Some(("after", c)))));
    let view = LogPageView {
        frame: frame(&shared, &session, format!("Log of {realm}")),
        actions: choices(Action::ALL, &filters.action, |a| a.as_str().to_owned()),
        reasons: choices(Reason::all(), &filters.reason, |r| r.as_str().to_owned()),
        entities: choices(EntityKind::ALL, &filters.entity, entity_slug),
        from: filters.from.clone(),
        to: filters.to.clone(),
        q: filters.q.clone(),
        rows: page.entries.iter().map(log_row).collect(),
        older,
        newer,
        csv: format!("/companies/{realm}/log.csv?{}", filters.encoded(None)),
        realm,
    };
    Ok(render(&view))
}

/// Every entry the filters match as CSV (newest first, at most [`CSV_LIMIT`]).
async fn csv_of(shared: &Shared, realm: &str, filters: &LogFilters) -> Result<Response, PageError> {
    let mut query = filters.query(realm)?;
    query.limit = Some(1000);
    let mut entries = Vec::new();
    loop {
        let page = shared.store.log_page(&query).await?;
        entries.extend(page.entries.iter().cloned());
        match query.next_page(&page) {
            Some(next) if entries.len() < CSV_LIMIT => query = next,
            _ => break,
        }
    }
    entries.truncate(CSV_LIMIT);
    let mut out = Vec::new();
    log_csv(&entries, &mut out)?;
    let disposition = format!("attachment; filename=\"qbo-ordoro-log-{realm}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response())
}

/// `GET /companies/{realm}/log.csv`.
pub async fn log_csv_file(
    State(shared): State<Arc<Shared>>,
    Path(realm): Path<String>,
    Query(filters): Query<LogFilters>,
) -> Result<Response, PageError> {
    company(&shared, &realm)?;
    csv_of(&shared, &realm, &filters).await
}

/// The entity of a transaction page's path.
fn entity_of(slug: &str) -> Result<EntityKind, PageError> {
    EntityKind::parse(slug).ok_or_else(|| {
        PageError::not_found(format!(
            "{slug:?} is not a transaction type here (invoice, salesreceipt)"
        ))
    })
}

/// `GET /companies/{realm}/transactions/{entity}/{id}`: what [`SyncEngine::inspect`] finds,
/// with the scheduler's current engine (it writes nothing, so it needs no turn).
///
/// [`SyncEngine::inspect`]: crate::SyncEngine::inspect
pub async fn transaction(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path((realm, entity, id)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let entity = entity_of(&entity)?;
    let target = TxnRef::Id { entity: Some(entity), id: id.clone() };
    let seen = scheduler.engine().inspect(&target).await?;
    let (decision, decision_detail) = match &seen.decision {
        None => ("none: QuickBooks has no such transaction now".to_owned(), String::new()),
        Some(Decision::Create(_)) => ("create".to_owned(), String::new()),
        Some(Decision::Skip { reason, detail }) => (format!("skip: {reason}"), detail.clone()),
        Some(Decision::Error { code, message }) => {
            (format!("error: {code}"), format!("{message} {}", code.how_to_fix()))
        }
    };
    let (address, address_error) = match &seen.ship_to {
        Some(Ok(parsed)) => (address_fields(parsed), None),
        Some(Err(e)) => (Vec::new(), Some(format!("{}: {}", e.code.as_str(), e.message))),
        None => (Vec::new(), None),
    };
    let pretty = |value: &serde_json::Value| {
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(cannot show: {e})"))
    };
    let page = TransactionPage {
        frame: frame(&shared, &session, format!("{entity} {id}")),
        entity: entity.as_str().to_owned(),
        entity_slug: entity_slug(entity),
        id,
        found: seen.document.is_some(),
        document: seen.document.as_ref().map(|d| pretty(&d.json)).unwrap_or_default(),
        decision,
        decision_detail,
        order_body: seen
            .order
            .as_ref()
            .map(|order| serde_json::to_value(order).map(|v| pretty(&v)).unwrap_or_default()),
        address,
        address_error,
        ledger: seen.ledger.as_ref().map_or("no order made yet".to_owned(), |entry| {
            format!(
                "{} order {} (order_id {}), as of {}",
                entry.state.as_str(),
                entry.order_number.as_deref().unwrap_or("(number not known yet)"),
                entry.order_id,
                time(entry.updated_at)
            )
        }),
        history: seen.history.iter().map(log_row).collect(),
        realm,
    };
    Ok(render(&page))
}

/// The parsed ship-to, field by field (empty when absent).
fn address_fields(parsed: &OrdoroAddress) -> Vec<AddressField> {
    let field = |name, value: &Option<String>| AddressField {
        name,
        value: value.clone().unwrap_or_default(),
    };
    vec![
        field("name", &parsed.name),
        field("company", &parsed.company),
        field("street1", &parsed.street1),
        field("street2", &parsed.street2),
        field("city", &parsed.city),
        field("state", &parsed.state),
        field("zip", &parsed.zip),
        field("country", &parsed.country),
    ]
}

/// `POST /companies/{realm}/transactions/{entity}/{id}/sync`.
pub async fn sync_one(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path((realm, entity, id)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let entity = entity_of(&entity)?;
    let target = TxnRef::Id { entity: Some(entity), id: id.clone() };
    let (message, error) =
        outcome(&format!("Sync {entity} {id}"), scheduler.sync_one(target)).await;
    shared.sessions.flash(&session.id, message, error);
    Ok(Redirect::to(&transaction_link(&realm, entity, &id)).into_response())
}

/// `GET /companies/{realm}/settings`.
pub async fn settings(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let settings = super::settings_of(&shared, &scheduler).await?;
    let page = SettingsPage {
        frame: frame(&shared, &session, format!("Settings of {realm}")),
        realm,
        classes: settings.classes.join(", "),
        update_existing: settings.update_existing,
        cancel_on_void: settings.cancel_on_void,
        webhooks: settings.webhooks,
        poll_minutes: settings.poll_interval.as_secs().div_ceil(60),
        catch_up_hours: settings.catch_up_interval.as_secs().div_ceil(3600),
    };
    Ok(render(&page))
}

/// The settings form. A checkbox is sent only when ticked.
#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    classes: String,
    #[serde(default)]
    update_existing: Option<String>,
    #[serde(default)]
    cancel_on_void: Option<String>,
    #[serde(default)]
    webhooks: Option<String>,
    poll_minutes: String,
    catch_up_hours: String,
}

impl SettingsForm {
    fn settings(&self) -> Result<CompanySettings, String> {
        let number = |value: &str, what: &str| {
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{what} must be a whole number above 0, not {value:?}"))
        };
        let minutes = number(&self.poll_minutes, "the poll interval (minutes)")?;
        let hours = number(&self.catch_up_hours, "the catch-up interval (hours)")?;
        let settings = CompanySettings {
            classes: self
                .classes
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            update_existing: self.update_existing.is_some(),
            cancel_on_void: self.cancel_on_void.is_some(),
            webhooks: self.webhooks.is_some(),
            poll_interval: Duration::from_secs(minutes.saturating_mul(60)),
            catch_up_interval: Duration::from_secs(hours.saturating_mul(3600)),
        };
        settings.validate().map_err(|e| e.to_string())?;
        Ok(settings)
    }
}

/// `POST /companies/{realm}/settings`: validated, saved in the store, used by the next run.
pub async fn save_settings(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Path(realm): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, PageError> {
    let scheduler = company(&shared, &realm)?;
    let message = match form.settings() {
        Ok(settings) => {
            scheduler.save_settings(&settings).await?;
            ("Saved: the next run uses these settings".to_owned(), false)
        }
        Err(problem) => (format!("Not saved: {problem}"), true),
    };
    shared.sessions.flash(&session.id, message.0, message.1);
    Ok(Redirect::to(&format!("/companies/{realm}/settings")).into_response())
}

/// `GET /login`.
pub async fn login_page(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
) -> Response {
    if shared.login.is_none() || session.data.logged_in {
        return Redirect::to("/").into_response();
    }
    let page = LoginPage { frame: frame(&shared, &session, "Log in"), error: false };
    render(&page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    password: String,
}

/// `POST /login`: the password checked against the argon2 hash (off the async threads).
pub async fn login(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(admin) = shared.login.clone() else {
        return Redirect::to("/").into_response();
    };
    let verified =
        tokio::task::spawn_blocking(move || admin.verifies(&form.password)).await.unwrap_or(false);
    if !verified {
        warn!("a wrong admin password was tried");
        // A pause slows guessing down.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let page = LoginPage { frame: frame(&shared, &session, "Log in"), error: true };
        return (StatusCode::UNAUTHORIZED, render(&page)).into_response();
    }
    let id = shared.sessions.log_in(&session.id);
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, super::session::set_cookie(&id, shared.secure_cookies));
    response
}

/// `POST /logout`.
pub async fn logout(
    State(shared): State<Arc<Shared>>,
    Extension(session): Extension<Session>,
) -> Response {
    shared.sessions.log_out(&session.id);
    Redirect::to(if shared.login.is_some() { "/login" } else { "/" }).into_response()
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("static/style.css"),
    )
        .into_response()
}

/// Any other path.
pub async fn not_found() -> PageError {
    PageError::not_found("there is no such page here")
}
