//! IP address helpers for detections: which addresses are internal, which
//! network an address belongs to, and addresses as integers for ranges.
//!
//! Addresses are text (the lake stores them as strings), parsed with
//! `std::net`. Invalid text gives NULL, never an error, so one malformed
//! row cannot fail a detection over millions; NULL in gives NULL out.
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4 address they
//! carry for `is_private_ip` and `cidr_contains`.
//!
//! # Layout
//! * [`is_private_ip`](mod@is_private_ip), [`cidr_contains`](mod@cidr_contains),
//!   [`ip_to_int`](mod@ip_to_int) — one function per file, with its
//!   documentation and tests;
//! * this module — the string-argument plumbing they share: every string type
//!   (`Utf8`, `LargeUtf8`, `Utf8View`) and NULL, as arrays or scalars.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use datafusion::common::types::logical_string;
use datafusion::common::{internal_err, Result, ScalarValue};
use datafusion::logical_expr::{Coercion, ScalarUDF, Signature, TypeSignatureClass, Volatility};

pub mod cidr_contains;
pub mod ip_to_int;
pub mod is_private_ip;

pub use cidr_contains::CidrContains;
pub use ip_to_int::IpToInt;
pub use is_private_ip::IsPrivateIp;

/// The scalar functions of this family.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(IsPrivateIp::new())),
        Arc::new(ScalarUDF::from(CidrContains::new())),
        Arc::new(ScalarUDF::from(IpToInt::new())),
    ]
}

/// A signature of `arity` string arguments (any string type; NULL allowed).
fn string_signature(arity: usize) -> Signature {
    let string = Coercion::new_exact(TypeSignatureClass::Native(logical_string()));
    Signature::coercible(vec![string; arity], Volatility::Immutable)
}

/// Parses an IPv4 or IPv6 address, mapping `::ffff:a.b.c.d` to IPv4.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The text of a string (or NULL) scalar.
fn scalar_str(value: &ScalarValue) -> Result<Option<&str>> {
    match value {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => Ok(s.as_deref()),
        ScalarValue::Null => Ok(None),
        other => internal_err!("expected a string argument, got {}", other.data_type()),
    }
}

/// Maps every value of a string (or NULL) array through `f(row, text)`.
fn map_strings<T, A>(array: &ArrayRef, mut f: impl FnMut(usize, Option<&str>) -> Option<T>) -> Result<A>
where
    A: FromIterator<Option<T>>,
{
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().enumerate().map(|(i, s)| f(i, s)).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().enumerate().map(|(i, s)| f(i, s)).collect(),
        DataType::Utf8View => array.as_string_view().iter().enumerate().map(|(i, s)| f(i, s)).collect(),
        DataType::Null => (0..array.len()).map(|i| f(i, None)).collect(),
        other => return internal_err!("expected a string argument, got {other}"),
    })
}
