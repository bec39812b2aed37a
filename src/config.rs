//! Settings: a TOML file (`--config huntlake.toml`), then `HUNTLAKE_*`
//! environment variables, then command-line flags, each overriding the one
//! before. `huntlake.example.toml` documents every field; a test parses it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::server::{Credential, Role, ScramVerifier, ThrottleOptions};

/// The lake served when none is configured: the committed demo lake.
pub const DEFAULT_LAKE: &str = "data/demo-lake";
/// PostgreSQL's port plus one, so huntlake can run beside a PostgreSQL.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";
/// The demo login (role analyst), used only when no user is configured.
pub const DEMO_USER: &str = "huntlake";
pub const DEMO_PASSWORD: &str = "huntlake";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The lake: a local folder or an object-store URL (`s3://bucket/prefix`).
    pub lake: Option<String>,
    /// The Postgres endpoint.
    #[serde(default)]
    pub server: ServerConfig,
    /// The query engine.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Live detection (`huntlake detect`).
    #[serde(default)]
    pub detect: DetectConfig,
    /// How `huntlake ingest` polls and retries.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// The sources `huntlake ingest` reads (vendor APIs and log folders).
    #[serde(default)]
    pub connectors: ConnectorsConfig,
}

/// `[ingest]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Seconds between polls with `huntlake ingest --follow`.
    pub interval_seconds: Option<u64>,
    /// Each poll re-reads alerts updated this long before the last one seen
    /// (e.g. `5m`), for vendors whose updates become visible late.
    pub overlap: Option<String>,
    /// How far back the first poll of a connector reaches (e.g. `30d`).
    pub initial_lookback: Option<String>,
    /// Attempts per HTTP request on 5xx/timeouts, the first included.
    pub max_attempts: Option<u32>,
    /// First backoff after a failed request, in milliseconds; doubles each time.
    pub backoff_ms: Option<u64>,
    /// Seconds before an HTTP request times out.
    pub timeout_seconds: Option<u64>,
}

/// `[connectors]`: each configured source is read by `huntlake ingest`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    pub mde: Option<MdeConfig>,
    pub crowdstrike: Option<CrowdStrikeConfig>,
    pub sentinelone: Option<SentinelOneConfig>,
    pub zeek: Option<FilesConfig>,
    pub suricata: Option<FilesConfig>,
}

/// `[connectors.mde]`: Microsoft Defender for Endpoint.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MdeConfig {
    /// `graph` (Microsoft Graph security/alerts_v2, default) or `defender`
    /// (the Defender for Endpoint API, api/alerts).
    pub api: Option<String>,
    /// Entra tenant id.
    pub tenant_id: String,
    /// App registration (client) id.
    pub client_id: String,
    /// Client secret; prefer `client_secret_env` (default variable:
    /// HUNTLAKE_MDE_CLIENT_SECRET).
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    /// API base URL (default https://graph.microsoft.com, or
    /// https://api.securitycenter.microsoft.com for `defender`).
    pub base_url: Option<String>,
    /// Token URL (default https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token).
    pub token_url: Option<String>,
    /// OAuth2 scope (default: the API's `.default` scope).
    pub scope: Option<String>,
    /// Alerts per page.
    pub page_size: Option<usize>,
    /// Graph only: keep to alerts of Defender for Endpoint (default true).
    pub endpoint_only: Option<bool>,
}

/// `[connectors.crowdstrike]`: CrowdStrike Falcon.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrowdStrikeConfig {
    pub client_id: String,
    /// Prefer `client_secret_env` (default variable: HUNTLAKE_CROWDSTRIKE_CLIENT_SECRET).
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    /// Falcon cloud: us-1 (default), us-2, eu-1, us-gov-1, us-gov-2.
    pub region: Option<String>,
    /// API base URL; overrides `region` (proxies, local test servers).
    pub base_url: Option<String>,
    /// Token URL (default {base_url}/oauth2/token).
    pub token_url: Option<String>,
    /// MSSP: the child CID to act for.
    pub member_cid: Option<String>,
    /// `query` (ids, then entities in batches of at most 1000; default) or
    /// `combined` (the `after` cursor endpoint).
    pub mode: Option<String>,
    /// Alerts per page (at most 1000).
    pub page_size: Option<usize>,
}

