//! HTTP for the vendor API connectors: authentication, retries and error
//! messages, written once for all three vendors.
//!
//! * **Auth**: OAuth2 client credentials (Microsoft Entra, CrowdStrike) with
//!   the token cached until shortly before it expires, refreshed then and
//!   once more on a 401; or a static `ApiToken` header (SentinelOne).
//! * **Retries**: 429 waits as long as the vendor says (`Retry-After`
//!   seconds or HTTP date; CrowdStrike's `X-Ratelimit-Retryafter` is an epoch
//!   time, not a delay); 5xx, timeouts and connection errors back off
//!   exponentially with jitter, up to a bounded number of attempts.
//! * **Secrets** ([`Secret`]) never reach logs or errors: requests are logged
//!   by method and path only, and error bodies are the vendor's, not ours.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A credential. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a vendor API call failed, naming the connector and what to check.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{connector}: authentication failed at {url} (HTTP {status}): {detail}; check the connector's client id, secret/token, tenant and API permissions")]
    Auth { connector: String, url: String, status: u16, detail: String },
    #[error("{connector}: access denied at {url} (HTTP {status}): {detail}; the credentials work but lack the permission to read alerts (Graph: SecurityAlert.Read.All; Defender API: Alert.Read.All; CrowdStrike: Alerts read scope; SentinelOne: Threats view)")]
    Forbidden { connector: String, url: String, status: u16, detail: String },
    #[error("{connector}: {method} {url} failed with HTTP {status} after {attempts} attempt(s): {detail}")]
    Http { connector: String, method: String, url: String, status: u16, attempts: u32, detail: String },
    #[error("{connector}: cannot reach {url} after {attempts} attempt(s): {reason}; check base_url/token_url, the network and proxies")]
    Transport { connector: String, url: String, attempts: u32, reason: String },
    #[error("{connector}: unexpected response from {url}: {reason}")]
    Decode { connector: String, url: String, reason: String },
    #[error("{connector}: the API reported errors at {url}: {detail}")]
    Vendor { connector: String, url: String, detail: String },
}

/// Retry behaviour; the defaults suit the vendors' documented limits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff after a 5xx or transport error; doubles each time.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest single wait a 429 may ask for before the run gives up.
    pub max_rate_limit_wait: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(300),
            timeout: Duration::from_secs(60),
        }
    }
}

/// How requests are authenticated.
pub enum Auth {
    /// OAuth2 client credentials; `form` holds the extra fields (`scope`,
    /// `member_cid`).
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        form: Vec<(String, String)>,
        token: Option<(Secret, Instant)>,
    },
    /// A fixed header value, e.g. `ApiToken <token>`.
    Static { scheme: &'static str, token: Secret },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::ClientCredentials { token_url, client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Auth::Static { scheme, .. } => f.debug_struct("Static").field("scheme", scheme).finish_non_exhaustive(),
        }
    }
}

/// Counters a run reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub token_requests: u64,
}

/// A response that succeeded, with the headers a connector may need.
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// One vendor API: a client, its auth and retry policy.
pub struct ApiClient {
    pub connector: String,
    http: reqwest::Client,
    auth: Auth,
    policy: RetryPolicy,
    pub stats: HttpStats,
    /// Headers of the last token response (CrowdStrike's `X-Cs-Region`).
    pub token_headers: HeaderMap,
}

