//! The one-pass engine behind the rarity functions: walks a partition in time
//! order and reports, for every row, the history counts of `functions.md`
//! (`N_e`, `C_ev`, `D_v`, `E`, plus the last time the entity had the value).
//!
//! Entities and values are first interned to dense ids, so the state is a few
//! vectors and one hash map keyed by `(entity, value)`:
//!
//! * per entity: the decayed row count `N_e` as of the entity's last row;
//! * per `(entity, value)`: the decayed count `C_ev` and the last time seen;
//! * per value: `D_v`, bumped when an `(entity, value)` pair first occurs;
//! * `E`, bumped when an entity first occurs.
//!
//! A decayed sum is kept as of its last update `t0` and brought forward on
//! demand: `S(t) = S(t0) * 2^(-(t - t0) / half_life)`, so a row costs O(1).
//! Rows sharing a timestamp form a group: every row of the group reads the
//! state left by earlier groups, then the whole group is applied, so equal
//! timestamps never see each other whatever their physical order.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Int64Type};
use arrow::row::{RowConverter, SortField};
use datafusion::common::{HashMap, Result};

use super::plan::Bound;

/// What history says about one row. Counts are decayed when a half-life was
/// given; `d_v` and `e` never are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observation {
    /// Weighted number of history rows of this entity.
    pub n_e: f64,
    /// Weighted number of history rows of this entity with this value.
    pub c_ev: f64,
    /// Distinct entities with a history row of this value.
    pub d_v: u64,
    /// Distinct entities with any history row.
    pub e: u64,
    /// `time_i - time_j` for the latest history row j of this entity with this
    /// value, in ticks of the time column; `None` when there is none.
    pub since_last_match: Option<i128>,
}

/// Walks the partition and calls `emit(row, observation)` once for every row
/// whose entity and time are not NULL, in time order. Rows with a NULL entity
/// or time are skipped and are nobody's history.
pub(crate) fn scan(
    call: &Bound<'_>,
    half_life_ticks: Option<f64>,
    mut emit: impl FnMut(usize, &Observation),
) -> Result<()> {
    let (entity_ids, n_entities) = intern(call.entity)?;
    let (value_ids, n_values) = intern(call.value)?;
    let times = ticks(call.time)?;
    let order = time_order(&entity_ids, &times);
    let times = times.values();

    let decay = |from: i64, to: i64| match half_life_ticks {
        None => 1.0,
        Some(half_life) => (-((i128::from(to) - i128::from(from)) as f64) / half_life).exp2(),
    };
    // Per entity: (decayed N_e as of `at`, at); `at` is the entity's last row.
    let mut entities: Vec<Option<(f64, i64)>> = vec![None; n_entities];
    // Per (entity, value): (decayed C_ev as of `at`, at); `at` is also the last time seen.
    let mut pairs: HashMap<u64, (f64, i64)> = HashMap::default();
    let mut distinct_entities_by_value = vec![0u64; n_values];
    let mut distinct_entities = 0u64;

    let mut start = 0;
    while start < order.len() {
        let now = times[order[start]];
        let end = start + order[start..].iter().take_while(|&&row| times[row] == now).count();
        let group = &order[start..end];
        for &row in group {
            let entity = entity_ids[row].expect("rows with a NULL entity are not ordered");
            let n_e = entities[entity as usize].map_or(0.0, |(sum, at)| sum * decay(at, now));
            let (c_ev, d_v, since_last_match) = match value_ids[row] {
                None => (0.0, 0, None),
                Some(value) => {
                    let d_v = distinct_entities_by_value[value as usize];
                    match pairs.get(&pair_key(entity, value)) {
                        None => (0.0, d_v, None),
                        Some(&(sum, at)) => (sum * decay(at, now), d_v, Some(i128::from(now) - i128::from(at))),
                    }
                }
            };
            let observation = Observation { n_e, c_ev, d_v, e: distinct_entities, since_last_match };
            emit(row, &observation);
        }
        for &row in group {
            let entity = entity_ids[row].expect("rows with a NULL entity are not ordered");
            let state = &mut entities[entity as usize];
            *state = Some(match *state {
                None => {
                    distinct_entities += 1;
                    (1.0, now)
                }
                Some((sum, at)) => (sum * decay(at, now) + 1.0, now),
            });
            if let Some(value) = value_ids[row] {
                let pair = pairs.entry(pair_key(entity, value)).or_insert_with(|| {
                    distinct_entities_by_value[value as usize] += 1;
                    (0.0, now)
                });
                *pair = (pair.0 * decay(pair.1, now) + 1.0, now);
            }
        }
        start = end;
    }
    Ok(())
}

