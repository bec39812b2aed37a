//! End-to-end checks of the rarity functions through SQL: a property test
//! against a brute-force O(n^2) reading of `functions.md`, planning errors,
//! and an ignored throughput check. Also the helpers the per-function unit
//! tests use to build partitions.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
    TimestampMillisecondArray, TimestampSecondArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, IntervalMonthDayNano, Schema, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

use super::functions;

// ---------------------------------------------------------------------------
// Helpers for unit tests: one partition in the ordered form (entity, value,
// param, time in seconds).

pub(crate) fn ordered_columns(rows: &[(Option<&str>, Option<&str>, i64)], param: ScalarValue) -> Vec<ArrayRef> {
    let entity: StringArray = rows.iter().map(|r| r.0).collect();
    let value: StringArray = rows.iter().map(|r| r.1).collect();
    let time: TimestampSecondArray = rows.iter().map(|r| Some(r.2)).collect();
    vec![Arc::new(entity), Arc::new(value), param.to_array_of_size(rows.len()).unwrap(), Arc::new(time)]
}

pub(crate) fn no_param() -> ScalarValue {
    ScalarValue::Null
}

pub(crate) fn days(days: i32) -> ScalarValue {
    ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano { months: 0, days, nanoseconds: 0 }))
}

pub(crate) fn seconds(seconds: i64) -> ScalarValue {
    ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano {
        months: 0,
        days: 0,
        nanoseconds: seconds * 1_000_000_000,
    }))
}

pub(crate) fn float64s(array: &ArrayRef) -> Vec<Option<f64>> {
    array.as_primitive::<Float64Type>().iter().collect()
}

pub(crate) fn booleans(array: &ArrayRef) -> Vec<Option<bool>> {
    array.as_boolean().iter().collect()
}

fn context() -> SessionContext {
    let ctx = SessionContext::new();
    for function in functions() {
        ctx.register_udwf(function.as_ref().clone());
    }
    ctx
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

// ---------------------------------------------------------------------------
// Brute force: the definitions of functions.md, row by row, O(n^2).

#[derive(Debug, Clone)]
struct Event {
    scope: i32,
    entity: Option<u8>,
    value: Option<u8>,
    /// Seconds; the table stores milliseconds (timestamp) and seconds (integer).
    time: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Expected {
    entity_surprise: Option<f64>,
    population_surprise: Option<f64>,
    unusualness: Option<f64>,
    first_seen: Option<bool>,
}

fn brute_force(events: &[Event], half_life: Option<f64>, lookback: Option<i64>) -> Vec<Expected> {
    events
        .iter()
        .map(|row| {
            let (Some(entity), Some(now)) = (row.entity, row.time) else {
                return Expected {
                    entity_surprise: None,
                    population_surprise: None,
                    unusualness: None,
                    first_seen: None,
                };
            };
            let history: Vec<&Event> = events
                .iter()
                .filter(|j| j.scope == row.scope && j.entity.is_some() && j.time.is_some_and(|t| t < now))
                .collect();
            let weight = |j: &Event| half_life.map_or(1.0, |h| (-((now - j.time.unwrap()) as f64) / h).exp2());
            let mine: Vec<&&Event> = history.iter().filter(|j| j.entity == Some(entity)).collect();
            let matches = |j: &Event| row.value.is_some() && j.value == row.value;
            let n_e: f64 = mine.iter().map(|j| weight(j)).sum();
            let c_ev: f64 = mine.iter().filter(|j| matches(j)).map(|j| weight(j)).sum();
            let mut with_value: Vec<u8> = history.iter().filter(|j| matches(j)).map(|j| j.entity.unwrap()).collect();
            with_value.sort();
            with_value.dedup();
            let mut all: Vec<u8> = history.iter().map(|j| j.entity.unwrap()).collect();
            all.sort();
            all.dedup();
            let (d_v, e) = (with_value.len() as f64, all.len() as f64);
            let pi = (d_v + 1.0) / (e + 2.0);
            let p = (c_ev + 10.0 * pi) / (n_e + 10.0);
            let seen_recently =
                mine.iter().any(|j| matches(j) && lookback.is_none_or(|lookback| now - lookback <= j.time.unwrap()));
            Expected {
                entity_surprise: Some(((n_e + 1.0) / (c_ev + 1.0)).log2()),
                population_surprise: Some(-pi.log2()),
                unusualness: Some(100.0 * (-p.log2() / 16.0).min(1.0)),
                first_seen: Some(!seen_recently),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The same through SQL.

/// How the property test writes its query.
#[derive(Debug, Clone, Copy)]
struct Query {
    /// Order by the integer `ts` (seconds) instead of the timestamp `t` (ms).
    integer_time: bool,
    /// Which column holds the value: 0 Utf8, 1 Utf8View, 2 Int64.
    value_column: u8,
    descending: bool,
    half_life_seconds: Option<u32>,
    lookback_seconds: Option<u32>,
}

fn events_table(events: &[Event]) -> Arc<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("p", DataType::Int32, false),
        Field::new("e", DataType::Utf8, true),
        Field::new("v", DataType::Utf8, true),
        Field::new("vv", DataType::Utf8View, true),
        Field::new("vi", DataType::Int64, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("ts", DataType::Int64, true),
    ]));
    let batch = |rows: &[(usize, &Event)]| {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|(id, _)| *id as i64).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|(_, r)| r.scope).collect::<Int32Array>()),
            Arc::new(rows.iter().map(|(_, r)| r.entity.map(|e| format!("pc{e}"))).collect::<StringArray>()),
            Arc::new(rows.iter().map(|(_, r)| r.value.map(|v| format!("alert {v}"))).collect::<StringArray>()),
            Arc::new(rows.iter().map(|(_, r)| r.value.map(|v| format!("alert {v}"))).collect::<StringViewArray>()),
            Arc::new(rows.iter().map(|(_, r)| r.value.map(i64::from)).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|(_, r)| r.time.map(|t| t * 1000)).collect::<TimestampMillisecondArray>()),
            Arc::new(rows.iter().map(|(_, r)| r.time).collect::<Int64Array>()),
        ];
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    };
    // Two input partitions, rows interleaved, so the plan must shuffle and sort.
    let numbered: Vec<(usize, &Event)> = events.iter().enumerate().collect();
    let (even, odd): (Vec<_>, Vec<_>) = numbered.into_iter().partition(|(id, _)| id % 2 == 0);
    Arc::new(MemTable::try_new(schema.clone(), vec![vec![batch(&even)], vec![batch(&odd)]]).unwrap())
}