impl ApiClient {
    pub fn new(connector: impl Into<String>, auth: Auth, policy: RetryPolicy) -> Result<Self, ApiError> {
        let connector = connector.into();
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent(concat!("huntlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Transport { connector: connector.clone(), url: String::new(), attempts: 0, reason: e.to_string() })?;
        Ok(Self { connector, http, auth, policy, stats: HttpStats::default(), token_headers: HeaderMap::new() })
    }

    /// Sends a request (JSON body optional) with auth and retries, and
    /// returns the decoded JSON body of a 2xx response.
    pub async fn send(&mut self, method: Method, url: &str, body: Option<&Value>) -> Result<ApiResponse, ApiError> {
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let auth = self.authorization().await?;
            let mut req = self.http.request(method.clone(), url).header(AUTHORIZATION, auth).header("Accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            self.stats.requests += 1;
            tracing::debug!(connector = %self.connector, method = %method, path = %redact_url(url), attempt, "Vendor API request.");
            let result = req.send().await;
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let reason = transport_reason(&e);
                    if attempt >= self.policy.max_attempts {
                        return Err(ApiError::Transport { connector: self.connector.clone(), url: redact_url(url), attempts: attempt, reason });
                    }
                    let wait = self.backoff(attempt);
                    tracing::warn!(connector = %self.connector, path = %redact_url(url), attempt, wait_ms = wait.as_millis() as u64, reason = %reason, "Vendor API unreachable; retrying.");
                    self.stats.retries += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let text = match response.text().await {
                Ok(t) => t,
                Err(e) => {
                    // The connection broke while the body was read: as transient as a connect failure.
                    let reason = transport_reason(&e);
                    if attempt >= self.policy.max_attempts {
                        return Err(ApiError::Transport { connector: self.connector.clone(), url: redact_url(url), attempts: attempt, reason });
                    }
                    tracing::warn!(connector = %self.connector, path = %redact_url(url), attempt, reason = %reason, "Response body cut off; retrying.");
                    self.stats.retries += 1;
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            if status.is_success() {
                let body = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                        connector: self.connector.clone(),
                        url: redact_url(url),
                        reason: format!("body is not JSON ({e}): {}", snippet(&text)),
                    })?
                };
                return Ok(ApiResponse { status, headers, body });
            }
            let detail = vendor_detail(&text);
            match status {
                StatusCode::UNAUTHORIZED if !reauthenticated && self.can_refresh() => {
                    tracing::warn!(connector = %self.connector, path = %redact_url(url), "Token rejected (401); requesting a new one.");
                    self.invalidate_token();
                    reauthenticated = true;
                    attempt -= 1;
                    continue;
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(ApiError::Auth { connector: self.connector.clone(), url: redact_url(url), status: status.as_u16(), detail })
                }
                StatusCode::FORBIDDEN => {
                    return Err(ApiError::Forbidden { connector: self.connector.clone(), url: redact_url(url), status: status.as_u16(), detail })
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    self.stats.rate_limited += 1;
                    let wait = rate_limit_wait(&headers, std::time::SystemTime::now()).unwrap_or_else(|| self.backoff(attempt));
                    if wait > self.policy.max_rate_limit_wait || attempt >= self.policy.max_attempts.max(10) {
                        return Err(self.http_error(&method, url, status, attempt, format!("{detail} (rate limited; asked to wait {}s)", wait.as_secs())));
                    }
                    tracing::warn!(connector = %self.connector, path = %redact_url(url), wait_ms = wait.as_millis() as u64, "Rate limited (429); waiting as the API asks.");
                    self.stats.retries += 1;
                    tokio::time::sleep(wait).await;
                }
                s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                    if attempt >= self.policy.max_attempts {
                        return Err(self.http_error(&method, url, status, attempt, detail));
                    }
                    let wait = rate_limit_wait(&headers, std::time::SystemTime::now()).unwrap_or_else(|| self.backoff(attempt));
                    tracing::warn!(connector = %self.connector, path = %redact_url(url), status = s.as_u16(), attempt, wait_ms = wait.as_millis() as u64, "Vendor API error; retrying.");
                    self.stats.retries += 1;
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(self.http_error(&method, url, status, attempt, detail)),
            }
        }
    }

    /// A response that does not have the shape the vendor documents.
    pub fn decode_error(&self, url: &str, reason: impl Into<String>) -> ApiError {
        ApiError::Decode { connector: self.connector.clone(), url: redact_url(url), reason: reason.into() }
    }

    fn http_error(&self, method: &Method, url: &str, status: StatusCode, attempts: u32, detail: String) -> ApiError {
        ApiError::Http {
            connector: self.connector.clone(),
            method: method.to_string(),
            url: redact_url(url),
            status: status.as_u16(),
            attempts,
            detail,
        }
    }

    /// Exponential backoff with full jitter in [d/2, d].
    fn backoff(&self, attempt: u32) -> Duration {
        let d = self.policy.base_delay.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16)).min(self.policy.max_delay);
        let jitter = rand_unit();
        d.mul_f64(0.5 + 0.5 * jitter)
    }

    fn can_refresh(&self) -> bool {
        matches!(self.auth, Auth::ClientCredentials { .. })
    }

    fn invalidate_token(&mut self) {
        if let Auth::ClientCredentials { token, .. } = &mut self.auth {
            *token = None;
        }
    }

    /// Makes sure a valid token is held (fetching one if needed), e.g. to
    /// read the token response's headers before the first API call.
    pub async fn authenticate(&mut self) -> Result<(), ApiError> {
        self.authorization().await.map(|_| ())
    }

    /// The `Authorization` header value, fetching a token when there is none
    /// or it expires within the refresh margin.
    async fn authorization(&mut self) -> Result<HeaderValue, ApiError> {
        let value = match &self.auth {
            Auth::Static { scheme, token } => format!("{scheme} {}", token.expose()),
            Auth::ClientCredentials { token: Some((t, expires)), .. } if Instant::now() < *expires => {
                format!("Bearer {}", t.expose())
            }
            Auth::ClientCredentials { .. } => {
                let t = self.fetch_token().await?;
                format!("Bearer {}", t.expose())
            }
        };
        let mut v = HeaderValue::from_str(&value).map_err(|_| ApiError::Auth {
            connector: self.connector.clone(),
            url: String::new(),
            status: 0,
            detail: "the token contains characters not allowed in an HTTP header".into(),
        })?;
        v.set_sensitive(true);
        Ok(v)
    }

    async fn fetch_token(&mut self) -> Result<Secret, ApiError> {
        let Auth::ClientCredentials { token_url, client_id, client_secret, form, .. } = &self.auth else {
            unreachable!("only client credentials fetch tokens")
        };
        let token_url = token_url.clone();
        let mut fields: Vec<(&str, &str)> =
            vec![("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", client_secret.expose())];
        fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            self.stats.token_requests += 1;
            tracing::debug!(connector = %self.connector, url = %redact_url(&token_url), "Requesting an OAuth2 token.");
            match self.http.post(&token_url).form(&fields).send().await {
                Ok(r) if (r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS) && attempt < self.policy.max_attempts => {
                    let wait = rate_limit_wait(r.headers(), std::time::SystemTime::now()).unwrap_or_else(|| self.backoff(attempt));
                    tracing::warn!(connector = %self.connector, status = r.status().as_u16(), wait_ms = wait.as_millis() as u64, "Token endpoint error; retrying.");
                    self.stats.retries += 1;
                    tokio::time::sleep(wait.min(self.policy.max_rate_limit_wait)).await;
                }
                Ok(r) => break r,
                Err(e) if attempt < self.policy.max_attempts => {
                    tracing::warn!(connector = %self.connector, reason = %transport_reason(&e), "Token endpoint unreachable; retrying.");
                    self.stats.retries += 1;
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(e) => {
                    return Err(ApiError::Transport {
                        connector: self.connector.clone(),
                        url: redact_url(&token_url),
                        attempts: attempt,
                        reason: transport_reason(&e),
                    })
                }
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| ApiError::Transport {
            connector: self.connector.clone(),
            url: redact_url(&token_url),
            attempts: attempt,
            reason: transport_reason(&e),
        })?;
        if !status.is_success() {
            return Err(ApiError::Auth { connector: self.connector.clone(), url: redact_url(&token_url), status: status.as_u16(), detail: vendor_detail(&text) });
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| ApiError::Decode {
            connector: self.connector.clone(),
            url: redact_url(&token_url),
            reason: format!("token response is not JSON: {e}"),
        })?;
        let access = body.get("access_token").and_then(Value::as_str).ok_or_else(|| ApiError::Decode {
            connector: self.connector.clone(),
            url: redact_url(&token_url),
            reason: "token response has no access_token".into(),
        })?;
        let lifetime = body
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(1799);
        // Refresh five minutes early, or at half-life for short-lived tokens.
        let margin = (lifetime / 2).min(300);
        let expires = Instant::now() + Duration::from_secs(lifetime.saturating_sub(margin));
        let secret = Secret::new(access);
        if let Auth::ClientCredentials { token, .. } = &mut self.auth {
            *token = Some((secret.clone(), expires));
        }
        self.token_headers = headers;
        tracing::info!(connector = %self.connector, expires_in_s = lifetime, "Obtained an access token.");
        Ok(secret)
    }
}