/// `[connectors.sentinelone]`: SentinelOne threats.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SentinelOneConfig {
    /// Management console URL, e.g. https://usea1-corp.sentinelone.net.
    pub base_url: String,
    /// Prefer `api_token_env` (default variable: HUNTLAKE_SENTINELONE_API_TOKEN).
    pub api_token: Option<String>,
    pub api_token_env: Option<String>,
    /// Console URL for deep links, when it differs from `base_url`.
    pub console_url: Option<String>,
    /// Restrict to these sites / accounts.
    #[serde(default)]
    pub site_ids: Vec<String>,
    #[serde(default)]
    pub account_ids: Vec<String>,
    /// Threats per page (at most 1000).
    pub page_size: Option<usize>,
}

/// `[connectors.zeek]` / `[connectors.suricata]`: log files and folders.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub paths: Vec<PathBuf>,
}

macro_rules! redacted_debug {
    ($t:ty, $name:literal, [$($field:ident),*], [$($secret:ident),*]) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($name)
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &self.$secret.as_ref().map(|_| "<redacted>")))*
                    .finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(MdeConfig, "MdeConfig", [api, tenant_id, client_id, base_url, token_url], [client_secret]);
redacted_debug!(CrowdStrikeConfig, "CrowdStrikeConfig", [client_id, region, base_url, token_url, mode], [client_secret]);
redacted_debug!(SentinelOneConfig, "SentinelOneConfig", [base_url, console_url, site_ids, account_ids], [api_token]);

/// A secret from the file, a named variable, or the connector's default
/// variable, in that order.
pub fn secret(
    setting: &'static str,
    value: &Option<String>,
    var: &Option<String>,
    default_var: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    if let Some(v) = value {
        return Ok(v.clone());
    }
    let name = var.as_deref().unwrap_or(default_var);
    env(name).filter(|v| !v.is_empty()).ok_or_else(|| ConfigError::Invalid {
        setting,
        value: name.to_string(),
        reason: format!("no secret configured: set the environment variable {name} (or the setting in the file)"),
    })
}

/// `[detect]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Seconds between live detection cycles.
    pub interval_seconds: Option<u64>,
    /// How far back each cycle looks again, for late data (e.g. `2h`).
    pub lookback: Option<String>,
    /// Per detection and device, drop hits within this long of the last one (e.g. `1h`; `0s` = off).
    pub suppress: Option<String>,
    /// URLs that receive a JSON POST per new detection.
    #[serde(default)]
    pub webhooks: Vec<String>,
}

/// `[server]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on, e.g. `127.0.0.1:5433`.
    pub listen: Option<String>,
    /// Connections served at once; more are refused with SQLSTATE 53300.
    pub max_connections: Option<usize>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Refuse connections that do not use TLS.
    pub tls_require: Option<bool>,
    /// Largest message a client may send, e.g. `16MiB`.
    pub max_message_size: Option<String>,
    /// Failed logins from one address before it is locked out.
    pub login_max_failures: Option<u32>,
    /// How long a locked-out address must wait, in seconds.
    pub login_lockout_seconds: Option<u64>,
    /// Users allowed to log in with SCRAM-SHA-256.
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

/// `[[server.users]]`
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// SCRAM-SHA-256 verifier from `huntlake passwd` (never a plain password).
    pub password: Option<String>,
    /// Name of an environment variable holding the verifier.
    pub password_env: Option<String>,
    /// `reader` (default: queries only) or `analyst` (may also create views).
    #[serde(default)]
    pub role: Role,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("role", &self.role)
            .finish()
    }
}

