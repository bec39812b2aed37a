//! Time-window joins through the full engine: planned as `BandJoinExec`,
//! with exactly the rows DataFusion's own plan returns.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::LakeLocation;

/// The query: flows of the alerting entity from 5 minutes before
/// to 10 minutes after each alert.
const ALERT_FLOWS: &str =
    "SELECT a.alert_id, a.entity, a.time, a.title, f.uid, f.time, f.dst_ip, f.dst_port, f.bytes_out
    FROM edr_alerts a JOIN network_flows f
      ON a.entity = f.entity
     AND f.time BETWEEN a.time - INTERVAL '5 minutes' AND a.time + INTERVAL '10 minutes'";

async fn demo_engine() -> Engine {
    let lake_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo-lake");
    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    Engine::open(EngineOptions::new(lake)).await.unwrap()
}

/// The engine's session with DataFusion's default physical optimizer rules
/// only, i.e. without the band join.
fn without_band_join(ctx: &SessionContext) -> SessionContext {
    let state = SessionStateBuilder::new_from_existing(ctx.state())
        .with_physical_optimizer_rules(PhysicalOptimizer::new().rules)
        .build();
    SessionContext::new_with_state(state)
}

async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    text
}

/// Result rows as strings, sorted.
async fn sorted_rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join("|"));
        }
    }
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_band_join_for_alert_to_flow_window() {
    let engine = demo_engine().await;
    let ctx = engine.session();
    let batches = ctx.sql(&format!("EXPLAIN {ALERT_FLOWS}")).await.unwrap().collect().await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
    assert!(text.contains("BandJoinExec: join_type=Inner, on=[(entity@"), "{text}");
    assert!(text.contains("band=right.time BETWEEN left.time - 5m AND left.time + 10m"), "{text}");
    assert!(!text.contains("HashJoinExec"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_to_flow_window_equals_the_default_plan_on_the_demo_lake() {
    let engine = demo_engine().await;
    let band = engine.session();
    let plain = without_band_join(&band);
    assert!(!physical_plan(&plain, ALERT_FLOWS).await.contains("BandJoinExec"));

    let got = sorted_rows(&band, ALERT_FLOWS).await;
    let want = sorted_rows(&plain, ALERT_FLOWS).await;
    assert!(!want.is_empty(), "the demo lake has flows around its alerts");
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_without_nearby_flows_still_appear_in_a_left_join() {
    let engine = demo_engine().await;
    let band = engine.session();
    let plain = without_band_join(&band);
    let sql = "SELECT a.alert_id, a.time, count(f.uid) AS flows, sum(f.bytes_out) AS bytes_out
        FROM edr_alerts a LEFT JOIN network_flows f
          ON a.entity = f.entity
         AND f.time >= a.time - INTERVAL '5 minutes' AND f.time < a.time + INTERVAL '10 minutes'
         AND f.dst_port <> 53
        GROUP BY a.alert_id, a.time";
    assert!(physical_plan(&band, sql).await.contains("BandJoinExec"));
    let got = sorted_rows(&band, sql).await;
    let want = sorted_rows(&plain, sql).await;
    let alerts = sorted_rows(&band, "SELECT DISTINCT alert_id, time FROM edr_alerts").await;
    assert_eq!(got.len(), alerts.len(), "every alert appears once");
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_rows_of_both_tables_equal_the_default_plan() {
    // Every column of both tables (lists, the date partition column, NULLs).
    let engine = demo_engine().await;
    let band = engine.session();
    let plain = without_band_join(&band);
    let sql = "SELECT * FROM network_flows f RIGHT JOIN edr_alerts a
          ON a.entity = f.entity AND a.time BETWEEN f.time - INTERVAL '10 minutes' AND f.time + INTERVAL '5 minutes'";
    assert!(physical_plan(&band, sql).await.contains("BandJoinExec"));
    assert_eq!(sorted_rows(&band, sql).await, sorted_rows(&plain, sql).await);
}

/// Deterministic pseudo-random numbers (splitmix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A Zipf-like entity index in `0..entities`: entity `i` has weight `1 / (i + 1)`.
fn skewed_entity(random: &mut Random, cumulative: &[f64]) -> usize {
    let total = *cumulative.last().unwrap();
    let x = (random.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
    cumulative.partition_point(|&c| c < x).min(cumulative.len() - 1)
}

fn table(rows: usize, entities: &[usize], times: &[i64], value: &str) -> (SchemaRef, Vec<Vec<RecordBatch>>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("entity", DataType::Utf8, false),
        Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new(value, DataType::Int64, false),
    ]));
    let partitions = 4;
    let mut parts = vec![Vec::new(); partitions];
    for (p, part) in parts.iter_mut().enumerate() {
        let indices: Vec<usize> = (p..rows).step_by(partitions).collect();
        for chunk in indices.chunks(8192) {
            let entity: StringArray = chunk.iter().map(|&i| Some(format!("host-{:04}", entities[i]))).collect();
            let time = TimestampMicrosecondArray::from(chunk.iter().map(|&i| times[i]).collect::<Vec<_>>());
            let values = Int64Array::from(chunk.iter().map(|&i| i as i64).collect::<Vec<_>>());
            part.push(
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(entity), Arc::new(time.with_timezone("UTC")), Arc::new(values)],
                )
                .unwrap(),
            );
        }
    }
    (schema, parts)
}

/// 1M flows and 10k alerts over one day, 1000 entities with Zipf-skewed
/// activity. Prints the time of the band join and of DataFusion's default
/// plan (hash join on entity + range filter); asserts only equal counts.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "timing; run with --ignored --nocapture"]
async fn band_join_timing_large_skewed() {
    const FLOWS: usize = 1_000_000;
    const ALERTS: usize = 10_000;
    const ENTITIES: usize = 1_000;
    const DAY_MICROS: u64 = 86_400_000_000;
    let mut random = Random(42);
    let cumulative: Vec<f64> = (0..ENTITIES)
        .scan(0.0, |sum, i| {
            *sum += 1.0 / (i + 1) as f64;
            Some(*sum)
        })
        .collect();
    let flow_entities: Vec<usize> = (0..FLOWS).map(|_| skewed_entity(&mut random, &cumulative)).collect();
    let flow_times: Vec<i64> = (0..FLOWS).map(|_| random.below(DAY_MICROS) as i64).collect();
    let alert_entities: Vec<usize> = (0..ALERTS).map(|_| skewed_entity(&mut random, &cumulative)).collect();
    let alert_times: Vec<i64> = (0..ALERTS).map(|_| random.below(DAY_MICROS) as i64).collect();
    let mut per_entity = vec![(0u64, 0u64); ENTITIES];
    flow_entities.iter().for_each(|&e| per_entity[e].0 += 1);
    alert_entities.iter().for_each(|&e| per_entity[e].1 += 1);
    let pairs: u64 = per_entity.iter().map(|(f, a)| f * a).sum();
    println!(
        "{FLOWS} flows, {ALERTS} alerts, {ENTITIES} entities; busiest entity: {} flows, {} alerts; \
         same-entity pairs the hash join filters: {pairs}",
        per_entity[0].0, per_entity[0].1
    );

    let (flow_schema, flow_parts) = table(FLOWS, &flow_entities, &flow_times, "bytes");
    let (alert_schema, alert_parts) = table(ALERTS, &alert_entities, &alert_times, "severity");
    let sql = "SELECT count(*), sum(f.bytes) FROM alerts a JOIN flows f ON a.entity = f.entity \
               AND f.time BETWEEN a.time - INTERVAL '5 minutes' AND a.time + INTERVAL '10 minutes'";

    let mut results = Vec::new();
    for (name, rules) in [
        ("band join", udfs::band_join::physical_optimizer_rules(PhysicalOptimizer::new().rules)),
        ("default plan", PhysicalOptimizer::new().rules),
    ] {
        let state = SessionStateBuilder::new()
            .with_config(SessionConfig::new())
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("flows", Arc::new(MemTable::try_new(Arc::clone(&flow_schema), flow_parts.clone()).unwrap()))
            .unwrap();
        ctx.register_table(
            "alerts",
            Arc::new(MemTable::try_new(Arc::clone(&alert_schema), alert_parts.clone()).unwrap()),
        )
        .unwrap();
        let uses_band_join = physical_plan(&ctx, sql).await.contains("BandJoinExec");
        let start = Instant::now();
        let rows = sorted_rows(&ctx, sql).await;
        let elapsed = start.elapsed();
        println!("{name:>12} (BandJoinExec: {uses_band_join}): {elapsed:?} -> {rows:?}");
        results.push(rows);
    }
    assert_eq!(results[0], results[1]);
}
