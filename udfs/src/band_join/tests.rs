//! SQL-level tests: band joins planned with [`physical_optimizer_rules`]
//! (the way the engine builds its sessions) must return exactly what plain
//! DataFusion returns, on random tables with heavy-hitter keys, many equal
//! times, NULL keys and times, several partitions and tiny batches.

use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::{displayable, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;

use super::*;

/// Microseconds in the unit of generated times (30 seconds), so that band
/// bounds in whole minutes often fall exactly on a row's time.
const UNIT_MICROS: i64 = 30_000_000;

#[derive(Debug, Clone)]
struct Row {
    key: Option<u8>,
    /// Time in 30-second units.
    time: Option<i64>,
    value: i32,
}

fn schema(value: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("n", DataType::Int32, true),
        Field::new(value, DataType::Int32, false),
    ]))
}

fn batch(schema: &SchemaRef, rows: &[Row]) -> RecordBatch {
    let keys: StringArray = rows.iter().map(|r| r.key.map(|k| format!("host-{k}"))).collect();
    let times: TimestampMicrosecondArray = rows.iter().map(|r| r.time.map(|t| t * UNIT_MICROS)).collect();
    let ints: Int32Array = rows.iter().map(|r| r.time.map(|t| t as i32)).collect();
    let values: Int32Array = rows.iter().map(|r| Some(r.value)).collect();
    RecordBatch::try_new(
        Arc::clone(schema),
        vec![Arc::new(keys), Arc::new(times.with_timezone("UTC")), Arc::new(ints), Arc::new(values)],
    )
    .unwrap()
}

/// `rows` split round-robin into `partitions` partitions of small batches.
fn mem_table(value: &str, rows: &[Row], partitions: usize) -> MemTable {
    let schema = schema(value);
    let mut parts: Vec<Vec<Row>> = vec![Vec::new(); partitions];
    for (i, row) in rows.iter().enumerate() {
        parts[i % partitions].push(row.clone());
    }
    let batches = parts.iter().map(|part| part.chunks(7).map(|chunk| batch(&schema, chunk)).collect()).collect();
    MemTable::try_new(schema, batches).unwrap()
}

fn config(target_partitions: usize, batch_size: usize) -> SessionConfig {
    SessionConfig::new().with_target_partitions(target_partitions).with_batch_size(batch_size)
}

/// A session planned like the engine's: default rules plus the band join.
fn band_context(config: SessionConfig) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(physical_optimizer_rules(PhysicalOptimizer::new().rules))
        .build();
    SessionContext::new_with_state(state)
}

fn plain_context(config: SessionConfig) -> SessionContext {
    SessionContext::new_with_config(config)
}

fn register(ctx: &SessionContext, left: &[Row], right: &[Row], left_parts: usize, right_parts: usize) {
    ctx.register_table("l", Arc::new(mem_table("x", left, left_parts))).unwrap();
    ctx.register_table("r", Arc::new(mem_table("y", right, right_parts))).unwrap();
}

async fn plan(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap()
}

fn plan_text(plan: &Arc<dyn ExecutionPlan>) -> String {
    displayable(plan.as_ref()).indent(true).to_string()
}

/// Result rows as strings, in output order.
async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in &batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            out.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The queries of one case: `{J}` is the join kind, `{a}`/`{b}` minutes
/// below/above the left time, `{a2}`/`{b2}` the same in integer units.
const QUERIES: &[&str] = &[
    // the issue's shape
    "SELECT * FROM l {J} r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes'",
    // half-open, with a projection
    "SELECT l.x, r.y, r.t FROM l {J} r ON l.k = r.k AND r.t >= l.t - INTERVAL '{a} minutes' AND r.t < l.t + INTERVAL '{b} minutes'",
    // the left time on the left of the comparisons, strict lower bound
    "SELECT * FROM l {J} r ON r.k = l.k AND l.t - INTERVAL '{a} minutes' < r.t AND l.t + INTERVAL '{b} minutes' >= r.t",
    // the band written on the left time
    "SELECT r.k, r.t, l.t, l.x FROM l {J} r ON l.k = r.k AND l.t BETWEEN r.t - INTERVAL '{b} minutes' AND r.t + INTERVAL '{a} minutes'",
    // no equality key
    "SELECT * FROM l {J} r ON r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes'",
    // a residual conjunct
    "SELECT * FROM l {J} r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes' AND NULLIF(r.y, 0) >= l.x",
    // two equality keys, one of them an expression
    "SELECT * FROM l {J} r ON upper(l.k) = upper(r.k) AND l.x = r.y AND r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes'",
    // integer times (Int32 columns against Int64 constants)
    "SELECT l.k, l.n, l.x, r.n, r.y FROM l {J} r ON l.k = r.k AND r.n BETWEEN l.n - {a2} AND l.n + {b2}",
    // ordered output: DataFusion may rely on the order the band join
    // declares instead of sorting (the ORDER BY columns come first)
    "SELECT l.k, l.t, l.x, r.t, r.y FROM l {J} r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes' ORDER BY l.k NULLS FIRST, l.t NULLS FIRST, l.x, r.t, r.y",
    "SELECT l.k, l.t, r.t, l.x, r.y FROM l {J} r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '{a} minutes' AND l.t + INTERVAL '{b} minutes' ORDER BY l.k NULLS FIRST, l.t NULLS FIRST, r.t NULLS FIRST",
    "SELECT l.k, l.t, l.x, r.y FROM l {J} r ON l.k = r.k AND r.t >= l.t AND r.t <= l.t + INTERVAL '{b} minutes' ORDER BY l.k NULLS FIRST, l.t NULLS FIRST",
];

