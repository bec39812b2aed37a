//! SentinelOne threats (`GET /web/api/v2.1/threats`), authenticated with an
//! `ApiToken` header, filtered by `updatedAt__gte`, sorted by `updatedAt`
//! ascending, paged with `nextCursor` (the filter stays fixed while the
//! cursor is followed).

use reqwest::Method;
use serde_json::Value;

use super::alerts::{self, AlertRow};
use super::api::{iso_micros, AlertSource, Page};
use super::http::{redact_url, ApiClient, ApiError};

pub struct SentinelOneSource {
    client: ApiClient,
    base_url: String,
    console_url: String,
    page_size: usize,
    scope: Vec<(&'static str, String)>,
    since: i64,
    cursor: Option<String>,
    done: bool,
}

impl SentinelOneSource {
    /// `scope`: `siteIds` / `accountIds` filters, comma-separated lists.
    pub fn new(client: ApiClient, base_url: &str, console_url: Option<&str>, page_size: usize, scope: Vec<(&'static str, String)>) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        Self {
            client,
            console_url: console_url.map_or_else(|| base_url.clone(), |c| c.trim_end_matches('/').to_string()),
            base_url,
            page_size: page_size.clamp(1, 1000),
            scope,
            since: 0,
            cursor: None,
            done: true,
        }
    }
}

#[async_trait::async_trait]
impl AlertSource for SentinelOneSource {
    fn vendor(&self) -> &'static str {
        "sentinelone"
    }

    fn start(&mut self, since_us: i64) {
        self.since = since_us;
        self.cursor = None;
        self.done = false;
    }

    async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let mut url = url::Url::parse(&format!("{}/web/api/v2.1/threats", self.base_url)).expect("validated base url");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("updatedAt__gte", &iso_micros(self.since))
                .append_pair("sortBy", "updatedAt")
                .append_pair("sortOrder", "asc")
                .append_pair("limit", &self.page_size.to_string())
                .append_pair("skipCount", "true");
            for (k, v) in &self.scope {
                q.append_pair(k, v);
            }
            if let Some(c) = &self.cursor {
                q.append_pair("cursor", c);
            }
        }
        let url = url.to_string();
        let response = self.client.send(Method::GET, &url, None).await?;
        let records = match response.body.get("data") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(self.client.decode_error(&url, "\"data\" is not an array"))
            }
        };
        match response.body.pointer("/pagination/nextCursor").and_then(Value::as_str).filter(|c| !c.is_empty()) {
            Some(c) if !records.is_empty() => self.cursor = Some(c.to_string()),
            _ => self.done = true,
        }
        if records.is_empty() {
            return Ok(None);
        }
        Ok(Some(Page { records, request: redact_url(&url) }))
    }

    fn normalise(&self, record: &Value) -> Result<AlertRow, String> {
        alerts::from_sentinelone(record, &self.console_url)
    }

    fn client(&self) -> &ApiClient {
        &self.client
    }
}
