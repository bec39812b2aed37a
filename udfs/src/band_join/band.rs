//! Recognising a band in a join filter.
//!
//! A band is a pair of conjuncts bounding one side's time column by the
//! other side's time column plus or minus constants:
//!
//! ```text
//! b.time BETWEEN a.time - INTERVAL '5 minutes' AND a.time + INTERVAL '10 minutes'
//! b.time >= a.time AND b.time < a.time + INTERVAL '1 hour'
//! a.time - INTERVAL '1 day' <= b.time AND b.time - INTERVAL '1 day' < a.time
//! ```
//!
//! Every operand is reduced to `column * scale + offset` in one exact integer
//! domain (nanoseconds for timestamps, the value itself for integers), using
//! `i128` so that no offset can overflow. The band is then normalised to
//!
//! ```text
//! left_value + lower <= right_value <= left_value + upper      (both inclusive)
//! ```
//!
//! where `*_value = raw column value * scale`. Strict bounds become
//! inclusive ones by moving the offset by one unit, which is exact because
//! every value of the domain is an integer.
//!
//! Only shapes whose exact meaning is certain are accepted; anything else
//! (a month interval, a constant finer than the column's unit, a day
//! interval on a timestamp in a zone with daylight saving, a narrowing cast,
//! ...) is left to DataFusion's own join.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::{JoinSide, ScalarValue};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal, TryCastExpr};
use datafusion::physical_expr::utils::{conjunction_opt, split_conjunction};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::joins::utils::JoinFilter;

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// Whether the two time columns hold timestamps or plain integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandDomain {
    /// Values and offsets are nanoseconds.
    Timestamp,
    /// Values and offsets are the integers themselves.
    Integer,
}

/// The time column of one join input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandColumn {
    /// Column name, for display.
    pub name: String,
    /// Index in that input's schema.
    pub index: usize,
    /// Multiplier turning a raw value into the band's domain (nanoseconds per
    /// unit for timestamps, 1 for integers).
    pub scale: i128,
}

impl BandColumn {
    /// The sort/partition expression for this column.
    pub fn expr(&self) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(&self.name, self.index))
    }
}

/// `left.value + lower <= right.value <= left.value + upper`, all inclusive,
/// in the domain's exact integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub domain: BandDomain,
    pub left: BandColumn,
    pub right: BandColumn,
    pub lower: i128,
    pub upper: i128,
}

impl Band {
    /// The band of one left value, `[value + lower, value + upper]` in the domain.
    pub fn window(&self, left_raw: i64) -> (i128, i128) {
        let value = left_raw as i128 * self.left.scale;
        (value + self.lower, value + self.upper)
    }

    /// A right raw value in the domain.
    pub fn right_value(&self, right_raw: i64) -> i128 {
        right_raw as i128 * self.right.scale
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "right.{} BETWEEN left.{} {} AND left.{} {}",
            self.right.name,
            self.left.name,
            Offset(self.lower, self.domain),
            self.left.name,
            Offset(self.upper, self.domain)
        )
    }
}