/// Number of ORDER BY columns of `sql` (0 without ORDER BY).
fn order_by_len(sql: &str) -> usize {
    sql.split_once("ORDER BY").map_or(0, |(_, keys)| keys.split(',').count())
}

/// The first `n` columns of formatted rows.
fn prefix(rows: &[String], n: usize) -> Vec<String> {
    rows.iter().map(|r| r.split('|').take(n).collect::<Vec<_>>().join("|")).collect()
}

fn query(template: &str, join: &str, a: i64, b: i64) -> String {
    template
        .replace("{J}", join)
        .replace("{a2}", &(2 * a).to_string())
        .replace("{b2}", &(2 * b).to_string())
        .replace("{a}", &a.to_string())
        .replace("{b}", &b.to_string())
}

#[derive(Debug, Clone)]
struct Case {
    left: Vec<Row>,
    right: Vec<Row>,
    left_parts: usize,
    right_parts: usize,
    target_partitions: usize,
    batch_size: usize,
    join: &'static str,
    /// Minutes below the left time (the lower bound is `t - a`).
    a: i64,
    /// Minutes above the left time.
    b: i64,
}

fn row() -> impl Strategy<Value = Row> {
    let key = prop_oneof![4 => Just(Some(0u8)), 4 => (1u8..6).prop_map(Some), 1 => Just(None)];
    let time = prop_oneof![9 => (0i64..60).prop_map(Some), 1 => Just(None)];
    (key, time, 0i32..4).prop_map(|(key, time, value)| Row { key, time, value })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(row(), 0..40),
        prop::collection::vec(row(), 0..120),
        1usize..4,
        1usize..4,
        1usize..5,
        prop_oneof![Just(1usize), 2usize..9, Just(8192)],
        prop::sample::select(vec!["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]),
        -1i64..5,
        -2i64..6,
    )
        .prop_map(|(left, right, left_parts, right_parts, target_partitions, batch_size, join, a, b)| Case {
            left,
            right,
            left_parts,
            right_parts,
            target_partitions,
            batch_size,
            join,
            a,
            b,
        })
}

async fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let config = config(case.target_partitions, case.batch_size);
    let band = band_context(config.clone());
    let plain = plain_context(config);
    for ctx in [&band, &plain] {
        register(ctx, &case.left, &case.right, case.left_parts, case.right_parts);
    }
    for template in QUERIES {
        let sql = query(template, case.join, case.a, case.b);
        let band_plan = plan_text(&plan(&band, &sql).await);
        prop_assert!(band_plan.contains("BandJoinExec"), "no BandJoinExec for {sql}:\n{band_plan}");
        prop_assert!(!plan_text(&plan(&plain, &sql).await).contains("BandJoinExec"));
        let mut got = rows(&band, &sql).await;
        let mut want = rows(&plain, &sql).await;
        // Sorted output has one sequence of ORDER BY values.
        let keys = order_by_len(&sql);
        prop_assert_eq!(prefix(&got, keys), prefix(&want, keys), "{}\n{}", sql, band_plan);
        got.sort();
        want.sort();
        prop_assert_eq!(got, want, "{}\n{}", sql, band_plan);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn band_join_equals_plain_datafusion(case in case()) {
        runtime().block_on(check_case(&case))?;
    }
}

/// Rows from compact `(key, time)` pairs (value 0; `None` as given).
fn rows_of(pairs: &[(Option<u8>, Option<i64>)]) -> Vec<Row> {
    pairs.iter().enumerate().map(|(i, &(key, time))| Row { key, time, value: (i % 3) as i32 }).collect()
}

#[test]
fn rule_sits_after_join_selection_and_before_ensure_requirements() {
    let rules = physical_optimizer_rules(PhysicalOptimizer::new().rules);
    let names: Vec<String> = rules.iter().map(|r| r.name().to_string()).collect();
    let band = names.iter().position(|n| *n == BandJoinRule::NAME).unwrap();
    let selection = names.iter().position(|n| *n == "join_selection").unwrap();
    let ensure = names.iter().position(|n| *n == "EnsureRequirements").unwrap();
    assert!(selection < band && band + 1 == ensure, "{names:?}");
    assert_eq!(rules.len(), PhysicalOptimizer::new().rules.len() + 1);
    // Adding the rules twice does not add the band join twice.
    assert_eq!(physical_optimizer_rules(rules).len(), names.len());
}

#[tokio::test]
async fn explain_shows_the_band_join_with_its_keys_and_band() {
    let ctx = band_context(config(4, 8192));
    register(&ctx, &rows_of(&[(Some(0), Some(1))]), &rows_of(&[(Some(0), Some(2))]), 2, 2);
    let sql = "EXPLAIN SELECT * FROM l JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t - INTERVAL '5 minutes' AND l.t + INTERVAL '10 minutes' AND r.y <> l.x";
    let text = rows(&ctx, sql).await.join("\n");
    assert!(
        text.contains("BandJoinExec: join_type=Inner, on=[(k@0, k@0)], band=right.t BETWEEN left.t - 5m AND left.t + 10m, filter=y@3 != x@1"),
        "{text}"
    );
    // The inputs are repartitioned on the key and sorted by (key, time).
    assert!(text.contains("SortExec: expr=[k@0 ASC, t@1 ASC], preserve_partitioning=[true]"), "{text}");
    assert!(text.contains("RepartitionExec: partitioning=Hash([k@0], 4)"), "{text}");
    assert!(!text.contains("HashJoinExec"), "{text}");
}

#[tokio::test]
async fn join_without_key_runs_on_one_sorted_partition() {
    let ctx = band_context(config(4, 8192));
    register(&ctx, &rows_of(&[(Some(0), Some(1))]), &rows_of(&[(Some(0), Some(2))]), 2, 2);
    let sql = "SELECT * FROM l, r WHERE r.t >= l.t AND r.t < l.t + INTERVAL '1 hour'";
    let text = plan_text(&plan(&ctx, sql).await);
    assert!(
        text.contains(
            "BandJoinExec: join_type=Inner, on=[], band=right.t BETWEEN left.t + 0s AND left.t + 59m59.999999s"
        ),
        "{text}"
    );
    assert!(text.contains("SortPreservingMergeExec: [t@1 ASC]"), "{text}");
    assert_eq!(rows(&ctx, sql).await.len(), 1);
}

#[tokio::test]
async fn other_joins_are_left_alone() {
    let ctx = band_context(config(2, 8192));
    register(&ctx, &rows_of(&[(Some(0), Some(1))]), &rows_of(&[(Some(0), Some(2))]), 1, 1);
    for sql in [
        // semi and anti joins
        "SELECT * FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.t BETWEEN l.t AND l.t + INTERVAL '1 minute')",
        "SELECT * FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.t BETWEEN l.t AND l.t + INTERVAL '1 minute')",
        // one bound only
        "SELECT * FROM l JOIN r ON l.k = r.k AND r.t >= l.t",
        // months are not a fixed length
        "SELECT * FROM l JOIN r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '1 month' AND l.t",
        // a disjunction
        "SELECT * FROM l JOIN r ON l.k = r.k AND (r.t BETWEEN l.t AND l.t + INTERVAL '1 minute' OR r.y = l.x)",
        // NULL-safe key equality
        "SELECT * FROM l JOIN r ON (l.k IS NOT DISTINCT FROM r.k) AND r.t BETWEEN l.t AND l.t + INTERVAL '1 minute'",
    ] {
        let text = plan_text(&plan(&ctx, sql).await);
        assert!(!text.contains("BandJoinExec"), "{sql}\n{text}");
    }
}

#[tokio::test]
async fn swapped_left_join_keeps_unmatched_left_rows() {
    // A large left and a small right make JoinSelection swap the hash join
    // (a right join with the small side first); the band join must keep the
    // swapped orientation and still return every left row.
    let left: Vec<(Option<u8>, Option<i64>)> = (0..400).map(|i| (Some((i % 7) as u8), Some(i % 50))).collect();
    let right = [(Some(1), Some(3)), (Some(2), Some(40)), (None, Some(3)), (Some(1), None)];
    let config = config(3, 16);
    let band = band_context(config.clone());
    let plain = plain_context(config);
    for ctx in [&band, &plain] {
        register(ctx, &rows_of(&left), &rows_of(&right), 2, 1);
    }
    let sql = "SELECT l.k, l.t, l.x, r.t, r.y FROM l LEFT JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t - INTERVAL '2 minutes' AND l.t + INTERVAL '1 minute'";
    let plain_text = plan_text(&plan(&plain, sql).await);
    assert!(plain_text.contains("join_type=Right"), "JoinSelection did not swap:\n{plain_text}");
    let text = plan_text(&plan(&band, sql).await);
    assert!(text.contains("BandJoinExec: join_type=Right"), "{text}");
    let mut got = rows(&band, sql).await;
    let mut want = rows(&plain, sql).await;
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
}

#[tokio::test]
async fn heavy_key_keeps_only_the_window_in_memory() {
    // One key, 6000 right rows one per 30 s, 50 left rows: each band
    // covers 5 right rows, so the window never holds more than a few rows.
    let right: Vec<(Option<u8>, Option<i64>)> = (0..6000).map(|i| (Some(0), Some(i))).collect();
    let left: Vec<(Option<u8>, Option<i64>)> = (0..50).map(|i| (Some(0), Some(i * 100))).collect();
    let ctx = band_context(config(1, 1024));
    register(&ctx, &rows_of(&left), &rows_of(&right), 1, 1);
    let sql =
        "SELECT * FROM l JOIN r ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '1 minute' AND l.t + INTERVAL '1 minute'";
    let plan = plan(&ctx, sql).await;
    let batches = datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 49 * 5 + 3);
    let metrics = band_join_metrics(&plan).expect("a BandJoinExec");
    let peak = metrics.sum_by_name("peak_window_rows").unwrap().as_usize();
    assert!(peak <= 5, "peak window {peak}");
    assert_eq!(metrics.output_rows(), Some(49 * 5 + 3));
    assert_eq!(metrics.sum_by_name("candidate_pairs").unwrap().as_usize(), 49 * 5 + 3);
}

