//! EDR alerts normalised into `edr_alerts` rows, one function per vendor
//! shape, following the normalisation table of the lake contract.
//!
//! Each function takes the vendor's JSON for one alert and returns the row,
//! or the reason the record is quarantined (a missing id, device or
//! timestamp). `raw` is the vendor's JSON for that alert, as received.
//! [`rows_to_batch`] turns rows into an `edr_alerts` record batch.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::{canonical_entity, parse_time};
use crate::lake::schema;

/// One normalised alert version.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub time: i64,
    pub updated_time: i64,
    pub vendor: &'static str,
    pub alert_id: String,
    pub entity: String,
    pub device_id: String,
    pub device_ip: Option<String>,
    pub user_name: Option<String>,
    pub title: String,
    pub category: Option<String>,
    pub severity: &'static str,
    pub techniques: Vec<String>,
    pub process_name: Option<String>,
    pub command_line: Option<String>,
    pub file_name: Option<String>,
    pub file_sha256: Option<String>,
    pub status: &'static str,
    pub console_url: String,
    pub raw: String,
}

/// The five severities with their OCSF `severity_id`.
pub const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

pub fn severity_id(severity: &str) -> i32 {
    SEVERITIES.iter().position(|s| *s == severity).map_or(1, |i| i as i32 + 1)
}

// ---------------------------------------------------------------------------
// JSON access helpers: a path of keys; empty strings count as absent.

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(v: &Value, path: &[&str]) -> Result<String, String> {
    text(v, path).ok_or_else(|| format!("missing required field {}", path.join(".")))
}

fn time_at(v: &Value, path: &[&str]) -> Result<Option<i64>, String> {
    match text(v, path) {
        None => Ok(None),
        Some(t) => parse_time(&path.join("."), &t).map(Some),
    }
}

/// The first of `paths` that holds a timestamp; an unparsable one is an error.
fn first_time(v: &Value, paths: &[&[&str]]) -> Result<i64, String> {
    for p in paths {
        if let Some(t) = time_at(v, p)? {
            return Ok(t);
        }
    }
    let names: Vec<String> = paths.iter().map(|p| p.join(".")).collect();
    Err(format!("missing required timestamp {}", names.join(" or ")))
}

/// Keeps only MITRE ATT&CK ids (`T1234`, `T1234.567`), upper-cased, once each.
pub fn attack_ids<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in candidates {
        let t = c.trim().to_ascii_uppercase();
        let (main, sub) = t.split_once('.').map_or((t.as_str(), None), |(a, b)| (a, Some(b)));
        let main_ok = main.len() == 5 && main.starts_with('T') && main[1..].bytes().all(|b| b.is_ascii_digit());
        let sub_ok = sub.is_none_or(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()));
        if main_ok && sub_ok && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn entity_of(host: Option<String>, what: &str) -> Result<String, String> {
    host.as_deref()
        .and_then(canonical_entity)
        .ok_or_else(|| format!("missing device host name ({what})"))
}

/// The last path component of a Windows or Unix path.
fn base_name(path: &str) -> String {
    path.rsplit(['\\', '/']).next().unwrap_or(path).to_string()
}

/// `DOMAIN\user` or `user@domain` to `user`.
fn account_name(user: &str) -> String {
    let u = user.rsplit('\\').next().unwrap_or(user);
    u.split('@').next().unwrap_or(u).to_string()
}

fn is_usable_ip(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(a) => !a.is_loopback() && !a.is_unspecified(),
        Err(_) => false,
    }
}

