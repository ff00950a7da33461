//! Configuration from the environment and an optional TOML file: which services to talk to
//! (the real ones when credentials are configured, else the simulated ones) and the `[sync]`
//! settings. Environment variables win over the file, key by key. Messages name settings, never
//! their values, so a secret cannot end up on a terminal or in a CI log: a credential of the
//! wrong TOML type is read as any value and refused by name (toml's own message would quote it).

use std::fmt;
use std::path::Path;

use qbo_ordoro::QboEnvironment;
use qbo_ordoro::engine::{SyncConfig, UnknownSkuPolicy};
use qbo_ordoro::mapping::{BundlePolicy, FractionalPolicy, SkuKey, SkuMapping};
use secrecy::SecretString;
use serde::Deserialize;

/// A value of the file as written, whatever its TOML type: checked by name in [`text`], so a
/// type error never quotes it.
type Raw = Option<toml::Value>;

/// The `[qbo]` table.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QboSection {
    client_id: Raw,
    client_secret: Raw,
    realm_id: Raw,
    refresh_token: Raw,
    environment: Raw,
    redirect_uri: Raw,
    api_base: Raw,
    token_url: Raw,
    webhook_verifier_token: Raw,
}

/// The `[ordoro]` table.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdoroSection {
    key_id: Raw,
    key_secret: Raw,
    sales_channel_id: Raw,
    base_url: Raw,
}

/// A string setting of the file: a TOML string (or, for `sales_channel_id`, an integer), else an
/// error naming the key and never the value.
fn text(key: &'static str, value: Raw, integer_ok: bool) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(toml::Value::Integer(n)) if integer_ok => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "{key} must be {}, not a {} (the value is not shown: it may be a secret)",
            if integer_ok { "an integer" } else { "a string in quotes" },
            other.type_str()
        )),
    }
}

/// The state file against the simulated services (the `sync` and `serve` examples' default).
pub const SIM_STATE: &str = "qbo-ordoro-state-sim.sqlite3";
/// The state file against the real services.
pub const REAL_STATE: &str = "qbo-ordoro-state.sqlite3";

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

/// The `[sku]` table: where order lines' SKUs come from and what to do with the odd ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuSection {
    /// `create` (default: Ordoro creates an unknown SKU's product) or `require_known`.
    pub unknown: Option<String>,
    /// `fail` (default) or `round_up`: a fractional quantity on a line with a real SKU.
    pub fractional: Option<String>,
    /// `components` (default) or `one_line`: how a bundle becomes order lines.
    pub bundles: Option<String>,
    /// The SKU mapping: a QBO item name (or `id:N` for an item id) to the Ordoro SKU; saved in
    /// the state file by each run that writes.
    pub map: Option<std::collections::BTreeMap<String, String>>,
}

/// The `[web]` table: the `serve` example's admin login.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebSection {
    admin_password: Raw,
    admin_password_hash: Raw,
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
    #[serde(default)]
    sku: SkuSection,
    #[serde(default)]
    web: WebSection,
}

/// A refresh token given in the environment or the file, and where it came from.
#[derive(Clone)]
pub struct ConfiguredToken {
    /// The token.
    pub token: SecretString,
    /// `QBO_REFRESH_TOKEN` or `[qbo] refresh_token`.
    pub source: &'static str,
}

/// How to reach the real QBO company and Ordoro account. The company and its refresh token may
/// come from the state file instead (after `--connect`); the Ordoro key is needed by a sync, not
/// by `--connect`.
#[derive(Clone)]
pub struct RealServices {
    /// The company (realm) id, when configured.
    pub realm_id: Option<String>,
    /// Sandbox or production.
    pub environment: QboEnvironment,
    /// The app's OAuth client id.
    pub client_id: String,
    /// The app's OAuth client secret.
    pub client_secret: SecretString,
    /// A refresh token from the OAuth consent, when configured.
    pub refresh_token: Option<ConfiguredToken>,
    /// Where Intuit sends the browser back after the consent (`--connect`).
    pub redirect_uri: String,
    /// Whether the redirect URI was configured (`serve` has no default for it).
    #[allow(dead_code)] // read by the serve example
    pub redirect_uri_configured: bool,
    /// The Ordoro API key id and secret, when configured.
    pub ordoro_key: Option<(String, SecretString)>,
    /// The Ordoro settings missing for a sync, by name.
    pub missing_for_sync: Vec<String>,
    /// The Ordoro sales channel (cart) orders go to, if set.
    pub sales_channel_id: Option<i64>,
    /// Another Ordoro API base URL than Ordoro's own (a proxy, a local simulator), if set.
    pub ordoro_base_url: Option<String>,
}

impl fmt::Debug for RealServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealServices")
            .field("realm_id", &self.realm_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("ordoro_key_id", &self.ordoro_key.as_ref().map(|(id, _)| id))
            .field("sales_channel_id", &self.sales_channel_id)
            .field("ordoro_base_url", &self.ordoro_base_url)
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
    /// SKU settings.
    pub sku: SkuSection,
    /// The `serve` example's settings (the sync ignores them).
    #[allow(dead_code)] // read by the serve example
    pub web: WebSettings,
}