#[tokio::test]
async fn output_batches_respect_batch_size() {
    // Every pair matches: 30 x 40 rows of one key, in batches of at most 64.
    let left: Vec<(Option<u8>, Option<i64>)> = (0..30).map(|_| (Some(0), Some(5))).collect();
    let right: Vec<(Option<u8>, Option<i64>)> = (0..40).map(|_| (Some(0), Some(5))).collect();
    let ctx = band_context(config(1, 64));
    register(&ctx, &rows_of(&left), &rows_of(&right), 1, 1);
    let sql = "SELECT * FROM l JOIN r ON l.k = r.k AND r.t BETWEEN l.t AND l.t";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1200);
    assert!(
        batches.iter().all(|b| b.num_rows() <= 64),
        "{:?}",
        batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>()
    );
}

/// Metrics of the first band join in `plan`.
fn band_join_metrics(plan: &Arc<dyn ExecutionPlan>) -> Option<datafusion::physical_plan::metrics::MetricsSet> {
    if plan.is::<BandJoinExec>() {
        return plan.metrics();
    }
    plan.children().into_iter().find_map(band_join_metrics)
}

#[tokio::test]
async fn order_by_left_then_right_columns_is_sorted_when_left_rows_tie() {
    // Two left rows with the same (k, t) each match two right rows: the
    // output is ordered by the left input only, (l.k, l.t, r.t) needs a sort.
    let left = rows_of(&[(Some(1), Some(5)), (Some(1), Some(5))]);
    // (more right rows, so that JoinSelection keeps l on the left)
    let mut right = vec![(Some(1), Some(4)), (Some(1), Some(6))];
    right.extend((0..40).map(|i| (Some(2), Some(i))));
    let right = rows_of(&right);
    let ctx = band_context(config(1, 8192));
    register(&ctx, &left, &right, 1, 1);
    let sql = "SELECT l.k, l.t, r.t, l.x FROM l JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t - INTERVAL '1 minutes' AND l.t + INTERVAL '1 minutes' \
               ORDER BY l.k NULLS FIRST, l.t NULLS FIRST, r.t NULLS FIRST";
    let text = plan_text(&plan(&ctx, sql).await);
    assert!(text.contains("BandJoinExec: join_type=Inner, on=[(k@0, k@0)]") && !text.contains("projection="), "{text}");
    let got = rows(&ctx, sql).await;
    let times: Vec<&str> = got.iter().map(|r| r.split('|').nth(2).unwrap()).collect();
    assert_eq!(times, ["1970-01-01T00:02:00Z", "1970-01-01T00:02:00Z", "1970-01-01T00:03:00Z", "1970-01-01T00:03:00Z"]);
    // Ordering on the left input alone needs no sort above the join.
    let sql = "SELECT l.k, l.t FROM l JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t - INTERVAL '1 minutes' AND l.t + INTERVAL '1 minutes' \
               ORDER BY l.k NULLS FIRST, l.t NULLS FIRST";
    let text = plan_text(&plan(&ctx, sql).await);
    assert!(text.starts_with("ProjectionExec") || text.starts_with("BandJoinExec"), "{text}");
}

