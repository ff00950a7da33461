//! [`CompanySettings`]: what a person sets per QBO company (on a settings page), kept in the
//! [`Store`](super::Store) and used by the next run.
//!
//! The settings are data only; [`CompanySettings::apply`] (in the engine's config module, which
//! owns [`SyncConfig`](crate::SyncConfig)) lays them over a host's base configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::class_filter::DEFAULT_CLASS;
use crate::{Error, Result};

/// The default [`CompanySettings::poll_interval`]: five minutes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The default [`CompanySettings::catch_up_interval`]: a day, Intuit's own advice for the
/// change-feed reconcile, which keeps an idle company at one QBO request a day.
pub const DEFAULT_CATCH_UP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// One company's settings. Stored as JSON (intervals in whole seconds, as `poll_interval_secs`
/// and `catch_up_interval_secs`); a field missing from a stored document takes its default, so
/// documents written before a field existed read on.
///
/// Defaults ([`CompanySettings::default`]): accepted class `Ordoro`, updates off, cancel on void
/// off, webhooks off, a poll every 5 minutes ([`DEFAULT_POLL_INTERVAL`]), a catch-up every
/// 24 hours ([`DEFAULT_CATCH_UP_INTERVAL`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanySettings {
    /// The QBO class names that mark a sale for Ordoro (at least one).
    pub classes: Vec<String>,
    /// Bring orders already in Ordoro up to date when their sale changes in QBO.
    pub update_existing: bool,
    /// Cancel the Ordoro order of a sale later voided or deleted in QBO.
    pub cancel_on_void: bool,
    /// QBO's webhooks reach the host: runs follow notifications, with a catch-up every
    /// [`catch_up_interval`](Self::catch_up_interval) as the safety net. Off, the company is
    /// polled every [`poll_interval`](Self::poll_interval).
    pub webhooks: bool,
    /// Time between polls when webhooks are off (at least a second).
    #[serde(rename = "poll_interval_secs", with = "whole_seconds")]
    pub poll_interval: Duration,
    /// Time between change-feed catch-ups when webhooks are on (at least a second).
    #[serde(rename = "catch_up_interval_secs", with = "whole_seconds")]
    pub catch_up_interval: Duration,
}

impl Default for CompanySettings {
    fn default() -> Self {
        CompanySettings {
            classes: vec![DEFAULT_CLASS.to_owned()],
            update_existing: false,
            cancel_on_void: false,
            webhooks: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
            catch_up_interval: DEFAULT_CATCH_UP_INTERVAL,
        }
    }
}

impl CompanySettings {
    /// The settings as a store keeps them: validated, then JSON.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn to_stored(&self) -> Result<String> {
        self.validate()?;
        serde_json::to_string(self)
            .map_err(|e| Error::store(format!("could not write settings as JSON: {e}")))
    }

    /// Reads what [`to_stored`](Self::to_stored) wrote for company `realm`.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn from_stored(realm: &str, doc: &str) -> Result<CompanySettings> {
        serde_json::from_str(doc).map_err(|e| {
            Error::store(format!(
                "the stored settings of company {realm} do not read ({e}): save them again"
            ))
        })
    }

    /// Checks the settings can run: at least one class, no blank class name, both intervals at
    /// least a second. Otherwise a [`Config`](crate::ErrorKind::Config) error saying what to
    /// change.
    pub fn validate(&self) -> Result<()> {
        if self.classes.is_empty() {
            return Err(Error::config(
                "the settings accept no QBO class, so no sale would ever sync: add at least one \
                 class name (the default is \"Ordoro\")",
            ));
        }
        if self.classes.iter().any(|c| c.trim().is_empty()) {
            return Err(Error::config(
                "a class name in the settings is blank: remove it or type the QBO class's name",
            ));
        }
        for (name, interval) in
            [("poll interval", self.poll_interval), ("catch-up interval", self.catch_up_interval)]
        {
            if interval < Duration::from_secs(1) {
                return Err(Error::config(format!(
                    "the {name} is {interval:?}: set it to at least one second (defaults: poll \
                     every 5 minutes, catch up every 24 hours)"
                )));
            }
        }
        Ok(())
    }

    /// What the scheduler runs next on its own: the poll interval with webhooks off, the
    /// catch-up interval with them on.
    pub fn safety_net_interval(&self) -> Duration {
        if self.webhooks { self.catch_up_interval } else { self.poll_interval }
    }
}

/// A `Duration` as a whole number of seconds (what a settings form shows).
mod whole_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = CompanySettings::default();
        assert_eq!(s.classes, ["Ordoro"]);
        assert!(!s.update_existing && !s.cancel_on_void && !s.webhooks);
        assert_eq!(s.poll_interval, Duration::from_secs(300));
        assert_eq!(s.catch_up_interval, Duration::from_secs(86_400));
        assert_eq!(s.safety_net_interval(), Duration::from_secs(300));
        s.validate().unwrap();
    }

    #[test]
    fn json_round_trips_and_missing_fields_take_defaults() {
        let s = CompanySettings {
            classes: vec!["Wholesale".into()],
            webhooks: true,
            catch_up_interval: Duration::from_secs(3600),
            ..CompanySettings::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["catch_up_interval_secs"], 3600);
        assert_eq!(serde_json::from_value::<CompanySettings>(json).unwrap(), s);
        let old: CompanySettings = serde_json::from_str(r#"{"webhooks": true}"#).unwrap();
        assert_eq!(old, CompanySettings { webhooks: true, ..CompanySettings::default() });
    }

    #[test]
    fn unusable_settings_are_config_errors_saying_what_to_change() {
        let no_class = CompanySettings { classes: vec![], ..CompanySettings::default() };
        let blank = CompanySettings { classes: vec![" ".into()], ..CompanySettings::default() };
        let zero_poll =
            CompanySettings { poll_interval: Duration::ZERO, ..CompanySettings::default() };
        let zero_catch_up = CompanySettings {
            catch_up_interval: Duration::from_millis(10),
            ..CompanySettings::default()
        };
        for (bad, says) in [
            (no_class, "add at least one class"),
            (blank, "class name"),
            (zero_poll, "poll interval"),
            (zero_catch_up, "catch-up interval"),
        ] {
            let err = bad.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