fn lower(s: Option<String>) -> Option<String> {
    s.map(|s| s.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------
// Microsoft Defender for Endpoint

/// Graph `security/alerts_v2` alert.
pub fn from_mde_graph(v: &Value) -> Result<AlertRow, String> {
    let id = required(v, &["id"])?;
    let time = first_time(v, &[&["firstActivityDateTime"], &["createdDateTime"]])?;
    let updated_time = first_time(v, &[&["lastUpdateDateTime"], &["createdDateTime"]])?;
    let evidence: &[Value] = v.get("evidence").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let of_type = |t: &str| {
        let t = format!("#microsoft.graph.security.{t}");
        evidence.iter().filter(move |e| e.get("@odata.type").and_then(Value::as_str) == Some(t.as_str()))
    };
    let device = of_type("deviceEvidence").find(|d| text(d, &["deviceDnsName"]).is_some());
    let entity = entity_of(device.and_then(|d| text(d, &["deviceDnsName"])), "deviceEvidence.deviceDnsName")?;
    let device_id = device
        .and_then(|d| text(d, &["mdeDeviceId"]).or_else(|| text(d, &["azureAdDeviceId"])))
        .unwrap_or_else(|| entity.clone());
    let device_ip = device
        .and_then(|d| d.get("ipInterfaces")?.as_array())
        .and_then(|ips| ips.iter().filter_map(Value::as_str).find(|ip| is_usable_ip(ip)).map(str::to_string));
    let process = of_type("processEvidence").next();
    let file = of_type("fileEvidence").next();
    let user_name = process
        .and_then(|p| text(p, &["userAccount", "accountName"]))
        .or_else(|| of_type("userEvidence").find_map(|u| text(u, &["userAccount", "accountName"])))
        .or_else(|| device.and_then(|d| text(d.get("loggedOnUsers")?.get(0)?, &["accountName"])));
    let process_name = process.and_then(|p| text(p, &["imageFile", "fileName"]));
    let file_name = file.and_then(|f| text(f, &["fileDetails", "fileName"])).or_else(|| process_name.clone());
    let file_sha256 = file
        .and_then(|f| text(f, &["fileDetails", "sha256"]))
        .or_else(|| process.and_then(|p| text(p, &["imageFile", "sha256"])));
    let (severity, status, techniques) = mde_enums(v);
    let console_url = text(v, &["alertWebUrl"]).unwrap_or_else(|| mde_console_url(&id, text(v, &["tenantId"])));
    Ok(AlertRow {
        time,
        updated_time,
        vendor: "mde",
        title: text(v, &["title"]).unwrap_or_else(|| "Defender alert".into()),
        category: text(v, &["category"]),
        severity,
        techniques,
        command_line: process.and_then(|p| text(p, &["processCommandLine"])),
        process_name,
        file_name,
        file_sha256: lower(file_sha256),
        status,
        console_url,
        alert_id: id,
        entity,
        device_id,
        device_ip,
        user_name,
        raw: v.to_string(),
    })
}

/// Severity, status and ATT&CK ids of either Defender API: Graph writes
/// `inProgress`/`low`, the Defender API `InProgress`/`Low`; `unknown` and
/// `UnSpecified` count as informational.
fn mde_enums(v: &Value) -> (&'static str, &'static str, Vec<String>) {
    let severity = match text(v, &["severity"]).unwrap_or_default().to_ascii_lowercase().as_str() {
        "low" => "low",
        "medium" => "medium",
        "high" => "high",
        _ => "informational",
    };
    let status = match text(v, &["status"]).unwrap_or_default().to_ascii_lowercase().as_str() {
        "inprogress" => "in_progress",
        "resolved" => "resolved",
        _ => "new",
    };
    let techniques = v.get("mitreTechniques").and_then(Value::as_array).map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
    (severity, status, attack_ids(techniques))
}

fn mde_console_url(id: &str, tenant: Option<String>) -> String {
    match tenant {
        Some(t) => format!("https://security.microsoft.com/alerts/{id}?tid={t}"),
        None => format!("https://security.microsoft.com/alerts/{id}"),
    }
}

/// Defender for Endpoint API (`api/alerts`) alert, PascalCase enums and
/// flat evidence.
pub fn from_mde_api(v: &Value) -> Result<AlertRow, String> {
    let id = required(v, &["id"])?;
    let time = first_time(v, &[&["firstEventTime"], &["alertCreationTime"]])?;
    let updated_time = first_time(v, &[&["lastUpdateTime"], &["alertCreationTime"]])?;
    let entity = entity_of(text(v, &["computerDnsName"]), "computerDnsName")?;
    let evidence: &[Value] = v.get("evidence").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let of_type = |t: &str| {
        evidence.iter().find(|e| e.get("entityType").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(t)))
    };
    let process = of_type("Process");
    let file = of_type("File");
    let (severity, status, techniques) = mde_enums(v);
    let process_name = process.and_then(|p| text(p, &["fileName"]));
    Ok(AlertRow {
        time,
        updated_time,
        vendor: "mde",
        device_id: text(v, &["machineId"]).unwrap_or_else(|| entity.clone()),
        // The legacy alert carries no device address (Ip evidence is the remote side).
        device_ip: None,
        user_name: text(v, &["relatedUser", "userName"]).or_else(|| process.and_then(|p| text(p, &["accountName"]))),
        title: text(v, &["title"]).unwrap_or_else(|| "Defender alert".into()),
        category: text(v, &["category"]),
        severity,
        techniques,
        command_line: process.and_then(|p| text(p, &["processCommandLine"])),
        file_name: file.and_then(|f| text(f, &["fileName"])).or_else(|| process_name.clone()),
        file_sha256: lower(file.and_then(|f| text(f, &["sha256"])).or_else(|| process.and_then(|p| text(p, &["sha256"])))),
        process_name,
        status,
        console_url: mde_console_url(&id, text(v, &["aadTenantId"])),
        alert_id: id,
        entity,
        raw: v.to_string(),
    })
}

// ---------------------------------------------------------------------------
// CrowdStrike Falcon

/// CrowdStrike's 0-100 severity score in the contract's bands.
pub fn crowdstrike_severity(score: i64) -> &'static str {
    match score {
        90.. => "critical",
        70..=89 => "high",
        50..=69 => "medium",
        20..=49 => "low",
        _ => "informational",
    }
}

