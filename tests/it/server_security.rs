//! Security and resource control of the Postgres endpoint through real
//! clients: connection limit (53300), TLS required, login throttling, roles,
//! cancel (CancelRequest and pg_cancel_backend) stopping the query's CPU
//! work, statement_timeout and the memory limit while rows stream, and no
//! secret in any log line.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use huntlake::server::{Credential, Role, ScramVerifier, ThrottleOptions};
use pgwire::tokio::tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use pgwire::tokio::tokio_rustls::{client::TlsStream, TlsConnector};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::NoTls;

use crate::fixtures::{small_lake, start_with, TestServer, PASSWORD, USER};

/// An aggregation over a practically endless series: CPU-bound for hours,
/// one row at the end, batch by batch like a scan of a large lake.
const HEAVY: &str = "SELECT sum(value % 7) FROM generate_series(1, 1000000000000000)";

async fn connect_as(server: &TestServer, user: &str, password: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn = format!("host={} port={} user={user} password={password} dbname=huntlake", server.addr.ip(), server.addr.port());
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_then_53300() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(lake, |_| {}, |o| o.max_connections = 200).await;
    let server = Arc::new(server);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let server = TestServer::clone_addr(&server);
            tokio::spawn(async move {
                let client = server.connect().await;
                let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
                assert_eq!(n, 2);
                let v: i64 = client.query_one("SELECT $1::bigint * 2", &[&(i as i64)]).await.unwrap().get(0);
                assert_eq!(v, 2 * i as i64);
                client
            })
        })
        .collect();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    // All 200 are still open: the 201st is refused at once, not queued.
    let err = server.try_connect(PASSWORD).await.expect_err("connection 201 must be refused");
    assert_eq!(err.code(), Some(&SqlState::TOO_MANY_CONNECTIONS), "{err:?}");
    // The open ones keep working.
    let rows = clients[199].simple_query("SELECT 1").await.unwrap();
    assert!(!rows.is_empty());
}

/// User and system CPU ticks (1/100 s) of the given threads of this process.
fn cpu_ticks(tids: &[String]) -> u64 {
    tids.iter()
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok())
        .map(|stat| {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            let fields: Vec<&str> = after.split_whitespace().collect();
            // Fields 14 and 15 of stat(5), counted from the state (field 3).
            fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
        })
        .sum()
}

/// A runtime whose threads (workers and blocking pool) are recorded, so the
/// CPU time of this test's server can be measured while other tests run.
fn recorded_runtime() -> (tokio::runtime::Runtime, Arc<Mutex<Vec<String>>>) {
    let tids = Arc::new(Mutex::new(Vec::new()));
    let record = tids.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let tid = std::fs::read_link("/proc/thread-self").unwrap();
            let tid = tid.file_name().unwrap().to_string_lossy().to_string();
            record.lock().unwrap().push(tid);
        })
        .build()
        .unwrap();
    (rt, tids)
}

/// CPU ticks used by `tids` over one second.
async fn cpu_over_a_second(tids: &Arc<Mutex<Vec<String>>>) -> u64 {
    let ids = tids.lock().unwrap().clone();
    let before = cpu_ticks(&ids);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids = tids.lock().unwrap().clone();
    cpu_ticks(&ids) - before
}

/// Runs HEAVY on `client` until something cancels it; returns the error.
fn heavy(client: Arc<tokio_postgres::Client>) -> tokio::task::JoinHandle<tokio_postgres::Error> {
    tokio::spawn(async move { client.simple_query(HEAVY).await.expect_err("the heavy query is cancelled") })
}

async fn assert_cancelled_and_idle(
    running: tokio::task::JoinHandle<tokio_postgres::Error>,
    tids: &Arc<Mutex<Vec<String>>>,
    how: &str,
) {
    let err = tokio::time::timeout(Duration::from_secs(10), running).await.expect("cancel ends the query").unwrap();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{how}: {err:?}");
    assert!(err.as_db_error().unwrap().message().contains("user request"), "{how}: {err:?}");
    // Within a second of the cancel the work has stopped: under 5% of one
    // core over the following second (busy, it used one or two cores).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = cpu_over_a_second(tids).await;
    assert!(idle < 5, "{how}: {idle} CPU ticks in the second after the cancel");
}

