//! Microsoft Defender for Endpoint alerts, from Microsoft Graph
//! (`/v1.0/security/alerts_v2`, the recommended route) or the Defender API
//! (`/api/alerts`, legacy but live).
//!
//! Both are OData: `$filter` on the last-update time (`ge`, ascending), pages
//! followed through `@odata.nextLink` (Graph) or `$top`/`$skip` when the
//! Defender API gives no link. A `nextLink` must stay on the configured API
//! host, so a token is never sent elsewhere.

use reqwest::Method;
use serde_json::Value;

use super::alerts::{self, AlertRow};
use super::api::{iso_micros, AlertSource, Page};
use super::http::{ApiClient, ApiError};

/// Which Defender API to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdeApi {
    Graph,
    Defender,
}

pub struct MdeSource {
    client: ApiClient,
    api: MdeApi,
    base_url: String,
    page_size: usize,
    endpoint_only: bool,
    since: i64,
    next: Option<String>,
    skip: usize,
    done: bool,
}

impl MdeSource {
    pub fn new(client: ApiClient, api: MdeApi, base_url: &str, page_size: usize, endpoint_only: bool) -> Self {
        Self {
            client,
            api,
            base_url: base_url.trim_end_matches('/').to_string(),
            page_size: page_size.clamp(1, if api == MdeApi::Graph { 1000 } else { 10_000 }),
            endpoint_only,
            since: 0,
            next: None,
            skip: 0,
            done: true,
        }
    }

    fn first_url(&self) -> String {
        let since = iso_micros(self.since);
        let mut url = url::Url::parse(&self.base_url).expect("validated when configured");
        match self.api {
            MdeApi::Graph => {
                url.path_segments_mut().expect("http url").pop_if_empty().extend(["v1.0", "security", "alerts_v2"]);
                let mut filter = format!("lastUpdateDateTime ge {since}");
                if self.endpoint_only {
                    filter.push_str(" and serviceSource eq 'microsoftDefenderForEndpoint'");
                }
                url.query_pairs_mut()
                    .append_pair("$filter", &filter)
                    .append_pair("$orderby", "lastUpdateDateTime asc")
                    .append_pair("$top", &self.page_size.to_string());
            }
            MdeApi::Defender => {
                url.path_segments_mut().expect("http url").pop_if_empty().extend(["api", "alerts"]);
                url.query_pairs_mut()
                    .append_pair("$filter", &format!("lastUpdateTime ge {since}"))
                    .append_pair("$orderby", "lastUpdateTime asc")
                    .append_pair("$top", &self.page_size.to_string())
                    .append_pair("$skip", &self.skip.to_string())
                    .append_pair("$expand", "evidence");
            }
        }
        url.to_string()
    }

    fn same_origin(&self, link: &str) -> bool {
        match (url::Url::parse(&self.base_url), url::Url::parse(link)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        }
    }
}

#[async_trait::async_trait]
impl AlertSource for MdeSource {
    fn vendor(&self) -> &'static str {
        "mde"
    }

    fn start(&mut self, since_us: i64) {
        self.since = since_us;
        self.next = None;
        self.skip = 0;
        self.done = false;
    }

    async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let url = self.next.take().unwrap_or_else(|| self.first_url());
        let response = self.client.send(Method::GET, &url, None).await?;
        let records = match response.body.get("value") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(self.client.decode_error(&url, "response has no \"value\" array"))
            }
        };
        match response.body.get("@odata.nextLink").and_then(Value::as_str) {
            Some(link) if self.same_origin(link) => self.next = Some(link.to_string()),
            Some(link) => {
                return Err(self.client.decode_error(&url, format!("@odata.nextLink points to another host ({}); refusing to send the token there", super::http::redact_url(link))))
            }
            None if self.api == MdeApi::Defender && records.len() == self.page_size => {
                self.skip += records.len();
                self.next = Some(self.first_url());
            }
            None => self.done = true,
        }
        Ok(Some(Page { records, request: super::http::redact_url(&url) }))
    }

    fn normalise(&self, record: &Value) -> Result<AlertRow, String> {
        match self.api {
            MdeApi::Graph => alerts::from_mde_graph(record),
            MdeApi::Defender => alerts::from_mde_api(record),
        }
    }

    fn client(&self) -> &ApiClient {
        &self.client
    }
}