/// What only the `serve` example reads: the webhook verifier token and the admin login. The
/// verifier token does not decide between the real and the simulated services (the simulated
/// ones make up their own).
#[derive(Default)]
#[allow(dead_code)] // read by the serve example
pub struct WebSettings {
    /// The app's webhook verifier token (`QBO_WEBHOOK_VERIFIER_TOKEN`).
    pub verifier_token: Option<SecretString>,
    /// The admin password, in clear (`QBO_ORDORO_ADMIN_PASSWORD`).
    pub admin_password: Option<SecretString>,
    /// The admin password's argon2 hash, PHC text (`QBO_ORDORO_ADMIN_PASSWORD_HASH`).
    pub admin_password_hash: Option<SecretString>,
}

impl fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSettings")
            .field("verifier_token", &self.verifier_token.as_ref().map(|_| "<set>"))
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<set>"))
            .field("admin_password_hash", &self.admin_password_hash.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The environment variable of the webhook verifier token.
pub const VERIFIER_TOKEN_VAR: &str = "QBO_WEBHOOK_VERIFIER_TOKEN";
/// The environment variable of the admin password.
pub const ADMIN_PASSWORD_VAR: &str = "QBO_ORDORO_ADMIN_PASSWORD";
/// The environment variable of the admin password's argon2 hash.
pub const ADMIN_PASSWORD_HASH_VAR: &str = "QBO_ORDORO_ADMIN_PASSWORD_HASH";

/// The redirect URI `--connect` uses unless one is configured: a localhost port, which Intuit
/// accepts for sandbox keys (production keys need an https redirect URI).
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8765/callback";

/// One setting, read from its environment variable or else from its key in the file.
pub struct Setting {
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

    /// The label of a setting by its names alone.
    pub fn named(env: &'static str, key: &'static str) -> String {
        Setting { env, key, value: None }.label()
    }

    /// `QBO_REALM_ID (or [qbo] realm_id)`.
    pub fn label(&self) -> String {
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
    check_sku(&file.sku)?;
    let FileConfig { qbo, ordoro, sync, sku, web } = file;
    let read = |env, key, raw: Raw, integer_ok| -> Result<Setting, String> {
        Ok(Setting::read(env, key, text(key, raw, integer_ok)?, lookup))
    };
    let verifier = read(
        VERIFIER_TOKEN_VAR,
        "[qbo] webhook_verifier_token",
        qbo.webhook_verifier_token,
        false,
    )?;
    let password = read(ADMIN_PASSWORD_VAR, "[web] admin_password", web.admin_password, false)?;
    let hash =
        read(ADMIN_PASSWORD_HASH_VAR, "[web] admin_password_hash", web.admin_password_hash, false)?;
    if password.value.is_some() && hash.value.is_some() {
        return Err(format!(
            "both {} and {} are set: set one (the hash is the safer to keep in a file)",
            password.label(),
            hash.label()
        ));
    }
    let web = WebSettings {
        verifier_token: verifier.value.map(SecretString::from),
        admin_password: password.value.map(SecretString::from),
        admin_password_hash: hash.value.map(SecretString::from),
    };
    let client_id = read("QBO_CLIENT_ID", "[qbo] client_id", qbo.client_id, false)?;
    let client_secret = read("QBO_CLIENT_SECRET", "[qbo] client_secret", qbo.client_secret, false)?;
    let realm_id = read("QBO_REALM_ID", "[qbo] realm_id", qbo.realm_id, false)?;
    let refresh_token = read("QBO_REFRESH_TOKEN", "[qbo] refresh_token", qbo.refresh_token, false)?;
    let environment = read("QBO_ENVIRONMENT", "[qbo] environment", qbo.environment, false)?;
    let redirect_uri = read("QBO_REDIRECT_URI", "[qbo] redirect_uri", qbo.redirect_uri, false)?;
    let api_base = read("QBO_API_BASE", "[qbo] api_base", qbo.api_base, false)?;
    let token_url = read("QBO_TOKEN_URL", "[qbo] token_url", qbo.token_url, false)?;
    let ordoro_base = read("ORDORO_BASE_URL", "[ordoro] base_url", ordoro.base_url, false)?;
    let key_id = read("ORDORO_KEY_ID", "[ordoro] key_id", ordoro.key_id, false)?;
    let key_secret = read("ORDORO_KEY_SECRET", "[ordoro] key_secret", ordoro.key_secret, false)?;
    let channel = read(
        "ORDORO_SALES_CHANNEL_ID",
        "[ordoro] sales_channel_id",
        ordoro.sales_channel_id,
        true,
    )?;
    let all = [
        &client_id,
        &client_secret,
        &realm_id,
        &refresh_token,
        &environment,
        &redirect_uri,
        &api_base,
        &token_url,
        &key_id,
        &key_secret,
        &channel,
        &ordoro_base,
    ];
    if all.iter().all(|s| s.value.is_none()) {
        return Ok(Settings { services: Services::Simulated, sync, sku, web });
    }
    let missing: Vec<String> = [&client_id, &client_secret]
        .iter()
        .filter(|s| s.value.is_none())
        .map(|s| s.label())
        .collect();
    if !missing.is_empty() {
        return Err(incomplete(&missing));
    }
    let refresh_token = refresh_token.value.clone().map(|token| ConfiguredToken {
        token: token.into(),
        source: if lookup(refresh_token.env).is_some_and(|v| !v.trim().is_empty()) {
            refresh_token.env
        } else {
            refresh_token.key
        },
    });
    let missing_for_sync =
        [&key_id, &key_secret].iter().filter(|s| s.value.is_none()).map(|s| s.label()).collect();
    let ordoro_key = key_id.value.clone().zip(key_secret.value.clone().map(SecretString::from));
    let real = RealServices {
        realm_id: realm_id.value.clone(),
        environment: qbo_environment(&environment, &api_base, &token_url)?,
        client_id: client_id.value.unwrap_or_default(),
        client_secret: client_secret.value.unwrap_or_default().into(),
        refresh_token,
        redirect_uri_configured: redirect_uri.value.is_some(),
        redirect_uri: redirect_uri.value.unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_string()),
        ordoro_key,
        missing_for_sync,
        sales_channel_id: sales_channel(&channel)?,
        ordoro_base_url: ordoro_base.value.clone(),
    };
    Ok(Settings { services: Services::Real(Box::new(real)), sync, sku, web })
}

/// The message of a partial set of credentials, naming what is missing.
pub fn incomplete(missing: &[String]) -> String {
    format!(
        "incomplete credentials: {} {} not set. Set every credential to talk to the real \
         QuickBooks Online and Ordoro, or none to run against the simulated services.",
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" },
    )
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

fn check_sku(sku: &SkuSection) -> Result<(), String> {
    let one_of = |key: &str, value: &Option<String>, allowed: [&str; 2]| match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(format!("[sku] {key} must be `{}` or `{}`, not `{v}`", allowed[0], allowed[1]))
        }
        _ => Ok(()),
    };
    one_of("unknown", &sku.unknown, ["create", "require_known"])?;
    one_of("fractional", &sku.fractional, ["fail", "round_up"])?;
    one_of("bundles", &sku.bundles, ["components", "one_line"])?;
    for (item, target) in sku.map.iter().flatten() {
        if qbo_ordoro::mapping::SkuKey::parse(item).is_none() || target.trim().is_empty() {
            return Err(format!(
                "[sku.map] maps a QBO item name (or `id:N`) to an Ordoro SKU; `{item}` = \
                 `{target}` has an empty side"
            ));
        }
    }
    Ok(())
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

/// Sandbox or production, or other URLs when both the API base and the token endpoint are set
/// (a proxy, or a simulator on loopback).
fn qbo_environment(
    setting: &Setting,
    api_base: &Setting,
    token_url: &Setting,
) -> Result<QboEnvironment, String> {
    match (api_base.value.clone(), token_url.value.clone()) {
        (Some(api_base), Some(token_url)) => {
            return Ok(QboEnvironment::Custom { api_base, token_url });
        }
        (Some(_), None) => {
            return Err(format!("{} is set, so set {} too", api_base.label(), token_url.label()));
        }
        (None, Some(_)) => {
            return Err(format!("{} is set, so set {} too", token_url.label(), api_base.label()));
        }
        (None, None) => {}
    }
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

/// The engine's settings: defaults, then the `[sync]` and `[sku]` tables, then `--class` and
/// `--map-sku` (which wins over the `[sku.map]` entry of the same item).
pub fn sync_config(
    sync: &SyncSection,
    classes: &[String],
    sku: &SkuSection,
    sku_map: &[SkuMapping],
) -> SyncConfig {
    let mut config = SyncConfig::default();
    let classes = if classes.is_empty() { sync.classes.clone() } else { Some(classes.to_vec()) };
    if let Some(classes) = classes {
        config.mapping = std::mem::take(&mut config.mapping).with_classes(classes);
    }
    if let Some(minutes) = sync.overlap_minutes {
        config.overlap = std::time::Duration::from_secs(minutes * 60);
    }
    config.update_existing = sync.update_existing.unwrap_or(config.update_existing);
    config.cancel_on_void = sync.cancel_on_void.unwrap_or(config.cancel_on_void);
    if sku.unknown.as_deref() == Some("require_known") {
        config.unknown_skus = UnknownSkuPolicy::RequireKnown;
    }
    if sku.fractional.as_deref() == Some("round_up") {
        let mapping = std::mem::take(&mut config.mapping);
        config.mapping = mapping.with_fractional_quantities(FractionalPolicy::RoundUp);
    }
    if sku.bundles.as_deref() == Some("one_line") {
        config.mapping = std::mem::take(&mut config.mapping).with_bundles(BundlePolicy::OneLine);
    }
    let from_file = sku.map.iter().flatten().filter_map(|(item, target)| {
        SkuKey::parse(item).map(|key| SkuMapping { key, sku: target.trim().to_string() })
    });
    config.sku_mappings = from_file.chain(sku_map.iter().cloned()).collect();
    config
}
