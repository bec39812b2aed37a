//! CrowdStrike Falcon alerts (Alerts API v2).
//!
//! Two ways to page, both filtered with FQL `updated_timestamp:>='…'` and
//! sorted by `updated_timestamp|asc`:
//!
//! * `query` (default): `GET /alerts/queries/alerts/v2` returns composite
//!   ids, `POST /alerts/entities/alerts/v2` fetches them (at most 1000 per
//!   call). Offset paging stops at 10,000 results, so past that the query
//!   restarts from the newest `updated_timestamp` seen (duplicates from the
//!   overlap are dropped by the alert store).
//! * `combined`: `POST /alerts/combined/alerts/v1` with the `after` cursor.
//!
//! CrowdStrike may report `errors[]` even with HTTP 200: with no resources
//! that is a failure, with resources a warning.

use reqwest::Method;
use serde_json::{json, Value};

use super::alerts::{self, AlertRow};
use super::api::{iso_micros, AlertSource, Page};
use super::http::{errors_text, redact_url, ApiClient, ApiError};

/// Offset + limit may not exceed this on the query endpoint.
const OFFSET_WINDOW: usize = 10_000;
/// Ids per entities call.
const ENTITIES_MAX: usize = 1000;

/// API base URL of a Falcon cloud region.
pub fn region_base_url(region: &str) -> Option<&'static str> {
    Some(match region.to_ascii_lowercase().as_str() {
        "us-1" => "https://api.crowdstrike.com",
        "us-2" => "https://api.us-2.crowdstrike.com",
        "eu-1" => "https://api.eu-1.crowdstrike.com",
        "us-gov-1" => "https://api.laggar.gcw.crowdstrike.com",
        "us-gov-2" => "https://api.us-gov-2.crowdstrike.mil",
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsMode {
    Query,
    Combined,
}

pub struct CrowdStrikeSource {
    client: ApiClient,
    base_url: String,
    /// Neither `region` nor `base_url` was configured: follow the region the
    /// token endpoint reports in `X-Cs-Region` (as falconpy does; never for
    /// GovCloud, whose token endpoint is separate).
    discover_region: bool,
    mode: CsMode,
    page_size: usize,
    since: i64,
    offset: usize,
    after: Option<String>,
    /// Newest `updated_timestamp` seen in this poll (for restarting past 10k).
    newest: i64,
    done: bool,
}

impl CrowdStrikeSource {
    pub fn new(client: ApiClient, base_url: &str, mode: CsMode, page_size: usize, discover_region: bool) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            discover_region,
            mode,
            page_size: page_size.clamp(1, ENTITIES_MAX),
            since: 0,
            offset: 0,
            after: None,
            newest: 0,
            done: true,
        }
    }

    fn filter(&self) -> String {
        format!("updated_timestamp:>='{}'", iso_micros(self.since))
    }

    /// `errors[]` of a 200 response: an error when nothing came back.
    fn check_errors(&self, url: &str, body: &Value, have_resources: bool) -> Result<(), ApiError> {
        let Some(errors) = body.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) else { return Ok(()) };
        let detail = errors_text(errors);
        if have_resources {
            tracing::warn!(connector = %self.client.connector, path = %redact_url(url), errors = %detail, "CrowdStrike reported errors alongside results.");
            Ok(())
        } else {
            Err(ApiError::Vendor { connector: self.client.connector.clone(), url: redact_url(url), detail })
        }
    }

    fn resources(&self, url: &str, body: &Value) -> Result<Vec<Value>, ApiError> {
        let resources = match body.get("resources") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(self.client.decode_error(url, "\"resources\" is not an array"))
            }
        };
        self.check_errors(url, body, !resources.is_empty())?;
        Ok(resources)
    }

    async fn query_page(&mut self) -> Result<Option<Page>, ApiError> {
        if self.offset + self.page_size > OFFSET_WINDOW {
            // Shrink the window: restart from the newest version seen.
            if self.newest <= self.since {
                return Err(ApiError::Vendor {
                    connector: self.client.connector.clone(),
                    url: format!("{}/alerts/queries/alerts/v2", self.base_url),
                    detail: format!(
                        "more than {OFFSET_WINDOW} alerts share updated_timestamp {}; use mode = \"combined\"",
                        iso_micros(self.since)
                    ),
                });
            }
            self.since = self.newest;
            self.offset = 0;
        }
        let mut url = url::Url::parse(&format!("{}/alerts/queries/alerts/v2", self.base_url)).expect("validated base url");
        url.query_pairs_mut()
            .append_pair("filter", &self.filter())
            .append_pair("sort", "updated_timestamp|asc")
            .append_pair("limit", &self.page_size.to_string())
            .append_pair("offset", &self.offset.to_string())
            .append_pair("include_hidden", "true");
        let url = url.to_string();
        let response = self.client.send(Method::GET, &url, None).await?;
        let ids = self.resources(&url, &response.body)?;
        let ids: Vec<String> = ids.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
        let total = response.body.pointer("/meta/pagination/total").and_then(Value::as_u64).map(|t| t as usize);
        if ids.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.offset += ids.len();
        if total.is_some_and(|t| self.offset >= t) || ids.len() < self.page_size {
            self.done = true;
        }
        let entities_url = format!("{}/alerts/entities/alerts/v2?include_hidden=true", self.base_url);
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ENTITIES_MAX) {
            let body = json!({ "composite_ids": chunk });
            let response = self.client.send(Method::POST, &entities_url, Some(&body)).await?;
            records.extend(self.resources(&entities_url, &response.body)?);
        }
        Ok(Some(Page { records, request: redact_url(&url) }))
    }

    async fn combined_page(&mut self) -> Result<Option<Page>, ApiError> {
        let url = format!("{}/alerts/combined/alerts/v1", self.base_url);
        let mut body = json!({"filter": self.filter(), "sort": "updated_timestamp|asc", "limit": self.page_size});
        if let Some(a) = &self.after {
            body["after"] = json!(a);
        }
        let response = self.client.send(Method::POST, &url, Some(&body)).await?;
        let records = self.resources(&url, &response.body)?;
        match response.body.pointer("/meta/pagination/after").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            Some(a) if !records.is_empty() => self.after = Some(a.to_string()),
            _ => self.done = true,
        }
        if records.is_empty() {
            return Ok(None);
        }
        Ok(Some(Page { records, request: redact_url(&url) }))
    }
}