/// How long a 429 (or 503) asks to wait: `X-Ratelimit-Retryafter` (epoch
/// seconds, CrowdStrike), or `Retry-After` (seconds or an HTTP date).
pub fn rate_limit_wait(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let now_s = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    if let Some(epoch) = headers.get("x-ratelimit-retryafter").and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64((epoch - now_s).max(0.0) + 0.05));
    }
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(Duration::from_secs_f64((at.timestamp() as f64 - now_s).max(0.0)))
}

/// URLs are logged and reported without their query string (filters and
/// cursors are noise; no vendor puts a secret there, but a proxy might).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or("").to_string(),
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut reason = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    reason
}

/// The vendor's own error message: Graph `error.message`, CrowdStrike
/// `errors[].message`, SentinelOne `errors[].detail`, OAuth
/// `error_description`; else the start of the body.
pub fn vendor_detail(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else { return snippet(body) };
    if let Some(m) = v.pointer("/error/message").and_then(Value::as_str) {
        let code = v.pointer("/error/code").and_then(Value::as_str).unwrap_or("");
        return format!("{code} {m}").trim().to_string();
    }
    if let Some(d) = v.get("error_description").and_then(Value::as_str) {
        return d.lines().next().unwrap_or(d).to_string();
    }
    if let Some(errors) = v.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        return errors_text(errors);
    }
    snippet(body)
}

