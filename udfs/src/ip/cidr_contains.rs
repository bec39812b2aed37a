//! `cidr_contains(cidr, ip)`: whether an address lies in a network, for
//! allow-lists and "is this one of our subnets" checks.
//!
//! Decisions beyond `functions.md`:
//! * a network without `/len` is a single host (`/32` or `/128`); host bits
//!   in the network are ignored (`10.1.2.3/8` is `10.0.0.0/8`), as `inet`
//!   masking does;
//! * IPv4-mapped IPv6 is IPv4, on both sides: the address `::ffff:10.0.0.1`
//!   is `10.0.0.1`, and a network inside `::ffff:0:0/96` (prefix >= 96) is
//!   the IPv4 network it maps, so `::ffff:0:0/96` is `0.0.0.0/0`;
//! * after that, an IPv4 address is never in an IPv6 network nor the other
//!   way round: `cidr_contains('::/0', '10.0.0.1')` is false.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{new_null_array, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::{map_strings, parse_ip, scalar_str, string_signature};

#[user_doc(
    doc_section(label = "IP Functions"),
    description = r#"Returns true when the address lies in the network, for IPv4 and IPv6. A network without `/len` is one host; host bits of the network are ignored. IPv4-mapped IPv6 addresses and networks (`::ffff:a.b.c.d`) are treated as IPv4; an IPv4 address is never in an IPv6 network or the other way round. Invalid text gives NULL."#,
    syntax_example = "cidr_contains(cidr, ip)",
    sql_example = r#"```sql
