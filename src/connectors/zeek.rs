//! Zeek logs: `conn.log` into `network_flows`, `dhcp.log` into `assets`.
//!
//! Both Zeek writer formats are read, even mixed in one file: TSV with its
//! `#separator`/`#fields`/`#types` header (`-` unset, `(empty)` empty set,
//! `\xHH` escapes), and JSON lines with dotted (`id.orig_h`) or underscore
//! (`id_orig_h`, RockNSM/OTRF) field names. The log kind comes from `#path`
//! or `_path`, else from the file name, else from the fields present. Other
//! Zeek logs (dns, http, ...) are counted as skipped.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{canonical_entity, parse_count, parse_float, parse_port, parse_time, required};
use super::{AssetRow, FlowRow, LineParser, Parsed};

/// The TSV header in effect; kept in the checkpoint to resume mid-file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsvHeader {
    pub separator: String,
    pub set_separator: String,
    pub empty_field: String,
    pub unset_field: String,
    pub path: Option<String>,
    pub fields: Vec<String>,
}

impl Default for TsvHeader {
    fn default() -> Self {
        Self {
            separator: "\t".into(),
            set_separator: ",".into(),
            empty_field: "(empty)".into(),
            unset_field: "-".into(),
            path: None,
            fields: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Conn,
    Dhcp,
    Other(String),
}

fn kind_of_path(path: &str) -> Kind {
    match path {
        "conn" => Kind::Conn,
        "dhcp" => Kind::Dhcp,
        other => Kind::Other(other.to_string()),
    }
}

/// Parses one Zeek log file, line by line.
#[derive(Clone)]
pub struct ZeekParser {
    /// The kind the file name suggests (`conn*`, `dhcp*`), if any.
    hint: Option<Kind>,
    header: Option<TsvHeader>,
}

impl ZeekParser {
    pub fn new(file_name: &str, state: Option<Value>) -> Self {
        let lower = file_name.to_ascii_lowercase();
        let hint = if lower.starts_with("conn") {
            Some(Kind::Conn)
        } else if lower.starts_with("dhcp") {
            Some(Kind::Dhcp)
        } else {
            None
        };
        let header = state.and_then(|s| serde_json::from_value(s).ok());
        Self { hint, header }
    }

    fn header_line(&mut self, line: &str) {
        if let Some(sep) = line.strip_prefix("#separator") {
            // A new header section starts; the separator itself is space-separated.
            self.header = Some(TsvHeader { separator: unescape(sep.trim_start_matches([' ', '\t'])), ..Default::default() });
            return;
        }
        let header = self.header.get_or_insert_with(TsvHeader::default);
        let body = &line[1..];
        let (key, rest) = body.split_once(header.separator.as_str()).unwrap_or((body, ""));
        match key {
            "set_separator" => header.set_separator = unescape(rest),
            "empty_field" => header.empty_field = unescape(rest),
            "unset_field" => header.unset_field = unescape(rest),
            "path" => header.path = Some(rest.to_string()),
            "fields" => header.fields = rest.split(header.separator.as_str()).map(str::to_string).collect(),
            _ => {} // #types, #open, #close, comments
        }
    }

    fn kind(&self, path: Option<&str>, has: impl Fn(&str) -> bool) -> Kind {
        if let Some(p) = path {
            return kind_of_path(p);
        }
        if let Some(h) = &self.hint {
            return h.clone();
        }
        if has("assigned_addr") || has("lease_time") {
            Kind::Dhcp
        } else if ["conn_state", "orig_bytes", "resp_bytes", "history", "orig_pkts"].iter().any(|f| has(f)) {
            Kind::Conn
        } else {
            Kind::Other("unknown".into())
        }
    }
}

impl LineParser for ZeekParser {
    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    fn parse(&mut self, line: &str) -> Result<Parsed, String> {
        if line.starts_with('#') {
            self.header_line(line);
            return Ok(Parsed::Nothing);
        }
        if line.trim_start().starts_with('{') {
            let record = FlatJson::parse(line)?;
            let rec = Rec::Json(&record);
            let path = match record.lookup("_path") {
                Some(JsonValue::Str(p)) => Some(p.as_ref()),
                _ => None,
            };
            let kind = self.kind(path, |f| rec.has(f));
            return map_record(kind, &rec);
        }
        let header = self.header.as_ref().filter(|h| !h.fields.is_empty()).ok_or("TSV line before a #fields header")?;
        let values: Vec<&str> = line.split(header.separator.as_str()).collect();
        if values.len() != header.fields.len() {
            return Err(format!("{} fields, the #fields header has {}", values.len(), header.fields.len()));
        }
        let rec = Rec::Tsv { header, values };
        let kind = self.kind(header.path.as_deref(), |f| rec.has(f));
        map_record(kind, &rec)
    }

    fn state(&self) -> Option<Value> {
        self.header.as_ref().map(|h| serde_json::to_value(h).expect("header encodes"))
    }
}

fn map_record(kind: Kind, rec: &Rec<'_>) -> Result<Parsed, String> {
    match kind {
        Kind::Conn => conn(rec).map(Parsed::Flow),
        Kind::Dhcp => dhcp(rec),
        Kind::Other(path) => Ok(Parsed::Skipped(path)),
    }
}

fn conn(r: &Rec<'_>) -> Result<FlowRow, String> {
    Ok(FlowRow {
        time: r.time("ts")?,
        uid: required("uid", r.get("uid"))?.into_owned(),
        src_ip: required("id.orig_h", r.get("id.orig_h"))?.into_owned(),
        src_port: parse_port("id.orig_p", r.get("id.orig_p"))?,
        dst_ip: required("id.resp_h", r.get("id.resp_h"))?.into_owned(),
        dst_port: parse_port("id.resp_p", r.get("id.resp_p"))?,
        proto: required("proto", r.get("proto"))?.to_lowercase(),
        service: r.get("service").map(Cow::into_owned),
        duration_s: parse_float("duration", r.get("duration"))?,
        bytes_out: parse_count("orig_bytes", r.get("orig_bytes"))?,
        bytes_in: parse_count("resp_bytes", r.get("resp_bytes"))?,
        conn_state: r.get("conn_state").map(Cow::into_owned),
        dst_host: None,
    })
}

fn dhcp(r: &Rec<'_>) -> Result<Parsed, String> {
    let ts = r.time("ts")?;
    let lease = parse_float("lease_time", r.get("lease_time"))?;
    let host = r.get("host_name").or_else(|| r.get("client_fqdn"));
    let ip = r.get("assigned_addr").or_else(|| r.get("client_addr"));
    let (Some(entity), Some(ip)) = (host.as_deref().and_then(canonical_entity), ip) else {
        // A transaction that names no host or address (DISCOVER, NAK, ...).
        return Ok(Parsed::Skipped("dhcp_without_host_or_address".into()));
    };
    Ok(Parsed::Asset(AssetRow {
        entity,
        ip: ip.into_owned(),
        valid_from: ts,
        valid_to: lease.map(|l| ts + (l * 1e6).round() as i64),
    }))
}

/// One record of either format, read by field name.
enum Rec<'a> {
    Tsv { header: &'a TsvHeader, values: Vec<&'a str> },
    Json(&'a FlatJson<'a>),
}

impl Rec<'_> {
    /// A required timestamp; JSON epoch numbers are taken as numbers
    /// (rounded to the microsecond) instead of going through text.
    fn time(&self, name: &str) -> Result<i64, String> {
        if let Rec::Json(record) = self {
            match record.lookup(name) {
                Some(JsonValue::Float(f)) if f.is_finite() => return Ok((f * 1e6).round() as i64),
                Some(JsonValue::Int(n)) => return n.checked_mul(1_000_000).ok_or_else(|| format!("field {name}: timestamp out of range")),
                Some(JsonValue::UInt(n)) => {
                    return i64::try_from(*n).ok().and_then(|n| n.checked_mul(1_000_000)).ok_or_else(|| format!("field {name}: timestamp out of range"))
                }
                _ => {}
            }
        }
        parse_time(name, &required(name, self.get(name))?)
    }