/// `errors[]` of CrowdStrike (`code`, `message`) or SentinelOne (`detail`, `title`).
pub fn errors_text(errors: &[Value]) -> String {
    errors
        .iter()
        .map(|e| {
            let code = e.get("code").map(|c| c.to_string().trim_matches('"').to_string());
            let msg = ["message", "detail", "title"].iter().find_map(|k| e.get(*k)?.as_str()).unwrap_or("");
            match code {
                Some(c) => format!("[{c}] {msg}"),
                None => msg.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn snippet(body: &str) -> String {
    let t = body.trim();
    if t.is_empty() {
        return "(empty body)".into();
    }
    let mut end = t.len().min(300);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    t[..end].to_string()
}

/// A number in [0, 1) for jitter; not for anything that needs randomness.
fn rand_unit() -> f64 {
    let n = uuid::Uuid::new_v4().as_u128() as u64;
    (n >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn crowdstrike_retry_header_is_an_epoch_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut h = HeaderMap::new();
        h.insert("X-Ratelimit-Retryafter", HeaderValue::from_static("1800000003"));
        let w = rate_limit_wait(&h, now).unwrap();
        assert!(w >= Duration::from_secs(3) && w < Duration::from_secs(4), "{w:?}");
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(7)));
        let date = chrono::DateTime::from_timestamp(1_800_000_010, 0).unwrap().to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(10)));
        assert_eq!(rate_limit_wait(&HeaderMap::new(), SystemTime::now()), None);
    }

    #[test]
    fn vendor_error_bodies_become_messages() {
        assert_eq!(vendor_detail(r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#), "TooManyRequests slow down");
        assert_eq!(vendor_detail(r#"{"meta":{},"resources":[],"errors":[{"code":403,"message":"access denied"}]}"#), "[403] access denied");
        assert_eq!(vendor_detail(r#"{"errors":[{"detail":"Authentication failed"}],"data":null}"#), "Authentication failed");
        assert_eq!(vendor_detail("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn secrets_do_not_print_and_urls_lose_queries() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "<redacted>");
        let auth = Auth::Static { scheme: "ApiToken", token: Secret::new("hunter2") };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert_eq!(redact_url("https://u:p@h.example.com/a/b?token=x&y=1"), "https://u@h.example.com/a/b");
    }
}