#[async_trait::async_trait]
impl AlertSource for CrowdStrikeSource {
    fn vendor(&self) -> &'static str {
        "crowdstrike"
    }

    fn start(&mut self, since_us: i64) {
        self.since = since_us;
        self.newest = since_us;
        self.offset = 0;
        self.after = None;
        self.done = false;
    }

    async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        if self.done {
            return Ok(None);
        }
        if self.discover_region {
            self.client.authenticate().await?;
            let region = self.client.token_headers.get("x-cs-region").and_then(|v| v.to_str().ok()).map(str::to_string);
            if let Some(base) = region.as_deref().filter(|r| !r.contains("gov")).and_then(region_base_url) {
                if base != self.base_url {
                    tracing::info!(connector = %self.client.connector, region = region.as_deref().unwrap_or(""), base_url = base, "Following the API region the token endpoint reported.");
                    self.base_url = base.to_string();
                }
            }
            self.discover_region = false;
        }
        let page = match self.mode {
            CsMode::Query => self.query_page().await?,
            CsMode::Combined => self.combined_page().await?,
        };
        if let Some(p) = &page {
            for r in &p.records {
                if let Some(Ok(t)) = r.get("updated_timestamp").and_then(Value::as_str).map(|t| super::parse_time("updated_timestamp", t)) {
                    self.newest = self.newest.max(t);
                }
            }
        }
        Ok(page)
    }

    fn normalise(&self, record: &Value) -> Result<AlertRow, String> {
        alerts::from_crowdstrike(record)
    }

    fn client(&self) -> &ApiClient {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_api_hosts() {
        assert_eq!(region_base_url("US-2"), Some("https://api.us-2.crowdstrike.com"));
        assert_eq!(region_base_url("eu-1"), Some("https://api.eu-1.crowdstrike.com"));
        assert_eq!(region_base_url("us-gov-1"), Some("https://api.laggar.gcw.crowdstrike.com"));
        assert_eq!(region_base_url("mars-1"), None);
    }
}