/// `[engine]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Memory for query execution, e.g. `4GiB`; operators that can spill to
    /// disk do so beyond it, others fail with SQLSTATE 53200.
    pub memory_limit: Option<String>,
    /// Folder for spill files (default: the system temporary folder).
    pub spill_dir: Option<PathBuf>,
    /// Folder of your own `.sql` view files, loaded after the built-in ones.
    pub sql_dir: Option<PathBuf>,
}

/// Errors in the configuration, naming the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("invalid {setting} {value:?}: {reason}")]
    Invalid { setting: &'static str, value: String, reason: String },
}

impl Config {
    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })
    }

    /// Applies `HUNTLAKE_*` variables from `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("HUNTLAKE_LAKE") {
            self.lake = Some(v);
        }
        if let Some(v) = env("HUNTLAKE_LISTEN") {
            self.server.listen = Some(v);
        }
        if let Some(v) = env("HUNTLAKE_MAX_CONNECTIONS") {
            let n = v.parse().map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                setting: "HUNTLAKE_MAX_CONNECTIONS",
                value: v.clone(),
                reason: e.to_string(),
            })?;
            self.server.max_connections = Some(n);
        }
        if let Some(v) = env("HUNTLAKE_MEMORY_LIMIT") {
            self.engine.memory_limit = Some(v);
        }
        if let Some(v) = env("HUNTLAKE_SQL_DIR") {
            self.engine.sql_dir = Some(v.into());
        }
        match (env("HUNTLAKE_USER"), env("HUNTLAKE_PASSWORD")) {
            (Some(name), Some(password)) => {
                self.server.users.retain(|u| u.name != name);
                self.server.users.push(UserConfig { name, password: Some(password), password_env: None, role: Role::Reader });
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "HUNTLAKE_USER/HUNTLAKE_PASSWORD",
                    value: String::new(),
                    reason: "set both or neither".into(),
                })
            }
        }
        Ok(())
    }

    pub fn lake(&self) -> &str {
        self.lake.as_deref().unwrap_or(DEFAULT_LAKE)
    }

    pub fn listen(&self) -> Result<SocketAddr, ConfigError> {
        let value = self.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        value.parse().map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
            setting: "server.listen",
            value: value.into(),
            reason: format!("{e}; use ADDRESS:PORT such as 127.0.0.1:5433"),
        })
    }

    pub fn max_connections(&self) -> usize {
        self.server.max_connections.unwrap_or(100)
    }

    /// The configured users, or the documented demo user when none is.
    /// Passwords must be SCRAM-SHA-256 verifiers: a plain password in the
    /// configuration is refused (and not echoed in the error).
    pub fn credentials(&self, env: impl Fn(&str) -> Option<String>) -> Result<Vec<Credential>, ConfigError> {
        if self.server.users.is_empty() {
            return Ok(vec![Credential::from_password(DEMO_USER, DEMO_PASSWORD, Role::Analyst)]);
        }
        self.server
            .users
            .iter()
            .map(|u| {
                let (setting, text) = match (&u.password, &u.password_env) {
                    (Some(p), None) => ("server.users.password", p.clone()),
                    (None, Some(var)) => (
                        "server.users.password_env",
                        env(var).ok_or_else(|| ConfigError::Invalid {
                            setting: "server.users.password_env",
                            value: var.clone(),
                            reason: format!("environment variable is not set (user {})", u.name),
                        })?,
                    ),
                    _ => {
                        return Err(ConfigError::Invalid {
                            setting: "server.users",
                            value: u.name.clone(),
                            reason: "give exactly one of password or password_env".into(),
                        })
                    }
                };
                let verifier = ScramVerifier::parse(&text).map_err(|e| ConfigError::Invalid {
                    setting,
                    value: u.name.clone(),
                    reason: format!("{e}; plain passwords are not accepted"),
                })?;
                Ok(Credential::new(u.name.clone(), verifier, u.role))
            })
            .collect()
    }

    /// Largest frontend message, in bytes.
    pub fn max_message_size(&self) -> Result<usize, ConfigError> {
        match self.server.max_message_size.as_deref() {
            Some(t) => parse_size(t).map_err(|e| match e {
                ConfigError::Invalid { value, reason, .. } => {
                    ConfigError::Invalid { setting: "server.max_message_size", value, reason }
                }
                other => other,
            }),
            None => Ok(crate::server::DEFAULT_MAX_MESSAGE_SIZE),
        }
    }

    pub fn login_throttle(&self) -> ThrottleOptions {
        let mut t = ThrottleOptions::default();
        if let Some(n) = self.server.login_max_failures {
            t.max_failures = n;
        }
        if let Some(s) = self.server.login_lockout_seconds {
            t.lockout = std::time::Duration::from_secs(s);
        }
        t
    }

    pub fn detect_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.detect.interval_seconds.unwrap_or(30).max(1))
    }

    pub fn detect_lookback(&self) -> Result<chrono::Duration, ConfigError> {
        parse_duration("detect.lookback", self.detect.lookback.as_deref().unwrap_or("2h"))
    }

    pub fn detect_suppress(&self) -> Result<chrono::Duration, ConfigError> {
        parse_duration("detect.suppress", self.detect.suppress.as_deref().unwrap_or("0s"))
    }

    pub fn ingest_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ingest.interval_seconds.unwrap_or(60).max(1))
    }

    pub fn ingest_overlap(&self) -> Result<chrono::Duration, ConfigError> {
        parse_duration("ingest.overlap", self.ingest.overlap.as_deref().unwrap_or("5m"))
    }

    pub fn ingest_initial_lookback(&self) -> Result<chrono::Duration, ConfigError> {
        parse_duration("ingest.initial_lookback", self.ingest.initial_lookback.as_deref().unwrap_or("30d"))
    }

    pub fn memory_limit(&self) -> Result<Option<usize>, ConfigError> {
        self.engine.memory_limit.as_deref().map(parse_size).transpose()
    }
}

