//! `beacon_score(time, bytes, window_start, window_end)`: how much the
//! connections of a group look like a C2 beacon (RITA v5 style), as an
//! aggregate with a row [`Accumulator`] and a [`GroupsAccumulator`].
//!
//! Both accumulators collect each group's raw times and sizes into
//! [`Connections`]; the score is computed once per group at the end by
//! [`beacon_score`](super::score::beacon_score). The partial-aggregation state
//! is those vectors as lists plus the window bounds, so merging partial states
//! is concatenation and a two-phase plan scores exactly the same connections.
//!
//! Semantics beyond `functions.md`:
//! * a row counts only when its time lies in its own `[window_start,
//!   window_end)`; rows outside (or with a NULL time or bound) are ignored
//!   entirely, as if filtered out by `WHERE`;
//! * the histogram window of a group is the smallest `window_start` and the
//!   largest `window_end` of its counted rows, which is the constant window
//!   when, as intended, the bounds are a function of the group key;
//! * `window_start`/`window_end` are cast to the type of `time`, so times and
//!   bounds compare in one unit; `time` keeps its own unit (no precision lost).

use std::fmt::Debug;
use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer};
use arrow::datatypes::{
    DataType, Field, FieldRef, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{exec_err, internal_err, not_impl_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::score::{beacon_score, Connections, Scratch};

#[user_doc(
    doc_section(label = "Beacon Functions"),
    description = r#"Scores how much the connections of a group look like command-and-control beaconing, from 0 (irregular) to 1 (perfectly regular), following RITA v5: regularity of the intervals between connections (`ts`) and of their sizes (`ds`), evenness over the window's 24 equal bins (`hist`), and how long the traffic persists (`dur`); the score is their average.

Returns NULL for groups with fewer than 4 distinct timestamps or with 86400 connections or more (a strobe, reported separately). Only rows whose `time` lies in their `[window_start, window_end)` count (rows outside, or with a NULL time or bound, are ignored); the bins span the group's smallest `window_start` to its largest `window_end`, normally one constant window per group. NULL `bytes` are skipped by the size score only."#,
    syntax_example = "beacon_score(time, bytes, window_start, window_end)",
    sql_example = r#"```sql
> SELECT src_ip, dst_ip, date_trunc('day', time) AS day, count(*) AS n,
         round(beacon_score(time, bytes_out, date_trunc('day', time),
                            date_trunc('day', time) + INTERVAL '1 day'), 3) AS score
  FROM network_flows
  WHERE dst_ip = '185.174.54.147'
  GROUP BY src_ip, dst_ip, date_trunc('day', time);
+-------------+----------------+----------------------+-----+-------+
| src_ip      | dst_ip         | day                  | n   | score |
+-------------+----------------+----------------------+-----+-------+
| 10.20.16.50 | 185.174.54.147 | 2026-11-03T00:00:00Z | 287 | 0.601 |
+-------------+----------------+----------------------+-----+-------+
```"#,
    argument(name = "time", description = "Connection start time: a timestamp of any unit and time zone."),
    argument(
        name = "bytes",
        description = "Connection size in bytes: any integer; NULL sizes are ignored by the size score."
    ),
    argument(
        name = "window_start",
        description = "Start of the analysis window (inclusive), usually `date_trunc('day', time)`; a timestamp, date or timestamp string."
    ),
    argument(
        name = "window_end",
        description = "End of the analysis window (exclusive), usually `date_trunc('day', time) + INTERVAL '1 day'`."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BeaconScore {
    signature: Signature,
}

impl Default for BeaconScore {
    fn default() -> Self {
        Self::new()
    }
}

impl BeaconScore {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// How many raw time values make one second.
fn units_per_second(time_type: &DataType) -> Result<f64> {
    match time_type {
        DataType::Timestamp(unit, _) => Ok(match unit {
            TimeUnit::Second => 1.0,
            TimeUnit::Millisecond => 1e3,
            TimeUnit::Microsecond => 1e6,
            TimeUnit::Nanosecond => 1e9,
        }),
        other => internal_err!("beacon_score: time was not coerced to a timestamp but is {other}"),
    }
}

impl AggregateUDFImpl for BeaconScore {
    fn name(&self) -> &str {
        "beacon_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [time, bytes, start, end] = arg_types else {
            return plan_err!(
                "beacon_score takes 4 arguments (time, bytes, window_start, window_end), got {}",
                arg_types.len()
            );
        };
        let time = match time {
            DataType::Timestamp(..) => time.clone(),
            DataType::Null => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => {
                return plan_err!(
                    "beacon_score: time must be a timestamp, got {other}; convert it with to_timestamp(...)"
                )
            }
        };
        if !(bytes.is_integer() || bytes.is_null()) {
            return plan_err!("beacon_score: bytes must be an integer, got {bytes}; cast it with CAST(... AS BIGINT)");
        }
        for (name, bound) in [("window_start", start), ("window_end", end)] {
            let castable = matches!(
                bound,
                DataType::Timestamp(..)
                    | DataType::Date32
                    | DataType::Date64
                    | DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Null
            );
            if !castable {
                return plan_err!(
                    "beacon_score: {name} must be a timestamp, got {bound}; \
                     use e.g. date_trunc('day', time) and date_trunc('day', time) + INTERVAL '1 day'"
                );
            }
        }
        Ok(vec![time.clone(), DataType::Int64, time.clone(), time])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "times"), list.clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "bytes"), list, true)),
            Arc::new(Field::new(format_state_name(args.name, "window_start"), DataType::Int64, true)),
            Arc::new(Field::new(format_state_name(args.name, "window_end"), DataType::Int64, true)),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return not_impl_err!("beacon_score(DISTINCT ...) is not supported");
        }
        Ok(Box::new(BeaconAccumulator {
            units_per_second: units_per_second(args.expr_fields[0].data_type())?,
            connections: Connections::default(),
        }))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(BeaconGroupsAccumulator {
            units_per_second: units_per_second(args.expr_fields[0].data_type())?,
            groups: Vec::new(),
            allocated: 0,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The raw `i64` values of a (coerced) timestamp or Int64 argument.
fn raw_values(array: &ArrayRef) -> Result<&[i64]> {
    Ok(match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().values(),
        DataType::Timestamp(TimeUnit::Second, _) => array.as_primitive::<TimestampSecondType>().values(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array.as_primitive::<TimestampMillisecondType>().values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array.as_primitive::<TimestampMicrosecondType>().values(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => array.as_primitive::<TimestampNanosecondType>().values(),
        other => return internal_err!("beacon_score: unexpected argument type {other} after coercion"),
    })
}

/// One input batch: the four arguments and which rows may count.
struct InputRows<'a> {
    times: &'a [i64],
    bytes: &'a [i64],
    bytes_nulls: Option<&'a NullBuffer>,
    starts: &'a [i64],
    ends: &'a [i64],
    /// Rows with a time, both bounds and a passing filter; `None` = all.
    mask: Option<BooleanBuffer>,
}

impl<'a> InputRows<'a> {
    fn try_new(values: &'a [ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Self> {
        let [times, bytes, starts, ends] = values else {
            return internal_err!("beacon_score expects 4 arguments, got {}", values.len());
        };
        let nulls = NullBuffer::union_many([times.nulls(), starts.nulls(), ends.nulls()]);
        let filter = opt_filter.map(|f| match f.nulls() {
            Some(n) => f.values() & n.inner(),
            None => f.values().clone(),
        });
        let mask = match (nulls, filter) {
            (Some(n), Some(f)) => Some(n.inner() & &f),
            (Some(n), None) => Some(n.into_inner()),
            (None, f) => f,
        };
        Ok(Self {
            times: raw_values(times)?,
            bytes: raw_values(bytes)?,
            bytes_nulls: bytes.nulls().filter(|n| n.null_count() > 0),
            starts: raw_values(starts)?,
            ends: raw_values(ends)?,
            mask,
        })
    }

    fn len(&self) -> usize {
        self.times.len()
    }

    /// Calls `f(row, time, bytes, window_start, window_end)` for every row
    /// that counts: valid, not filtered out, and inside its window.
    #[inline]
    fn for_each(&self, mut f: impl FnMut(usize, i64, Option<i64>, i64, i64)) {
        for row in 0..self.len() {
            if self.mask.as_ref().is_some_and(|m| !m.value(row)) {
                continue;
            }
            let (time, start, end) = (self.times[row], self.starts[row], self.ends[row]);
            if time < start || time >= end {
                continue;
            }
            let bytes = match self.bytes_nulls {
                Some(n) if n.is_null(row) => None,
                _ => Some(self.bytes[row]),
            };
            f(row, time, bytes, start, end);
        }
    }
}

/// Calls `f(row, times, bytes, window_start, window_end)` for every non-empty
/// partial state in `states` (the arrays of [`state_arrays`]).
fn for_each_state(states: &[ArrayRef], mut f: impl FnMut(usize, &[i64], &[i64], i64, i64)) -> Result<()> {
    let [times, bytes, starts, ends] = states else {
        return internal_err!("beacon_score expects 4 state arrays, got {}", states.len());
    };
    let (Some(times), Some(bytes)) = (times.as_list_opt::<i32>(), bytes.as_list_opt::<i32>()) else {
        return internal_err!("beacon_score state lists have types {} and {}", times.data_type(), bytes.data_type());
    };
    let (time_offsets, time_values) = (times.value_offsets(), raw_values(times.values())?);
    let (byte_offsets, byte_values) = (bytes.value_offsets(), raw_values(bytes.values())?);
    let (starts, ends) = (starts.as_primitive::<Int64Type>(), ends.as_primitive::<Int64Type>());
    for row in 0..starts.len() {
        if starts.is_null(row) || ends.is_null(row) {
            continue;
        }
        let row_times = &time_values[time_offsets[row] as usize..time_offsets[row + 1] as usize];
        let row_bytes = &byte_values[byte_offsets[row] as usize..byte_offsets[row + 1] as usize];
        f(row, row_times, row_bytes, starts.value(row), ends.value(row));
    }
    Ok(())
}

/// `offsets` as a list offset buffer, or an error past `i32::MAX` values.
fn list_offsets(offsets: Vec<usize>) -> Result<OffsetBuffer<i32>> {
    let offsets = offsets.into_iter().map(i32::try_from).collect::<Result<Vec<i32>, _>>();
    match offsets {
        Ok(offsets) => Ok(OffsetBuffer::new(offsets.into())),
        Err(_) => exec_err!("beacon_score: partial state exceeds 2^31 connections in one batch"),
    }
}

fn int64_list(offsets: Vec<usize>, values: Vec<i64>) -> Result<ArrayRef> {
    let field = Arc::new(Field::new_list_field(DataType::Int64, true));
    Ok(Arc::new(ListArray::try_new(field, list_offsets(offsets)?, Arc::new(Int64Array::from(values)), None)?))
}

/// The partial state of `groups`: times and sizes as lists, and the window
/// bounds, NULL for a group that counted no row.
fn state_arrays(groups: &[Connections]) -> Result<Vec<ArrayRef>> {
    let mut time_offsets = Vec::with_capacity(groups.len() + 1);
    let mut byte_offsets = Vec::with_capacity(groups.len() + 1);
    let mut times = Vec::with_capacity(groups.iter().map(|g| g.times.len()).sum());
    let mut bytes = Vec::with_capacity(groups.iter().map(|g| g.bytes.len()).sum());
    time_offsets.push(0);
    byte_offsets.push(0);
    for group in groups {
        times.extend_from_slice(&group.times);
        bytes.extend_from_slice(&group.bytes);
        time_offsets.push(times.len());
        byte_offsets.push(bytes.len());
    }
    let bound = |g: &Connections, v: i64| (!g.times.is_empty()).then_some(v);
    let starts: Int64Array = groups.iter().map(|g| bound(g, g.window_start)).collect();
    let ends: Int64Array = groups.iter().map(|g| bound(g, g.window_end)).collect();
    Ok(vec![int64_list(time_offsets, times)?, int64_list(byte_offsets, bytes)?, Arc::new(starts), Arc::new(ends)])
}

/// Pushes `value`, adding any growth of the vector to `allocated`.
#[inline]
fn push_counted(vec: &mut Vec<i64>, value: i64, allocated: &mut usize) {
    let before = vec.capacity();
    vec.push(value);
    *allocated += (vec.capacity() - before) * size_of::<i64>();
}

#[inline]
fn extend_counted(vec: &mut Vec<i64>, values: &[i64], allocated: &mut usize) {
    let before = vec.capacity();
    vec.extend_from_slice(values);
    *allocated += (vec.capacity() - before) * size_of::<i64>();
}

/// Adds one counted input row to `group`.
#[inline]
fn add_row(group: &mut Connections, time: i64, bytes: Option<i64>, start: i64, end: i64, allocated: &mut usize) {
    push_counted(&mut group.times, time, allocated);
    if let Some(bytes) = bytes {
        push_counted(&mut group.bytes, bytes, allocated);
    }
    group.widen_window(start, end);
}

/// Adds one partial state to `group`.
#[inline]
fn add_state(group: &mut Connections, times: &[i64], bytes: &[i64], start: i64, end: i64, allocated: &mut usize) {
    extend_counted(&mut group.times, times, allocated);
    extend_counted(&mut group.bytes, bytes, allocated);
    group.widen_window(start, end);
}

/// Accumulator for `beacon_score` without GROUP BY (or as a window function).
#[derive(Debug)]
struct BeaconAccumulator {
    units_per_second: f64,
    connections: Connections,
}

impl Accumulator for BeaconAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let mut allocated = 0;
        InputRows::try_new(values, None)?.for_each(|_, time, bytes, start, end| {
            add_row(&mut self.connections, time, bytes, start, end, &mut allocated)
        });
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let mut allocated = 0;
        for_each_state(states, |_, times, bytes, start, end| {
            add_state(&mut self.connections, times, bytes, start, end, &mut allocated)
        })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        state_arrays(std::slice::from_ref(&self.connections))?
            .iter()
            .map(|array| ScalarValue::try_from_array(array, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let score = beacon_score(&mut self.connections, self.units_per_second, &mut Scratch::default());
        Ok(ScalarValue::Float64(score))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.connections.allocated_bytes()
    }
}

/// Accumulator for `beacon_score` with GROUP BY: one [`Connections`] per
/// group, so a row costs two vector pushes.
struct BeaconGroupsAccumulator {
    units_per_second: f64,
    groups: Vec<Connections>,
    /// Heap bytes held by the vectors of `groups`, kept up to date so that
    /// `size` does not walk every group.
    allocated: usize,
}

impl BeaconGroupsAccumulator {
    /// Removes the groups `emit_to` asks for, with their memory.
    fn take_groups(&mut self, emit_to: EmitTo) -> Vec<Connections> {
        let taken = emit_to.take_needed(&mut self.groups);
        let freed: usize = taken.iter().map(Connections::allocated_bytes).sum();
        self.allocated = self.allocated.saturating_sub(freed);
        taken
    }
}

impl GroupsAccumulator for BeaconGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Connections::default);
        let (groups, allocated) = (&mut self.groups, &mut self.allocated);
        InputRows::try_new(values, opt_filter)?.for_each(|row, time, bytes, start, end| {
            add_row(&mut groups[group_indices[row]], time, bytes, start, end, allocated)
        });
        Ok(())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.groups.resize_with(total_num_groups, Connections::default);
        let (groups, allocated) = (&mut self.groups, &mut self.allocated);
        for_each_state(values, |row, times, bytes, start, end| {
            add_state(&mut groups[group_indices[row]], times, bytes, start, end, allocated)
        })
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut scratch = Scratch::default();
        let scores: Float64Array = self
            .take_groups(emit_to)
            .iter_mut()
            .map(|group| beacon_score(group, self.units_per_second, &mut scratch))
            .collect();
        Ok(Arc::new(scores))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        state_arrays(&self.take_groups(emit_to))
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        // Each row becomes the state of a group of its own; rows that do not
        // count become empty lists with NULL bounds.
        let rows = InputRows::try_new(values, opt_filter)?;
        let n = rows.len();
        let mut counted = vec![false; n];
        let (mut starts, mut ends) = (vec![0; n], vec![0; n]);
        let (mut times, mut bytes) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut time_offsets, mut byte_offsets) = (Vec::with_capacity(n + 1), Vec::with_capacity(n + 1));
        time_offsets.push(0);
        byte_offsets.push(0);
        let mut next_row = 0;
        rows.for_each(|row, time, b, start, end| {
            for _ in next_row..row {
                time_offsets.push(times.len());
                byte_offsets.push(bytes.len());
            }
            times.push(time);
            bytes.extend(b);
            time_offsets.push(times.len());
            byte_offsets.push(bytes.len());
            next_row = row + 1;
            (counted[row], starts[row], ends[row]) = (true, start, end);
        });
        for _ in next_row..n {
            time_offsets.push(times.len());
            byte_offsets.push(bytes.len());
        }
        let counted = NullBuffer::from(counted);
        Ok(vec![
            int64_list(time_offsets, times)?,
            int64_list(byte_offsets, bytes)?,
            Arc::new(Int64Array::new(starts.into(), Some(counted.clone()))),
            Arc::new(Int64Array::new(ends.into(), Some(counted))),
        ])
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.groups.capacity() * size_of::<Connections>() + self.allocated
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Instant;

    use arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{Schema, SchemaRef};
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::AggregateUDF;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use proptest::prelude::*;

    use super::*;
    use crate::beacon::reference::{self, Row};

    const DAY: i64 = 86_400;
    /// 2026-11-02T00:00:00Z in seconds.
    const MONDAY: i64 = 1_793_577_600;

    /// SplitMix64: reproducible data from a proptest seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> i64 {
            (self.next() % n.max(1)) as i64
        }

        fn one_in(&mut self, n: u64) -> bool {
            self.below(n) == 0
        }
    }

    fn time_unit(index: usize) -> (TimeUnit, i64) {
        [
            (TimeUnit::Second, 1),
            (TimeUnit::Millisecond, 1_000),
            (TimeUnit::Microsecond, 1_000_000),
            (TimeUnit::Nanosecond, 1_000_000_000),
        ][index % 4]
    }

    /// Rows of `groups` groups mixing beacons, noise, tiny groups, duplicate
    /// times, NULLs, rows outside the window and rows with another window.
    fn random_rows(rng: &mut Rng, groups: usize, units_per_second: i64) -> Vec<(i64, Row)> {
        let mut rows = Vec::new();
        for g in 0..groups as i64 {
            let day = (MONDAY + rng.below(3) * DAY) * units_per_second;
            let day_len = DAY * units_per_second;
            let (start, end) = (day, day + day_len);
            let kind = rng.below(6);
            let count = match kind {
                2 => rng.below(7),
                5 => 3 + rng.below(5),
                _ => 1 + rng.below(80),
            };
            let period = 1 + rng.below(4_000);
            let jitter = rng.below(period as u64 / 2 + 1);
            let first = rng.below(DAY as u64 / 2);
            let base_bytes = rng.below(100_000);
            let bytes_kind = rng.below(4);
            for i in 0..count {
                let seconds = match kind {
                    0 | 5 => first + i * period + rng.below(jitter as u64 + 1),
                    // Few distinct instants: many zero intervals.
                    3 => first + rng.below(5) * period,
                    // Tight intervals, so quartiles fall within 10 s.
                    4 => first + i * (1 + rng.below(4)),
                    _ => rng.below(DAY as u64),
                };
                let mut time = day + seconds * units_per_second + rng.below(units_per_second as u64);
                if rng.one_in(25) {
                    // Just outside the window, or on its edges.
                    time = match rng.below(4) {
                        0 => start - 1,
                        1 => end,
                        2 => end - 1,
                        _ => start,
                    };
                }
                let bytes = match bytes_kind {
                    _ if rng.one_in(8) => None,
                    0 => Some(base_bytes),
                    1 => Some(base_bytes + rng.below(8)),
                    2 => Some(rng.below(3)),
                    _ => Some(rng.below(2_000_000)),
                };
                let (mut row_start, mut row_end) = (Some(start), Some(end));
                if rng.one_in(40) {
                    match rng.below(4) {
                        0 => row_start = None,
                        1 => row_end = None,
                        2 => row_start = Some(start - 3_600 * units_per_second),
                        _ => row_end = Some(end + 7_200 * units_per_second),
                    }
                }
                let time = (!rng.one_in(30)).then_some(time);
                rows.push((g, Row { time, bytes, start: row_start, end: row_end }));
            }
        }
        rows
    }

    fn schema(unit: TimeUnit) -> SchemaRef {
        let ts = DataType::Timestamp(unit, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("time", ts.clone(), true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("ws", ts.clone(), true),
            Field::new("we", ts, true),
        ]))
    }

    fn batch(schema: &SchemaRef, unit: TimeUnit, rows: &[(i64, Row)]) -> RecordBatch {
        let ts = |values: Vec<Option<i64>>| -> ArrayRef {
            let array: ArrayRef = Arc::new(Int64Array::from(values));
            arrow::compute::cast(&array, &DataType::Timestamp(unit, Some("UTC".into()))).unwrap()
        };
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                ts(rows.iter().map(|r| r.1.time).collect()),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1.bytes))),
                ts(rows.iter().map(|r| r.1.start).collect()),
                ts(rows.iter().map(|r| r.1.end).collect()),
            ],
        )
        .unwrap()
    }

    /// How the query is planned and executed.
    #[derive(Debug, Clone, Copy)]
    enum Plan {
        /// One partition: a single aggregation phase.
        Single,
        /// Four partitions: Partial, repartition, Final (state / merge_batch).
        TwoPhase,
        /// Two phases, and the partial phase gives up after its first batch
        /// and passes rows on as state (convert_to_state).
        SkipPartial,
    }

    fn context(plan: Plan) -> SessionContext {
        let partitions = match plan {
            Plan::Single => 1,
            _ => 4,
        };
        let mut config = SessionConfig::new().with_target_partitions(partitions).with_batch_size(64);
        if let Plan::SkipPartial = plan {
            let options = &mut config.options_mut().execution;
            options.skip_partial_aggregation_probe_rows_threshold = 0;
            options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
        }
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udaf(AggregateUDF::from(BeaconScore::new()));
        ctx
    }

    /// Registers `rows` as table `t`, spread over `partitions` partitions of
    /// small batches in a shuffled order.
    fn register(ctx: &SessionContext, rng: &mut Rng, unit: TimeUnit, rows: &[(i64, Row)], partitions: usize) {
        let schema = schema(unit);
        let mut shuffled = rows.to_vec();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut parts = vec![Vec::new(); partitions];
        for (i, chunk) in shuffled.chunks(50).enumerate() {
            parts[i % partitions].push(batch(&schema, unit, chunk));
        }
        let table = MemTable::try_new(schema, parts).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
    }

    async fn scores_by_group(ctx: &SessionContext, sql: &str) -> HashMap<i64, Option<f64>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut scores = HashMap::new();
        for batch in batches {
            let groups = batch.column(0).as_primitive::<Int64Type>();
            let values = batch.column(1).as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..batch.num_rows() {
                let score = values.is_valid(i).then(|| values.value(i));
                assert!(scores.insert(groups.value(i), score).is_none(), "group {} twice", groups.value(i));
            }
        }
        scores
    }

    fn expected_by_group(rows: &[(i64, Row)], units_per_second: i64) -> HashMap<i64, Option<f64>> {
        let mut groups: HashMap<i64, Vec<Row>> = HashMap::new();
        for (g, row) in rows {
            groups.entry(*g).or_default().push(*row);
        }
        groups.into_iter().map(|(g, rows)| (g, reference::beacon_score(&rows, units_per_second as f64))).collect()
    }

    fn assert_same_scores(actual: &HashMap<i64, Option<f64>>, expected: &HashMap<i64, Option<f64>>) {
        assert_eq!(actual.len(), expected.len(), "number of groups");
        for (g, want) in expected {
            let got = actual.get(g).unwrap_or_else(|| panic!("group {g} missing"));
            match (got, want) {
                (Some(got), Some(want)) => {
                    assert!((got - want).abs() < 1e-9, "group {g}: got {got}, reference {want}");
                    assert!((0.0..=1.0).contains(got), "group {g}: {got} out of [0, 1]");
                }
                _ => assert_eq!(got, want, "group {g}"),
            }
        }
    }

    const GROUP_BY: &str = "SELECT g, beacon_score(time, bytes, ws, we) FROM t GROUP BY g";

    fn check_against_reference(seed: u64, groups: usize, unit: usize, plan: Plan) {
        let (unit, units_per_second) = time_unit(unit);
        let mut rng = Rng(seed);
        let rows = random_rows(&mut rng, groups, units_per_second);
        let expected = expected_by_group(&rows, units_per_second);
        let partitions = match plan {
            Plan::Single => 1,
            _ => 1 + rng.below(4) as usize,
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let ctx = context(plan);
            register(&ctx, &mut rng, unit, &rows, partitions);
            assert_same_scores(&scores_by_group(&ctx, GROUP_BY).await, &expected);

            // Without GROUP BY (the row accumulator, merged across partitions).
            let one = rows.first().map_or(0, |r| r.0);
            let sql = format!("SELECT {one}, beacon_score(time, bytes, ws, we) FROM t WHERE g = {one}");
            let actual = scores_by_group(&ctx, &sql).await;
            // An aggregate without GROUP BY returns one row even for no input: NULL.
            let expected_one: HashMap<_, _> = [(one, expected.get(&one).copied().flatten())].into_iter().collect();
            assert_same_scores(&actual, &expected_one);
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn matches_reference_in_one_phase(seed in any::<u64>(), groups in 1usize..120, unit in 0usize..4) {
            check_against_reference(seed, groups, unit, Plan::Single);
        }

        #[test]
        fn matches_reference_in_two_phases(seed in any::<u64>(), groups in 1usize..120, unit in 0usize..4) {
            check_against_reference(seed, groups, unit, Plan::TwoPhase);
        }

        #[test]
        fn matches_reference_when_partial_aggregation_is_skipped(seed in any::<u64>(), groups in 1usize..120, unit in 0usize..4) {
            check_against_reference(seed, groups, unit, Plan::SkipPartial);
        }
    }

    #[tokio::test]
    async fn two_phase_plans_really_merge_partial_states() {
        let mut rng = Rng(7);
        let rows = random_rows(&mut rng, 300, 1_000_000);
        let expected = expected_by_group(&rows, 1_000_000);
        // The data exercises both outcomes.
        let scores: Vec<f64> = expected.values().flatten().copied().collect();
        assert!(
            scores.len() > 100 && scores.len() < expected.len(),
            "{} of {} groups scored",
            scores.len(),
            expected.len()
        );
        assert!(scores.iter().any(|&s| s > 0.8) && scores.iter().any(|&s| s < 0.5));
        for plan in [Plan::TwoPhase, Plan::SkipPartial] {
            let ctx = context(plan);
            register(&ctx, &mut rng, TimeUnit::Microsecond, &rows, 4);
            let explain = ctx.sql(&format!("EXPLAIN ANALYZE {GROUP_BY}")).await.unwrap().collect().await.unwrap();
            let explain = arrow::util::pretty::pretty_format_batches(&explain).unwrap().to_string();
            assert!(explain.contains("mode=Partial"), "{plan:?}: no partial aggregation in\n{explain}");
            if let Plan::SkipPartial = plan {
                assert!(!explain.contains("skipped_aggregation_rows=0,"), "{plan:?}: nothing skipped in\n{explain}");
            }
            assert_same_scores(&scores_by_group(&ctx, GROUP_BY).await, &expected);
        }
    }

    #[tokio::test]
    async fn aggregate_filter_and_window_types() {
        let ctx = context(Plan::TwoPhase);
        // A 60 s beacon with a noisy extra row that the FILTER removes, and a
        // window given as a date and a string.
        let sql = "SELECT beacon_score(t, b, DATE '2026-11-02', '2026-11-03T00:00:00Z') FILTER (WHERE b < 1000) \
                   FROM (VALUES (TIMESTAMP '2026-11-02 00:00:00', 100), (TIMESTAMP '2026-11-02 00:01:00', 100), \
                                (TIMESTAMP '2026-11-02 00:02:00', 100), (TIMESTAMP '2026-11-02 00:03:00', 100), \
                                (TIMESTAMP '2026-11-02 00:03:07', 5000)) AS v(t, b)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let score = batches[0].column(0).as_primitive::<arrow::datatypes::Float64Type>().value(0);
        assert!((score - (1.0 + 1.0 + 0.0 + 1.0 / 12.0) / 4.0).abs() < 1e-12, "{score}");
    }

    #[tokio::test]
    async fn bad_argument_types_are_plan_errors() {
        let ctx = context(Plan::Single);
        for (sql, needle) in [
            ("SELECT beacon_score(1, 2, now(), now())", "time must be a timestamp"),
            ("SELECT beacon_score(now(), 1.5, now(), now())", "bytes must be an integer"),
            ("SELECT beacon_score(now(), 1, 3, now())", "window_start must be a timestamp"),
            ("SELECT beacon_score(now(), 1, now())", "takes 4 arguments"),
        ] {
            let err = ctx.sql(sql).await.unwrap_err().to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
    }

    #[test]
    fn empty_state_round_trips() {
        // A group that counted no row has NULL bounds and merges as nothing.
        let state = state_arrays(&[Connections::default()]).unwrap();
        assert!(state[2].is_null(0) && state[3].is_null(0));
        let mut acc = BeaconAccumulator { units_per_second: 1.0, connections: Connections::default() };
        acc.merge_batch(&state).unwrap();
        assert_eq!(acc.connections, Connections::default());
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Float64(None));
    }

    #[test]
    fn groups_accumulator_emits_first_groups_and_keeps_the_rest() {
        let mut acc = BeaconGroupsAccumulator { units_per_second: 1.0, groups: Vec::new(), allocated: 0 };
        let times: Vec<i64> = (0..8).map(|i| i * 60).collect();
        let values: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(times.clone())),
            Arc::new(Int64Array::from(vec![5; 8])),
            Arc::new(TimestampMicrosecondArray::from(vec![0; 8])),
            Arc::new(TimestampMicrosecondArray::from(vec![DAY; 8])),
        ];
        // Rows alternate between groups 0 and 1: four each.
        let groups: Vec<usize> = (0..8).map(|i| i % 2).collect();
        acc.update_batch(&values, &groups, None, 2).unwrap();
        assert!(acc.size() >= 4 * 4 * size_of::<i64>());
        let first = acc.state(EmitTo::First(1)).unwrap();
        assert_eq!(first[0].len(), 1);
        assert_eq!(acc.groups.len(), 1);
        let rest = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(rest.len(), 1);
        assert!(rest.is_valid(0));
        assert_eq!(acc.allocated, 0);
    }

    /// Throughput of the groups accumulator through SQL: 1M rows in 100k
    /// groups. Prints the time; run with `--ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore]
    async fn throughput_one_million_rows_in_100k_groups() {
        let mut rng = Rng(42);
        let (rows, groups) = (1_000_000usize, 100_000i64);
        let schema = schema(TimeUnit::Microsecond);
        let day = MONDAY * 1_000_000;
        let mut batches = Vec::new();
        for chunk in 0..rows / 8192 + 1 {
            let n = (rows - (chunk * 8192).min(rows)).min(8192);
            let data: Vec<(i64, Row)> = (0..n)
                .map(|_| {
                    let time = Some(day + rng.below(DAY as u64 * 1_000_000));
                    (
                        rng.below(groups as u64),
                        Row {
                            time,
                            bytes: Some(rng.below(10_000)),
                            start: Some(day),
                            end: Some(day + DAY * 1_000_000),
                        },
                    )
                })
                .collect();
            if n > 0 {
                batches.push(batch(&schema, TimeUnit::Microsecond, &data));
            }
        }
        let partitions: Vec<Vec<RecordBatch>> =
            (0..4).map(|p| batches.iter().skip(p).step_by(4).cloned().collect()).collect();
        let ctx = context(Plan::TwoPhase);
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, partitions).unwrap())).unwrap();
        let started = Instant::now();
        let scores = scores_by_group(&ctx, GROUP_BY).await;
        let elapsed = started.elapsed();
        let scored = scores.values().filter(|s| s.is_some()).count();
        println!(
            "beacon_score: {rows} rows, {} groups ({scored} scored) in {elapsed:?} ({:.1} M rows/s)",
            scores.len(),
            rows as f64 / elapsed.as_secs_f64() / 1e6
        );
        // For scale: a built-in aggregate that also keeps every value.
        let started = Instant::now();
        ctx.sql("SELECT g, median(bytes) FROM t GROUP BY g").await.unwrap().collect().await.unwrap();
        println!("median (built-in, for comparison): {:?}", started.elapsed());
    }
}
