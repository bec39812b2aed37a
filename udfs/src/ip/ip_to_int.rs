//! `ip_to_int(ip)`: an IPv4 address as its 32-bit number, to sort addresses
//! numerically and compare them with `BETWEEN` ranges.
//!
//! IPv4 text only: any IPv6 text, IPv4-mapped included, gives NULL, so the
//! result is always the number of the dotted quad that was written.

use std::net::Ipv4Addr;
use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::DataType;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::{map_strings, scalar_str, string_signature};

#[user_doc(
    doc_section(label = "IP Functions"),
    description = "Returns an IPv4 address as a number (a.b.c.d = a * 2^24 + b * 2^16 + c * 2^8 + d), for sorting and range checks. IPv6 addresses (IPv4-mapped ones included) and invalid text give NULL.",
    syntax_example = "ip_to_int(ip)",
    sql_example = r#"```sql
> SELECT ip_to_int('10.20.16.41');
+--------------------------------+
| ip_to_int(Utf8("10.20.16.41")) |
+--------------------------------+
| 169087017                      |
+--------------------------------+
```"#,
    argument(name = "ip", description = "IPv4 address as text.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IpToInt {
    signature: Signature,
}

impl Default for IpToInt {
    fn default() -> Self {
        Self::new()
    }
}

impl IpToInt {
    pub fn new() -> Self {
        Self { signature: string_signature(1) }
    }
}

fn ipv4_number(text: &str) -> Option<i64> {
    text.parse::<Ipv4Addr>().ok().map(|ip| i64::from(u32::from(ip)))
}

impl ScalarUDFImpl for IpToInt {
    fn name(&self) -> &str {
        "ip_to_int"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ip] = take_function_args(self.name(), &args.args)?;
        Ok(match ip {
            ColumnarValue::Scalar(ip) => {
                ColumnarValue::Scalar(ScalarValue::Int64(scalar_str(ip)?.and_then(ipv4_number)))
            }
            ColumnarValue::Array(ips) => {
                let result: Int64Array = map_strings(ips, |_, ip| ip.and_then(ipv4_number))?;
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

    #[test]
    fn dotted_quads_become_numbers() {
        assert_eq!(ipv4_number("0.0.0.0"), Some(0));
        assert_eq!(ipv4_number("0.0.0.1"), Some(1));
        assert_eq!(ipv4_number("0.0.1.0"), Some(256));
        assert_eq!(ipv4_number("1.0.0.0"), Some(16_777_216));
        assert_eq!(ipv4_number("10.20.16.41"), Some(10 * 16_777_216 + 20 * 65_536 + 16 * 256 + 41));
        assert_eq!(ipv4_number("127.0.0.1"), Some(2_130_706_433));
        assert_eq!(ipv4_number("255.255.255.255"), Some(4_294_967_295));
    }

    #[test]
    fn ipv6_and_invalid_text_are_null() {
        for text in [
            "::1",
            "::ffff:10.0.0.1",
            "fe80::1",
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3.4/32",
            " 1.2.3.4",
            "-1.2.3.4",
        ] {
            assert_eq!(ipv4_number(text), None, "{text:?}");
        }
    }
}
