//! Suricata EVE JSON: `flow` events into `network_flows`.
//!
//! A flow event is Suricata's record of one finished (or timed-out)
//! connection, the equivalent of a Zeek conn.log row. Every other event type
//! (alert, dns, http, tls, stats, ...) is valid input this connector does not
//! land; it is counted per `event_type` and skipped.

use serde_json::{Map, Value};

use super::{parse_time, FlowRow, LineParser, Parsed};

/// Parses EVE lines; stateless.
pub struct SuricataParser;

impl LineParser for SuricataParser {
    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(SuricataParser)
    }

    fn parse(&mut self, line: &str) -> Result<Parsed, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
        let Value::Object(event) = value else { return Err("EVE line is not a JSON object".into()) };
        let event_type = event
            .get("event_type")
            .and_then(Value::as_str)
            .ok_or("missing required field event_type")?;
        if event_type != "flow" {
            return Ok(Parsed::Skipped(event_type.to_string()));
        }
        flow(&event).map(Parsed::Flow)
    }
}

fn flow(e: &Map<String, Value>) -> Result<FlowRow, String> {
    let text = |name: &str| e.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let required = |name: &str| text(name).map(str::to_string).ok_or_else(|| format!("missing required field {name}"));
    let flow = e.get("flow").and_then(Value::as_object).ok_or("missing required field flow")?;
    let flow_text = |name: &str| flow.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());

    let uid = match e.get("flow_id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("missing required field flow_id".into()),
    };
    let start = match flow_text("start") {
        Some(s) => parse_time("flow.start", s)?,
        None => parse_time("timestamp", text("timestamp").ok_or("missing required fields flow.start and timestamp")?)?,
    };
    let end = flow_text("end").map(|s| parse_time("flow.end", s)).transpose()?;
    Ok(FlowRow {
        time: start,
        uid,
        src_ip: required("src_ip")?,
        src_port: port(e, "src_port")?,
        dst_ip: required("dest_ip")?,
        dst_port: port(e, "dest_port")?,
        proto: required("proto")?.to_lowercase(),
        // "failed" means detection failed: no known application protocol.
        service: text("app_proto").filter(|p| *p != "failed").map(str::to_lowercase),
        duration_s: end.filter(|end| *end >= start).map(|end| (end - start) as f64 / 1e6),
        bytes_out: count(flow, "bytes_toserver")?,
        bytes_in: count(flow, "bytes_toclient")?,
        conn_state: flow_text("state").map(str::to_string),
        dst_host: None,
    })
}

fn port(e: &Map<String, Value>, name: &str) -> Result<Option<i32>, String> {
    match e.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (0..=65535).contains(&p) => Ok(Some(p as i32)),
            _ => Err(format!("field {name}: invalid port {n}")),
        },
        Some(other) => Err(format!("field {name}: invalid port {other}")),
    }
}

fn count(flow: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match flow.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => Ok(n.as_i64()),
        Some(other) => Err(format!("field flow.{name}: invalid count {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVE: &str = r#"{"timestamp":"2018-07-05T15:07:20.910626-0400","flow_id":904992230150281,"in_iface":"en0","event_type":"alert","src_ip":"192.168.86.85","src_port":55641,"dest_ip":"192.168.156.70","dest_port":443,"proto":"TCP","tx_id":0,"alert":{"action":"allowed","gid":1,"signature_id":2024833,"rev":3,"signature":"ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)","category":"Potential Corporate Privacy Violation","severity":1},"tls":{"session_resumed":true,"sni":"l2.io","version":"TLS 1.2"},"app_proto":"tls","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":793,"bytes_toclient":343,"start":"2018-07-05T15:07:19.659593-0400"}}
{"timestamp":"2018-07-05T15:08:21.000000-0400","flow_id":904992230150281,"in_iface":"en0","event_type":"flow","src_ip":"192.168.86.85","src_port":55641,"dest_ip":"192.168.156.70","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":10,"pkts_toclient":9,"bytes_toserver":1793,"bytes_toclient":5343,"start":"2018-07-05T15:07:19.659593-0400","end":"2018-07-05T15:07:21.159593-0400","age":2,"state":"closed","reason":"timeout","alerted":true}}
{"timestamp":"2018-07-05T15:07:22.000000-0400","flow_id":11,"event_type":"dns","src_ip":"192.168.86.85","src_port":5353,"dest_ip":"192.168.86.1","dest_port":53,"proto":"UDP","dns":{"type":"query","id":1,"rrname":"l2.io","rrtype":"A"}}
{"timestamp":"2018-07-05T15:09:00.000000-0400","flow_id":12,"event_type":"flow","src_ip":"192.168.86.85","dest_ip":"192.168.86.1","proto":"ICMP","icmp_type":8,"app_proto":"failed","flow":{"bytes_toserver":98,"bytes_toclient":98,"start":"2018-07-05T15:09:00.000000-0400","state":"established"}}
{"timestamp":"2018-07-05T15:09:00.000000-0400","flow_id":13,"event_type":"flow","src_ip":"192.168.86.85","dest_ip":"192.168.86.1","proto":"TCP","flow":{"start":"not a time"}}
{"timestamp":"2018-07-05T15:09:00.000000-0400","flow_id":14,"event_type":"flow","src_ip":"192.168.86.85","src_port":"x","dest_ip":"192.168.86.1","proto":"TCP","flow":{}}
{"event_type":"flow"
{"flow_id":15}
"#;

    fn parse_all() -> Vec<Result<Parsed, String>> {
        EVE.lines().map(|l| SuricataParser.parse(l)).collect()
    }

    #[test]
    fn flow_events_map_to_flows_and_others_are_skipped() {
        let rows = parse_all();
        assert_eq!(rows[0], Ok(Parsed::Skipped("alert".into())));
        let Ok(Parsed::Flow(f)) = &rows[1] else { panic!("{:?}", rows[1]) };
        assert_eq!(f.uid, "904992230150281");
        assert_eq!(f.time, parse_time("t", "2018-07-05T19:07:19.659593Z").unwrap());
        assert_eq!((f.src_ip.as_str(), f.src_port, f.dst_ip.as_str(), f.dst_port), ("192.168.86.85", Some(55641), "192.168.156.70", Some(443)));
        assert_eq!((f.proto.as_str(), f.service.as_deref(), f.conn_state.as_deref()), ("tcp", Some("tls"), Some("closed")));
        assert_eq!((f.bytes_out, f.bytes_in, f.duration_s), (Some(1793), Some(5343), Some(1.5)));
        assert_eq!(rows[2], Ok(Parsed::Skipped("dns".into())));
        let Ok(Parsed::Flow(icmp)) = &rows[3] else { panic!("{:?}", rows[3]) };
        assert_eq!((icmp.proto.as_str(), icmp.src_port, icmp.service.clone(), icmp.duration_s), ("icmp", None, None, None));
    }

    #[test]
    fn broken_events_give_reasons() {
        let rows = parse_all();
        assert!(rows[4].as_ref().unwrap_err().contains("flow.start: unparsable timestamp"), "{:?}", rows[4]);
        assert!(rows[5].as_ref().unwrap_err().contains("src_port: invalid port"), "{:?}", rows[5]);
        assert!(rows[6].as_ref().unwrap_err().starts_with("invalid JSON"));
        assert_eq!(rows[7], Err("missing required field event_type".into()));
    }
}