#[test]
fn cancel_stops_the_query_cpu_within_a_second() {
    let (rt, tids) = recorded_runtime();
    rt.block_on(async {
        let (_dir, lake) = small_lake().await;
        let server = start_with(
            lake,
            |_| {},
            |o| {
                o.users.push(Credential::from_password("other", "other-pw", Role::Reader));
                o.query_runtime = Some(tokio::runtime::Handle::current());
            },
        )
        .await;
        let client = Arc::new(server.connect().await);

        // The protocol's CancelRequest (backend pid + secret key).
        let running = heavy(client.clone());
        let busy = cpu_over_a_second(&tids).await;
        // Loose: the machine may be shared; the point is that it is clearly busy.
        assert!(busy >= 10, "the heavy query keeps the server busy ({busy} ticks)");
        client.cancel_token().cancel_query(NoTls).await.unwrap();
        assert_cancelled_and_idle(running, &tids, "CancelRequest").await;

        // pg_cancel_backend(pid) from another session of the same user;
        // another user may not cancel it.
        let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        let same_user = server.connect().await;
        let other_user = connect_as(&server, "other", "other-pw").await.unwrap();
        let other_pid: i32 = same_user.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        assert_ne!(pid, other_pid, "each connection has its own pid");
        let running = heavy(client.clone());
        let busy = cpu_over_a_second(&tids).await;
        assert!(busy >= 10, "busy again ({busy} ticks)");
        let sql = format!("SELECT pg_cancel_backend({pid})");
        let denied: bool = other_user.query_one(sql.as_str(), &[]).await.unwrap().get(0);
        assert!(!denied, "another user cannot cancel");
        assert!(!running.is_finished());
        let done: bool = same_user.query_one(sql.as_str(), &[]).await.unwrap().get(0);
        assert!(done);
        assert_cancelled_and_idle(running, &tids, "pg_cancel_backend").await;

        // The connection is usable afterwards, and a new statement is not
        // affected by the earlier cancel.
        let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
        assert_eq!(n, 2);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_queries_stay_responsive_during_a_heavy_one() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(lake, |_| {}, |_| {}).await;
    let heavy_client = Arc::new(server.connect().await);
    let running = heavy(heavy_client.clone());
    let small = server.connect().await;
    // Let the heavy query get going first.
    small.simple_query("SELECT 1").await.unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        let n: i64 = small.query_one("SELECT count(*) FROM network_flows", &[]).await.unwrap().get(0);
        assert_eq!(n, 3);
    }
    let took = started.elapsed();
    assert!(!running.is_finished(), "the heavy query is still running");
    // Generous: alone, these take well under a second.
    assert!(took < Duration::from_secs(15), "20 small queries took {took:?} beside a heavy one");
    heavy_client.cancel_token().cancel_query(NoTls).await.unwrap();
    let err = running.await.unwrap();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_stops_a_streaming_result_with_57014() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(lake, |_| {}, |_| {}).await;
    let client = server.connect().await;
    client.simple_query("SET statement_timeout = '500ms'").await.unwrap();
    // Rows flow to the client from the start; the deadline ends the stream.
    let stream = client
        .query_raw("SELECT value FROM generate_series(1, 10000000000)", Vec::<i64>::new())
        .await;
    let err = match stream {
        Err(e) => e,
        Ok(rows) => {
            let mut rows = std::pin::pin!(rows);
            let mut n = 0u64;
            loop {
                match rows.next().await {
                    Some(Ok(_)) => n += 1,
                    Some(Err(e)) => break e,
                    None => panic!("the stream must not end normally ({n} rows)"),
                }
            }
        }
    };
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(err.as_db_error().unwrap().message().contains("statement timeout"), "{err:?}");
    client.simple_query("SET statement_timeout = 0").await.unwrap();
    assert_eq!(client.query_one("SELECT 1::bigint", &[]).await.unwrap().get::<_, i64>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_fails_unspillable_queries_with_53200_and_spills_sorts() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(lake, |e| e.memory_limit = Some(16 << 20), |_| {}).await;
    let client = server.connect().await;
    // A sort larger than the limit spills to disk and completes.
    let row = client
        .query_one(
            "SELECT count(*), min(rn) FROM (SELECT row_number() OVER (ORDER BY value DESC) AS rn FROM generate_series(1, 4000000)) t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 4_000_000);
    // The build side of a hash join must fit in memory: it cannot spill.
    let err = client
        .query_one(
            "SELECT count(*) FROM generate_series(1, 4000000) a JOIN generate_series(1, 4000000) b ON a.value = b.value",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::OUT_OF_MEMORY), "{err:?}");
    let db = err.as_db_error().unwrap();
    assert!(db.message().starts_with("out of memory"), "{}", db.message());
    assert!(db.hint().unwrap_or("").contains("memory_limit"), "{db:?}");
    // The connection stays usable.
    assert_eq!(client.query_one("SELECT 1::bigint", &[]).await.unwrap().get::<_, i64>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_delayed_then_locked_out_per_address() {
    let (_dir, lake) = small_lake().await;
    let base = Duration::from_millis(100);
    let server = start_with(
        lake,
        |_| {},
        |o| {
            o.throttle = ThrottleOptions {
                max_failures: 3,
                lockout: Duration::from_secs(600),
                base_delay: base,
                max_delay: Duration::from_millis(400),
            }
        },
    )
    .await;
    let mut messages = Vec::new();
    for (i, user) in [USER, "nobody", USER].iter().enumerate() {
        let started = Instant::now();
        let err = connect_as(&server, user, "wrong-password").await.expect_err("wrong password");
        let took = started.elapsed();
        assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
        // Each failure is answered no sooner than its (doubling) delay.
        assert!(took >= base * (1 << i), "failure {i} answered after {took:?}");
        messages.push(err.as_db_error().unwrap().message().replace(user, "<user>"));
    }
    assert_eq!(messages[0], messages[1], "unknown and known users fail alike");
    // Locked out now: even the right password is refused before any exchange.
    let err = server.try_connect(PASSWORD).await.expect_err("locked out");
    assert_eq!(err.code(), Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{err:?}");
    assert!(err.as_db_error().unwrap().message().contains("too many failed login attempts"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_clears_the_failure_count() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(
        lake,
        |_| {},
        |o| o.throttle = ThrottleOptions { max_failures: 2, base_delay: Duration::from_millis(1), ..ThrottleOptions::default() },
    )
    .await;
    for _ in 0..3 {
        assert!(server.try_connect("wrong").await.is_err());
        server.connect().await.simple_query("SELECT 1").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_only_query_analysts_create_views_nobody_writes() {
    let (_dir, lake) = small_lake().await;
    let verifier = ScramVerifier::generate("reader-pw");
    let server = start_with(lake, |_| {}, |o| o.users.push(Credential::new("rita", verifier, Role::Reader))).await;
    let reader = connect_as(&server, "rita", "reader-pw").await.unwrap();
    let analyst = server.connect().await;

    let n: i64 = reader.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    for sql in ["CREATE VIEW v_reader AS SELECT 1", "DROP VIEW IF EXISTS v_any"] {
        let err = reader.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {err:?}");
    }
    analyst.simple_query("CREATE VIEW v_analyst AS SELECT vendor FROM edr_alerts").await.unwrap();
    let n: i64 = reader.query_one("SELECT count(*) FROM v_analyst", &[]).await.unwrap().get(0);
    assert_eq!(n, 2, "readers query the views analysts made");
    let err = reader.simple_query("DROP VIEW v_analyst").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    for client in [&reader, &analyst] {
        for sql in [
            "INSERT INTO edr_alerts (vendor) VALUES ('x')",
            "EXPLAIN ANALYZE INSERT INTO edr_alerts (vendor) VALUES ('x')",
            "DELETE FROM edr_alerts",
            "CREATE TABLE t AS SELECT 1",
            "COPY edr_alerts TO '/tmp/huntlake-x.csv'",
        ] {
            let err = client.simple_query(sql).await.unwrap_err();
            assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{sql}: {err:?}");
        }
    }
    // Views are shared: a lake table cannot be shadowed, nor dropped as a view.
    for sql in ["CREATE OR REPLACE VIEW edr_alerts AS SELECT 1 AS x", "DROP VIEW edr_alerts"] {
        let err = analyst.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{sql}: {err:?}");
    }
    // Nor can the server's own views (sql/) be replaced or dropped.
    for sql in ["CREATE OR REPLACE VIEW beacons AS SELECT 1 AS x", "DROP VIEW beacons"] {
        let err = analyst.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {err:?}");
    }
    let n: i64 = analyst.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2, "data unchanged");
    analyst.simple_query("CREATE OR REPLACE VIEW v_analyst AS SELECT vendor FROM edr_alerts LIMIT 1").await.unwrap();
    analyst.simple_query("DROP VIEW v_analyst").await.unwrap();
}

/// tokio-postgres over rustls, trusting one certificate.
#[derive(Clone)]
struct RustlsConnect(Arc<ClientConfig>);

struct RustlsConnector {
    connector: TlsConnector,
    name: ServerName<'static>,
}

struct RustlsStream<S>(TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnector;
    type Error = rustls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnector, rustls::Error> {
        let name = ServerName::try_from(domain.to_string()).map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(RustlsConnector { connector: TlsConnector::from(self.0.clone()), name })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for RustlsConnector {
    type Stream = RustlsStream<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move { Ok(RustlsStream(self.connector.connect(self.name, stream).await?)) })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_refuses_plaintext_and_serves_tls() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    std::fs::write(&cert_path, key.cert.pem()).unwrap();
    std::fs::write(&key_path, key.signing_key.serialize_pem()).unwrap();
    let acceptor = huntlake::server::tls::acceptor(&cert_path, &key_path).unwrap();

    let (_lake_dir, lake) = small_lake().await;
    let server = start_with(
        lake,
        |_| {},
        |o| {
            o.tls = Some(acceptor);
            o.tls_require = true;
        },
    )
    .await;
    let err = server.try_connect(PASSWORD).await.expect_err("plaintext must be refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{err:?}");
    assert!(err.as_db_error().unwrap().message().contains("TLS is required"), "{err:?}");

    let mut roots = RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = format!(
        "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=huntlake sslmode=require",
        server.addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, RustlsConnect(Arc::new(config))).await.unwrap();
    tokio::spawn(connection);
    let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    let rows: Vec<_> = client.query_raw("SELECT value FROM generate_series(1, 5000)", Vec::<i64>::new()).await.unwrap().try_collect().await.unwrap();
    assert_eq!(rows.len(), 5000);
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_verifier_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The process-wide subscriber, so no event is lost to per-thread
    // dispatch; other tests running meanwhile log into it too, which only
    // widens the check (the secrets below are unique to this test).
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("huntlake=trace,pgwire=trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("no other test sets a global subscriber");
    let secret = "Corr3ct-Horse-Battery";
    let wrong = "Wr0ng-Guess-Staple";
    let verifier = ScramVerifier::generate(secret);
    let verifier_text = verifier.to_string();
    {
        let (_dir, lake) = small_lake().await;
        let server = start_with(
            lake,
            |_| {},
            |o| {
                o.users = vec![Credential::new("vera", verifier, Role::Analyst)];
                o.throttle.base_delay = Duration::from_millis(1);
            },
        )
        .await;
        assert!(connect_as(&server, "vera", wrong).await.is_err());
        assert!(connect_as(&server, "nobody", secret).await.is_err());
        let client = connect_as(&server, "vera", secret).await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
        assert!(client.simple_query("SELEC nonsense").await.is_err());
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("Failed login") && log.contains("Logged in. ") && log.contains("user=\"vera\""), "the capture works");
    for needle in [secret, wrong, verifier_text.as_str()]
        .into_iter()
        .chain(verifier_text.split(['$', ':']).filter(|p| p.len() > 8))
    {
        assert!(!log.contains(needle), "{needle:?} appears in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_open_connections_finish_then_stops() {
    let (_dir, lake) = small_lake().await;
    let engine = huntlake::engine::Engine::open(huntlake::engine::EngineOptions::new(lake)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut options = huntlake::server::ServerOptions::new(vec![Credential::from_password(USER, PASSWORD, Role::Reader)]);
    options.shutdown_grace = Duration::from_secs(30);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(huntlake::server::serve(engine, options, listener, async {
        let _ = stopped.await;
    }));
    let conn = format!("host=127.0.0.1 port={} user={USER} password={PASSWORD}", addr.port());
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    stop.send(()).unwrap();
    // The open connection is still served during the grace period...
    let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    assert!(!serving.is_finished(), "serve waits for open connections");
    // ...and once it closes, serve returns and no one else gets in.
    drop(client);
    connection.await.unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(20), serving).await.expect("serve returns").unwrap().unwrap();
    assert!(tokio_postgres::connect(&conn, NoTls).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_views_live_in_their_session_only() {
    let (_dir, lake) = small_lake().await;
    let server = start_with(lake, |_| {}, |o| o.users.push(Credential::from_password("rita", "reader-pw", Role::Reader))).await;
    let a = server.connect().await;
    let b = server.connect().await;
    a.simple_query("CREATE TEMP VIEW mine AS SELECT vendor FROM edr_alerts WHERE vendor = 'mde'").await.unwrap();
    let n: i64 = a.query_one("SELECT count(*) FROM mine", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    let err = b.simple_query("SELECT * FROM mine").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "other sessions do not see it: {err:?}");
    // The same name in another session is another view.
    b.simple_query("CREATE TEMPORARY VIEW mine AS SELECT 7::bigint AS x").await.unwrap();
    assert_eq!(b.query_one("SELECT x FROM mine", &[]).await.unwrap().get::<_, i64>(0), 7);
    let err = a.simple_query("CREATE TEMP VIEW mine AS SELECT 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::DUPLICATE_TABLE), "{err:?}");
    a.simple_query("CREATE OR REPLACE TEMP VIEW mine AS SELECT 2::bigint AS y").await.unwrap();
    assert_eq!(a.query_one("SELECT y FROM mine", &[]).await.unwrap().get::<_, i64>(0), 2);
    // A temporary view may shadow a lake table, for its session only.
    a.simple_query("CREATE TEMP VIEW edr_alerts AS SELECT 1::bigint AS shadow").await.unwrap();
    assert_eq!(a.query_one("SELECT shadow FROM edr_alerts", &[]).await.unwrap().get::<_, i64>(0), 1);
    let n: i64 = b.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    a.simple_query("DROP VIEW edr_alerts").await.unwrap();
    let n: i64 = a.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
    assert_eq!(n, 2, "the table is back after dropping the temporary view");
    a.simple_query("DROP VIEW mine").await.unwrap();
    assert_eq!(b.query_one("SELECT x FROM mine", &[]).await.unwrap().get::<_, i64>(0), 7);
    // Readers may not create session views either.
    let reader = connect_as(&server, "rita", "reader-pw").await.unwrap();
    let err = reader.simple_query("CREATE TEMP VIEW r AS SELECT 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{err:?}");
}

#[test]
fn passwd_prints_a_verifier_for_the_password_on_stdin() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_huntlake"))
        .arg("passwd")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all("pässword 1\n".as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("pässword") && !String::from_utf8_lossy(&out.stderr).contains("pässword"));
    let v = ScramVerifier::parse(stdout.trim()).unwrap();
    assert_eq!(v.iterations, 4096);
    assert_eq!(ScramVerifier::from_password("pässword 1", &v.salt, v.iterations), v);
    assert_ne!(ScramVerifier::from_password("pässword", &v.salt, v.iterations), v);
}
