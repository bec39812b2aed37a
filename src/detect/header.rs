//! The Sigma-style header of a detection file:
//!
//! ```sql
//! -- id: 4f0c...            hits are keyed by id, never by name
//! -- title: EDR alert followed by beaconing to a rare destination
//! -- severity: high         informational | low | medium | high | critical
//! -- attack: T1071, T1059
//! -- sources: edr_alerts, network_flows
//! -- description: What fires and why it matters.
//! -- falsepositives: What benign activity can look like this.
//! CREATE VIEW det_edr_alert_then_beacon AS SELECT ...;
//! ```

use std::fmt;

/// A detection's metadata, from its file header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub attack: Vec<String>,
    pub sources: Vec<String>,
    pub description: String,
    pub falsepositives: String,
}

/// OCSF severities, numbered 1..5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational = 1,
    Low = 2,
    Medium = 3,
    High = 4,
    Critical = 5,
}

impl Severity {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "informational" => Self::Informational,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    pub fn id(self) -> i32 {
        self as i32
    }

    /// The severity of an OCSF `severity_id` (out-of-range ids are clamped).
    pub fn from_id(id: i32) -> Self {
        match id {
            i32::MIN..=1 => Self::Informational,
            2 => Self::Low,
            3 => Self::Medium,
            4 => Self::High,
            _ => Self::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Informational => "informational",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        })
    }
}

/// A header problem, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct HeaderError {
    pub line: usize,
    pub message: String,
}

const KEYS: &[&str] = &["id", "title", "severity", "attack", "sources", "description", "falsepositives"];

fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Parses the leading `-- key: value` comment lines of a detection file.
/// A line starting with `--` and no known key continues the previous value,
/// so long descriptions may wrap.
pub fn parse(text: &str) -> Result<Header, HeaderError> {
    let mut fields: Vec<(&'static str, String, usize)> = Vec::new();
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else { break };
        last_line = line_no;
        let comment = comment.trim();
        let key_value = comment.split_once(':').and_then(|(k, v)| {
            let k = k.trim().to_ascii_lowercase();
            KEYS.iter().find(|known| **known == k).map(|known| (*known, v.trim()))
        });
        match key_value {
            Some((key, value)) => {
                if fields.iter().any(|(k, _, _)| *k == key) {
                    return Err(HeaderError { line: line_no, message: format!("`{key}` is given twice") });
                }
                fields.push((key, value.to_string(), line_no));
            }
            None => match fields.last_mut() {
                Some((_, value, _)) if !comment.is_empty() => {
                    value.push(' ');
                    value.push_str(comment);
                }
                _ => {}
            },
        }
    }
    let get = |key: &str| fields.iter().find(|(k, _, _)| *k == key).map(|(_, v, l)| (v.clone(), *l));
    let missing = |key: &str| HeaderError {
        line: last_line.max(1),
        message: format!("the header has no `-- {key}:` line (needed: {})", KEYS.join(", ")),
    };
    let (id, id_line) = get("id").ok_or_else(|| missing("id"))?;
    if id.len() < 8 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(HeaderError {
            line: id_line,
            message: format!("id {id:?} should be a UUID (python3 -c 'import uuid; print(uuid.uuid4())')"),
        });
    }
    let (title, _) = get("title").ok_or_else(|| missing("title"))?;
    let (severity_text, severity_line) = get("severity").ok_or_else(|| missing("severity"))?;
    let severity = Severity::parse(&severity_text).ok_or_else(|| HeaderError {
        line: severity_line,
        message: format!("severity {severity_text:?} is not one of informational, low, medium, high, critical"),
    })?;
    let (attack, attack_line) = get("attack").unwrap_or_default();
    let attack = list(&attack);
    if let Some(bad) = attack.iter().find(|t| !is_attack_id(t)) {
        return Err(HeaderError {
            line: attack_line,
            message: format!("{bad:?} is not an ATT&CK technique id such as T1059 or T1059.001"),
        });
    }
    Ok(Header {
        id,
        title,
        severity,
        attack,
        sources: list(&get("sources").unwrap_or_default().0),
        description: get("description").map(|(v, _)| v).unwrap_or_default(),
        falsepositives: get("falsepositives").map(|(v, _)| v).unwrap_or_default(),
    })
}

/// `T1234` or `T1234.567`.
pub fn is_attack_id(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "-- id: 0b5e7a52-8d0c-4c47-9f47-1a0f3e2d9c11\n-- title: Alert then beacon\n-- severity: High\n-- attack: T1071, T1059.001\n-- sources: edr_alerts, network_flows\n-- description: An alert,\n--   then beaconing.\n-- falsepositives: Updaters.\nCREATE VIEW det_x AS SELECT 1;\n";

    #[test]
    fn parses_a_full_header_with_wrapped_lines() {
        let h = parse(GOOD).unwrap();
        assert_eq!(h.severity, Severity::High);
        assert_eq!(h.severity.id(), 4);
        assert_eq!(h.attack, vec!["T1071", "T1059.001"]);
        assert_eq!(h.sources, vec!["edr_alerts", "network_flows"]);
        assert_eq!(h.description, "An alert, then beaconing.");
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("-- severity: High", "-- severity: urgent");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("urgent"));
        let e = parse(&GOOD.replace("T1059.001", "CST0001")).unwrap_err();
        assert_eq!(e.line, 4);
        let e = parse("CREATE VIEW det_x AS SELECT 1").unwrap_err();
        assert!(e.message.contains("id"), "{e}");
    }

    #[test]
    fn attack_ids() {
        assert!(is_attack_id("T1059") && is_attack_id("T1059.001"));
        assert!(!is_attack_id("T105") && !is_attack_id("CST0001") && !is_attack_id("T1059.01"));
    }
}
