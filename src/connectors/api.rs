//! The vendor API driver: incremental polls of EDR alerts into `edr_alerts`.
//!
//! Each configured connector keeps a watermark (the newest `updated_time`
//! landed) in `<lake>/_state/checkpoints/api-<vendor>.json`. A poll asks the
//! vendor for everything updated since the watermark minus an overlap,
//! page by page; each page is normalised (bad records quarantined), landed
//! through the [`AlertStore`] (newest version per alert, atomically), and
//! only then does the watermark move (style habit 5). A crash anywhere
//! re-reads from the last saved watermark, and the store drops the versions
//! it already holds: no gap, no duplicate.
//!
//! The watermark moves after each page while the vendor returns pages in
//! ascending update order (as requested); if a page breaks that order it
//! moves only when the poll completes.

use std::time::Duration;

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::alert_store::{AlertStore, LandOutcome};
use super::alerts::AlertRow;
use super::crowdstrike::{region_base_url, CrowdStrikeSource, CsMode};
use super::http::{ApiClient, ApiError, Auth, HttpStats, RetryPolicy, Secret};
use super::mde::{MdeApi, MdeSource};
use super::sentinelone::SentinelOneSource;
use super::{state_err, ConnectorError, QUARANTINE_DIR};
use crate::config::{secret, Config, ConfigError};
use crate::lake::{LakeLocation, LakeWriter};

/// Quarantined records keep at most this many bytes of the vendor JSON.
const QUARANTINE_RECORD_MAX: usize = 64 * 1024;

/// One page of vendor records, and the request that returned it (for
/// quarantine positions and logs; no query string).
pub struct Page {
    pub records: Vec<Value>,
    pub request: String,
}

/// A vendor API that lists alerts updated since a time, in pages.
#[async_trait::async_trait]
pub trait AlertSource: Send {
    /// The `vendor` column value and the connector's name.
    fn vendor(&self) -> &'static str;
    /// Begins a poll of everything updated at or after `since_us`.
    fn start(&mut self, since_us: i64);
    /// The next page of the poll, or `None` when it is exhausted.
    async fn next_page(&mut self) -> Result<Option<Page>, ApiError>;
    /// One record as an `edr_alerts` row, or why it is quarantined.
    fn normalise(&self, record: &Value) -> Result<AlertRow, String>;
    fn client(&self) -> &ApiClient;
}

/// `2026-11-03T10:00:00.123456Z`, the form all three vendors accept.
pub fn iso_micros(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A connector's saved position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiCheckpoint {
    pub version: u32,
    pub vendor: String,
    /// Newest `updated_time` landed, microseconds since the epoch.
    pub watermark_us: Option<i64>,
    /// The watermark as text, for people reading the file.
    pub watermark: Option<String>,
}

fn checkpoint_path(vendor: &str) -> String {
    format!("_state/checkpoints/api-{vendor}.json")
}

async fn load_checkpoint(lake: &LakeLocation, vendor: &str) -> Result<ApiCheckpoint, ConnectorError> {
    let stored = crate::lake::state::read_json(lake, &checkpoint_path(vendor)).await?;
    Ok(stored.unwrap_or_else(|| ApiCheckpoint { version: 1, vendor: vendor.into(), ..Default::default() }))
}

async fn save_checkpoint(lake: &LakeLocation, cp: &ApiCheckpoint) -> Result<(), ConnectorError> {
    Ok(crate::lake::state::write_json(lake, &checkpoint_path(&cp.vendor), cp).await?)
}

/// What one poll of one connector did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiSummary {
    pub connector: String,
    pub pages: u64,
    pub records: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Versions the lake already had (overlap re-reads, retries): dropped.
    pub duplicates_dropped: u64,
    pub quarantined: u64,
    /// Device addresses learnt from alerts, landed in `assets` (source `edr`).
    pub device_addresses: u64,
    pub quarantine_files: Vec<String>,
    pub watermark: Option<String>,
    pub http: HttpStats,
}