#[tokio::test]
async fn time_columns_of_different_units() {
    // Milliseconds on the right against microseconds on the left: DataFusion
    // compares them after a cast, which the band must see through.
    let left = rows_of(&(0..30).map(|i| (Some((i % 3) as u8), Some(i * 2))).collect::<Vec<_>>());
    let right_schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), true),
    ]));
    let keys: StringArray = (0..90).map(|i| Some(format!("host-{}", i % 3))).collect();
    // every 10 seconds, plus a millisecond now and then
    let times = datafusion::arrow::array::TimestampMillisecondArray::from(
        (0..90).map(|i| i * 10_000 + i % 2).collect::<Vec<i64>>(),
    );
    let right =
        RecordBatch::try_new(Arc::clone(&right_schema), vec![Arc::new(keys), Arc::new(times.with_timezone("UTC"))])
            .unwrap();
    let config = config(2, 5);
    let band = band_context(config.clone());
    let plain = plain_context(config);
    for ctx in [&band, &plain] {
        ctx.register_table("l", Arc::new(mem_table("x", &left, 2))).unwrap();
        ctx.register_table(
            "m",
            Arc::new(MemTable::try_new(Arc::clone(&right_schema), vec![vec![right.clone()]]).unwrap()),
        )
        .unwrap();
    }
    for sql in [
        "SELECT * FROM l JOIN m ON l.k = m.k AND m.t BETWEEN l.t - INTERVAL '20 seconds' AND l.t + INTERVAL '30 seconds'",
        "SELECT * FROM l LEFT JOIN m ON l.k = m.k AND m.t > l.t AND m.t <= l.t + INTERVAL '1 day'",
        "SELECT * FROM m LEFT JOIN l ON l.k = m.k AND l.t BETWEEN m.t - INTERVAL '0.5 seconds' AND m.t + INTERVAL '15 seconds'",
    ] {
        let text = plan_text(&plan(&band, sql).await);
        assert!(text.contains("BandJoinExec"), "{sql}\n{text}");
        let mut got = rows(&band, sql).await;
        let mut want = rows(&plain, sql).await;
        got.sort();
        want.sort();
        assert!(!want.is_empty());
        assert_eq!(got, want, "{sql}");
    }
}