fn run_sql(events: &[Event], query: Query) -> Vec<Expected> {
    let time = if query.integer_time { "ts" } else { "t" };
    let value = ["v", "vv", "vi"][query.value_column as usize];
    let span = |seconds: u32| {
        if query.integer_time {
            format!(", {seconds}")
        } else {
            format!(", INTERVAL '{seconds} seconds'")
        }
    };
    let half_life = query.half_life_seconds.map(span).unwrap_or_default();
    let lookback = query.lookback_seconds.map(span).unwrap_or_default();
    let direction = if query.descending { "DESC" } else { "ASC" };
    let over = format!("OVER (PARTITION BY p ORDER BY {time} {direction})");
    let sql = format!(
        "SELECT id, entity_surprise(e, {value}{half_life}) {over} AS es, population_surprise(e, {value}) {over} AS ps, \
         unusualness(e, {value}{half_life}) {over} AS un, first_seen(e, {value}{lookback}) {over} AS fs \
         FROM events ORDER BY id"
    );
    let ctx = context();
    ctx.register_table("events", events_table(events)).unwrap();
    let batches = runtime().block_on(async { ctx.sql(&sql).await?.collect().await }).unwrap();
    let mut out = Vec::new();
    for batch in batches {
        let es = float64s(batch.column(1));
        let ps = float64s(batch.column(2));
        let un = float64s(batch.column(3));
        let fs = booleans(batch.column(4));
        for row in 0..batch.num_rows() {
            out.push(Expected {
                entity_surprise: es[row],
                population_surprise: ps[row],
                unusualness: un[row],
                first_seen: fs[row],
            });
        }
    }
    out
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        (a, b) => a == b,
    }
}

fn event() -> impl Strategy<Value = Event> {
    (
        0..3i32,
        prop::option::weighted(0.9, 0..5u8),
        prop::option::weighted(0.85, 0..4u8),
        prop::option::weighted(0.95, 0..8i64),
    )
        .prop_map(|(scope, entity, value, time)| Event { scope, entity, value, time })
}

