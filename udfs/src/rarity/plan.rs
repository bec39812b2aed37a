//! The planning side shared by the four rarity functions: argument checks,
//! the rewrite that hands each call its `ORDER BY` time, and the reading of
//! `half_life` / `lookback`.
//!
//! DataFusion passes a window function's evaluator the call's arguments but
//! never the `ORDER BY` values, and these functions need the times themselves
//! (ties, decay, lookback). So each function has two forms:
//!
//! * the *user form* `f(entity, value [, param]) OVER (... ORDER BY time)`,
//!   which is what gets registered and what SQL resolves;
//! * the *ordered form* `f(entity, value, param_or_NULL, time)`, produced by
//!   [`WindowUDFImpl::simplify`](datafusion::logical_expr::WindowUDFImpl::simplify)
//!   (which, unlike the evaluator, sees the whole `OVER` clause) by appending
//!   the single `ORDER BY` expression. Only this form is ever evaluated.
//!
//! The rewrite swaps in a second instance of the same function (same name,
//! `ordered = true`) whose `simplify` is `None`, so the simplifier does not
//! revisit it. The registered instance also accepts the four-argument form, so
//! a plan serialized by name (e.g. for a Ballista executor) still resolves.
//! Invalid calls are plan errors raised by the rewrite; the evaluator checks
//! the same things again and reports them as execution errors.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::row::{RowConverter, SortField};
use datafusion::common::{exec_err, internal_err, plan_datafusion_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::function::WindowFunctionSimplification;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{lit, Expr, Signature, Volatility, WindowFunctionDefinition, WindowUDF};

/// Number of arguments of the ordered form: entity, value, param, time.
pub(crate) const ORDERED_ARITY: usize = 4;

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// What the optional third argument of a function means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// No third argument (`population_surprise`).
    None,
    /// Exponential decay of `N_e` and `C_ev`.
    HalfLife,
    /// How far back `first_seen` looks.
    Lookback,
}

/// The facts about one function that the shared planning code needs.
#[derive(Debug)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub param: Param,
}

impl Spec {
    fn param_name(&self) -> &'static str {
        match self.param {
            Param::None => "",
            Param::HalfLife => "half_life",
            Param::Lookback => "lookback",
        }
    }

    fn max_user_args(&self) -> usize {
        if self.param == Param::None {
            2
        } else {
            3
        }
    }

    fn usage(&self) -> String {
        let param = match self.param {
            Param::None => String::new(),
            _ => format!(" [, {}]", self.param_name()),
        };
        format!("{}(entity, value{param}) OVER ([PARTITION BY scope] ORDER BY time)", self.name)
    }
}

/// All rarity functions coerce nothing and check their arguments themselves.
pub(crate) fn signature() -> Signature {
    Signature::user_defined(Volatility::Immutable)
}

/// Validates argument types. Nothing is cast: `entity` and `value` are
/// compared by their own type, so the types come back unchanged.
pub(crate) fn coerce_types(spec: &Spec, types: &[DataType]) -> Result<Vec<DataType>> {
    let n = types.len();
    if n != ORDERED_ARITY && !(2..=spec.max_user_args()).contains(&n) {
        return plan_err!("{} takes {} arguments, got {n}: {}", spec.name, arity_words(spec), spec.usage());
    }
    for (position, label) in [(0, "entity"), (1, "value")] {
        let data_type = &types[position];
        if !is_key_type(data_type) {
            return plan_err!(
                "{}: {label} must be a string, number or other scalar type that can be compared for equality, not {data_type}",
                spec.name
            );
        }
    }
    if let Some(param_type) = types.get(2) {
        let ok = matches!(param_type, DataType::Null | DataType::Interval(_) | DataType::Duration(_))
            || param_type.is_numeric();
        if !ok {
            return plan_err!(
                "{}: {} must be an INTERVAL such as INTERVAL '7 days', not {param_type}",
                spec.name,
                spec.param_name()
            );
        }
    }
    if let Some(time_type) = types.get(3) {
        if Clock::of(time_type).is_none() && *time_type != DataType::Null {
            return plan_err!("{}", bad_time_type(spec, time_type));
        }
    }
    Ok(types.to_vec())
}

