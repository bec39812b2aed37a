//! Local stand-ins for the three EDR vendor APIs, speaking their real
//! request and response shapes (shared/design/sources.md): OAuth2 token
//! endpoints (Entra 200, CrowdStrike 201) with expiring tokens, Graph OData
//! filters and `@odata.nextLink`, CrowdStrike FQL filters with query ids,
//! entities (<= 1000 ids) and the combined `after` cursor, SentinelOne
//! `ApiToken` and `nextCursor`. Faults are injected per request: 429 with
//! the vendor's retry header, 500, token expiry, slow responses.
//!
//! A tiny HTTP/1.1 server on tokio (one request per connection), so the
//! tests need no web framework.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When the mock received it, seconds since the epoch.
    pub received_at: f64,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: vec![], body: body.to_string() }
    }
}

/// A fault served instead of the next matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with the vendor's own retry header.
    RateLimited,
    ServerError,
    /// All issued tokens stop working (the next API call gets 401).
    ExpireTokens,
    /// 200 with CrowdStrike-style `errors[]` and no resources.
    VendorErrors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Graph,
    CrowdStrike,
    SentinelOne,
}

pub struct State {
    pub vendor: Vendor,
    /// Alerts as the vendor holds them now (tests edit them between polls).
    pub alerts: Vec<Value>,
    pub requests: Vec<Request>,
    /// Faults for upcoming API (non-token) requests, in order.
    pub faults: VecDeque<Fault>,
    pub tokens_issued: u32,
    valid_tokens: Vec<String>,
    pub client_secret: String,
    pub api_token: String,
    /// Delay before each API response (crash tests kill during it).
    pub delay: Duration,
    pub base: String,
    /// The epoch second the last CrowdStrike 429 told the client to wait for.
    pub retry_at: Option<i64>,
}

pub struct MockVendor {
    pub state: Arc<Mutex<State>>,
}