fn query() -> impl Strategy<Value = Query> {
    (any::<bool>(), 0..3u8, prop::bool::weighted(0.2), prop::option::of(1..5u32), prop::option::of(0..4u32)).prop_map(
        |(integer_time, value_column, descending, half_life_seconds, lookback_seconds)| Query {
            integer_time,
            value_column,
            descending,
            half_life_seconds,
            lookback_seconds,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Few timestamps, entities and values, so ties, repeats and NULLs are
    /// everywhere; three partitions; with and without half-life and lookback.
    #[test]
    fn sql_matches_the_definitions(events in prop::collection::vec(event(), 0..60), query in query()) {
        let got = run_sql(&events, query);
        let expected = brute_force(
            &events,
            query.half_life_seconds.map(f64::from),
            query.lookback_seconds.map(i64::from),
        );
        prop_assert_eq!(got.len(), expected.len());
        for (row, (got, expected)) in got.iter().zip(&expected).enumerate() {
            let ok = close(got.entity_surprise, expected.entity_surprise)
                && close(got.population_surprise, expected.population_surprise)
                && close(got.unusualness, expected.unusualness)
                && got.first_seen == expected.first_seen;
            prop_assert!(ok, "row {} ({:?}): got {:?}, expected {:?}", row, events[row], got, expected);
        }
    }
}

// ---------------------------------------------------------------------------
// Planning through SQL.

fn sql_error(sql: &str) -> String {
    let ctx = context();
    runtime().block_on(async {
        let result = async { ctx.sql(sql).await?.collect().await }.await;
        result.expect_err(sql).to_string()
    })
}

const DATA: &str = "(VALUES ('pc1', 'a', TIMESTAMP '2026-01-01 00:00:00', 'x')) AS d(e, v, t, s)";

#[test]
fn calls_without_a_single_time_ordering_are_plan_errors() {
    let cases = [
        ("entity_surprise(e, v) OVER ()", "needs OVER (ORDER BY time)"),
        ("population_surprise(e, v) OVER (PARTITION BY s)", "needs OVER (ORDER BY time)"),
        ("unusualness(e, v) OVER (ORDER BY t, e)", "exactly one ORDER BY"),
        ("first_seen(e, v) OVER (ORDER BY s)", "must be a timestamp, date or integer"),
        ("entity_surprise(e, v, INTERVAL '1 month') OVER (ORDER BY t)", "months"),
        ("unusualness(e, v, INTERVAL '0 days') OVER (ORDER BY t)", "must be positive"),
        ("first_seen(e, v, INTERVAL '-1 day') OVER (ORDER BY t)", "must not be negative"),
        ("entity_surprise(e, v, 10) OVER (ORDER BY t)", "must be an INTERVAL"),
        ("entity_surprise(e, v, t - t) OVER (ORDER BY t)", "must be a constant"),
        ("population_surprise(e, v, INTERVAL '1 day') OVER (ORDER BY t)", "takes 2 arguments"),
        ("first_seen(e) OVER (ORDER BY t)", "takes 2 or 3 arguments"),
        ("first_seen(e, v, 's') OVER (ORDER BY t)", "must be an INTERVAL"),
    ];
    for (call, message) in cases {
        let error = sql_error(&format!("SELECT {call} FROM {DATA}"));
        assert!(error.contains(message), "{call}: expected '{message}' in: {error}");
        assert!(error.contains("Error during planning"), "{call} should be a plan error: {error}");
    }
}

#[test]
fn integer_time_takes_numbers() {
    let error = sql_error(
        "SELECT first_seen(e, v, INTERVAL '1 day') OVER (ORDER BY n) FROM (VALUES ('a', 'b', 1)) AS d(e, v, n)",
    );
    assert!(error.contains("must be a number in the units of the ORDER BY column"), "{error}");
}

#[test]
fn output_column_keeps_the_name_the_user_wrote() {
    let ctx = context();
    let sql = format!(
        "SELECT unusualness(e, v) OVER (ORDER BY t), first_seen(e, v, INTERVAL '1 day') OVER (ORDER BY t) FROM {DATA}"
    );
    runtime().block_on(async {
        let df = ctx.sql(&sql).await.unwrap();
        let planned: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let batches = df.collect().await.unwrap();
        let produced: Vec<String> = batches[0].schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(planned, produced);
        assert!(planned[0].starts_with("unusualness(d.e,d.v) ORDER BY"), "{planned:?}");
    });
}

#[test]
fn date_ordering_and_timezones() {
    let ctx = context();
    let sql = "SELECT first_seen(e, v, INTERVAL '1 day') OVER (ORDER BY d) AS a, \
               entity_surprise(e, v, INTERVAL '1 day') OVER (ORDER BY ts) AS b \
               FROM (VALUES ('pc1', 'x', DATE '2026-01-01', TIMESTAMPTZ '2026-01-01T00:00:00Z'), \
                            ('pc1', 'x', DATE '2026-01-02', TIMESTAMPTZ '2026-01-02T00:00:00Z'), \
                            ('pc1', 'x', DATE '2026-01-04', TIMESTAMPTZ '2026-01-04T00:00:00Z')) AS t(e, v, d, ts) \
               ORDER BY d";
    let batches = runtime().block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
    assert_eq!(booleans(batches[0].column(0)), vec![Some(true), Some(false), Some(true)]);
    // Row 3: weights 2^-3 and 2^-2, all of the same value: N = C.
    assert_eq!(float64s(batches[0].column(1)), vec![Some(0.0); 3]);
}

/// A plan that already carries its time (optimized before, then resolved by
/// name, e.g. on a distributed executor) runs as is.
#[test]
fn the_ordered_form_resolves_by_name() {
    let ctx = context();
    let sql = "SELECT entity_surprise(e, v, NULL, n) OVER (ORDER BY n), first_seen(e, v, 1, n) OVER (ORDER BY n) \
               FROM (VALUES ('pc1', 'a', 1), ('pc1', 'b', 2), ('pc1', 'a', 4)) AS t(e, v, n) ORDER BY n";
    let batches = runtime().block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
    assert_eq!(float64s(batches[0].column(0)), vec![Some(0.0), Some(1.0), Some((3.0f64 / 2.0).log2())]);
    assert_eq!(booleans(batches[0].column(1)), vec![Some(true), Some(true), Some(true)]);
}

#[test]
fn the_window_frame_is_ignored() {
    let ctx = context();
    let sql = "SELECT entity_surprise(e, v) OVER (ORDER BY n ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), \
                      entity_surprise(e, v) OVER (ORDER BY n RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) \
               FROM (VALUES ('pc1', 'a', 1), ('pc1', 'b', 2), ('pc1', 'c', 3)) AS t(e, v, n) ORDER BY n";
    let batches = runtime().block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
    let expected = vec![Some(0.0), Some(1.0), Some(3f64.log2())];
    assert_eq!(float64s(batches[0].column(0)), expected);
    assert_eq!(float64s(batches[0].column(1)), expected);
}

#[test]
fn dictionary_and_large_strings_compare_by_value() {
    let ctx = context();
    let sql =
        "SELECT first_seen(arrow_cast(e, 'Dictionary(Int32, Utf8)'), arrow_cast(v, 'LargeUtf8')) OVER (ORDER BY n) \
               FROM (VALUES ('pc1', 'a', 1), ('pc1', 'a', 2), ('pc2', 'a', 3)) AS t(e, v, n) ORDER BY n";
    let batches = runtime().block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
    assert_eq!(booleans(batches[0].column(0)), vec![Some(true), Some(false), Some(true)]);
}

// ---------------------------------------------------------------------------
// Throughput: `cargo test -p udfs rarity::tests::throughput -- --ignored --nocapture`.

#[test]
#[ignore = "timing only; run by hand"]
fn throughput_one_million_rows() {
    const ROWS: usize = 1_000_000;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let entity: StringArray = (0..ROWS).map(|_| Some(format!("host-{}", next() % 10_000))).collect();
    let value: StringArray = (0..ROWS).map(|_| Some(format!("vendor:alert title {}", next() % 2_000))).collect();
    // Ten rows per millisecond: plenty of ties.
    let time: TimestampMillisecondArray = (0..ROWS as i64).map(|i| Some(i / 10)).collect();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(entity), Arc::new(value), days(7).to_array_of_size(ROWS).unwrap(), Arc::new(time)];

    let udf = super::unusualness::Unusualness::new();
    let mut evaluator = datafusion::logical_expr::WindowUDFImpl::partition_evaluator(
        &udf,
        datafusion::logical_expr::function::PartitionEvaluatorArgs::new(&[], &[], false, false),
    )
    .unwrap();
    let start = Instant::now();
    let result = evaluator.evaluate_all(&columns, ROWS).unwrap();
    let engine = start.elapsed();
    assert_eq!(result.len(), ROWS);
    println!(
        "unusualness with half_life, {ROWS} rows in one partition, evaluator only: {engine:?} ({:.0} rows/s)",
        ROWS as f64 / engine.as_secs_f64()
    );

    let schema = Arc::new(Schema::new(vec![
        Field::new("e", DataType::Utf8, true),
        Field::new("v", DataType::Utf8, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![columns[0].clone(), columns[1].clone(), columns[3].clone()]).unwrap();
    let ctx = context();
    ctx.register_table("alerts", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
    let sql = "SELECT count(*), sum(u), sum(CASE WHEN f THEN 1 ELSE 0 END) FROM (SELECT \
               unusualness(e, v, INTERVAL '7 days') OVER (ORDER BY t) AS u, first_seen(e, v) OVER (ORDER BY t) AS f FROM alerts)";
    let start = Instant::now();
    let batches = runtime().block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
    let total = start.elapsed();
    assert_eq!(batches[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), ROWS as i64);
    println!(
        "unusualness + first_seen through SQL (incl. sort), {ROWS} rows: {total:?} ({:.0} rows/s)",
        ROWS as f64 / total.as_secs_f64()
    );
    let _ = batches[0].column(1).len();
}