#[tokio::test]
async fn filter_over_cross_join_becomes_a_band_join() {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{lit, BinaryExpr, Column};
    use datafusion::physical_plan::filter::FilterExecBuilder;
    use datafusion::physical_plan::joins::CrossJoinExec;
    use datafusion::physical_plan::PhysicalExpr;

    let left: Vec<(Option<u8>, Option<i64>)> = (0..25).map(|i| (Some((i % 2) as u8), Some((i * 7) % 30))).collect();
    let right: Vec<(Option<u8>, Option<i64>)> =
        (0..60).map(|i| (Some((i % 3) as u8), if i % 11 == 0 { None } else { Some((i * 5) % 40) })).collect();
    let ctx = plain_context(config(3, 4));
    register(&ctx, &rows_of(&left), &rows_of(&right), 2, 3);
    let l = plan(&ctx, "SELECT * FROM l").await;
    let r = plan(&ctx, "SELECT * FROM r").await;

    // cross join schema: l.k, l.t, l.n, l.x, r.k, r.t, r.n, r.y
    let col = |name: &str, i: usize| -> Arc<dyn PhysicalExpr> { Arc::new(Column::new(name, i)) };
    let bin = |a, op, b| -> Arc<dyn PhysicalExpr> { Arc::new(BinaryExpr::new(a, op, b)) };
    let minutes = |m: i64| lit(ScalarValue::new_interval_mdn(0, 0, m * 60_000_000_000));
    let predicate = bin(
        bin(
            bin(col("t", 5), Operator::GtEq, bin(col("t", 1), Operator::Minus, minutes(2))),
            Operator::And,
            bin(col("t", 5), Operator::LtEq, bin(col("t", 1), Operator::Plus, minutes(3))),
        ),
        Operator::And,
        bin(col("y", 7), Operator::NotEq, col("x", 3)),
    );
    let cross: Arc<dyn ExecutionPlan> = Arc::new(CrossJoinExec::new(l, r));
    let filter: Arc<dyn ExecutionPlan> = Arc::new(
        FilterExecBuilder::new(predicate, cross).apply_projection(Some(vec![0, 1, 3, 5, 7])).unwrap().build().unwrap(),
    );

    let optimize = |rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>| {
        let config = ctx.state().config_options().clone();
        rules.iter().fold(Arc::clone(&filter), |plan, rule| rule.optimize(plan, &config).unwrap())
    };
    let band_plan = optimize(physical_optimizer_rules(PhysicalOptimizer::new().rules));
    let plain_plan = optimize(PhysicalOptimizer::new().rules);
    let text = plan_text(&band_plan);
    assert!(
        text.contains("BandJoinExec: join_type=Inner, on=[], band=right.t BETWEEN left.t - 2m AND left.t + 3m, filter=y@7 != x@3, projection=[k@0, t@1, x@3, t@5, y@7]"),
        "{text}"
    );
    assert_eq!(band_plan.schema(), plain_plan.schema());

    let collect = |plan: Arc<dyn ExecutionPlan>| {
        let task = ctx.task_ctx();
        async move {
            let batches = datafusion::physical_plan::collect(plan, task).await.unwrap();
            let options = FormatOptions::default().with_null("NULL");
            let mut out = Vec::new();
            for batch in &batches {
                let formatters: Vec<ArrayFormatter> =
                    batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
                for row in 0..batch.num_rows() {
                    out.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join("|"));
                }
            }
            out.sort();
            out
        }
    };
    let got = collect(band_plan).await;
    let want = collect(plain_plan).await;
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[tokio::test]
async fn sort_merge_join_plans_are_replaced_too() {
    let left: Vec<(Option<u8>, Option<i64>)> = (0..50).map(|i| (Some((i % 4) as u8), Some((i * 3) % 50))).collect();
    let right: Vec<(Option<u8>, Option<i64>)> =
        (0..80).map(|i| (if i % 9 == 0 { None } else { Some((i % 5) as u8) }, Some((i * 7) % 60))).collect();
    let config = config(3, 8).set_bool("datafusion.optimizer.prefer_hash_join", false);
    let band = band_context(config.clone());
    let plain = plain_context(config);
    for ctx in [&band, &plain] {
        register(ctx, &rows_of(&left), &rows_of(&right), 2, 2);
    }
    let sql = "SELECT * FROM l FULL JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t - INTERVAL '3 minutes' AND l.t + INTERVAL '2 minutes' AND r.y <= l.x";
    assert!(plan_text(&plan(&plain, sql).await).contains("SortMergeJoinExec"));
    let text = plan_text(&plan(&band, sql).await);
    assert!(text.contains("BandJoinExec: join_type=Full") && !text.contains("SortMergeJoinExec"), "{text}");
    let mut got = rows(&band, sql).await;
    let mut want = rows(&plain, sql).await;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn explain_analyze_reports_the_sweep_metrics() {
    let ctx = band_context(config(2, 8192));
    let left: Vec<(Option<u8>, Option<i64>)> = (0..10).map(|i| (Some(0), Some(i))).collect();
    register(&ctx, &rows_of(&left), &rows_of(&left), 1, 1);
    let sql = "EXPLAIN ANALYZE SELECT * FROM l JOIN r ON l.k = r.k AND r.t BETWEEN l.t AND l.t + INTERVAL '30 seconds'";
    let text = rows(&ctx, sql).await.join("\n");
    let line = text.lines().find(|l| l.contains("BandJoinExec")).unwrap_or_else(|| panic!("{text}"));
    for metric in
        ["output_rows=19", "left_input_rows=10", "right_input_rows=10", "candidate_pairs=19", "peak_window_rows="]
    {
        assert!(line.contains(metric), "{metric} missing: {line}");
    }
}