/// Alerts API v2 alert.
pub fn from_crowdstrike(v: &Value) -> Result<AlertRow, String> {
    let id = required(v, &["composite_id"])?;
    let time = first_time(v, &[&["timestamp"], &["created_timestamp"]])?;
    let updated_time = first_time(v, &[&["updated_timestamp"], &["created_timestamp"]])?;
    let entity = entity_of(text(v, &["device", "hostname"]), "device.hostname")?;
    let score = match at(v, &["severity"]) {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("field severity: not an integer: {n}"))?,
        Some(Value::String(s)) => s.trim().parse().map_err(|_| format!("field severity: not an integer: {s:?}"))?,
        Some(other) => return Err(format!("field severity: not an integer: {other}")),
        None => 0,
    };
    let status = match text(v, &["status"]).unwrap_or_default().as_str() {
        "in_progress" | "reopened" => "in_progress",
        "closed" => "resolved",
        _ => "new",
    };
    let quarantined = v.get("quarantined_files").and_then(|q| q.get(0));
    let process_name = text(v, &["filename"]);
    let file_name = quarantined.and_then(|q| text(q, &["filename"])).map(|p| base_name(&p)).or_else(|| process_name.clone());
    let file_sha256 = quarantined.and_then(|q| text(q, &["sha256"])).or_else(|| text(v, &["sha256"]));
    let technique = text(v, &["technique_id"]);
    let console_url = text(v, &["falcon_host_link"])
        .unwrap_or_else(|| format!("https://falcon.crowdstrike.com/activity-v2/detections/{id}"));
    Ok(AlertRow {
        time,
        updated_time,
        vendor: "crowdstrike",
        device_id: text(v, &["device", "device_id"]).or_else(|| text(v, &["agent_id"])).unwrap_or_else(|| entity.clone()),
        device_ip: text(v, &["device", "local_ip"]),
        user_name: text(v, &["user_name"]),
        title: text(v, &["display_name"]).or_else(|| text(v, &["name"])).unwrap_or_else(|| "Falcon alert".into()),
        category: text(v, &["tactic"]),
        severity: crowdstrike_severity(score),
        techniques: attack_ids(technique.as_deref()),
        process_name,
        command_line: text(v, &["cmdline"]),
        file_name,
        file_sha256: lower(file_sha256),
        status,
        console_url,
        alert_id: id,
        entity,
        raw: v.to_string(),
    })
}

// ---------------------------------------------------------------------------
// SentinelOne