/// An offset as `+ 10m`, `- 5s`, `+ 1d2h30m0.5s` or `- 3` (integers).
struct Offset(i128, BandDomain);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let mut rest = self.0.unsigned_abs();
        if self.1 == BandDomain::Integer {
            return write!(f, "{sign} {rest}");
        }
        write!(f, "{sign} ")?;
        if rest == 0 {
            return write!(f, "0s");
        }
        for (unit, nanos) in [("d", 86_400_000_000_000u128), ("h", 3_600_000_000_000), ("m", 60_000_000_000)] {
            if rest >= nanos {
                write!(f, "{}{unit}", rest / nanos)?;
                rest %= nanos;
            }
        }
        if rest > 0 {
            let (secs, nanos) = (rest / 1_000_000_000, rest % 1_000_000_000);
            if nanos == 0 {
                write!(f, "{secs}s")?;
            } else {
                let frac = format!("{nanos:09}");
                write!(f, "{secs}.{}s", frac.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

/// A recognised band and the rest of the filter, still to be evaluated on
/// the pairs the band produces.
#[derive(Debug, Clone)]
pub struct RecognisedBand {
    pub band: Band,
    /// The other conjuncts over the same intermediate schema, if any.
    pub residual: Option<JoinFilter>,
}

/// Finds a band in `filter` (a join filter between inputs with the given
/// schemas). Returns `None` when the filter is not a conjunction holding a
/// lower and an upper bound on the same pair of time columns.
pub fn recognise_band(filter: &JoinFilter, left: &SchemaRef, right: &SchemaRef) -> Option<RecognisedBand> {
    let conjuncts = split_conjunction(filter.expression());
    let bounds: Vec<Option<Bound>> = conjuncts.iter().map(|c| parse_bound(c, filter, left, right)).collect();

    // The first column pair (in filter order) bounded from both sides.
    let pair = bounds.iter().flatten().find_map(|b| {
        let same = |o: &&Bound| o.left == b.left && o.right == b.right;
        let has_lower = bounds.iter().flatten().filter(same).any(|o| o.kind == BoundKind::Lower);
        let has_upper = bounds.iter().flatten().filter(same).any(|o| o.kind == BoundKind::Upper);
        (has_lower && has_upper).then(|| (b.left.clone(), b.right.clone(), b.domain))
    })?;
    let (left_col, right_col, domain) = pair;
    debug_assert!(right_col.scale > 0);

    let mut lower = i128::MIN;
    let mut upper = i128::MAX;
    let mut residual = Vec::new();
    for (conjunct, bound) in conjuncts.iter().zip(&bounds) {
        match bound {
            Some(b) if b.left == left_col && b.right == right_col => match b.kind {
                BoundKind::Lower => lower = lower.max(b.offset),
                BoundKind::Upper => upper = upper.min(b.offset),
            },
            _ => residual.push(Arc::clone(conjunct)),
        }
    }
    // Right values are multiples of the right scale: round the bounds onto
    // that grid (exact, and `< t + 1h` reads `<= t + 59m59.999999s` in µs).
    let lower = lower.div_euclid(right_col.scale) * right_col.scale
        + if lower.rem_euclid(right_col.scale) == 0 { 0 } else { right_col.scale };
    let upper = upper.div_euclid(right_col.scale) * right_col.scale;
    let residual = conjunction_opt(residual)
        .map(|expr| JoinFilter::new(expr, filter.column_indices().to_vec(), Arc::clone(filter.schema())));
    Some(RecognisedBand { band: Band { domain, left: left_col, right: right_col, lower, upper }, residual })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundKind {
    /// `right.value >= left.value + offset`
    Lower,
    /// `right.value <= left.value + offset`
    Upper,
}

#[derive(Debug, Clone)]
struct Bound {
    left: BandColumn,
    right: BandColumn,
    domain: BandDomain,
    kind: BoundKind,
    offset: i128,
}

/// `column * scale + offset` over one join input.
#[derive(Debug, Clone)]
struct Operand {
    side: JoinSide,
    column: BandColumn,
    domain: BandDomain,
    offset: i128,
}

fn parse_bound(
    expr: &Arc<dyn PhysicalExpr>,
    filter: &JoinFilter,
    left: &SchemaRef,
    right: &SchemaRef,
) -> Option<Bound> {
    let binary = expr.downcast_ref::<BinaryExpr>()?;
    let op = *binary.op();
    if !matches!(op, Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq) {
        return None;
    }
    let (a, _) = parse_operand(binary.left(), filter, left, right)?;
    let (b, _) = parse_operand(binary.right(), filter, left, right)?;
    if a.domain != b.domain || a.side == b.side {
        return None;
    }
    // Orient as `right op left`.
    let (r, l, op) = if a.side == JoinSide::Right { (a, b, op) } else { (b, a, flip(op)) };
    // r.value + r.offset op l.value + l.offset  <=>  r.value op l.value + d
    let d = l.offset - r.offset;
    let (kind, offset) = match op {
        Operator::GtEq => (BoundKind::Lower, d),
        Operator::Gt => (BoundKind::Lower, d + 1),
        Operator::LtEq => (BoundKind::Upper, d),
        Operator::Lt => (BoundKind::Upper, d - 1),
        _ => return None,
    };
    Some(Bound { left: l.column, right: r.column, domain: l.domain, kind, offset })
}

fn flip(op: Operator) -> Operator {
    match op {
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        other => other,
    }
}

/// Parses `expr` as a non-decreasing affine function of one input column.
/// Returns the operand and the data type of `expr`.
fn parse_operand(
    expr: &Arc<dyn PhysicalExpr>,
    filter: &JoinFilter,
    left: &SchemaRef,
    right: &SchemaRef,
) -> Option<(Operand, DataType)> {
    if let Some(column) = expr.downcast_ref::<Column>() {
        let index = filter.column_indices().get(column.index())?;
        let schema = match index.side {
            JoinSide::Left => left,
            JoinSide::Right => right,
            JoinSide::None => return None,
        };
        let field = schema.fields().get(index.index)?;
        let data_type = field.data_type().clone();
        if filter.schema().fields().get(column.index())?.data_type() != &data_type {
            return None;
        }
        let (domain, scale) = domain_of(&data_type)?;
        let column = BandColumn { name: field.name().clone(), index: index.index, scale };
        return Some((Operand { side: index.side, column, domain, offset: 0 }, data_type));
    }
    if let Some(cast) = expr.downcast_ref::<CastExpr>() {
        return parse_cast(cast.expr(), cast.cast_type(), filter, left, right);
    }
    if let Some(cast) = expr.downcast_ref::<TryCastExpr>() {
        return parse_cast(cast.expr(), cast.cast_type(), filter, left, right);
    }
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        let sign = match binary.op() {
            Operator::Plus => 1,
            Operator::Minus => -1,
            _ => return None,
        };
        let (inner, constant) = match (literal(binary.left()), literal(binary.right())) {
            (None, Some(c)) => (binary.left(), c),
            // `constant + column`; `constant - column` decreases.
            (Some(c), None) if sign == 1 => (binary.right(), c),
            _ => return None,
        };
        let (mut operand, data_type) = parse_operand(inner, filter, left, right)?;
        let delta = constant_offset(constant, &data_type, operand.domain)?;
        operand.offset += sign * delta;
        let result_type = expr.data_type(filter.schema()).ok()?;
        let (domain, _) = domain_of(&result_type)?;
        if domain != operand.domain || !result_preserves(&data_type, &result_type) {
            return None;
        }
        return Some((operand, result_type));
    }
    None
}

fn parse_cast(
    inner: &Arc<dyn PhysicalExpr>,
    to: &DataType,
    filter: &JoinFilter,
    left: &SchemaRef,
    right: &SchemaRef,
) -> Option<(Operand, DataType)> {
    let (operand, from) = parse_operand(inner, filter, left, right)?;
    lossless_cast(&from, to).then(|| (operand, to.clone()))
}

fn literal(expr: &Arc<dyn PhysicalExpr>) -> Option<&ScalarValue> {
    expr.downcast_ref::<Literal>().map(Literal::value)
}

/// The domain of a time column type and its scale into that domain.
pub(crate) fn domain_of_type(data_type: &DataType) -> Option<(BandDomain, i128)> {
    domain_of(data_type)
}

fn domain_of(data_type: &DataType) -> Option<(BandDomain, i128)> {
    match data_type {
        DataType::Timestamp(unit, _) => Some((BandDomain::Timestamp, unit_nanos(unit))),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => Some((BandDomain::Integer, 1)),
        _ => None,
    }
}

fn unit_nanos(unit: &TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Integer range of an integer type, as `(min, max)`.
fn int_range(data_type: &DataType) -> Option<(i128, i128)> {
    Some(match data_type {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

/// Whether casting `from` to `to` keeps every value exactly (so the cast
/// is the identity in the band's domain).
fn lossless_cast(from: &DataType, to: &DataType) -> bool {
    match (from, to) {
        (DataType::Timestamp(from_unit, from_tz), DataType::Timestamp(to_unit, to_tz)) => {
            // A finer unit multiplies; between zones the instant is kept, but
            // from or to a naive timestamp the value is reinterpreted.
            unit_nanos(to_unit) <= unit_nanos(from_unit) && from_tz.is_some() == to_tz.is_some()
        }
        _ => match (int_range(from), int_range(to)) {
            (Some((from_min, from_max)), Some((to_min, to_max))) => to_min <= from_min && from_max <= to_max,
            _ => false,
        },
    }
}

/// Whether an arithmetic result of type `result` from an operand of type
/// `operand` keeps the domain's values (same unit; integers not narrowed).
fn result_preserves(operand: &DataType, result: &DataType) -> bool {
    match (operand, result) {
        (DataType::Timestamp(a, a_tz), DataType::Timestamp(b, b_tz)) => a == b && a_tz.is_some() == b_tz.is_some(),
        _ => lossless_cast(operand, result),
    }
}

/// A constant added to a value of type `to`, in the domain, if its meaning
/// there is exact.
fn constant_offset(value: &ScalarValue, to: &DataType, domain: BandDomain) -> Option<i128> {
    match (domain, to) {
        (BandDomain::Timestamp, DataType::Timestamp(unit, tz)) => {
            let (days, nanos): (i128, i128) = match value {
                ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => (v.days.into(), v.nanoseconds.into()),
                ScalarValue::IntervalDayTime(Some(v)) => (v.days.into(), i128::from(v.milliseconds) * 1_000_000),
                ScalarValue::IntervalYearMonth(Some(0)) => (0, 0),
                ScalarValue::DurationSecond(Some(v)) => (0, i128::from(*v) * 1_000_000_000),
                ScalarValue::DurationMillisecond(Some(v)) => (0, i128::from(*v) * 1_000_000),
                ScalarValue::DurationMicrosecond(Some(v)) => (0, i128::from(*v) * 1_000),
                ScalarValue::DurationNanosecond(Some(v)) => (0, (*v).into()),
                _ => return None,
            };
            // Arrow adds days on the local calendar: exactly 24 hours only
            // without daylight saving.
            if days != 0 && !fixed_offset_zone(tz.as_deref()) {
                return None;
            }
            let total = days * NANOS_PER_DAY + nanos;
            // A constant finer than the unit would be truncated by Arrow.
            (total % unit_nanos(unit) == 0).then_some(total)
        }
        (BandDomain::Integer, _) => match value {
            ScalarValue::Int8(Some(v)) => Some((*v).into()),
            ScalarValue::Int16(Some(v)) => Some((*v).into()),
            ScalarValue::Int32(Some(v)) => Some((*v).into()),
            ScalarValue::Int64(Some(v)) => Some((*v).into()),
            ScalarValue::UInt8(Some(v)) => Some((*v).into()),
            ScalarValue::UInt16(Some(v)) => Some((*v).into()),
            ScalarValue::UInt32(Some(v)) => Some((*v).into()),
            ScalarValue::UInt64(Some(v)) => Some((*v).into()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a day in time zone `tz` always lasts 24 hours (no zone, UTC or
/// a fixed offset such as `+02:00`).
fn fixed_offset_zone(tz: Option<&str>) -> bool {
    let Some(tz) = tz else { return true };
    let tz = tz.trim();
    if ["UTC", "Z", "GMT", "Etc/UTC", "Etc/GMT", "Zulu", "UCT", "Universal"].iter().any(|z| z.eq_ignore_ascii_case(tz))
    {
        return true;
    }
    let Some(rest) = tz.strip_prefix('+').or_else(|| tz.strip_prefix('-')) else { return false };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{lit, BinaryExpr, CastExpr, Column, TryCastExpr};
    use datafusion::physical_plan::joins::utils::ColumnIndex;

    use super::*;

    const MINUTE: i128 = 60_000_000_000;

    /// Left `(k, t, x, t2)`, right `(k, t, y)`; the intermediate schema of
    /// the filter holds left t, left x, left t2, right t, right y at 0..=4.
    struct Fixture {
        left: SchemaRef,
        right: SchemaRef,
        inter: SchemaRef,
        indices: Vec<ColumnIndex>,
    }

    fn fixture(left_time: DataType, right_time: DataType) -> Fixture {
        let left = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("t", left_time.clone(), true),
            Field::new("x", DataType::Int32, true),
            Field::new("t2", left_time.clone(), true),
        ]));
        let right = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("t", right_time.clone(), true),
            Field::new("y", DataType::Int32, true),
        ]));
        let inter = Arc::new(Schema::new(vec![
            Field::new("t", left_time.clone(), true),
            Field::new("x", DataType::Int32, true),
            Field::new("t2", left_time, true),
            Field::new("t", right_time, true),
            Field::new("y", DataType::Int32, true),
        ]));
        let indices = JoinFilter::build_column_indices(vec![1, 2, 3], vec![1, 2]);
        Fixture { left, right, inter, indices }
    }

    fn ts_us() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    fn lt() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("t", 0))
    }
    fn lx() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("x", 1))
    }
    fn lt2() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("t2", 2))
    }
    fn rt() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("t", 3))
    }
    fn ry() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("y", 4))
    }
    fn bin(l: Arc<dyn PhysicalExpr>, op: Operator, r: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(l, op, r))
    }
    fn and(l: Arc<dyn PhysicalExpr>, r: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        bin(l, Operator::And, r)
    }
    fn minutes(m: i64) -> Arc<dyn PhysicalExpr> {
        lit(ScalarValue::new_interval_mdn(0, 0, m * 60_000_000_000))
    }
    fn days(d: i32) -> Arc<dyn PhysicalExpr> {
        lit(ScalarValue::new_interval_mdn(0, d, 0))
    }

    fn recognise(f: &Fixture, expr: Arc<dyn PhysicalExpr>) -> Option<RecognisedBand> {
        let filter = JoinFilter::new(expr, f.indices.clone(), Arc::clone(&f.inter));
        recognise_band(&filter, &f.left, &f.right)
    }

    fn bounds(f: &Fixture, expr: Arc<dyn PhysicalExpr>) -> Option<(i128, i128, bool)> {
        recognise(f, expr).map(|r| (r.band.lower, r.band.upper, r.residual.is_some()))
    }

    fn between(lo: Arc<dyn PhysicalExpr>, hi: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        and(bin(rt(), Operator::GtEq, lo), bin(rt(), Operator::LtEq, hi))
    }

    #[test]
    fn between_with_intervals() {
        let f = fixture(ts_us(), ts_us());
        let expr = between(bin(lt(), Operator::Minus, minutes(5)), bin(lt(), Operator::Plus, minutes(10)));
        let r = recognise(&f, expr).unwrap();
        assert_eq!((r.band.lower, r.band.upper), (-5 * MINUTE, 10 * MINUTE));
        assert!(r.residual.is_none());
        assert_eq!(r.band.left, BandColumn { name: "t".into(), index: 1, scale: 1_000 });
        assert_eq!(r.band.right, BandColumn { name: "t".into(), index: 1, scale: 1_000 });
        assert_eq!(r.band.domain, BandDomain::Timestamp);
        assert_eq!(r.band.to_string(), "right.t BETWEEN left.t - 5m AND left.t + 10m");
    }

    #[test]
    fn strict_bounds_move_by_one_unit_of_the_right_column() {
        let strict =
            || and(bin(rt(), Operator::Gt, lt()), bin(rt(), Operator::Lt, bin(lt(), Operator::Plus, minutes(1))));
        let f = fixture(ts_us(), ts_us());
        assert_eq!(bounds(&f, strict()), Some((1_000, MINUTE - 1_000, false)));
        let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let f = fixture(ts_us(), ns);
        assert_eq!(bounds(&f, strict()), Some((1, MINUTE - 1, false)));
        let f = fixture(DataType::Int64, DataType::Int64);
        let expr = and(bin(rt(), Operator::Gt, lt()), bin(rt(), Operator::Lt, bin(lt(), Operator::Plus, lit(10i64))));
        assert_eq!(bounds(&f, expr), Some((1, 9, false)));
    }

    #[test]
    fn bounds_are_rounded_onto_the_right_columns_grid() {
        // right in seconds, left in milliseconds: r >= l - 1.5s means r >= l - 1s
        // for the whole seconds r can hold; r <= l + 2.5s means r <= l + 2s.
        let ms = DataType::Timestamp(TimeUnit::Millisecond, None);
        let s = DataType::Timestamp(TimeUnit::Second, None);
        let f = fixture(ms.clone(), s);
        let millis = |v: i64| lit(ScalarValue::DurationMillisecond(Some(v)));
        let cast_rt: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(rt(), ms, None));
        let expr = and(
            bin(cast_rt.clone(), Operator::GtEq, bin(lt(), Operator::Minus, millis(1_500))),
            bin(cast_rt, Operator::LtEq, bin(lt(), Operator::Plus, millis(2_500))),
        );
        let r = recognise(&f, expr).unwrap();
        assert_eq!((r.band.left.scale, r.band.right.scale), (1_000_000, 1_000_000_000));
        assert_eq!((r.band.lower, r.band.upper), (-1_000_000_000, 2_000_000_000));
    }

    #[test]
    fn left_column_on_the_left_of_the_comparison() {
        let f = fixture(ts_us(), ts_us());
        // a.t - 5m <= b.t AND a.t + 10m > b.t
        let expr = and(
            bin(bin(lt(), Operator::Minus, minutes(5)), Operator::LtEq, rt()),
            bin(bin(lt(), Operator::Plus, minutes(10)), Operator::Gt, rt()),
        );
        assert_eq!(bounds(&f, expr), Some((-5 * MINUTE, 10 * MINUTE - 1_000, false)));
    }

    #[test]
    fn offsets_on_the_right_column_and_on_both() {
        let f = fixture(ts_us(), ts_us());
        // a.t BETWEEN b.t - 5m AND b.t + 10m  <=>  b.t BETWEEN a.t - 10m AND a.t + 5m
        let expr = and(
            bin(lt(), Operator::GtEq, bin(rt(), Operator::Minus, minutes(5))),
            bin(lt(), Operator::LtEq, bin(rt(), Operator::Plus, minutes(10))),
        );
        assert_eq!(bounds(&f, expr), Some((-10 * MINUTE, 5 * MINUTE, false)));
        // b.t - 1m >= a.t + 2m AND b.t + 1m < a.t + 30m
        let expr = and(
            bin(bin(rt(), Operator::Minus, minutes(1)), Operator::GtEq, bin(lt(), Operator::Plus, minutes(2))),
            bin(bin(rt(), Operator::Plus, minutes(1)), Operator::Lt, bin(lt(), Operator::Plus, minutes(30))),
        );
        assert_eq!(bounds(&f, expr), Some((3 * MINUTE, 29 * MINUTE - 1_000, false)));
    }

    #[test]
    fn constant_first_and_chained_offsets() {
        let f = fixture(ts_us(), ts_us());
        // b.t >= INTERVAL '5m' + a.t AND b.t <= a.t + 10m - 1m
        let expr = between(
            bin(minutes(5), Operator::Plus, lt()),
            bin(bin(lt(), Operator::Plus, minutes(10)), Operator::Minus, minutes(1)),
        );
        assert_eq!(bounds(&f, expr), Some((5 * MINUTE, 9 * MINUTE, false)));
    }

    #[test]
    fn other_conjuncts_stay_as_residual() {
        let f = fixture(ts_us(), ts_us());
        let band = between(bin(lt(), Operator::Minus, minutes(5)), lt());
        let extra = bin(ry(), Operator::Gt, lx());
        let r = recognise(&f, and(extra.clone(), band)).unwrap();
        assert_eq!((r.band.lower, r.band.upper), (-5 * MINUTE, 0));
        let residual = r.residual.unwrap();
        assert_eq!(residual.expression().to_string(), extra.to_string());
        assert_eq!(residual.column_indices(), f.indices.as_slice());
    }

    #[test]
    fn several_bounds_on_the_pair_combine_to_the_tightest() {
        let f = fixture(ts_us(), ts_us());
        let expr = and(
            between(bin(lt(), Operator::Minus, minutes(5)), bin(lt(), Operator::Plus, minutes(10))),
            and(
                bin(rt(), Operator::Gt, bin(lt(), Operator::Minus, minutes(3))),
                bin(rt(), Operator::LtEq, bin(lt(), Operator::Plus, minutes(20))),
            ),
        );
        assert_eq!(bounds(&f, expr), Some((-3 * MINUTE + 1_000, 10 * MINUTE, false)));
    }

    #[test]
    fn bounds_on_another_column_pair_stay_residual() {
        let f = fixture(ts_us(), ts_us());
        // lower on (t, t), upper on (t2, t): no band on (t, t) alone...
        let expr = and(bin(rt(), Operator::GtEq, lt()), bin(rt(), Operator::LtEq, lt2()));
        assert!(recognise(&f, expr).is_none());
        // ...but a full band on (t2, t) is found with the other bound residual.
        let expr = and(bin(rt(), Operator::GtEq, lt()), between(lt2(), bin(lt2(), Operator::Plus, minutes(1))));
        let r = recognise(&f, expr).unwrap();
        assert_eq!(r.band.left.index, 3);
        assert!(r.residual.is_some());
    }

    #[test]
    fn days_are_exact_in_utc_and_fixed_offsets_only() {
        for tz in [None, Some("UTC"), Some("+00:00"), Some("-05:30"), Some("Etc/UTC")] {
            let ty = DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
            let f = fixture(ty.clone(), ty);
            let expr = between(bin(lt(), Operator::Minus, days(1)), bin(lt(), Operator::Plus, days(2)));
            assert_eq!(bounds(&f, expr), Some((-NANOS_PER_DAY, 2 * NANOS_PER_DAY, false)), "{tz:?}");
        }
        let ty = DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into()));
        let f = fixture(ty.clone(), ty);
        let expr = between(bin(lt(), Operator::Minus, days(1)), lt());
        assert!(recognise(&f, expr).is_none());
        // Without days the zone does not matter.
        let expr = between(bin(lt(), Operator::Minus, minutes(90)), lt());
        assert_eq!(bounds(&f, expr), Some((-90 * MINUTE, 0, false)));
    }

    #[test]
    fn months_are_rejected() {
        let f = fixture(ts_us(), ts_us());
        let month = lit(ScalarValue::new_interval_mdn(1, 0, 0));
        assert!(recognise(&f, between(bin(lt(), Operator::Minus, month), lt())).is_none());
        let ym = lit(ScalarValue::IntervalYearMonth(Some(12)));
        assert!(recognise(&f, between(bin(lt(), Operator::Minus, ym), lt())).is_none());
    }

    #[test]
    fn other_interval_and_duration_literals() {
        let f = fixture(ts_us(), ts_us());
        let day_time = lit(ScalarValue::new_interval_dt(1, 500));
        let dur = lit(ScalarValue::DurationSecond(Some(30)));
        let expr = between(bin(lt(), Operator::Minus, day_time), bin(lt(), Operator::Plus, dur));
        assert_eq!(bounds(&f, expr), Some((-(NANOS_PER_DAY + 500_000_000), 30_000_000_000, false)));
    }

    #[test]
    fn constants_finer_than_the_unit_are_rejected() {
        let ty = DataType::Timestamp(TimeUnit::Second, None);
        let f = fixture(ty.clone(), ty);
        let half_second = lit(ScalarValue::new_interval_mdn(0, 0, 500_000_000));
        assert!(recognise(&f, between(bin(lt(), Operator::Minus, half_second), lt())).is_none());
        let two_seconds = lit(ScalarValue::new_interval_mdn(0, 0, 2_000_000_000));
        assert_eq!(
            bounds(&f, between(bin(lt(), Operator::Minus, two_seconds), lt())),
            Some((-2_000_000_000, 0, false))
        );
    }

    #[test]
    fn mixed_units_through_widening_casts() {
        let ms = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let f = fixture(ms, ns.clone());
        let cast_lt: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(lt(), ns, None));
        let expr = between(bin(cast_lt.clone(), Operator::Minus, minutes(1)), bin(cast_lt, Operator::Plus, minutes(1)));
        let r = recognise(&f, expr).unwrap();
        assert_eq!((r.band.left.scale, r.band.right.scale), (1_000_000, 1));
        assert_eq!((r.band.lower, r.band.upper), (-MINUTE, MINUTE));
    }

    #[test]
    fn narrowing_or_reinterpreting_casts_are_rejected() {
        let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let us = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let f = fixture(ns, us.clone());
        let cast_lt: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(lt(), us, None));
        assert!(recognise(&f, between(cast_lt.clone(), bin(cast_lt, Operator::Plus, minutes(1)))).is_none());

        let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
        let f = fixture(naive, ts_us());
        let cast_lt: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(lt(), ts_us(), None));
        assert!(recognise(&f, between(cast_lt.clone(), bin(cast_lt, Operator::Plus, minutes(1)))).is_none());

        let f = fixture(DataType::Int64, DataType::Int32);
        let narrow: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(lt(), DataType::Int32, None));
        let expr = between(bin(narrow.clone(), Operator::Minus, lit(5i32)), bin(narrow, Operator::Plus, lit(5i32)));
        assert!(recognise(&f, expr).is_none());
    }

    #[test]
    fn integers_with_widening_casts() {
        let f = fixture(DataType::Int32, DataType::Int64);
        let wide: Arc<dyn PhysicalExpr> = Arc::new(TryCastExpr::new(lt(), DataType::Int64));
        let expr = between(bin(wide.clone(), Operator::Minus, lit(5i64)), bin(wide, Operator::Plus, lit(10i64)));
        let r = recognise(&f, expr).unwrap();
        assert_eq!((r.band.lower, r.band.upper, r.band.domain), (-5, 10, BandDomain::Integer));
        assert_eq!(r.band.to_string(), "right.t BETWEEN left.t - 5 AND left.t + 10");
    }

    #[test]
    fn rejected_shapes() {
        let f = fixture(ts_us(), ts_us());
        let lo = bin(lt(), Operator::Minus, minutes(5));
        // one bound only
        assert!(recognise(&f, bin(rt(), Operator::GtEq, lo.clone())).is_none());
        assert!(recognise(&f, and(bin(rt(), Operator::GtEq, lo.clone()), bin(rt(), Operator::Gt, lt()))).is_none());
        // a disjunction is not a conjunction of bounds
        let or = bin(bin(rt(), Operator::GtEq, lo.clone()), Operator::Or, bin(rt(), Operator::LtEq, lt()));
        assert!(recognise(&f, or).is_none());
        // both operands on the same side
        assert!(recognise(&f, and(bin(lt2(), Operator::GtEq, lt()), bin(lt2(), Operator::LtEq, lo.clone()))).is_none());
        // `constant - column` decreases
        let decreasing = bin(minutes(5), Operator::Minus, lt());
        assert!(recognise(&f, between(decreasing, lt())).is_none());
        // a multiplied column is not a shift
        let scaled = bin(lx(), Operator::Multiply, lit(2i32));
        assert!(recognise(&f, and(bin(ry(), Operator::GtEq, scaled), bin(ry(), Operator::LtEq, lx()))).is_none());
        // a NULL constant
        let null = lit(ScalarValue::IntervalMonthDayNano(None));
        assert!(recognise(&f, between(bin(lt(), Operator::Minus, null), lt())).is_none());
        // equality and inequality are not bounds
        assert!(recognise(&f, and(bin(rt(), Operator::Eq, lt()), bin(rt(), Operator::NotEq, lo))).is_none());
    }

    #[test]
    fn unsupported_column_types_are_rejected() {
        for ty in [DataType::Float64, DataType::Utf8, DataType::Date32, DataType::UInt64] {
            let f = fixture(ty.clone(), ty.clone());
            assert!(recognise(&f, between(lt(), lt())).is_none(), "{ty}");
        }
        // timestamps against integers
        let f = fixture(ts_us(), DataType::Int64);
        assert!(recognise(&f, between(lt(), lt())).is_none());
    }

    #[test]
    fn display_of_offsets() {
        let t = BandDomain::Timestamp;
        assert_eq!(Offset(0, t).to_string(), "+ 0s");
        assert_eq!(Offset(-(NANOS_PER_DAY + 2 * 3_600_000_000_000 + 1_500_000_000), t).to_string(), "- 1d2h1.5s");
        assert_eq!(Offset(1, t).to_string(), "+ 0.000000001s");
        assert_eq!(Offset(-7, BandDomain::Integer).to_string(), "- 7");
    }
}
