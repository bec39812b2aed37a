//! The lake as the engine sees it: files landed while serving become visible,
//! and `time` ranges read only the matching `date=` folders.

use std::time::{Duration, Instant};

use huntlake::lake::LakeWriter;

use crate::fixtures::{flows, small_lake, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_landed_while_serving_becomes_visible() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake.clone()).await;
    let client = server.connect().await;
    let count = || async { client.query_one("SELECT count(*) FROM network_flows", &[]).await.unwrap().get::<_, i64>(0) };
    assert_eq!(count().await, 3);

    LakeWriter::new(lake)
        .write("network_flows", &flows(&["C4", "C5"], &["2026-11-05T01:00:00Z", "2026-11-05T02:00:00Z"]))
        .await
        .unwrap();
    // The listing cache expires after engine::LISTING_TTL; poll with a deadline.
    let deadline = Instant::now() + huntlake::engine::LISTING_TTL + Duration::from_secs(8);
    loop {
        let n = count().await;
        if n == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "new file not visible, still {n} rows");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn scanned_dates(plan: &str) -> Vec<String> {
    let mut dates: Vec<String> = plan
        .match_indices("date=")
        .map(|(i, _)| plan[i + 5..i + 15].to_string())
        .collect();
    dates.sort();
    dates.dedup();
    dates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_range_reads_only_matching_date_folders() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let ctx = server.engine.session();
    let plan_of = |sql: String| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(&format!("EXPLAIN {sql}")).await.unwrap().collect().await.unwrap();
            arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
        }
    };
    // A filter keeps DataFusion from answering count(*) from file statistics.
    let all = plan_of("SELECT count(*) FROM network_flows WHERE uid <> ''".into()).await;
    assert_eq!(scanned_dates(&all), vec!["2026-11-02", "2026-11-03", "2026-11-04"]);

    let one = plan_of(
        "SELECT count(*) FROM network_flows WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-04T00:00:00Z'".into(),
    )
    .await;
    assert_eq!(scanned_dates(&one), vec!["2026-11-03"], "{one}");

    let between = plan_of(
        "SELECT count(*) FROM network_flows WHERE time BETWEEN TIMESTAMP '2026-11-03 12:00:00' AND TIMESTAMP '2026-11-04 01:00:00'".into(),
    )
    .await;
    assert_eq!(scanned_dates(&between), vec!["2026-11-03", "2026-11-04"], "{between}");

    // And the answer is right.
    let client = server.connect().await;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM network_flows WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-04T00:00:00Z'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
