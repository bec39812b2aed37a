//! PostgreSQL run-time settings (`SET`, `SHOW`, `current_setting`) kept per
//! session as a DataFusion config extension, so every session has its own
//! values and SQL functions can read them from the session config.

use std::any::Any;
use std::collections::BTreeMap;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};

/// The PostgreSQL release huntlake presents itself as.
pub const SERVER_VERSION: &str = "16.6";
pub const SERVER_VERSION_NUM: &str = "160006";

/// Settings clients read or set, with PostgreSQL's defaults. Names are
/// lower-case; `read_only` ones reject `SET`.
const KNOWN: &[(&str, &str, bool)] = &[
    ("application_name", "", false),
    ("bytea_output", "hex", false),
    ("client_encoding", "UTF8", false),
    ("client_min_messages", "notice", false),
    ("datestyle", "ISO, MDY", false),
    ("default_transaction_isolation", "read committed", false),
    ("default_transaction_read_only", "off", false),
    ("extra_float_digits", "1", false),
    ("idle_in_transaction_session_timeout", "0", false),
    ("integer_datetimes", "on", true),
    ("intervalstyle", "postgres", false),
    ("is_superuser", "off", true),
    // No JIT compilation in huntlake; clients (asyncpg) switch it off.
    ("jit", "off", false),
    ("lc_collate", "C.UTF-8", true),
    ("lc_ctype", "C.UTF-8", true),
    ("lc_messages", "C.UTF-8", false),
    ("lc_monetary", "C.UTF-8", false),
    ("lc_numeric", "C.UTF-8", false),
    ("lc_time", "C.UTF-8", false),
    ("lock_timeout", "0", false),
    ("max_identifier_length", "63", true),
    ("max_index_keys", "32", true),
    ("search_path", "\"$user\", public", false),
    ("server_encoding", "UTF8", true),
    ("server_version", SERVER_VERSION, true),
    ("server_version_num", SERVER_VERSION_NUM, true),
    ("standard_conforming_strings", "on", false),
    ("statement_timeout", "0", false),
    ("synchronous_commit", "on", false),
    ("timezone", "UTC", false),
    ("transaction_isolation", "read committed", false),
    ("transaction_read_only", "off", false),
    ("work_mem", "4MB", false),
];

/// Per-session PostgreSQL settings (namespace `pg` in the session config).
#[derive(Debug, Clone, Default)]
pub struct PgSettings {
    /// Values that differ from the defaults, by lower-case name.
    values: BTreeMap<String, String>,
}

impl ConfigExtension for PgSettings {
    const PREFIX: &'static str = "pg";
}

/// Why a setting could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unrecognized configuration parameter \"{0}\"")]
    Unknown(String),
    #[error("parameter \"{0}\" cannot be changed")]
    ReadOnly(String),
}

impl PgSettings {
    /// Canonical (lower-case) name, accepting PostgreSQL's aliases.
    pub fn canonical(name: &str) -> String {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "time zone" | "time_zone" => "timezone".into(),
            "transaction isolation level" => "transaction_isolation".into(),
            "names" => "client_encoding".into(),
            _ => lower,
        }
    }

    fn is_custom(name: &str) -> bool {
        // `myapp.flag`: PostgreSQL accepts any two-part custom setting.
        name.contains('.')
    }

    /// The current value of a setting.
    pub fn get(&self, name: &str) -> Result<String, SettingError> {
        let name = Self::canonical(name);
        if let Some(v) = self.values.get(&name) {
            return Ok(v.clone());
        }
        KNOWN
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, _)| v.to_string())
            .ok_or(SettingError::Unknown(name))
    }

    /// Changes a setting for this session.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SettingError> {
        let name = Self::canonical(name);
        match KNOWN.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, true)) => return Err(SettingError::ReadOnly(name)),
            Some(_) => {}
            None if Self::is_custom(&name) => {}
            None => return Err(SettingError::Unknown(name)),
        }
        self.values.insert(name, value.to_string());
        Ok(())
    }

    /// Restores a setting's default (`RESET name`).
    pub fn reset(&mut self, name: &str) {
        self.values.remove(&Self::canonical(name));
    }

    /// Restores every default (`RESET ALL`, `DISCARD ALL`).
    pub fn reset_all(&mut self) {
        self.values.clear();
    }

    /// Every setting with its current value, sorted by name (`SHOW ALL`).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all: BTreeMap<String, String> =
            KNOWN.iter().map(|(n, v, _)| (n.to_string(), v.to_string())).collect();
        all.extend(self.values.clone());
        all.into_iter().collect()
    }

    /// `statement_timeout` as a duration; `None` when disabled (0).
    /// Plain numbers are milliseconds, units as in PostgreSQL.
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        parse_duration_ms(&self.get("statement_timeout").ok()?)
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    }
}

/// Parses PostgreSQL time-setting text: `5000`, `5s`, `'1min'`, `200 ms`.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim().trim_matches('\'').trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "us" => return Some(n / 1_000),
        _ => return None,
    };
    n.checked_mul(factor)
}

impl ExtensionOptions for PgSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        PgSettings::set(self, key, value).map_err(|e| DataFusionError::Configuration(e.to_string()))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.all()
            .into_iter()
            .map(|(key, value)| ConfigEntry { key: format!("pg.{key}"), value: Some(value), description: "" })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_set_reset() {
        let mut s = PgSettings::default();
        assert_eq!(s.get("server_version_num").unwrap(), SERVER_VERSION_NUM);
        assert_eq!(s.get("DateStyle").unwrap(), "ISO, MDY");
        s.set("application_name", "psql").unwrap();
        assert_eq!(s.get("APPLICATION_NAME").unwrap(), "psql");
        assert_eq!(s.set("server_version", "1"), Err(SettingError::ReadOnly("server_version".into())));
        assert_eq!(s.set("no_such_thing", "1"), Err(SettingError::Unknown("no_such_thing".into())));
        s.set("myapp.flag", "x").unwrap();
        s.reset_all();
        assert_eq!(s.get("application_name").unwrap(), "");
    }

    #[test]
    fn statement_timeout_units() {
        let mut s = PgSettings::default();
        assert_eq!(s.statement_timeout(), None);
        s.set("statement_timeout", "1500").unwrap();
        assert_eq!(s.statement_timeout(), Some(std::time::Duration::from_millis(1500)));
        s.set("statement_timeout", "'2s'").unwrap();
        assert_eq!(s.statement_timeout(), Some(std::time::Duration::from_secs(2)));
        assert_eq!(parse_duration_ms("1min"), Some(60_000));
        assert_eq!(parse_duration_ms("soon"), None);
    }
}