fn pair_key(entity: u32, value: u32) -> u64 {
    (u64::from(entity) << 32) | u64::from(value)
}

/// Rows with a non-NULL entity and time, sorted by time. The input normally
/// arrives sorted by the window's ORDER BY already (checked in O(n)); any
/// other order (DESC, or a plan that did not sort) is sorted here, so the
/// result never depends on how the rows were fed.
fn time_order(entity_ids: &[Option<u32>], times: &Int64Array) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..times.len()).filter(|&row| entity_ids[row].is_some() && times.is_valid(row)).collect();
    let values = times.values();
    if !order.windows(2).all(|pair| values[pair[0]] <= values[pair[1]]) {
        order.sort_by_key(|&row| values[row]);
    }
    order
}

/// The time column as i64 ticks (its own unit: ns, us, ms, s, days or the
/// integer's own units).
fn ticks(time: &ArrayRef) -> Result<Int64Array> {
    let options = CastOptions { safe: false, ..Default::default() };
    let ticks = match time.data_type() {
        DataType::Int64 => time.clone(),
        _ => cast_with_options(time, &DataType::Int64, &options)?,
    };
    Ok(ticks.as_primitive::<Int64Type>().clone())
}

/// Maps each non-NULL element to a dense id (equal elements, equal ids).
/// Returns the ids and the number of distinct elements.
fn intern(array: &ArrayRef) -> Result<(Vec<Option<u32>>, usize)> {
    Ok(match array.data_type() {
        DataType::Null => (vec![None; array.len()], 0),
        DataType::Utf8 => intern_bytes(array.as_string::<i32>().iter().map(|s| s.map(str::as_bytes))),
        DataType::LargeUtf8 => intern_bytes(array.as_string::<i64>().iter().map(|s| s.map(str::as_bytes))),
        DataType::Utf8View => intern_bytes(array.as_string_view().iter().map(|s| s.map(str::as_bytes))),
        data_type => {
            // Any other type: compare by its row-format encoding, which is
            // equal exactly when the values are equal.
            let converter = RowConverter::new(vec![SortField::new(data_type.clone())])?;
            let rows = converter.convert_columns(std::slice::from_ref(array))?;
            let nulls = array.logical_nulls();
            let valid = |row: usize| nulls.as_ref().is_none_or(|nulls| nulls.is_valid(row));
            intern_bytes((0..array.len()).map(|row| valid(row).then(|| rows.row(row).data())))
        }
    })
}

fn intern_bytes<'a>(items: impl Iterator<Item = Option<&'a [u8]>>) -> (Vec<Option<u32>>, usize) {
    let mut ids: HashMap<&'a [u8], u32> = HashMap::default();
    let interned = items
        .map(|item| {
            item.map(|bytes| {
                let next = ids.len() as u32;
                *ids.entry(bytes).or_insert(next)
            })
        })
        .collect();
    (interned, ids.len())
}

/// Runs [`scan`] and collects `score(observation)` per row into a Float64
/// column; rows that are not scored (NULL entity or time) are NULL.
pub(crate) fn float64_column(
    call: &Bound<'_>,
    half_life_ticks: Option<f64>,
    score: impl Fn(&Observation) -> f64,
) -> Result<ArrayRef> {
    let rows = call.entity.len();
    let mut values = vec![0.0; rows];
    let mut valid = vec![false; rows];
    scan(call, half_life_ticks, |row, observation| {
        values[row] = score(observation);
        valid[row] = true;
    })?;
    Ok(Arc::new(Float64Array::new(values.into(), Some(NullBuffer::from(valid)))))
}

/// Like [`float64_column`] for a Boolean result.
pub(crate) fn boolean_column(
    call: &Bound<'_>,
    half_life_ticks: Option<f64>,
    test: impl Fn(&Observation) -> bool,
) -> Result<ArrayRef> {
    let rows = call.entity.len();
    let mut values = vec![false; rows];
    let mut valid = vec![false; rows];
    scan(call, half_life_ticks, |row, observation| {
        values[row] = test(observation);
        valid[row] = true;
    })?;
    Ok(Arc::new(BooleanArray::new(BooleanBuffer::from(values), Some(NullBuffer::from(valid)))))
}