impl std::fmt::Display for ApiSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} page(s), {} record(s); landed {} new and {} updated alert(s); {} duplicate(s) dropped; {} quarantined; \
             {} device address(es) learnt; {} request(s), {} retried, {} rate-limited; watermark {}",
            self.connector,
            self.pages,
            self.records,
            self.inserted,
            self.updated,
            self.duplicates_dropped,
            self.quarantined,
            self.device_addresses,
            self.http.requests,
            self.http.retries,
            self.http.rate_limited,
            self.watermark.as_deref().unwrap_or("-"),
        )?;
        for q in &self.quarantine_files {
            write!(f, "\n  quarantine: {q}")?;
        }
        Ok(())
    }
}

/// Poll settings shared by the connectors.
#[derive(Debug, Clone)]
pub struct PollOptions {
    pub overlap: chrono::Duration,
    pub initial_lookback: chrono::Duration,
}

/// Polls one connector to exhaustion, landing every page.
pub async fn poll(
    lake: &LakeLocation,
    store: &mut AlertStore,
    source: &mut dyn AlertSource,
    options: &PollOptions,
) -> Result<ApiSummary, ConnectorError> {
    let vendor = source.vendor();
    let mut cp = load_checkpoint(lake, vendor).await?;
    let now = chrono::Utc::now().timestamp_micros();
    let since = match cp.watermark_us {
        Some(w) => w - options.overlap.num_microseconds().unwrap_or(0),
        None => now - options.initial_lookback.num_microseconds().unwrap_or(0),
    };
    tracing::info!(connector = vendor, since = %iso_micros(since), "Polling vendor API.");
    let mut summary = ApiSummary { connector: vendor.into(), ..Default::default() };
    source.start(since);
    let mut resolver = super::EntityResolver::from_lake(lake).await?;
    let mut ordered = true;
    let mut newest = cp.watermark_us;
    let mut page_no = 0u64;
    while let Some(page) = source.next_page().await.map_err(ConnectorError::Api)? {
        page_no += 1;
        summary.pages += 1;
        summary.records += page.records.len() as u64;
        let mut rows = Vec::with_capacity(page.records.len());
        let mut quarantine = Vec::new();
        for (i, record) in page.records.iter().enumerate() {
            match source.normalise(record) {
                Ok(row) => rows.push(row),
                Err(reason) => quarantine.push(serde_json::json!({
                    "source": vendor,
                    "request": page.request,
                    "page": page_no,
                    "record": i,
                    "reason": reason,
                    "text": truncate(&record.to_string(), QUARANTINE_RECORD_MAX),
                })),
            }
        }
        let page_newest = rows.iter().map(|r| r.updated_time).max();
        let page_ordered = rows.windows(2).all(|w| w[0].updated_time <= w[1].updated_time)
            && match (rows.first(), newest) {
                (Some(first), Some(n)) => first.updated_time >= n - options.overlap.num_microseconds().unwrap_or(0),
                _ => true,
            };
        ordered &= page_ordered;

        let addresses = device_addresses(&rows, &mut resolver);
        let outcome: LandOutcome = store.land(rows, chrono::Utc::now().timestamp_micros()).await?;
        if !addresses.is_empty() {
            let batch = super::assets_batch_with_source(&addresses, "edr").map_err(|e| land_assets_err(e.into()))?;
            LakeWriter::new(lake.clone()).write("assets", &batch).await.map_err(land_assets_err)?;
            summary.device_addresses += addresses.len() as u64;
        }
        super::failpoint("api.after_land");
        summary.inserted += outcome.inserted;
        summary.updated += outcome.updated;
        summary.duplicates_dropped += outcome.unchanged;
        if !quarantine.is_empty() {
            let url = write_quarantine(lake, vendor, page_no, &quarantine).await?;
            tracing::warn!(connector = vendor, records = quarantine.len(), quarantine = %url, "Quarantined vendor records that could not be normalised.");
            summary.quarantined += quarantine.len() as u64;
            summary.quarantine_files.push(url);
        }
        newest = newest.max(page_newest);
        if ordered && newest != cp.watermark_us {
            cp.watermark_us = newest;
            cp.watermark = newest.map(iso_micros);
            save_checkpoint(lake, &cp).await?;
        }
        tracing::info!(connector = vendor, page = page_no, records = page.records.len(), inserted = outcome.inserted,
            updated = outcome.updated, dropped = outcome.unchanged, "Landed a page of alerts.");
    }
    if newest != cp.watermark_us {
        cp.watermark_us = newest;
        cp.watermark = newest.map(iso_micros);
        save_checkpoint(lake, &cp).await?;
    }
    summary.watermark = cp.watermark.clone();
    summary.http = source.client().stats.clone();
    Ok(summary)
}