fn arity_words(spec: &Spec) -> &'static str {
    if spec.param == Param::None {
        "2"
    } else {
        "2 or 3"
    }
}

fn is_key_type(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Null) || RowConverter::supports_fields(&[SortField::new(data_type.clone())])
}

fn bad_time_type(spec: &Spec, time_type: &DataType) -> String {
    format!(
        "{} orders rows by event time: the ORDER BY expression must be a timestamp, date or integer, not {time_type}",
        spec.name
    )
}

/// The `simplify` hook of the user form: rewrites the call into the ordered
/// form. `ordered` builds the ordered instance of the same function.
pub(crate) fn simplifier(
    spec: &'static Spec,
    is_ordered: bool,
    ordered: fn() -> WindowUDF,
) -> Option<WindowFunctionSimplification> {
    if is_ordered {
        return None;
    }
    Some(Box::new(move |call, info| attach_time(spec, call, info, Arc::new(ordered()))))
}

fn attach_time(spec: &Spec, call: WindowFunction, info: &SimplifyContext, ordered: Arc<WindowUDF>) -> Result<Expr> {
    let params = call.params;
    let fun = WindowFunctionDefinition::WindowUDF(ordered);
    if params.args.len() == ORDERED_ARITY {
        // Already carries its time (a plan that was optimized before).
        return Ok(Expr::from(WindowFunction { fun, params }));
    }
    if params.distinct || params.filter.is_some() {
        return plan_err!("{} supports neither DISTINCT nor FILTER: {}", spec.name, spec.usage());
    }
    let time = match params.order_by.as_slice() {
        [sort] => sort.expr.clone(),
        [] => return plan_err!("{} needs OVER (ORDER BY time): {}", spec.name, spec.usage()),
        more => return plan_err!(
            "{} needs exactly one ORDER BY expression, the event time, but got {}; move the other keys to PARTITION BY",
            spec.name,
            more.len()
        ),
    };
    let time_type = info.get_data_type(&time)?;
    let clock = Clock::of(&time_type).ok_or_else(|| plan_datafusion_err!("{}", bad_time_type(spec, &time_type)))?;
    let mut args = params.args;
    let param = match args.get(2) {
        None => lit(ScalarValue::Null),
        Some(Expr::Literal(value, _)) => {
            read_param(spec, value, clock).map_err(|message| plan_datafusion_err!("{message}"))?;
            args[2].clone()
        }
        Some(other) => {
            return plan_err!(
                "{}: {} must be a constant such as INTERVAL '7 days', not the expression {other}",
                spec.name,
                spec.param_name()
            )
        }
    };
    args.truncate(2);
    args.push(param);
    args.push(time);
    Ok(Expr::from(WindowFunction { fun, params: WindowFunctionParams { args, ..params } }))
}

/// How the `ORDER BY` values map to nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// Timestamps or dates: one tick of the column is this many nanoseconds.
    Temporal { nanos_per_tick: i64 },
    /// Plain integers in caller-defined units; parameters use the same units.
    Integer,
}

impl Clock {
    pub(crate) fn of(data_type: &DataType) -> Option<Self> {
        let nanos_per_tick = match data_type {
            DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
            DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => 1_000_000,
            DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
            DataType::Date32 => 86_400 * 1_000_000_000,
            data_type if data_type.is_integer() => return Some(Self::Integer),
            _ => return None,
        };
        Some(Self::Temporal { nanos_per_tick })
    }
}

/// A `half_life` or `lookback` in the units of the time column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Span {
    /// `limit` is in units of `1 / scale` ticks: nanoseconds for timestamps
    /// and dates (`scale` = nanoseconds per tick), ticks for integers.
    limit: i128,
    scale: i128,
    /// The span in ticks, for decay.
    ticks: f64,
}

impl Span {
    /// Half-life in ticks of the time column.
    pub(crate) fn ticks(&self) -> f64 {
        self.ticks
    }

    /// Whether a gap of `gap` ticks (`time_i - time_j`, >= 0) is within the span.
    pub(crate) fn covers(&self, gap: i128) -> bool {
        gap.saturating_mul(self.scale) <= self.limit
    }
}

