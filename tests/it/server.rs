//! The Postgres endpoint through a real client (tokio-postgres): types in
//! text and binary, parameters, errors, authentication, read-only rules.

use chrono::{DateTime, Utc};
use tokio_postgres::error::SqlState;
use tokio_postgres::SimpleQueryMessage;

use crate::fixtures::{micros, small_lake, start};

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros(rfc3339)).unwrap()
}

fn simple_rows(messages: Vec<SimpleQueryMessage>) -> Vec<tokio_postgres::SimpleQueryRow> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lake_type_round_trips_in_binary() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    let rows = client
        .query(
            "SELECT time, vendor, severity_id, techniques, device_ip FROM edr_alerts ORDER BY time",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let t: DateTime<Utc> = rows[0].get(0);
    assert_eq!(t, utc("2026-11-03T10:15:30.123456Z"));
    assert_eq!(rows[0].get::<_, String>(1), "mde");
    assert_eq!(rows[0].get::<_, i32>(2), 3);
    assert_eq!(rows[0].get::<_, Option<Vec<String>>>(3), Some(vec!["T1059.001".to_string(), "T1105".to_string()]));
    assert_eq!(rows[0].get::<_, Option<String>>(4).as_deref(), Some("10.20.0.11"));
    assert_eq!(rows[1].get::<_, Option<Vec<String>>>(3), None);
    assert_eq!(rows[1].get::<_, Option<String>>(4), None);

    let flows = client
        .query("SELECT bytes_out, duration_s, dst_port FROM network_flows ORDER BY time LIMIT 1", &[])
        .await
        .unwrap();
    assert_eq!(flows[0].get::<_, i64>(0), 5_000_000_000);
    assert_eq!(flows[0].get::<_, f64>(1), 1.5);
    assert_eq!(flows[0].get::<_, i32>(2), 443);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lake_type_round_trips_in_text() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    let rows = simple_rows(
        client
            .simple_query("SELECT time, severity_id, techniques, device_ip FROM edr_alerts ORDER BY time")
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get(0), Some("2026-11-03 10:15:30.123456+00"));
    assert_eq!(rows[0].get(1), Some("3"));
    assert_eq!(rows[0].get(2), Some("{T1059.001,T1105}"));
    assert_eq!(rows[0].get(3), Some("10.20.0.11"));
    assert_eq!(rows[1].get(2), None);
    assert_eq!(rows[1].get(3), None);
    let flows = simple_rows(client.simple_query("SELECT bytes_out, duration_s FROM network_flows LIMIT 1").await.unwrap());
    assert_eq!(flows[0].get(0), Some("5000000000"));
    assert_eq!(flows[0].get(1), Some("1.5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_typed_from_context_and_casts() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    let rows = client
        .query("SELECT alert_id FROM edr_alerts WHERE entity = $1 AND severity_id >= $2", &[&"ws-0001", &2i32])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "da6381");
    let rows = client.query("SELECT $1::bigint + 1 AS n", &[&41i64]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 42);
    let stmt = client.prepare("SELECT count(*) FROM network_flows WHERE time >= $1").await.unwrap();
    let n: i64 = client.query_one(&stmt, &[&utc("2026-11-03T00:00:00Z")]).await.unwrap().get(0);
    assert_eq!(n, 2);
}

/// `col = ANY($1)` takes an array of `col`'s type; `$1::oid` / `$1::oid[]`
/// are described as oid / oid[] (as PostgreSQL does) and bound as integers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_and_oid_parameters() {
    use tokio_postgres::types::Type;
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;

    let sql = "SELECT alert_id FROM edr_alerts WHERE alert_id = ANY($1) ORDER BY alert_id";
    let stmt = client.prepare(sql).await.unwrap();
    assert_eq!(stmt.params(), &[Type::TEXT_ARRAY]);
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>();
    let rows = client.query(&stmt, &[&vec!["da6381", "cid:ind:aid:1-2-3", "nope"]]).await.unwrap();
    assert_eq!(ids(rows), ["cid:ind:aid:1-2-3", "da6381"]);
    let rows = client.query(&stmt, &[&vec!["da6381"]]).await.unwrap();
    assert_eq!(ids(rows), ["da6381"]);
    let rows = client.query(&stmt, &[&Vec::<String>::new()]).await.unwrap();
    assert!(rows.is_empty());
    let n: i64 = client
        .query_one("SELECT count(*) FROM edr_alerts WHERE severity_id = ANY($1)", &[&vec![3i32, 99]])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    let stmt = client.prepare("SELECT $1::oid[] AS a, $2::oid AS o").await.unwrap();
    assert_eq!(stmt.params(), &[Type::OID_ARRAY, Type::OID]);
    // Binary oid values (tokio-postgres sends parameters in binary).
    let row = client.query_one(&stmt, &[&vec![25u32, 1009], &26u32]).await.unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), [25, 1009]);
    assert_eq!(row.get::<_, i32>(1), 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_stays_usable_after_errors() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;

    let err = client.simple_query("SELECT * FROM no_such_table").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{err:?}");
    let err = client.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err:?}");
    let err = client.query("SELECT no_such_column FROM edr_alerts", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN), "{err:?}");

    let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    let rows = simple_rows(client.simple_query("SELECT 1 AS one").await.unwrap());
    assert_eq!(rows[0].get(0), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_are_rejected() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let err = server.try_connect("wrong").await.expect_err("wrong password must fail");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
    let conn = format!("host={} port={} user=mallory password=x", server.addr.ip(), server.addr.port());
    let err = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.err().expect("unknown user must fail");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
    // The server keeps serving good logins.
    server.connect().await.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lake_data_cannot_be_modified_but_views_can_be_created() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    for sql in [
        "INSERT INTO edr_alerts (vendor) VALUES ('x')",
        "DELETE FROM edr_alerts",
        "UPDATE edr_alerts SET title = 'x'",
        "DROP TABLE network_flows",
        "TRUNCATE edr_alerts",
        "CREATE TABLE t AS SELECT 1",
        "COPY edr_alerts TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x'",
    ] {
        let err = client.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{sql}: {err:?}");
    }
    let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2, "data unchanged");

    client.simple_query("CREATE VIEW mde_alerts AS SELECT * FROM edr_alerts WHERE vendor = 'mde'").await.unwrap();
    // Views are shared by all connections.
    let other = server.connect().await;
    let n: i64 = other.query_one("SELECT count(*) FROM mde_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    client.simple_query("DROP VIEW mde_alerts").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_settings_are_per_connection() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let a = server.connect().await;
    let b = server.connect().await;
    a.simple_query("SET application_name = 'retro-hunt'").await.unwrap();
    let show = |rows: Vec<SimpleQueryMessage>| simple_rows(rows)[0].get(0).map(str::to_string);
    assert_eq!(show(a.simple_query("SHOW application_name").await.unwrap()).as_deref(), Some("retro-hunt"));
    assert_eq!(show(b.simple_query("SHOW application_name").await.unwrap()).as_deref(), Some(""));
    let v: String = a.query_one("SELECT current_setting('server_version_num')", &[]).await.unwrap().get(0);
    assert_eq!(v, "160006");
    let err = a.simple_query("SET no_such_setting = 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_OBJECT));
    a.simple_query("BEGIN; SELECT 1; COMMIT; DISCARD ALL").await.unwrap();
    assert_eq!(show(a.simple_query("SHOW application_name").await.unwrap()).as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_looks_like_postgresql() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    let v: String = client.query_one("SELECT version()", &[]).await.unwrap().get(0);
    // SQLAlchemy's dialect parses this with r"PostgreSQL (\d+)\.?(\d+)?".
    assert!(v.starts_with("PostgreSQL 16.6 "), "{v}");
    assert!(v.contains("huntlake"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_with_57014() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    let client = server.connect().await;
    client.simple_query("SET statement_timeout = 200").await.unwrap();
    // A cross join large enough to run for many seconds.
    let err = client
        .simple_query(
            "SELECT count(*) FROM generate_series(1, 200000) a, generate_series(1, 200000) b WHERE a.value + b.value = -1",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    client.simple_query("SET statement_timeout = 0").await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}