impl MockVendor {
    pub async fn start(vendor: Vendor, alerts: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            vendor,
            alerts,
            requests: Vec::new(),
            faults: VecDeque::new(),
            tokens_issued: 0,
            valid_tokens: Vec::new(),
            client_secret: "mock-client-secret-3f9a".into(),
            api_token: "mock-api-token-77c1".into(),
            delay: Duration::ZERO,
            base: format!("http://{addr}"),
            retry_at: None,
        }));
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let s = s.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else { return };
                    let delay = s.lock().unwrap().delay;
                    if !delay.is_zero() && !req.path.contains("token") {
                        tokio::time::sleep(delay).await;
                    }
                    let resp = handle(&s, req);
                    let mut out = format!("HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", resp.status, resp.body.len());
                    for (k, v) in &resp.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&resp.body);
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { state }
    }

    pub fn fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }

    pub fn api_requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.iter().filter(|r| !r.path.contains("token")).cloned().collect()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let url = url::Url::parse(&format!("http://x{target}")).ok()?;
    Some(Request {
        method,
        path: url.path().to_string(),
        query: url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        received_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64(),
    })
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn handle(state: &Arc<Mutex<State>>, req: Request) -> Response {
    let mut s = state.lock().unwrap();
    s.requests.push(req.clone());
    if req.path.ends_with("/token") {
        return token(&mut s, &req);
    }
    // Authentication.
    let auth = req.headers.get("authorization").cloned().unwrap_or_default();
    let authorised = match s.vendor {
        Vendor::SentinelOne => auth == format!("ApiToken {}", s.api_token),
        _ => auth.strip_prefix("Bearer ").is_some_and(|t| s.valid_tokens.iter().any(|v| v == t)),
    };
    if let Some(f) = s.faults.pop_front() {
        match f {
            Fault::RateLimited => {
                return match s.vendor {
                    Vendor::CrowdStrike => {
                        let at = chrono::Utc::now().timestamp() + 1;
                        s.retry_at = Some(at);
                        Response {
                            status: 429,
                            headers: vec![("X-Ratelimit-Limit".into(), "6000".into()), ("X-Ratelimit-Remaining".into(), "0".into()), ("X-Ratelimit-Retryafter".into(), at.to_string())],
                            body: json!({"meta":{"query_time":0.0},"errors":[{"code":429,"message":"API rate limit exceeded."}],"resources":[]}).to_string(),
                        }
                    }
                    Vendor::Graph => Response {
                        status: 429,
                        headers: vec![("Retry-After".into(), "1".into())],
                        body: json!({"error":{"code":"TooManyRequests","message":"Too many requests."}}).to_string(),
                    },
                    Vendor::SentinelOne => Response {
                        status: 429,
                        headers: vec![("Retry-After".into(), "1".into())],
                        body: json!({"errors":[{"detail":"Too many requests"}],"data":null,"pagination":null}).to_string(),
                    },
                };
            }
            Fault::ServerError => return Response::json(500, json!({"error":{"code":"InternalServerError","message":"transient"}})),
            Fault::ExpireTokens => s.valid_tokens.clear(),
            Fault::VendorErrors => {
                return Response::json(200, json!({"meta":{"query_time":0.01},"resources":[],"errors":[{"code":400,"message":"Invalid filter expression"}]}))
            }
        }
    }
    let authorised = authorised && (s.vendor == Vendor::SentinelOne || !s.valid_tokens.is_empty());
    if !authorised {
        return match s.vendor {
            Vendor::Graph => Response::json(401, json!({"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}})),
            Vendor::CrowdStrike => Response::json(401, json!({"meta":{},"errors":[{"code":401,"message":"access denied, invalid bearer token"}],"resources":[]})),
            Vendor::SentinelOne => Response::json(401, json!({"errors":[{"code":4010010,"detail":"Authentication failed","title":"Authentication Failed"}]})),
        };
    }
    match (s.vendor, req.method.as_str(), req.path.as_str()) {
        (Vendor::Graph, "GET", "/v1.0/security/alerts_v2") => graph_alerts(&s, &req),
        (Vendor::Graph, "GET", "/api/alerts") => defender_alerts(&s, &req),
        (Vendor::CrowdStrike, "GET", "/alerts/queries/alerts/v2") => cs_query(&s, &req),
        (Vendor::CrowdStrike, "POST", "/alerts/entities/alerts/v2") => cs_entities(&s, &req),
        (Vendor::CrowdStrike, "POST", "/alerts/combined/alerts/v1") => cs_combined(&s, &req),
        (Vendor::SentinelOne, "GET", "/web/api/v2.1/threats") => s1_threats(&s, &req),
        _ => Response::json(404, json!({"error":{"code":"NotFound","message":format!("no route {} {}", req.method, req.path)}})),
    }
}

fn token(s: &mut State, req: &Request) -> Response {
    let f = form(&req.body);
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") || f.get("client_secret") != Some(&s.client_secret) {
        return match s.vendor {
            Vendor::CrowdStrike => Response::json(403, json!({"meta":{},"errors":[{"code":403,"message":"Failed to issue access token - Not Authorized"}],"resources":[]})),
            _ => Response::json(401, json!({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"})),
        };
    }
    if s.vendor == Vendor::Graph && f.get("scope").is_none_or(|sc| !sc.ends_with("/.default")) {
        return Response::json(400, json!({"error":"invalid_scope","error_description":"AADSTS70011: The provided value for scope is not valid."}));
    }
    s.tokens_issued += 1;
    let t = format!("tok-{}-{}", s.tokens_issued, uuid::Uuid::new_v4().simple());
    s.valid_tokens.push(t.clone());
    match s.vendor {
        Vendor::CrowdStrike => Response {
            status: 201,
            headers: vec![("X-Cs-Region".into(), "us-1".into())],
            body: json!({"access_token": t, "token_type": "bearer", "expires_in": 1799}).to_string(),
        },
        _ => Response::json(200, json!({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":t})),
    }
}

fn ts_of(v: &Value, path: &str) -> i64 {
    v.pointer(path)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(i64::MIN, |t| t.timestamp_micros())
}

fn parse_ts(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t.trim()).unwrap_or_else(|e| panic!("mock got a bad timestamp {t:?}: {e}")).timestamp_micros()
}

/// Alerts updated at or after `since`, ascending by update time.
fn updated_since(alerts: &[Value], ptr: &str, since: i64) -> Vec<Value> {
    let mut out: Vec<Value> = alerts.iter().filter(|a| ts_of(a, ptr) >= since || ts_of(a, ptr) == i64::MIN).cloned().collect();
    out.sort_by_key(|a| ts_of(a, ptr));
    out
}

fn graph_alerts(s: &State, req: &Request) -> Response {
    let filter = req.query.get("$filter").cloned().unwrap_or_default();
    let since = filter
        .strip_prefix("lastUpdateDateTime ge ")
        .map(|rest| parse_ts(rest.split(' ').next().unwrap()))
        .unwrap_or_else(|| panic!("unexpected $filter {filter:?}"));
    let top: usize = req.query.get("$top").and_then(|t| t.parse().ok()).unwrap_or(100);
    let skip: usize = req.query.get("$skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let all = updated_since(&s.alerts, "/lastUpdateDateTime", since);
    let page: Vec<Value> = all.iter().skip(skip).take(top).cloned().collect();
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#security/alerts_v2", s.base), "value": page});
    if skip + top < all.len() {
        let mut next = url::Url::parse(&format!("{}/v1.0/security/alerts_v2", s.base)).unwrap();
        next.query_pairs_mut().append_pair("$filter", &filter).append_pair("$top", &top.to_string()).append_pair("$skiptoken", &(skip + top).to_string());
        body["@odata.nextLink"] = json!(next.to_string());
    }
    Response::json(200, body)
}

/// The Defender for Endpoint API: `$filter=lastUpdateTime ge <ts>`, `$top`,
/// `$skip`, no nextLink (sources.md: unconfirmed), evidence with `$expand`.
fn defender_alerts(s: &State, req: &Request) -> Response {
    let filter = req.query.get("$filter").cloned().unwrap_or_default();
    let since = filter
        .strip_prefix("lastUpdateTime ge ")
        .map(parse_ts)
        .unwrap_or_else(|| panic!("unexpected $filter {filter:?}"));
    let top: usize = req.query["$top"].parse().unwrap();
    let skip: usize = req.query.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
    let expand = req.query.get("$expand").map(String::as_str) == Some("evidence");
    let page: Vec<Value> = updated_since(&s.alerts, "/lastUpdateTime", since)
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|mut a| {
            if !expand {
                a["evidence"] = json!([]);
            }
            a
        })
        .collect();
    Response::json(200, json!({"@odata.context": format!("{}/api/$metadata#Alerts", s.base), "value": page}))
}

fn cs_since(filter: &str) -> i64 {
    let rest = filter.strip_prefix("updated_timestamp:>='").unwrap_or_else(|| panic!("unexpected FQL {filter:?}"));
    parse_ts(rest.trim_end_matches('\''))
}

fn cs_query(s: &State, req: &Request) -> Response {
    let since = cs_since(req.query.get("filter").map(String::as_str).unwrap_or(""));
    assert_eq!(req.query.get("sort").map(String::as_str), Some("updated_timestamp|asc"));
    let limit: usize = req.query["limit"].parse().unwrap();
    let offset: usize = req.query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    if offset + limit > 10_000 {
        return Response::json(400, json!({"meta":{},"errors":[{"code":400,"message":"offset + limit must be at most 10000"}],"resources":[]}));
    }
    let all = updated_since(&s.alerts, "/updated_timestamp", since);
    let ids: Vec<Value> = all.iter().skip(offset).take(limit).map(|a| a["composite_id"].clone()).collect();
    Response::json(200, json!({"meta":{"query_time":0.01,"pagination":{"offset":offset,"limit":limit,"total":all.len()},"powered_by":"detectsapi","trace_id":"t"},"resources":ids,"errors":[]}))
}

fn cs_entities(s: &State, req: &Request) -> Response {
    let body: Value = serde_json::from_str(&req.body).unwrap();
    let ids: Vec<&str> = body["composite_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    if ids.len() > 1000 {
        return Response::json(413, json!({"meta":{},"errors":[{"code":413,"message":"too many ids"}],"resources":[]}));
    }
    let resources: Vec<Value> = ids.iter().filter_map(|id| s.alerts.iter().find(|a| a["composite_id"] == *id).cloned()).collect();
    Response::json(200, json!({"meta":{"query_time":0.02,"powered_by":"detectsapi"},"resources":resources,"errors":[]}))
}

fn cs_combined(s: &State, req: &Request) -> Response {
    let body: Value = serde_json::from_str(&req.body).unwrap();
    let since = cs_since(body["filter"].as_str().unwrap());
    let limit = body["limit"].as_u64().unwrap() as usize;
    let after: usize = body.get("after").and_then(Value::as_str).map_or(0, |a| a.trim_start_matches("cursor-").parse().unwrap());
    let all = updated_since(&s.alerts, "/updated_timestamp", since);
    let page: Vec<Value> = all.iter().skip(after).take(limit).cloned().collect();
    let mut pagination = json!({"limit": limit, "total": all.len()});
    if after + limit < all.len() {
        pagination["after"] = json!(format!("cursor-{}", after + limit));
    }
    Response::json(200, json!({"meta":{"query_time":0.02,"pagination":pagination},"resources":page,"errors":[]}))
}

fn s1_threats(s: &State, req: &Request) -> Response {
    let since = parse_ts(&req.query["updatedAt__gte"]);
    let limit: usize = req.query["limit"].parse().unwrap();
    let from: usize = req.query.get("cursor").map_or(0, |c| c.trim_start_matches("c").parse().unwrap());
    let all = updated_since(&s.alerts, "/threatInfo/updatedAt", since);
    let page: Vec<Value> = all.iter().skip(from).take(limit).cloned().collect();
    let next = (from + limit < all.len()).then(|| format!("c{}", from + limit));
    Response::json(200, json!({"data": page, "pagination": {"nextCursor": next, "totalItems": null}}))
}

// ---------------------------------------------------------------------------
// Alert generators in each vendor's shape (RFC 5737 addresses, example.com).

pub fn iso(us: i64, digits: usize) -> String {
    let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
    match digits {
        3 => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        7 => format!("{}0Z", t.format("%Y-%m-%dT%H:%M:%S%.6f")),
        9 => format!("{}000Z", t.format("%Y-%m-%dT%H:%M:%S%.6f")),
        _ => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    }
}

pub fn graph_alert(i: usize, time: i64, updated: i64) -> Value {
    let id = format!("da6380{i:012}_{}", 1000 + i);
    json!({
        "@odata.type": "#microsoft.graph.security.alert",
        "id": id, "providerAlertId": id, "incidentId": format!("{}", 20000 + i),
        "status": "new", "severity": (["low", "medium", "high", "informational"][i % 4]),
        "classification": null, "determination": null,
        "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "microsoftDefenderForEndpoint",
        "tenantId": "b3c1b5fc-0000-4000-8000-000000000001",
        "title": format!("Suspicious PowerShell command line {}", i % 7), "category": "Execution",
        "mitreTechniques": ["T1059.001", "T1105"],
        "alertWebUrl": format!("https://security.microsoft.com/alerts/{id}?tid=b3c1b5fc-0000-4000-8000-000000000001"),
        "createdDateTime": iso(time + 60_000_000, 7), "lastUpdateDateTime": iso(updated, 7),
        "firstActivityDateTime": iso(time, 3), "lastActivityDateTime": iso(time + 1_000_000, 3),
        "comments": [], "systemTags": [],
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "verdict": "unknown", "remediationStatus": "none",
             "mdeDeviceId": format!("{:040x}", i % 9), "deviceDnsName": format!("WS-{:04}.corp.example.com", i % 9),
             "osPlatform": "Windows11", "ipInterfaces": ["127.0.0.1", format!("192.0.2.{}", 10 + i % 9)], "loggedOnUsers": [], "roles": ["compromised"]},
            {"@odata.type": "#microsoft.graph.security.processEvidence", "processId": 4780, "parentProcessId": 668,
             "processCommandLine": "powershell.exe -enc SQBFAFgA", "detectionStatus": "detected",
             "imageFile": {"fileName": "powershell.exe", "sha256": "9F914D42706FE215501044ACD85A32D58AAEF1419D404FDDFA5D3B48F66CCD9F"},
             "userAccount": {"accountName": "ana", "domainName": "CORP", "userSid": "S-1-5-21-1-2-3-1104"}}
        ]
    })
}

pub fn cs_alert(i: usize, time: i64, updated: i64) -> Value {
    let aid = format!("{:032x}", 0xabc000 + i % 7);
    let composite = format!("92012896127c4a8236ba7601b886b0:ind:{aid}:{:012}-5761-{:08}", 399_748_687_993u64 + i as u64, i);
    json!({
        "composite_id": composite, "id": format!("ind:{aid}:{i}"), "agent_id": aid, "cid": "92012896127c4a8236ba7601b886b0",
        "product": "epp", "type": "ldt", "severity": ([30, 55, 75, 95][i % 4]), "confidence": 80,
        "name": "CredentialDumping", "display_name": "Credential dumping via LSASS access", "description": "A process accessed LSASS memory.",
        "tactic": "Credential Access", "tactic_id": "TA0006", "technique": "OS Credential Dumping", "technique_id": "T1003",
        "filename": "rundll32.exe", "cmdline": "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Temp\\l.dmp full",
        "sha256": "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12",
        "user_name": "svc_backup", "status": "new",
        "timestamp": iso(time, 3), "created_timestamp": iso(time + 61_000_000, 9), "updated_timestamp": iso(updated, 9),
        "falcon_host_link": format!("https://falcon.crowdstrike.com/activity-v2/detections/{composite}"),
        "device": {"device_id": aid, "hostname": format!("SRV-{:02}", i % 7), "local_ip": format!("198.51.100.{}", 20 + i % 7), "platform_name": "Windows"},
        "quarantined_files": []
    })
}

pub fn s1_threat(i: usize, time: i64, updated: i64) -> Value {
    let id = format!("{}", 1_234_567_890_123_000_000u64 + i as u64);
    json!({
        "id": id,
        "threatInfo": {"threatId": id, "threatName": "invoice_0412.exe", "classification": "Trojan", "confidenceLevel": (["malicious", "suspicious"][i % 2]),
            "mitigationStatus": "not_mitigated", "analystVerdict": "undefined", "incidentStatus": "unresolved",
            "sha1": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d", "sha256": null, "md5": null,
            "filePath": "\\Device\\HarddiskVolume3\\Users\\bob\\Downloads\\invoice_0412.exe", "originatorProcess": "explorer.exe",
            "processUser": "CORP\\bob", "maliciousProcessArguments": "invoice_0412.exe /s", "detectionType": "static",
            "createdAt": iso(time + 2_000_000, 6), "updatedAt": iso(updated, 6), "identifiedAt": iso(time, 6)},
        "agentRealtimeInfo": {"agentId": format!("{}", 900 + i % 5), "agentComputerName": format!("LT-{:03}", i % 5), "agentOsType": "windows"},
        "agentDetectionInfo": {"agentIpV4": format!("203.0.113.{}", 30 + i % 5), "agentIpV6": null},
        "indicators": [{"category": "Persistence", "description": "Run key", "ids": [12], "tactics": [{"name": "Persistence", "source": "MITRE",
            "techniques": [{"name": "T1547.001", "link": "https://attack.mitre.org/techniques/T1547/001/"}]}]}],
        "mitigationStatus": []
    })
}

/// A Defender for Endpoint API (`api/alerts`) alert: PascalCase enums,
/// flat evidence.
pub fn defender_alert(i: usize, time: i64, updated: i64) -> Value {
    json!({
        "id": format!("da6374{i:012}_{}", 5000 + i), "incidentId": 1_126_000 + i, "investigationId": null,
        "severity": (["Low", "Medium", "High", "UnSpecified"][i % 4]), "status": (["New", "InProgress", "Resolved"][i % 3]),
        "investigationState": "Queued", "detectionSource": "WindowsDefenderAtp", "category": "Execution",
        "title": "Low-reputation arbitrary code executed by signed executable",
        "alertCreationTime": iso(time + 30_000_000, 7), "firstEventTime": iso(time, 7), "lastEventTime": iso(time + 1_000_000, 7),
        "lastUpdateTime": iso(updated, 7), "resolvedTime": null,
        "machineId": format!("{:040x}", 0x111e6d + i % 4), "computerDnsName": format!("temp{:03}.corp.example.com", i % 4),
        "aadTenantId": "a839b112-0000-4000-8000-000000000002", "mitreTechniques": ["T1064", "CST0001"],
        "relatedUser": {"userName": "carol", "domainName": "CORP"}, "comments": [],
        "evidence": [{"entityType": "Process", "fileName": "rundll32.exe", "filePath": "C:\\Windows\\SysWOW64", "processId": 3276,
            "processCommandLine": "rundll32.exe  c:\\temp\\suspicious.dll,RepeatAfterMe", "sha256": "A4752C71D81AFD3D5865D24DDB11A6B0C615062FCC448D24050C2172D2CBCCD6",
            "detectionStatus": "Detected", "accountName": "carol", "ipAddress": null}]
    })
}