/// Reads a `half_life` / `lookback` literal, or explains what is wrong with it.
/// `Ok(None)` means the argument was left out.
fn read_param(spec: &Spec, value: &ScalarValue, clock: Clock) -> std::result::Result<Option<Span>, String> {
    let name = spec.name;
    let param = spec.param_name();
    if spec.param == Param::None {
        return Ok(None);
    }
    if value.is_null() {
        let instead = match spec.param {
            Param::Lookback => "to consider all history",
            _ => "for no decay",
        };
        return Err(format!("{name}: {param} must not be NULL; leave it out {instead}"));
    }
    let months_error = || {
        format!("{name}: {param} cannot use months or years, whose length varies; write days instead, e.g. INTERVAL '30 days'")
    };
    let nanos: Option<i128> = match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) => {
            if v.months != 0 {
                return Err(months_error());
            }
            Some(i128::from(v.days) * NANOS_PER_DAY + i128::from(v.nanoseconds))
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(i128::from(v.days) * NANOS_PER_DAY + i128::from(v.milliseconds) * 1_000_000)
        }
        ScalarValue::IntervalYearMonth(Some(months)) => {
            if *months != 0 {
                return Err(months_error());
            }
            Some(0)
        }
        ScalarValue::DurationSecond(Some(v)) => Some(i128::from(*v) * 1_000_000_000),
        ScalarValue::DurationMillisecond(Some(v)) => Some(i128::from(*v) * 1_000_000),
        ScalarValue::DurationMicrosecond(Some(v)) => Some(i128::from(*v) * 1_000),
        ScalarValue::DurationNanosecond(Some(v)) => Some(i128::from(*v)),
        _ => None,
    };
    let span = match (clock, nanos) {
        (Clock::Temporal { nanos_per_tick }, Some(nanos)) => Span {
            limit: nanos,
            scale: i128::from(nanos_per_tick),
            ticks: nanos as f64 / nanos_per_tick as f64,
        },
        (Clock::Temporal { .. }, None) => {
            return Err(format!(
                "{name}: {param} must be an INTERVAL such as INTERVAL '7 days' when ordering by a timestamp or date, not {}",
                value.data_type()
            ))
        }
        (Clock::Integer, Some(_)) => {
            return Err(format!(
                "{name} orders by an integer, so {param} must be a number in the units of the ORDER BY column, not an INTERVAL; or order by a timestamp"
            ))
        }
        (Clock::Integer, None) => {
            let ticks = match value.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(ticks))) if ticks.is_finite() => ticks,
                _ => return Err(format!("{name}: {param} must be a finite number, not {value}")),
            };
            Span { limit: ticks.floor() as i128, scale: 1, ticks }
        }
    };
    match spec.param {
        Param::HalfLife if span.ticks <= 0.0 => Err(format!("{name}: {param} must be positive, got {value}")),
        Param::Lookback if span.limit < 0 => Err(format!("{name}: {param} must not be negative, got {value}")),
        _ => Ok(Some(span)),
    }
}

/// The evaluated arguments of the ordered form, checked.
pub(crate) struct Bound<'a> {
    pub entity: &'a ArrayRef,
    pub value: &'a ArrayRef,
    pub time: &'a ArrayRef,
    pub param: Option<Span>,
}

