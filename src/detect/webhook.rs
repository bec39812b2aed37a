//! Delivers detections to webhooks: a JSON POST per hit, retried with
//! exponential backoff and jitter. A hit that cannot be delivered stays in
//! the outbox (persisted with the live state) and is tried again next cycle,
//! so a failing webhook never loses a detection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The document POSTed for one detection hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub detection: String,
    pub detection_id: String,
    pub title: String,
    pub severity: String,
    pub entity: String,
    pub time: String,
    pub score: f64,
    pub summary: String,
    /// The detection's evidence, as JSON when it parses, else as text.
    pub evidence: serde_json::Value,
    pub run_id: String,
}

/// A notification waiting for one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub url: String,
    pub notification: Notification,
    pub attempts: u32,
}

/// Attempts per delivery within one cycle.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Sends what it can; returns what is still pending.
pub async fn deliver(client: &reqwest::Client, outbox: Vec<Pending>) -> Vec<Pending> {
    let mut left = Vec::new();
    for mut p in outbox {
        let mut delivered = false;
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..ATTEMPTS {
            p.attempts += 1;
            match client.post(&p.url).json(&p.notification).timeout(Duration::from_secs(10)).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(url = %redact(&p.url), status = %r.status(), attempt = attempt + 1, "Webhook refused a detection; retrying."),
                Err(e) => tracing::warn!(url = %redact(&p.url), error = %e.without_url(), attempt = attempt + 1, "Webhook unreachable; retrying."),
            }
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(backoff + jitter(backoff)).await;
                backoff *= 2;
            }
        }
        if delivered {
            tracing::info!(url = %redact(&p.url), detection = %p.notification.detection, entity = %p.notification.entity, "Detection delivered to webhook.");
        } else {
            tracing::error!(url = %redact(&p.url), detection = %p.notification.detection, attempts = p.attempts, "Webhook delivery failed; kept for the next cycle.");
            left.push(p);
        }
    }
    left
}

/// Up to half of `base`, from the clock's sub-second noise.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    base.mul_f64((nanos % 1000) as f64 / 2000.0)
}

/// The URL without credentials or query string (which may carry tokens).
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_from_logged_urls() {
        assert_eq!(redact("https://user:pw@hooks.example.com/x?token=abc"), "https://hooks.example.com/x");
    }
}