/// The (device, address) pairs alerts reveal that `assets` does not yet
/// say, as intervals starting at the alert: flows from that address are
/// then resolved to the device (the resolver picks the latest-starting
/// interval, so a later DHCP lease or alert takes over).
fn device_addresses(rows: &[AlertRow], resolver: &mut super::EntityResolver) -> Vec<super::AssetRow> {
    let mut sorted: Vec<&AlertRow> = rows.iter().filter(|r| r.device_ip.is_some()).collect();
    sorted.sort_by_key(|r| r.time);
    let mut out = Vec::new();
    for r in sorted {
        let ip = r.device_ip.as_deref().expect("filtered");
        if resolver.lookup(ip, r.time) != Some(r.entity.as_str()) {
            resolver.add(ip, r.time, None, &r.entity);
            out.push(super::AssetRow { entity: r.entity.clone(), ip: ip.to_string(), valid_from: r.time, valid_to: None });
        }
    }
    out
}

fn land_assets_err(source: crate::lake::LakeError) -> ConnectorError {
    ConnectorError::Land { sensor: "edr", file: "vendor API".into(), table: "assets", source: Box::new(source) }
}

async fn write_quarantine(lake: &LakeLocation, vendor: &str, page: u64, entries: &[Value]) -> Result<String, ConnectorError> {
    let name = format!("{QUARANTINE_DIR}/{vendor}-{}-p{page}.jsonl", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"));
    let path = lake.child(&name);
    let mut text = String::new();
    for e in entries {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    lake.store.put(&path, PutPayload::from(text.into_bytes())).await.map_err(|e| state_err("write", &path, e))?;
    Ok(format!("{}{name}", lake.url))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}


// ---------------------------------------------------------------------------
// Building connectors from the configuration

fn policy(config: &Config) -> RetryPolicy {
    let mut p = RetryPolicy::default();
    if let Some(n) = config.ingest.max_attempts {
        p.max_attempts = n.max(1);
    }
    if let Some(ms) = config.ingest.backoff_ms {
        p.base_delay = Duration::from_millis(ms);
    }
    if let Some(s) = config.ingest.timeout_seconds {
        p.timeout = Duration::from_secs(s.max(1));
    }
    p
}

fn checked_url(setting: &'static str, value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(value.trim_end_matches('/').to_string()),
        Ok(_) | Err(_) => Err(ConfigError::Invalid { setting, value: value.into(), reason: "expected an http(s) URL".into() }),
    }
}

/// The API connectors of the configuration, ready to poll.
pub fn configured_sources(config: &Config, env: impl Fn(&str) -> Option<String>) -> Result<Vec<Box<dyn AlertSource>>, ConfigError> {
    let mut out: Vec<Box<dyn AlertSource>> = Vec::new();
    let client = |name: &str, auth: Auth| {
        ApiClient::new(name, auth, policy(config)).map_err(|e| ConfigError::Invalid {
            setting: "connectors",
            value: name.into(),
            reason: e.to_string(),
        })
    };
    if let Some(c) = &config.connectors.mde {
        let api = match c.api.as_deref().unwrap_or("graph") {
            "graph" => MdeApi::Graph,
            "defender" => MdeApi::Defender,
            other => {
                return Err(ConfigError::Invalid { setting: "connectors.mde.api", value: other.into(), reason: "use graph or defender".into() })
            }
        };
        let default_base = match api {
            MdeApi::Graph => "https://graph.microsoft.com",
            MdeApi::Defender => "https://api.securitycenter.microsoft.com",
        };
        let base = checked_url("connectors.mde.base_url", c.base_url.as_deref().unwrap_or(default_base))?;
        let token_url = match &c.token_url {
            Some(t) => checked_url("connectors.mde.token_url", t)?,
            None => format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", c.tenant_id),
        };
        let scope = c.scope.clone().unwrap_or_else(|| format!("{default_base}/.default"));
        let secret = secret("connectors.mde.client_secret", &c.client_secret, &c.client_secret_env, "HUNTLAKE_MDE_CLIENT_SECRET", &env)?;
        let auth = Auth::ClientCredentials {
            token_url,
            client_id: c.client_id.clone(),
            client_secret: Secret::new(secret),
            form: vec![("scope".into(), scope)],
            token: None,
        };
        out.push(Box::new(MdeSource::new(client("mde", auth)?, api, &base, c.page_size.unwrap_or(500), c.endpoint_only.unwrap_or(true))));
    }
    if let Some(c) = &config.connectors.crowdstrike {
        let base = match (&c.base_url, &c.region) {
            (Some(b), _) => checked_url("connectors.crowdstrike.base_url", b)?,
            (None, Some(r)) => region_base_url(r)
                .ok_or_else(|| ConfigError::Invalid {
                    setting: "connectors.crowdstrike.region",
                    value: r.clone(),
                    reason: "use us-1, us-2, eu-1, us-gov-1 or us-gov-2, or set base_url".into(),
                })?
                .to_string(),
            (None, None) => "https://api.crowdstrike.com".to_string(),
        };
        let token_url = match &c.token_url {
            Some(t) => checked_url("connectors.crowdstrike.token_url", t)?,
            None => format!("{base}/oauth2/token"),
        };
        let mode = match c.mode.as_deref().unwrap_or("query") {
            "query" => CsMode::Query,
            "combined" => CsMode::Combined,
            other => {
                return Err(ConfigError::Invalid { setting: "connectors.crowdstrike.mode", value: other.into(), reason: "use query or combined".into() })
            }
        };
        let secret = secret(
            "connectors.crowdstrike.client_secret",
            &c.client_secret,
            &c.client_secret_env,
            "HUNTLAKE_CROWDSTRIKE_CLIENT_SECRET",
            &env,
        )?;
        let form = c.member_cid.iter().map(|m| ("member_cid".to_string(), m.clone())).collect();
        let auth = Auth::ClientCredentials { token_url, client_id: c.client_id.clone(), client_secret: Secret::new(secret), form, token: None };
        let discover = c.base_url.is_none() && c.region.is_none();
        out.push(Box::new(CrowdStrikeSource::new(client("crowdstrike", auth)?, &base, mode, c.page_size.unwrap_or(500), discover)));
    }
    if let Some(c) = &config.connectors.sentinelone {
        let base = checked_url("connectors.sentinelone.base_url", &c.base_url)?;
        let token = secret("connectors.sentinelone.api_token", &c.api_token, &c.api_token_env, "HUNTLAKE_SENTINELONE_API_TOKEN", &env)?;
        let mut scope = Vec::new();
        if !c.site_ids.is_empty() {
            scope.push(("siteIds", c.site_ids.join(",")));
        }
        if !c.account_ids.is_empty() {
            scope.push(("accountIds", c.account_ids.join(",")));
        }
        let console = c.console_url.as_deref().map(|u| checked_url("connectors.sentinelone.console_url", u)).transpose()?;
        let auth = Auth::Static { scheme: "ApiToken", token: Secret::new(token) };
        out.push(Box::new(SentinelOneSource::new(client("sentinelone", auth)?, &base, console.as_deref(), c.page_size.unwrap_or(500), scope)));
    }
    Ok(out)
}