    fn has(&self, name: &str) -> bool {
        match self {
            Rec::Tsv { header, .. } => header.fields.iter().any(|f| f == name),
            Rec::Json(record) => record.lookup(name).is_some(),
        }
    }

    /// The field's text; `None` when absent, unset or empty. Dotted names
    /// also match their underscore form and nested objects (`id: {orig_h}`).
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        match self {
            Rec::Tsv { header, values } => {
                let alt = name.replace('.', "_");
                let i = header.fields.iter().position(|f| *f == name || *f == alt)?;
                let v = values[i];
                if v == header.unset_field || v == header.empty_field || v.is_empty() {
                    None
                } else if v.contains("\\x") {
                    Some(Cow::Owned(unescape(v)))
                } else {
                    Some(Cow::Borrowed(v))
                }
            }
            Rec::Json(record) => record.lookup(name)?.text(),
        }
    }
}

/// Decodes Zeek's `\xHH` escapes (separators and non-printables in values).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') && hex(i + 2) && hex(i + 3) {
            if let Ok(b) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// JSON lines without building a `serde_json::Value` per line: fields are
// kept as (name, value) pairs borrowing from the line (strings without
// escapes are not copied), one nesting level deep (`"id": {"orig_h": ...}`).
// This is the hot path of large Zeek JSON loads.

