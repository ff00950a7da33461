//! Configuration from the environment and an optional TOML file: which services to talk to
//! (the real ones when credentials are configured, else the simulated ones) and the `[sync]`
//! settings. Environment variables win over the file, key by key. Messages name settings, never
//! their values, so a secret cannot end up on a terminal or in a CI log.

use std::fmt;
use std::path::Path;

use qbo_ordoro::QboEnvironment;
use secrecy::SecretString;
use serde::Deserialize;

/// The `[qbo]` table.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QboSection {
    client_id: Option<String>,
    client_secret: Option<String>,
    realm_id: Option<String>,
    refresh_token: Option<String>,
    environment: Option<String>,
}

/// The `[ordoro]` table.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdoroSection {
    key_id: Option<String>,
    key_secret: Option<String>,
    sales_channel_id: Option<i64>,
}

/// The `[sync]` table: engine settings, used against the real and the simulated services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// Accepted classes (default `["Ordoro"]`).
    pub classes: Option<Vec<String>>,
    /// Minutes an incremental run reads before its cursor (default 5).
    pub overlap_minutes: Option<u64>,
    /// Update orders already in Ordoro when their sale changes (default false).
    pub update_existing: Option<bool>,
    /// Cancel the order of a sale later voided or deleted (default false).
    pub cancel_on_void: Option<bool>,
}

/// The whole file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    qbo: QboSection,
    #[serde(default)]
    ordoro: OrdoroSection,
    #[serde(default)]
    sync: SyncSection,
}

/// How to reach the real QBO company and Ordoro account.
pub struct RealServices {
    /// The company (realm) id.
    pub realm_id: String,
    /// Sandbox or production.
    pub environment: QboEnvironment,
    /// The app's OAuth client id.
    pub client_id: String,
    /// The app's OAuth client secret.
    pub client_secret: SecretString,
    /// The refresh token from the OAuth consent, saved into the state file on first use.
    pub refresh_token: SecretString,
    /// The Ordoro API key id.
    pub ordoro_key_id: String,
    /// The Ordoro API key secret.
    pub ordoro_key_secret: SecretString,
    /// The Ordoro sales channel (cart) orders go to, if set.
    pub sales_channel_id: Option<i64>,
}

impl fmt::Debug for RealServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealServices")
            .field("realm_id", &self.realm_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("ordoro_key_id", &self.ordoro_key_id)
            .field("sales_channel_id", &self.sales_channel_id)
            .finish_non_exhaustive()
    }
}

/// Which services a run talks to.
#[derive(Debug)]
pub enum Services {
    /// The built-in simulators (no credentials configured).
    Simulated,
    /// The real services.
    Real(Box<RealServices>),
}

/// Everything configured outside the command line.
#[derive(Debug)]
pub struct Settings {
    /// Which services.
    pub services: Services,
    /// Engine settings.
    pub sync: SyncSection,
}

/// One setting, read from its environment variable or else from its key in the file.
struct Setting {
    env: &'static str,
    key: &'static str,
    value: Option<String>,
}

impl Setting {
    fn read(env: &'static str, key: &'static str, file: Option<String>, lookup: &Lookup) -> Self {
        let set = |v: &String| !v.trim().is_empty();
        let value = lookup(env).filter(set).or(file.filter(set));
        Setting { env, key, value: value.map(|v| v.trim().to_string()) }
    }

    fn label(&self) -> String {
        format!("{} (or {})", self.env, self.key)
    }
}

type Lookup = dyn Fn(&str) -> Option<String>;

/// Reads the file (when given) and the environment through `lookup`.
pub fn load(config: Option<&Path>, lookup: &Lookup) -> Result<Settings, String> {
    let file = match config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    check_sync(&file.sync)?;
    let FileConfig { qbo, ordoro, sync } = file;
    let channel = ordoro.sales_channel_id.map(|id| id.to_string());
    let required = [
        Setting::read("QBO_CLIENT_ID", "[qbo] client_id", qbo.client_id, lookup),
        Setting::read("QBO_CLIENT_SECRET", "[qbo] client_secret", qbo.client_secret, lookup),
        Setting::read("QBO_REALM_ID", "[qbo] realm_id", qbo.realm_id, lookup),
        Setting::read("QBO_REFRESH_TOKEN", "[qbo] refresh_token", qbo.refresh_token, lookup),
        Setting::read("ORDORO_KEY_ID", "[ordoro] key_id", ordoro.key_id, lookup),
        Setting::read("ORDORO_KEY_SECRET", "[ordoro] key_secret", ordoro.key_secret, lookup),
    ];
    let environment =
        Setting::read("QBO_ENVIRONMENT", "[qbo] environment", qbo.environment, lookup);
    let channel =
        Setting::read("ORDORO_SALES_CHANNEL_ID", "[ordoro] sales_channel_id", channel, lookup);
    let any_set = required.iter().chain([&environment, &channel]).any(|s| s.value.is_some());
    if !any_set {
        return Ok(Settings { services: Services::Simulated, sync });
    }
    let missing: Vec<String> =
        required.iter().filter(|s| s.value.is_none()).map(Setting::label).collect();
    if !missing.is_empty() {
        return Err(format!(
            "incomplete credentials: {} {} not set. Set every credential to talk to the real \
             QuickBooks Online and Ordoro, or none to run against the simulated services.",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
        ));
    }
    let [client_id, client_secret, realm_id, refresh_token, key_id, key_secret] =
        required.map(|s| s.value.unwrap_or_default());
    let real = RealServices {
        realm_id,
        environment: qbo_environment(&environment)?,
        client_id,
        client_secret: client_secret.into(),
        refresh_token: refresh_token.into(),
        ordoro_key_id: key_id,
        ordoro_key_secret: key_secret.into(),
        sales_channel_id: sales_channel(&channel)?,
    };
    Ok(Settings { services: Services::Real(Box::new(real)), sync })
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    // toml's message quotes the offending line, which may hold a secret: keep only the first
    // sentence and the position.
    toml::from_str(&text).map_err(|e| {
        let what = e.message().lines().next().unwrap_or("invalid TOML").to_string();
        let at = e
            .span()
            .map(|s| line_of(&text, s.start))
            .map_or(String::new(), |line| format!(" (line {line})"));
        format!("{} is not a valid configuration: {what}{at}", path.display())
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |head| head.matches('\n').count() + 1)
}

fn check_sync(sync: &SyncSection) -> Result<(), String> {
    if let Some(classes) = &sync.classes
        && (classes.is_empty() || classes.iter().any(|c| c.trim().is_empty()))
    {
        return Err("[sync] classes must name at least one class, and no empty name".into());
    }
    if sync.overlap_minutes.is_some_and(|m| m > 24 * 60) {
        return Err("[sync] overlap_minutes must be at most 1440 (a day)".into());
    }
    Ok(())
}

fn qbo_environment(setting: &Setting) -> Result<QboEnvironment, String> {
    match setting.value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("production") => Ok(QboEnvironment::Production),
        Some("sandbox") => Ok(QboEnvironment::Sandbox),
        Some(_) => Err(format!("{} must be sandbox or production", setting.label())),
    }
}

fn sales_channel(setting: &Setting) -> Result<Option<i64>, String> {
    setting
        .value
        .as_deref()
        .map(|v| v.parse::<i64>().map_err(|_| format!("{} must be a number", setting.label())))
        .transpose()
}
