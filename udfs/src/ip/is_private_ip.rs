//! `is_private_ip(ip)`: TRUE for every address that is not a public unicast
//! destination. Detections call a destination "external" when
//! `NOT is_private_ip(dst_ip)`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arrow::array::BooleanArray;
use arrow::datatypes::DataType;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::{map_strings, parse_ip, scalar_str, string_signature};

#[user_doc(
    doc_section(label = "IP Functions"),
    description = r#"Returns true when the address is not a public unicast destination: IPv4 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10 (CGNAT), 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, including 255.255.255.255); IPv6 ::, ::1, fc00::/7, fe80::/10 and ff00::/8. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) follows the rule of its IPv4 address. Invalid text gives NULL."#,
    syntax_example = "is_private_ip(ip)",
    sql_example = r#"```sql
> SELECT is_private_ip('10.20.16.41'), is_private_ip('185.174.54.147'), is_private_ip('fe80::1');
+------------------------------------+---------------------------------------+--------------------------------+
| is_private_ip(Utf8("10.20.16.41")) | is_private_ip(Utf8("185.174.54.147")) | is_private_ip(Utf8("fe80::1")) |
+------------------------------------+---------------------------------------+--------------------------------+
| true                               | false                                 | true                           |
+------------------------------------+---------------------------------------+--------------------------------+
```"#,
    argument(name = "ip", description = "IPv4 or IPv6 address as text.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsPrivateIp {
    signature: Signature,
}

impl Default for IsPrivateIp {
    fn default() -> Self {
        Self::new()
    }
}

impl IsPrivateIp {
    pub fn new() -> Self {
        Self { signature: string_signature(1) }
    }
}

/// IPv4 networks that are not public unicast destinations, as (network, prefix length).
const PRIVATE_V4: [(Ipv4Addr, u32); 9] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    PRIVATE_V4.iter().any(|&(network, len)| ip >> (32 - len) == u32::from(network) >> (32 - len))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || first & 0xfe00 == 0xfc00 // fc00::/7 unique local
        || first & 0xffc0 == 0xfe80 // fe80::/10 link local
        || first & 0xff00 == 0xff00 // ff00::/8 multicast
}

/// Whether `ip` is not a public unicast destination; IPv4-mapped IPv6
/// addresses are judged as IPv4.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_text(text: &str) -> Option<bool> {
    parse_ip(text).map(is_private)
}

impl ScalarUDFImpl for IsPrivateIp {
    fn name(&self) -> &str {
        "is_private_ip"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ip] = take_function_args(self.name(), &args.args)?;
        Ok(match ip {
            ColumnarValue::Scalar(ip) => {
                ColumnarValue::Scalar(ScalarValue::Boolean(scalar_str(ip)?.and_then(is_private_text)))
            }
            ColumnarValue::Array(ips) => {
                let result: BooleanArray = map_strings(ips, |_, ip| ip.and_then(is_private_text))?;
                ColumnarValue::Array(Arc::new(result))
            }
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str) -> Option<bool> {
        is_private_text(ip)
    }

    #[test]
    fn ipv4_ranges_and_their_edges() {
        let private = [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.0.1",
            "169.254.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ];
        for ip in private {
            assert_eq!(check(ip), Some(true), "{ip}");
        }
        let public = [
            "1.0.0.0",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "192.0.2.1", // documentation ranges are not in the list
            "198.18.0.1",
            "223.255.255.255",
            "185.174.54.147",
        ];
        for ip in public {
            assert_eq!(check(ip), Some(false), "{ip}");
        }
    }

    #[test]
    fn ipv6_ranges() {
        for ip in ["::", "::1", "fc00::", "fd12:3456::1", "fe80::1", "febf:ffff::1", "ff02::1", "ff05::1:3"] {
            assert_eq!(check(ip), Some(true), "{ip}");
        }
        for ip in
            ["2001:4860:4860::8888", "2a00:1450::1", "fec0::1", "fbff::1", "::2", "2001:db8::1", "64:ff9b::1.2.3.4"]
        {
            assert_eq!(check(ip), Some(false), "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_follow_the_ipv4_rule() {
        assert_eq!(check("::ffff:10.1.2.3"), Some(true));
        assert_eq!(check("::ffff:192.168.1.1"), Some(true));
        assert_eq!(check("::FFFF:8.8.8.8"), Some(false));
        assert_eq!(check("::ffff:0a01:0203"), Some(true));
        assert_eq!(check("::ffff:0.0.0.0"), Some(true));
    }

    #[test]
    fn invalid_text_is_null() {
        for text in [
            "",
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1/8",
            " 10.0.0.1",
            "010.0.0.1",
            "host.example.com",
            "::g",
            "fe80::1%eth0",
        ] {
            assert_eq!(check(text), None, "{text:?}");
        }
    }
}