/// Parses `90s`, `15m`, `2h`, `7d`.
pub fn parse_duration(setting: &'static str, text: &str) -> Result<chrono::Duration, ConfigError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let invalid = || ConfigError::Invalid { setting, value: text.into(), reason: "use a number and s, m, h or d, e.g. 2h".into() };
    let n: i64 = num.parse().map_err(|_| invalid())?;
    Ok(match unit.trim() {
        "s" | "" => chrono::Duration::seconds(n),
        "m" | "min" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(invalid()),
    })
}

/// Parses `4GiB`, `512MB`, `1073741824`.
pub fn parse_size(text: &str) -> Result<usize, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        setting: "engine.memory_limit",
        value: text.into(),
        reason: reason.into(),
    };
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| invalid("expected a number with an optional unit such as 4GiB"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        _ => return Err(invalid("unknown unit; use B, KiB, MiB, GiB or TiB")),
    };
    Ok((n * factor) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_documents_every_field() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("huntlake.example.toml");
        let cfg = Config::from_file(&path).unwrap();
        assert!(cfg.lake.is_some());
        assert!(cfg.server.listen.is_some() && cfg.server.max_connections.is_some());
        assert!(!cfg.server.users.is_empty());
        assert!(cfg.server.tls_cert.is_some() && cfg.server.tls_key.is_some() && cfg.server.tls_require.is_some());
        assert!(cfg.server.login_max_failures.is_some() && cfg.server.login_lockout_seconds.is_some());
        assert_eq!(cfg.max_message_size().unwrap(), 16 << 20);
        assert!(cfg.server.users.iter().any(|u| u.role == Role::Analyst) && cfg.server.users.iter().any(|u| u.role == Role::Reader));
        let creds = cfg.credentials(|_| Some(ScramVerifier::generate("x").to_string())).unwrap();
        assert_eq!(creds.len(), cfg.server.users.len());
        assert!(cfg.engine.memory_limit.is_some() && cfg.engine.spill_dir.is_some() && cfg.engine.sql_dir.is_some());
        cfg.listen().unwrap();
        cfg.memory_limit().unwrap();
        assert!(cfg.detect.interval_seconds.is_some() && !cfg.detect.webhooks.is_empty());
        assert_eq!(cfg.detect_lookback().unwrap(), chrono::Duration::hours(2));
        assert_eq!(cfg.detect_suppress().unwrap(), chrono::Duration::hours(1));
        let c = &cfg.connectors;
        assert!(c.mde.is_some() && c.crowdstrike.is_some() && c.sentinelone.is_some());
        assert!(c.zeek.is_some() && c.suricata.is_some());
        assert!(cfg.ingest.interval_seconds.is_some() && cfg.ingest.max_attempts.is_some());
        assert_eq!(cfg.ingest_overlap().unwrap(), chrono::Duration::minutes(5));
        cfg.ingest_initial_lookback().unwrap();
    }

    #[test]
    fn connector_secrets_come_from_env_and_never_print() {
        let cfg: Config = toml::from_str(
            "[connectors.crowdstrike]\nclient_id = 'id'\nclient_secret = 's3cr3t'\n[connectors.sentinelone]\nbase_url = 'https://x'\n",
        )
        .unwrap();
        let cs = cfg.connectors.crowdstrike.as_ref().unwrap();
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        assert_eq!(secret("x", &cs.client_secret, &cs.client_secret_env, "V", |_| None).unwrap(), "s3cr3t");
        let s1 = cfg.connectors.sentinelone.as_ref().unwrap();
        let err = secret("connectors.sentinelone.api_token", &s1.api_token, &s1.api_token_env, "HUNTLAKE_SENTINELONE_API_TOKEN", |_| None)
            .unwrap_err();
        assert!(err.to_string().contains("HUNTLAKE_SENTINELONE_API_TOKEN"), "{err}");
        let ok = secret("x", &None, &None, "T", |k| (k == "T").then(|| "tok".to_string())).unwrap();
        assert_eq!(ok, "tok");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<Config>("lake = 'x'\nlisten = 'y'").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_demo_user_is_the_default() {
        let mut cfg: Config = toml::from_str("lake = 'a'").unwrap();
        assert_eq!(cfg.credentials(|_| None).unwrap()[0].user, DEMO_USER);
        let verifier = ScramVerifier::generate("pw").to_string();
        cfg.apply_env(|k| match k {
            "HUNTLAKE_LAKE" => Some("b".into()),
            "HUNTLAKE_USER" => Some("ana".into()),
            "HUNTLAKE_PASSWORD" => Some(verifier.clone()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.lake(), "b");
        let creds = cfg.credentials(|_| None).unwrap();
        assert_eq!(creds.len(), 1);
        assert_eq!(creds[0].user, "ana");
        assert_eq!(creds[0].role, Role::Reader);
        let debug = format!("{creds:?}");
        assert!(!debug.contains(&verifier) && !debug.contains(verifier.split('$').nth(2).unwrap()), "verifiers never appear in debug output");
    }

    #[test]
    fn plain_passwords_are_refused_without_being_echoed() {
        let cfg: Config = toml::from_str("[[server.users]]\nname = 'ana'\npassword = 'hunter2'\nrole = 'analyst'").unwrap();
        let err = cfg.credentials(|_| None).unwrap_err().to_string();
        assert!(err.contains("huntlake passwd") && !err.contains("hunter2"), "{err}");
        let err = toml::from_str::<Config>("[[server.users]]\nname = 'ana'\npassword = 'x'\nrole = 'root'").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512 MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
    }
}