/// One JSON log record.
struct FlatJson<'a> {
    fields: Vec<(Cow<'a, str>, JsonValue<'a>)>,
}

enum JsonValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<JsonValue<'a>>),
    Object(Vec<(Cow<'a, str>, JsonValue<'a>)>),
}

impl JsonValue<'_> {
    /// The value as Zeek TSV would print it; `None` for unset/empty.
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            JsonValue::Null => None,
            JsonValue::Str(s) if s.is_empty() => None,
            JsonValue::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            JsonValue::Int(n) => Some(Cow::Owned(n.to_string())),
            JsonValue::UInt(n) => Some(Cow::Owned(n.to_string())),
            JsonValue::Float(n) => Some(Cow::Owned(n.to_string())),
            JsonValue::Bool(b) => Some(Cow::Borrowed(if *b { "T" } else { "F" })),
            JsonValue::List(items) if items.is_empty() => None,
            JsonValue::List(items) => {
                Some(Cow::Owned(items.iter().map(|i| i.text().unwrap_or_default().into_owned()).collect::<Vec<_>>().join(",")))
            }
            JsonValue::Object(_) => Some(Cow::Owned(self.to_json().to_string())),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            JsonValue::Null => Value::Null,
            JsonValue::Bool(b) => Value::Bool(*b),
            JsonValue::Int(n) => Value::from(*n),
            JsonValue::UInt(n) => Value::from(*n),
            JsonValue::Float(n) => Value::from(*n),
            JsonValue::Str(s) => Value::String(s.to_string()),
            JsonValue::List(items) => Value::Array(items.iter().map(JsonValue::to_json).collect()),
            JsonValue::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }
}

impl<'a> FlatJson<'a> {
    /// A field by Zeek name: exact, with `_` for `.` (RockNSM), or nested.
    fn lookup(&self, name: &str) -> Option<&JsonValue<'a>> {
        if let Some((_, v)) = self.fields.iter().find(|(k, _)| same_field(k, name)) {
            return Some(v);
        }
        let (outer, inner) = name.split_once('.')?;
        match &self.fields.iter().find(|(k, _)| k == outer)?.1 {
            JsonValue::Object(fields) => fields.iter().find(|(k, _)| k == inner).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor).map(Key)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = JsonValue<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonValue::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(JsonValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JsonValue::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JsonValue::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonValue::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<JsonValue<'de>>()? {
            items.push(v);
        }
        Ok(JsonValue::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(24));
        while let Some((k, v)) = map.next_entry::<Key<'de>, JsonValue<'de>>()? {
            fields.push((k.0, v));
        }
        Ok(JsonValue::Object(fields))
    }
}

impl<'de> Deserialize<'de> for JsonValue<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// The fields any Zeek mapping here reads (conn, dhcp, kind detection);
/// the values of other fields are skipped without being decoded.
const USED_FIELDS: &[&str] = &[
    "ts", "uid", "id", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
    "orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "_path", "assigned_addr", "client_addr",
    "lease_time", "host_name", "client_fqdn",
];

fn same_field(key: &str, name: &str) -> bool {
    key.len() == name.len() && key.bytes().zip(name.bytes()).all(|(a, b)| a == b || (b == b'.' && a == b'_'))
}

struct RecordVisitor;