/// Checks the evaluator's arguments (the ordered form) and reads the parameter.
pub(crate) fn bind<'a>(spec: &Spec, values: &'a [ArrayRef]) -> Result<Bound<'a>> {
    let [entity, value, param, time] = values else {
        return internal_err!(
            "{} got {} arguments instead of {ORDERED_ARITY}: its ORDER BY time was not attached. The \
             simplify_expressions optimizer rule does that; it must not be disabled or skipped \
             (datafusion.optimizer.skip_failed_rules). Usage: {}",
            spec.name,
            values.len(),
            spec.usage()
        );
    };
    let param = if param.is_empty() || param.data_type() == &DataType::Null {
        None
    } else {
        let Some(clock) = Clock::of(time.data_type()) else {
            return exec_err!("{}", bad_time_type(spec, time.data_type()));
        };
        let scalar = ScalarValue::try_from_array(param, 0)?;
        read_param(spec, &scalar, clock).map_err(|message| datafusion::common::exec_datafusion_err!("{message}"))?
    };
    Ok(Bound { entity, value, time, param })
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{IntervalMonthDayNano, IntervalUnit};

    use super::*;

    const HALF: Spec = Spec { name: "f", param: Param::HalfLife };
    const BACK: Spec = Spec { name: "g", param: Param::Lookback };
    const SECONDS: Clock = Clock::Temporal { nanos_per_tick: 1_000_000_000 };

    fn interval(months: i32, days: i32, nanoseconds: i64) -> ScalarValue {
        ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano { months, days, nanoseconds }))
    }

    #[test]
    fn intervals_are_read_in_ticks_of_the_time_column() {
        let span = read_param(&HALF, &interval(0, 1, 0), SECONDS).unwrap().unwrap();
        assert_eq!(span.ticks(), 86_400.0);
        let span = read_param(&BACK, &interval(0, 0, 1_500_000_000), SECONDS).unwrap().unwrap();
        assert!(span.covers(1));
        assert!(!span.covers(2));
        let days = Clock::of(&DataType::Date32).unwrap();
        let span = read_param(&BACK, &interval(0, 2, 0), days).unwrap().unwrap();
        assert!(span.covers(2) && !span.covers(3));
    }

    #[test]
    fn months_null_and_non_positive_values_are_refused() {
        let err = read_param(&HALF, &interval(1, 0, 0), SECONDS).unwrap_err();
        assert!(err.contains("months"), "{err}");
        let err = read_param(&HALF, &ScalarValue::IntervalMonthDayNano(None), SECONDS).unwrap_err();
        assert!(err.contains("NULL"), "{err}");
        assert!(read_param(&HALF, &interval(0, 0, 0), SECONDS).is_err());
        assert!(read_param(&BACK, &interval(0, 0, 0), SECONDS).unwrap().is_some());
        assert!(read_param(&BACK, &interval(0, -1, 0), SECONDS).is_err());
    }

    #[test]
    fn integer_clocks_take_numbers_and_timestamps_take_intervals() {
        let span = read_param(&BACK, &ScalarValue::Int64(Some(10)), Clock::Integer).unwrap().unwrap();
        assert!(span.covers(10) && !span.covers(11));
        let span = read_param(&HALF, &ScalarValue::Float64(Some(2.5)), Clock::Integer).unwrap().unwrap();
        assert_eq!(span.ticks(), 2.5);
        assert!(read_param(&HALF, &interval(0, 1, 0), Clock::Integer).is_err());
        assert!(read_param(&HALF, &ScalarValue::Int64(Some(10)), SECONDS).is_err());
    }

    #[test]
    fn time_types() {
        assert_eq!(Clock::of(&DataType::Int32), Some(Clock::Integer));
        assert_eq!(
            Clock::of(&DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))),
            Some(Clock::Temporal { nanos_per_tick: 1_000_000 })
        );
        assert_eq!(Clock::of(&DataType::Utf8), None);
        assert_eq!(Clock::of(&DataType::Float64), None);
    }

    #[test]
    fn coerce_types_checks_arity_and_types() {
        let s = DataType::Utf8;
        assert!(coerce_types(&HALF, &[s.clone(), s.clone()]).is_ok());
        assert!(coerce_types(&HALF, std::slice::from_ref(&s)).is_err());
        assert!(
            coerce_types(&HALF, &[s.clone(), DataType::Int64, DataType::Interval(IntervalUnit::MonthDayNano)]).is_ok()
        );
        assert!(coerce_types(&HALF, &[s.clone(), s.clone(), s.clone()]).is_err());
        let pop = Spec { name: "p", param: Param::None };
        assert!(coerce_types(&pop, &[s.clone(), s.clone(), DataType::Int64]).is_err());
        let ordered = [s.clone(), s.clone(), DataType::Null, DataType::Timestamp(TimeUnit::Nanosecond, None)];
        assert!(coerce_types(&pop, &ordered).is_ok());
        let bad_time = [s.clone(), s.clone(), DataType::Null, DataType::Utf8];
        assert!(coerce_types(&pop, &bad_time).is_err());
    }
}