/// `web/api/v2.1/threats` threat.
pub fn from_sentinelone(v: &Value, console: &str) -> Result<AlertRow, String> {
    let id = text(v, &["id"]).or_else(|| text(v, &["threatInfo", "threatId"])).ok_or("missing required field id")?;
    let time = first_time(v, &[&["threatInfo", "identifiedAt"], &["threatInfo", "createdAt"], &["createdAt"]])?;
    let updated_time = first_time(v, &[&["threatInfo", "updatedAt"], &["updatedAt"], &["threatInfo", "createdAt"]])?;
    let entity = entity_of(text(v, &["agentRealtimeInfo", "agentComputerName"]), "agentRealtimeInfo.agentComputerName")?;
    let severity = match text(v, &["threatInfo", "confidenceLevel"]).unwrap_or_default().as_str() {
        "malicious" => "high",
        "suspicious" => "medium",
        _ => "low",
    };
    let status = match text(v, &["threatInfo", "incidentStatus"]).unwrap_or_default().as_str() {
        "in_progress" => "in_progress",
        "resolved" => "resolved",
        _ => "new",
    };
    let tactics: Vec<&Value> = v
        .get("indicators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("tactics")?.as_array())
        .flatten()
        .collect();
    let techniques: Vec<&str> = tactics
        .iter()
        .filter_map(|t| t.get("techniques")?.as_array())
        .flatten()
        .filter_map(|t| t.get("name")?.as_str())
        .collect();
    let category = tactics.iter().find_map(|t| text(t, &["name"])).or_else(|| text(v, &["threatInfo", "classification"]));
    let console = console.trim_end_matches('/');
    Ok(AlertRow {
        time,
        updated_time,
        vendor: "sentinelone",
        device_id: text(v, &["agentRealtimeInfo", "agentId"]).unwrap_or_else(|| entity.clone()),
        device_ip: text(v, &["agentDetectionInfo", "agentIpV4"]).or_else(|| text(v, &["agentDetectionInfo", "agentIpV6"])),
        user_name: text(v, &["threatInfo", "processUser"]).map(|u| account_name(&u)),
        title: text(v, &["threatInfo", "threatName"]).unwrap_or_else(|| "SentinelOne threat".into()),
        category,
        severity,
        techniques: attack_ids(techniques),
        process_name: text(v, &["threatInfo", "originatorProcess"]),
        command_line: text(v, &["threatInfo", "maliciousProcessArguments"]),
        file_name: text(v, &["threatInfo", "filePath"]).map(|p| base_name(&p)),
        file_sha256: lower(text(v, &["threatInfo", "sha256"])),
        status,
        console_url: format!("{console}/incidents/threats/{id}/overview"),
        alert_id: id,
        entity,
        raw: v.to_string(),
    })
}

// ---------------------------------------------------------------------------

/// Rows as an `edr_alerts` batch, all landed at `ingest_time`.
pub fn rows_to_batch(rows: &[AlertRow], ingest_time: i64) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let ts = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut time, mut updated, mut ingest) = (ts(), ts(), ts());
    let s = || StringBuilder::with_capacity(n, n * 16);
    let (mut vendor, mut alert_id, mut entity, mut device_id, mut device_ip, mut user_name) = (s(), s(), s(), s(), s(), s());
    let (mut title, mut category, mut severity) = (s(), s(), s());
    let mut severity_ids = Int32Builder::with_capacity(n);
    let mut techniques = ListBuilder::new(StringBuilder::new())
        .with_field(Arc::new(arrow::datatypes::Field::new("item", arrow::datatypes::DataType::Utf8, true)));
    let (mut process_name, mut command_line, mut file_name, mut file_sha256) = (s(), s(), s(), s());
    let (mut status, mut console_url, mut raw) = (s(), s(), s());
    for r in rows {
        time.append_value(r.time);
        updated.append_value(r.updated_time);
        ingest.append_value(ingest_time);
        vendor.append_value(r.vendor);
        alert_id.append_value(&r.alert_id);
        entity.append_value(&r.entity);
        device_id.append_value(&r.device_id);
        device_ip.append_option(r.device_ip.as_deref());
        user_name.append_option(r.user_name.as_deref());
        title.append_value(&r.title);
        category.append_option(r.category.as_deref());
        severity.append_value(r.severity);
        severity_ids.append_value(severity_id(r.severity));
        for t in &r.techniques {
            techniques.values().append_value(t);
        }
        techniques.append(true);
        process_name.append_option(r.process_name.as_deref());
        command_line.append_option(r.command_line.as_deref());
        file_name.append_option(r.file_name.as_deref());
        file_sha256.append_option(r.file_sha256.as_deref());
        status.append_value(r.status);
        console_url.append_value(&r.console_url);
        raw.append_value(&r.raw);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(updated.finish()),
        Arc::new(ingest.finish()),
        Arc::new(vendor.finish()),
        Arc::new(alert_id.finish()),
        Arc::new(entity.finish()),
        Arc::new(device_id.finish()),
        Arc::new(device_ip.finish()),
        Arc::new(user_name.finish()),
        Arc::new(title.finish()),
        Arc::new(category.finish()),
        Arc::new(severity.finish()),
        Arc::new(severity_ids.finish()),
        Arc::new(techniques.finish()),
        Arc::new(process_name.finish()),
        Arc::new(command_line.finish()),
        Arc::new(file_name.finish()),
        Arc::new(file_sha256.finish()),
        Arc::new(status.finish()),
        Arc::new(console_url.finish()),
        Arc::new(raw.finish()),
    ];
    RecordBatch::try_new(schema::edr_alerts(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attack_ids_keep_only_mitre_ids() {
        assert_eq!(attack_ids(["T1059.001", "CST0001", "t1071", "T1059.001", "T12", "T1234.5"]), vec!["T1059.001", "T1071"]);
    }

    #[test]
    fn graph_alert_normalises_per_contract() {
        let v = json!({"id":"da1_2","status":"inProgress","severity":"unknown","title":"Suspicious thing",
            "category":"DefenseEvasion","mitreTechniques":["T1564.001"],"tenantId":"t1",
            "createdDateTime":"2026-11-03T10:00:01.1234567Z","lastUpdateDateTime":"2026-11-03T11:00:00.0000009Z",
            "evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence","deviceDnsName":"WS-0042.corp.example.com.",
                "mdeDeviceId":"abc","ipInterfaces":["127.0.0.1","192.0.2.7"]},
              {"@odata.type":"#microsoft.graph.security.processEvidence","processCommandLine":"x.exe -a",
                "imageFile":{"fileName":"x.exe","sha256":"ABCD"},"userAccount":{"accountName":"ana"}}]});
        let r = from_mde_graph(&v).unwrap();
        assert_eq!(r.entity, "ws-0042");
        assert_eq!(r.time, 1_793_700_001_123_457, "7 digits round to the microsecond");
        assert_eq!(r.updated_time % 1_000_000, 1);
        assert_eq!((r.severity, r.status), ("informational", "in_progress"));
        assert_eq!(r.device_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.file_sha256.as_deref(), Some("abcd"));
        assert_eq!(r.console_url, "https://security.microsoft.com/alerts/da1_2?tid=t1");
        assert_eq!(r.user_name.as_deref(), Some("ana"));
    }

    #[test]
    fn missing_device_or_bad_time_is_a_reason_not_a_panic() {
        let e = from_mde_graph(&json!({"id":"x","createdDateTime":"2026-11-03T10:00:00Z"})).unwrap_err();
        assert!(e.contains("deviceDnsName"), "{e}");
        let e = from_crowdstrike(&json!({"composite_id":"c","timestamp":"yesterday","device":{"hostname":"h"}})).unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
        let e = from_crowdstrike(&json!({"composite_id":"c","timestamp":"2026-11-03T10:00:00Z","updated_timestamp":"2026-11-03T10:00:00Z","severity":"high",
            "device":{"hostname":"h"}})).unwrap_err();
        assert!(e.contains("severity"), "{e}");
    }

    #[test]
    fn crowdstrike_bands_and_status() {
        assert_eq!(
            [95, 90, 89, 70, 69, 50, 49, 20, 19, 0].map(crowdstrike_severity),
            ["critical", "critical", "high", "high", "medium", "medium", "low", "low", "informational", "informational"]
        );
        let v = json!({"composite_id":"cid:ind:aid:1","timestamp":"2026-11-03T10:00:00.123Z",
            "updated_timestamp":"2026-11-03T10:05:00.123456789Z","status":"reopened","severity":70,
            "technique_id":"CST0001","device":{"hostname":"SRV-01","device_id":"aid","local_ip":"192.0.2.1"}});
        let r = from_crowdstrike(&v).unwrap();
        assert_eq!((r.severity, r.status, r.entity.as_str()), ("high", "in_progress", "srv-01"));
        assert!(r.techniques.is_empty(), "vendor technique ids are dropped");
        assert_eq!(r.updated_time % 1_000_000, 123_457);
    }

    #[test]
    fn sentinelone_maps_confidence_and_builds_console_link() {
        let v = json!({"id":"123","threatInfo":{"threatName":"evil.exe","confidenceLevel":"suspicious",
            "incidentStatus":"unresolved","identifiedAt":"2026-11-03T10:00:00.000000Z","updatedAt":"2026-11-03T10:01:00Z",
            "processUser":"CORP\\ana","filePath":"C:\\Users\\ana\\evil.exe","classification":"Trojan"},
            "agentRealtimeInfo":{"agentComputerName":"WS-7","agentId":"9"},"indicators":[]});
        let r = from_sentinelone(&v, "https://x.sentinelone.net/").unwrap();
        assert_eq!((r.severity, r.status), ("medium", "new"));
        assert_eq!(r.console_url, "https://x.sentinelone.net/incidents/threats/123/overview");
        assert_eq!((r.user_name.as_deref(), r.file_name.as_deref()), (Some("ana"), Some("evil.exe")));
        assert_eq!(r.category.as_deref(), Some("Trojan"));
    }
}