> SELECT cidr_contains('10.20.16.0/24', '10.20.16.41'), cidr_contains('10.20.16.0/24', '10.20.17.1');
+----------------------------------------------------------+---------------------------------------------------------+
| cidr_contains(Utf8("10.20.16.0/24"),Utf8("10.20.16.41")) | cidr_contains(Utf8("10.20.16.0/24"),Utf8("10.20.17.1")) |
+----------------------------------------------------------+---------------------------------------------------------+
| true                                                     | false                                                   |
+----------------------------------------------------------+---------------------------------------------------------+
```"#,
    argument(name = "cidr", description = "Network as text, `address/prefix-length` (e.g. `10.0.0.0/8`, `fd00::/8`)."),
    argument(name = "ip", description = "IPv4 or IPv6 address as text.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CidrContains {
    signature: Signature,
}

impl Default for CidrContains {
    fn default() -> Self {
        Self::new()
    }
}

impl CidrContains {
    pub fn new() -> Self {
        Self { signature: string_signature(2) }
    }
}

/// A parsed network: the masked network address and its mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    /// Parses `address[/prefix]`, or `None` when the text is not a network.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.parse::<u32>().ok()?)
            }
            Some(_) => return None,
        };
        match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => Self::v4(u32::from(v4), prefix.unwrap_or(32)),
            IpAddr::V6(v6) => {
                let len = prefix.unwrap_or(128);
                match v6.to_ipv4_mapped() {
                    Some(v4) if (96..=128).contains(&len) => Self::v4(u32::from(v4), len - 96),
                    _ => Self::v6(u128::from(v6), len),
                }
            }
        }
    }

    fn v4(address: u32, len: u32) -> Option<Self> {
        let mask = match len {
            0 => 0,
            1..=32 => u32::MAX << (32 - len),
            _ => return None,
        };
        Some(Self::V4 { network: address & mask, mask })
    }

    fn v6(address: u128, len: u32) -> Option<Self> {
        let mask = match len {
            0 => 0,
            1..=128 => u128::MAX << (128 - len),
            _ => return None,
        };
        Some(Self::V6 { network: address & mask, mask })
    }

    /// Whether `ip` lies in this network (IPv4-mapped addresses as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip.to_canonical()) {
            (Self::V4 { network, mask }, IpAddr::V4(ip)) => u32::from(ip) & mask == network,
            (Self::V6 { network, mask }, IpAddr::V6(ip)) => u128::from(ip) & mask == network,
            _ => false,
        }
    }
}

fn contains_text(cidr: Option<&str>, ip: Option<&str>) -> Option<bool> {
    Some(Cidr::parse(cidr?)?.contains(parse_ip(ip?)?))
}

impl ScalarUDFImpl for CidrContains {
    fn name(&self) -> &str {
        "cidr_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [cidr, ip] = take_function_args(self.name(), &args.args)?;
        let result: BooleanArray = match (cidr, ip) {
            (ColumnarValue::Scalar(cidr), ColumnarValue::Scalar(ip)) => {
                let result = contains_text(scalar_str(cidr)?, scalar_str(ip)?);
                return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(result)));
            }
            // The usual case, a constant network: parse it once.
            (ColumnarValue::Scalar(cidr), ColumnarValue::Array(ips)) => {
                let Some(cidr) = scalar_str(cidr)?.and_then(Cidr::parse) else {
                    return Ok(ColumnarValue::Array(new_null_array(&DataType::Boolean, ips.len())));
                };
                map_strings(ips, |_, ip| Some(cidr.contains(parse_ip(ip?)?)))?
            }
            (ColumnarValue::Array(cidrs), ColumnarValue::Scalar(ip)) => {
                let Some(ip) = scalar_str(ip)?.and_then(parse_ip) else {
                    return Ok(ColumnarValue::Array(new_null_array(&DataType::Boolean, cidrs.len())));
                };
                map_strings(cidrs, |_, cidr| Some(Cidr::parse(cidr?)?.contains(ip)))?
            }
            (ColumnarValue::Array(cidrs), ColumnarValue::Array(ips)) => {
                let cidrs: Vec<Option<Cidr>> = map_strings(cidrs, |_, cidr| Cidr::parse(cidr?))?;
                map_strings(ips, |row, ip| Some(cidrs[row]?.contains(parse_ip(ip?)?)))?
            }
        };
        Ok(ColumnarValue::Array(Arc::new(result)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray};
    use arrow::datatypes::Field;
    use datafusion::config::ConfigOptions;

    use super::*;

    fn check(cidr: &str, ip: &str) -> Option<bool> {
        contains_text(Some(cidr), Some(ip))
    }

    #[test]
    fn ipv4_networks() {
        assert_eq!(check("10.0.0.0/8", "10.255.255.255"), Some(true));
        assert_eq!(check("10.0.0.0/8", "11.0.0.0"), Some(false));
        assert_eq!(check("10.0.0.0/8", "9.255.255.255"), Some(false));
        assert_eq!(check("192.168.1.0/24", "192.168.1.77"), Some(true));
        assert_eq!(check("192.168.1.0/24", "192.168.2.1"), Some(false));
        assert_eq!(check("172.16.0.0/12", "172.31.0.1"), Some(true));
        assert_eq!(check("172.16.0.0/12", "172.32.0.1"), Some(false));
        assert_eq!(check("0.0.0.0/0", "203.0.113.9"), Some(true));
        assert_eq!(check("203.0.113.9/32", "203.0.113.9"), Some(true));
        assert_eq!(check("203.0.113.9/32", "203.0.113.8"), Some(false));
        assert_eq!(check("203.0.113.9/31", "203.0.113.8"), Some(true));
    }

    #[test]
    fn bare_address_is_one_host_and_host_bits_are_ignored() {
        assert_eq!(check("10.1.2.3", "10.1.2.3"), Some(true));
        assert_eq!(check("10.1.2.3", "10.1.2.4"), Some(false));
        assert_eq!(check("10.1.2.3/8", "10.200.0.1"), Some(true));
        assert_eq!(check("2001:db8::1", "2001:db8::1"), Some(true));
        assert_eq!(check("2001:db8::1", "2001:db8::2"), Some(false));
    }

    #[test]
    fn ipv6_networks() {
        assert_eq!(check("2001:db8::/32", "2001:db8:ffff::1"), Some(true));
        assert_eq!(check("2001:db8::/32", "2001:db9::1"), Some(false));
        assert_eq!(check("fe80::/10", "febf::1"), Some(true));
        assert_eq!(check("fe80::/10", "fec0::1"), Some(false));
        assert_eq!(check("::/0", "2a00::1"), Some(true));
        assert_eq!(check("2001:db8::/128", "2001:db8::"), Some(true));
        assert_eq!(check("2001:DB8::/127", "2001:db8::1"), Some(true));
    }

    #[test]
    fn mixed_families_are_false() {
        assert_eq!(check("10.0.0.0/8", "fd00::1"), Some(false));
        assert_eq!(check("::/0", "10.0.0.1"), Some(false));
        assert_eq!(check("0.0.0.0/0", "::1"), Some(false));
    }

    #[test]
    fn ipv4_mapped_is_ipv4_on_both_sides() {
        assert_eq!(check("10.0.0.0/8", "::ffff:10.1.2.3"), Some(true));
        assert_eq!(check("10.0.0.0/8", "::ffff:11.1.2.3"), Some(false));
        assert_eq!(check("::ffff:10.0.0.0/104", "10.9.9.9"), Some(true));
        assert_eq!(check("::ffff:10.0.0.0/104", "::ffff:10.9.9.9"), Some(true));
        assert_eq!(check("::ffff:10.0.0.0/104", "11.0.0.1"), Some(false));
        assert_eq!(check("::ffff:0:0/96", "8.8.8.8"), Some(true));
        assert_eq!(check("::ffff:1.2.3.4", "1.2.3.4"), Some(true));
        // Not IPv4-mapped: stays IPv6.
        assert_eq!(check("::/0", "::ffff:10.1.2.3"), Some(false));
        // Shorter than /96: an IPv6 network (::fffe:0:0/95), never matching IPv4.
        assert_eq!(Cidr::parse("::ffff:0:0/95"), Some(Cidr::V6 { network: 0xfffe << 32, mask: u128::MAX << 33 }));
        assert_eq!(check("::ffff:0:0/95", "::fffe:1:1"), Some(true));
        assert_eq!(check("::ffff:0:0/95", "::ffff:1.1.1.1"), Some(false));
    }

    #[test]
    fn invalid_text_is_null() {
        for cidr in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0/8",
            "::/129",
            "::/1000",
            "x/8",
            " 10.0.0.0/8",
            "10.0.0.0/ 8",
        ] {
            assert_eq!(check(cidr, "10.0.0.1"), None, "{cidr:?}");
        }
        for ip in ["", "10.0.0.1/32", "10.0.0.256", "nope"] {
            assert_eq!(check("10.0.0.0/8", ip), None, "{ip:?}");
        }
        assert_eq!(contains_text(None, Some("10.0.0.1")), None);
        assert_eq!(contains_text(Some("10.0.0.0/8"), None), None);
    }

    fn invoke(cidr: ColumnarValue, ip: ColumnarValue, rows: usize) -> ColumnarValue {
        let field = |c: &ColumnarValue| Arc::new(Field::new("a", c.data_type(), true));
        let args = ScalarFunctionArgs {
            arg_fields: vec![field(&cidr), field(&ip)],
            args: vec![cidr, ip],
            number_rows: rows,
            return_field: Arc::new(Field::new("r", DataType::Boolean, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        CidrContains::new().invoke_with_args(args).unwrap()
    }

    fn booleans(value: ColumnarValue) -> Vec<Option<bool>> {
        let ColumnarValue::Array(array) = value else { panic!("expected an array") };
        let array = array.as_any().downcast_ref::<BooleanArray>().unwrap();
        array.iter().collect()
    }

    #[test]
    fn every_string_type_and_argument_shape() {
        let ips = ["10.1.1.1", "8.8.8.8", "bad", "::ffff:10.0.0.1"];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter(ips.iter().map(Some).chain([None]))),
            Arc::new(LargeStringArray::from_iter(ips.iter().map(Some).chain([None]))),
            Arc::new(StringViewArray::from_iter(ips.iter().map(Some).chain([None]))),
        ];
        let expected = vec![Some(true), Some(false), None, Some(true), None];
        for ips in arrays {
            let cidr = ColumnarValue::Scalar(ScalarValue::Utf8View(Some("10.0.0.0/8".into())));
            assert_eq!(booleans(invoke(cidr, ColumnarValue::Array(ips.clone()), 5)), expected);
            let cidrs: ArrayRef = Arc::new(StringArray::from(vec!["10.0.0.0/8"; 5]));
            assert_eq!(booleans(invoke(ColumnarValue::Array(cidrs), ColumnarValue::Array(ips.clone()), 5)), expected);
            let bad = ColumnarValue::Scalar(ScalarValue::Utf8(Some("10.0.0.0/99".into())));
            assert_eq!(booleans(invoke(bad, ColumnarValue::Array(ips.clone()), 5)), vec![None; 5]);
            let null = ColumnarValue::Scalar(ScalarValue::Null);
            assert_eq!(booleans(invoke(null, ColumnarValue::Array(ips), 5)), vec![None; 5]);
        }
        let cidrs: ArrayRef =
            Arc::new(LargeStringArray::from(vec![Some("8.0.0.0/8"), Some("9.0.0.0/8"), None, Some("::/0")]));
        let ip = ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some("8.8.8.8".into())));
        assert_eq!(
            booleans(invoke(ColumnarValue::Array(cidrs), ip, 4)),
            vec![Some(true), Some(false), None, Some(false)]
        );
        let scalar = invoke(
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("fd00::/8".into()))),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("fd12::1".into()))),
            1,
        );
        assert!(matches!(scalar, ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))));
    }
}