impl<'de> serde::de::Visitor<'de> for RecordVisitor {
    type Value = FlatJson<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(16);
        while let Some(k) = map.next_key::<Key<'de>>()? {
            if USED_FIELDS.iter().any(|f| same_field(&k.0, f)) {
                fields.push((k.0, map.next_value::<JsonValue<'de>>()?));
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(FlatJson { fields })
    }
}

impl<'a> FlatJson<'a> {
    fn parse(line: &'a str) -> Result<Self, String> {
        let mut de = serde_json::Deserializer::from_str(line);
        let record = serde::Deserializer::deserialize_map(&mut de, RecordVisitor).map_err(|e| format!("invalid JSON: {e}"))?;
        de.end().map_err(|e| format!("invalid JSON: {e}"))?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const CONN_TSV: &str = "#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2020-06-05-14-39-59
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]
1591367999.430166\tC5bLoe2Mvxqhawzqqd\t192.168.4.76\t46378\t31.3.245.133\t80\ttcp\thttp\t0.254115\t77\t295\tSF\t-\t-\t0\tShADadFf\t6\t397\t4\t511\t(empty)
1591368000.000001\tCjhGID4nQcgTWjvg4c\t192.168.4.76\t53214\t192.168.4.1\t53\tudp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t73\t0\t0\t-
1591368001.5\tCbroken1\t192.168.4.76\t1\t10.0.0.1
notatime\tCbroken2\t192.168.4.76\t1\t10.0.0.1\t2\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t1\t0\t0\t-
#close\t2020-06-05-15-00-00
";

    fn parse_all(name: &str, text: &str) -> Vec<Result<Parsed, String>> {
        let mut p = ZeekParser::new(name, None);
        text.lines().map(|l| p.parse(l)).filter(|r| r != &Ok(Parsed::Nothing)).collect()
    }

    #[test]
    fn tsv_conn_with_headers_unset_and_empty() {
        let rows = parse_all("conn.log", CONN_TSV);
        assert_eq!(rows.len(), 4);
        let Ok(Parsed::Flow(f)) = &rows[0] else { panic!("{:?}", rows[0]) };
        assert_eq!(f.time, 1_591_367_999_430_166);
        assert_eq!(f.uid, "C5bLoe2Mvxqhawzqqd");
        assert_eq!((f.src_ip.as_str(), f.src_port, f.dst_ip.as_str(), f.dst_port), ("192.168.4.76", Some(46378), "31.3.245.133", Some(80)));
        assert_eq!(f.service.as_deref(), Some("http"));
        assert_eq!((f.duration_s, f.bytes_out, f.bytes_in), (Some(0.254115), Some(77), Some(295)));
        assert_eq!(f.conn_state.as_deref(), Some("SF"));
        let Ok(Parsed::Flow(g)) = &rows[1] else { panic!("{:?}", rows[1]) };
        assert_eq!((g.service.clone(), g.duration_s, g.bytes_out), (None, None, None), "'-' is unset");
        assert_eq!(rows[2], Err("5 fields, the #fields header has 21".into()));
        assert!(rows[3].as_ref().unwrap_err().contains("unparsable timestamp"), "{:?}", rows[3]);
    }

    #[test]
    fn tsv_separator_escape_and_value_escapes() {
        assert_eq!(unescape("\\x09"), "\t");
        assert_eq!(unescape("a\\x2cb"), "a,b");
        assert_eq!(unescape("plain\\"), "plain\\");
        let text = "#separator \\x7c\n#fields|ts|uid|id.orig_h|id.orig_p|id.resp_h|id.resp_p|proto|service\n#path|conn\n1.0|Cx|10.0.0.1|1|10.0.0.2|2|tcp|a\\x7cb\n";
        let rows = parse_all("x.log", text);
        let Ok(Parsed::Flow(f)) = &rows[0] else { panic!("{rows:?}") };
        assert_eq!(f.service.as_deref(), Some("a|b"));
    }

    #[test]
    fn json_conn_dotted_and_underscore_names() {
        let text = r#"{"_path":"conn","ts":1591367999.430166,"uid":"CJ1","id.orig_h":"10.1.1.1","id.orig_p":5000,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","service":"dns","duration":0.01,"orig_bytes":40,"resp_bytes":80,"conn_state":"SF","tunnel_parents":[]}
{"ts":"2020-06-05T14:39:59.430166Z","uid":"CJ2","id_orig_h":"10.1.1.2","id_orig_p":5001,"id_resp_h":"1.1.1.1","id_resp_p":443,"proto":"tcp","conn_state":"S0","@stream":"conn"}
{"_path":"conn","ts":1.0,"uid":"CJ3","id.orig_p":1}
{"ts":1.0, broken
{"_path":"dns","ts":1.0,"uid":"CD1","id.orig_h":"10.1.1.1","query":"example.com"}
"#;
        let rows = parse_all("conn.json", text);
        let Ok(Parsed::Flow(a)) = &rows[0] else { panic!("{rows:?}") };
        assert_eq!((a.time, a.src_port, a.service.as_deref(), a.bytes_in), (1_591_367_999_430_166, Some(5000), Some("dns"), Some(80)));
        let Ok(Parsed::Flow(b)) = &rows[1] else { panic!("{rows:?}") };
        assert_eq!((b.time, b.src_ip.as_str(), b.dst_port, b.service.as_deref()), (1_591_367_999_430_166, "10.1.1.2", Some(443), None));
        assert_eq!(rows[2], Err("missing required field id.orig_h".into()));
        assert!(rows[3].as_ref().unwrap_err().starts_with("invalid JSON"));
        assert_eq!(rows[4], Ok(Parsed::Skipped("dns".into())));
    }

    #[test]
    fn dhcp_tsv_and_json_become_leases() {
        let tsv = "#separator \\x09\n#path\tdhcp\n#fields\tts\tuids\tclient_addr\tserver_addr\tmac\thost_name\tclient_fqdn\tdomain\trequested_addr\tassigned_addr\tlease_time\tclient_message\tserver_message\tmsg_types\tduration\n#types\ttime\tset[string]\taddr\taddr\tstring\tstring\tstring\tstring\taddr\taddr\tinterval\tstring\tstring\tvector[string]\tinterval\n1476605498.771847\tCmWOt6VWaNGqXYcH6,CLObLo4YHn0u23Tp8a\t192.168.199.132\t192.168.199.254\t00:0c:29:03:df:ad\tDESKTOP-2AEFM7G\t-\tlocaldomain\t-\t192.168.199.132\t1800.000000\t-\t-\tREQUEST,ACK\t0.000161\n1476605499.0\t(empty)\t-\t-\t00:0c:29:03:df:ae\t-\t-\t-\t-\t-\t-\t-\t-\tDISCOVER\t0\n";
        let rows = parse_all("dhcp.log", tsv);
        let Ok(Parsed::Asset(a)) = &rows[0] else { panic!("{rows:?}") };
        assert_eq!(a.entity, "desktop-2aefm7g");
        assert_eq!(a.ip, "192.168.199.132");
        assert_eq!(a.valid_from, 1_476_605_498_771_847);
        assert_eq!(a.valid_to, Some(1_476_605_498_771_847 + 1_800_000_000));
        assert_eq!(rows[1], Ok(Parsed::Skipped("dhcp_without_host_or_address".into())));

        let json = r#"{"ts":1476605498.771847,"uids":["CmWOt6VWaNGqXYcH6"],"client_addr":"192.168.199.132","mac":"00:0c:29:03:df:ad","host_name":"Laptop-7.corp.example.","assigned_addr":"192.168.199.140","msg_types":["REQUEST","ACK"]}"#;
        let rows = parse_all("dhcp.json", json);
        let Ok(Parsed::Asset(a)) = &rows[0] else { panic!("{rows:?}") };
        assert_eq!((a.entity.as_str(), a.ip.as_str(), a.valid_to), ("laptop-7", "192.168.199.140", None));
    }

    #[test]
    fn data_before_header_and_other_logs() {
        assert_eq!(parse_all("conn.log", "1.0\tC1\n"), vec![Err("TSV line before a #fields header".into())]);
        let http = "#separator \\x09\n#path\thttp\n#fields\tts\tuid\n1.0\tC1\n";
        assert_eq!(parse_all("http.log", http), vec![Ok(Parsed::Skipped("http".into()))]);
    }

    #[test]
    fn header_state_survives_a_checkpoint() {
        let mut p = ZeekParser::new("conn.log", None);
        for l in CONN_TSV.lines().take(8) {
            p.parse(l).unwrap();
        }
        let mut resumed = ZeekParser::new("conn.log", p.state());
        let line = CONN_TSV.lines().nth(8).unwrap();
        assert!(matches!(resumed.parse(line), Ok(Parsed::Flow(_))));
    }
}
