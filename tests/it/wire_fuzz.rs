//! Hostile bytes over the wire: specific malformed messages get PostgreSQL
//! errors, and a seeded random generator throws raw protocol bytes at a
//! running server (before and after login). Afterwards the server has not
//! panicked, has closed every connection whose client hung up, and still
//! serves a normal client.
//!
//! The random part is bounded by a case count: `HUNTLAKE_FUZZ_CASES`
//! (default 500) and `HUNTLAKE_FUZZ_SEED` (default fixed) raise or vary it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures::{small_lake, start_with, PASSWORD, USER};

const THREAD_NAME: &str = "huntlake-wire-fuzz";

/// xorshift64*: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

async fn read_message(s: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<Option<Message>> {
    loop {
        if let Some(m) = Message::parse(buf)? {
            return Ok(Some(m));
        }
        if s.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// A connection logged in over raw protocol messages (SCRAM done by
/// postgres-protocol), ready for query.
async fn login(addr: SocketAddr) -> (TcpStream, BytesMut) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut out = BytesMut::new();
    let mut rbuf = BytesMut::new();
    frontend::startup_message([("user", USER), ("database", "huntlake")], &mut out).unwrap();
    s.write_all(&out.split()).await.unwrap();
    let mut scram = ScramSha256::new(PASSWORD.as_bytes(), ChannelBinding::unsupported());
    loop {
        match read_message(&mut s, &mut rbuf).await.unwrap().expect("server closed during login") {
            Message::AuthenticationSasl(_) => {
                frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), &mut out).unwrap();
                s.write_all(&out.split()).await.unwrap();
            }
            Message::AuthenticationSaslContinue(body) => {
                scram.update(body.data()).unwrap();
                frontend::sasl_response(scram.message(), &mut out).unwrap();
                s.write_all(&out.split()).await.unwrap();
            }
            Message::AuthenticationSaslFinal(body) => scram.finish(body.data()).unwrap(),
            Message::ReadyForQuery(_) => return (s, rbuf),
            Message::ErrorResponse(_) => panic!("login failed"),
            _ => {}
        }
    }
}

/// A typed message with its real length.
fn typed(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![t];
    m.extend(((body.len() + 4) as i32).to_be_bytes());
    m.extend(body);
    m
}

fn cstr(s: &[u8]) -> Vec<u8> {
    let mut v = s.to_vec();
    v.push(0);
    v
}

const SQL: &[&str] = &[
    "SELECT 1",
    "SELECT $1",
    "SELECT $1::bigint + $2",
    "SELECT * FROM edr_alerts WHERE severity_id > $1",
    "SELECT count(*) FROM network_flows WHERE time >= $1",
    "INSERT INTO edr_alerts (vendor) VALUES ($1)",
    "SET statement_timeout = $1",
    "SELEC",
    "",
    ";;",
    "SELECT '\u{0}'",
    "SHOW ALL",
    "BEGIN; SELECT 1; COMMIT",
];

/// One random frontend message, valid or not.
fn random_message(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        // Query with a random or known text, sometimes invalid UTF-8, sometimes unterminated.
        0 => {
            let text = if rng.below(2) == 0 { rng.bytes(64) } else { rng.pick(SQL).as_bytes().to_vec() };
            if rng.below(4) == 0 { typed(b'Q', &text) } else { typed(b'Q', &cstr(&text)) }
        }
        // Parse with random parameter type OIDs (and a random count field).
        1 => {
            let mut body = cstr(if rng.below(2) == 0 { b"" } else { b"s1" });
            body.extend(cstr(rng.pick(SQL).as_bytes()));
            let n = rng.below(4) as i16;
            let declared = if rng.below(4) == 0 { rng.next() as i16 } else { n };
            body.extend(declared.to_be_bytes());
            for _ in 0..n {
                body.extend((*rng.pick(&[0u32, 20, 23, 25, 1043, 1184, 16, 17, 9999, u32::MAX])).to_be_bytes());
            }
            typed(b'P', &body)
        }
        // Bind with inconsistent format and parameter counts, lengths and values.
        2 => {
            let mut body = cstr(b"");
            body.extend(cstr(if rng.below(2) == 0 { b"" } else { b"s1" }));
            let formats = rng.below(4) as i16;
            body.extend(formats.to_be_bytes());
            for _ in 0..formats {
                body.extend((rng.below(4) as i16).to_be_bytes());
            }
            let params = rng.below(5) as i16;
            body.extend(if rng.below(5) == 0 { rng.next() as i16 } else { params }.to_be_bytes());
            for _ in 0..params {
                match rng.below(4) {
                    0 => body.extend((-1i32).to_be_bytes()),
                    1 => body.extend((rng.next() as i32).to_be_bytes()),
                    _ => {
                        let v = if rng.below(2) == 0 { rng.bytes(9) } else { rng.pick(&["1", "x", "2026-11-03", "1e400", "\u{ff}"]).as_bytes().to_vec() };
                        body.extend((v.len() as i32).to_be_bytes());
                        body.extend(v);
                    }
                }
            }
            let results = rng.below(3) as i16;
            body.extend(results.to_be_bytes());
            for _ in 0..results {
                body.extend((rng.below(3) as i16).to_be_bytes());
            }
            typed(b'B', &body)
        }
        3 => {
            let mut body = vec![*rng.pick(b"SPX")];
            body.extend(cstr(if rng.below(2) == 0 { b"" } else { b"s1" }));
            typed(b'D', &body)
        }
        4 => {
            let mut body = cstr(b"");
            body.extend((rng.next() as i32).to_be_bytes());
            typed(b'E', &body)
        }
        5 => typed(*rng.pick(b"SHc"), &[]),
        6 => {
            let mut body = vec![*rng.pick(b"SPZ")];
            body.extend(cstr(b"s1"));
            typed(b'C', &body)
        }
        7 => typed(b'd', &rng.bytes(32)),
        8 => typed(b'f', &cstr(b"nope")),
        // An unknown or random type byte with a random body.
        9 => typed(rng.next() as u8, &rng.bytes(32)),
        // A declared length unrelated to the body: huge, negative, tiny.
        10 => {
            let any = rng.next() as u8;
            let mut m = vec![*rng.pick(&[b'Q', b'P', b'B', b'p', any])];
            m.extend((*rng.pick(&[i32::MAX, 1 << 30, 64 << 20, -1, 0, 3, 5])).to_be_bytes());
            m.extend(rng.bytes(16));
            m
        }
        // A password message after login.
        11 => typed(b'p', &rng.bytes(32)),
        // Raw random bytes.
        12 => rng.bytes(128),
        // A valid message with a few flipped bits.
        _ => {
            let mut m = typed(b'Q', &cstr(rng.pick(SQL).as_bytes()));
            for _ in 0..=rng.below(3) {
                let i = rng.below(m.len() as u64) as usize;
                m[i] ^= 1 << rng.below(8);
            }
            m
        }
    }
}

/// Bytes sent before login: junk, broken startup packets, SSL/GSS requests.
fn random_startup(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => rng.bytes(256),
        1 => {
            // A startup packet with random parameters (invalid UTF-8 included).
            let mut body = 196608i32.to_be_bytes().to_vec();
            for _ in 0..rng.below(4) {
                body.extend(cstr(&rng.bytes(12)));
                body.extend(cstr(&rng.bytes(12)));
            }
            if rng.below(2) == 0 {
                body.push(0);
            }
            let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
            m.extend(body);
            m
        }
        2 => {
            let mut m = (*rng.pick(&[i32::MAX, 1 << 30, 10_001, 7, 0, -8])).to_be_bytes().to_vec();
            m.extend(rng.bytes(64));
            m
        }
        3 => {
            // SSLRequest / GSSENCRequest (refused: no TLS here), then junk.
            let mut m = 8i32.to_be_bytes().to_vec();
            m.extend(rng.pick(&[80877103i32, 80877104, 80877102, 1234]).to_be_bytes());
            m.extend(rng.bytes(64));
            m
        }
        4 => {
            // Protocol versions the server does not speak.
            let mut body = (*rng.pick(&[0i32, 1 << 16, 196610, 196608 + 9999, 4 << 16])).to_be_bytes().to_vec();
            body.extend(cstr(b"user"));
            body.extend(cstr(USER.as_bytes()));
            body.push(0);
            let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
            m.extend(body);
            m
        }
        _ => {
            // A valid startup, then garbage where the SASL response belongs.
            let mut out = BytesMut::new();
            frontend::startup_message([("user", USER)], &mut out).unwrap();
            let mut m = out.to_vec();
            m.extend(random_message(rng));
            m
        }
    }
}

/// Sends `bytes`, hangs up the sending side, and reads until the server
/// closes. The server must close within the bound: a connection whose
/// client is gone must not linger.
async fn send_and_drain(mut s: TcpStream, bytes: &[u8], case: u64) {
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "case {case}: the server kept a hung-up connection open");
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(THREAD_NAME) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        previous(info)
    }));
}

/// Reads messages until ReadyForQuery; returns the SQLSTATE of the first
/// error, or `None` when the server closed the connection.
async fn until_ready(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Result<(), String>> {
    let mut error = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), read_message(s, buf)).await.expect("server answers") {
            Ok(Some(Message::ErrorResponse(body))) => {
                let mut fields = body.fields();
                while let Ok(Some(f)) = fallible_iterator::FallibleIterator::next(&mut fields) {
                    if f.type_() == b'C' && error.is_none() {
                        error = Some(String::from_utf8_lossy(f.value_bytes()).to_string());
                    }
                }
            }
            Ok(Some(Message::ReadyForQuery(_))) => return Some(error.map_or(Ok(()), Err)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Reads until the server closes; returns the SQLSTATE of the last error.
async fn until_closed(s: &mut TcpStream, buf: &mut BytesMut) -> Option<String> {
    let mut code = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), read_message(s, buf)).await.expect("server answers") {
            Ok(Some(Message::ErrorResponse(body))) => {
                let mut fields = body.fields();
                while let Ok(Some(f)) = fallible_iterator::FallibleIterator::next(&mut fields) {
                    if f.type_() == b'C' {
                        code = Some(String::from_utf8_lossy(f.value_bytes()).to_string());
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return code,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn malformed_messages_get_postgres_errors() {
    count_server_panics();
    runtime().block_on(async {
        let (_dir, lake) = small_lake().await;
        let server = start_with(
            lake,
            |_| {},
            |o| {
                o.max_message_size = 1 << 20;
                o.query_runtime = Some(tokio::runtime::Handle::current());
            },
        )
        .await;

        // Invalid UTF-8 in a query: an error, and the connection goes on.
        let (mut s, mut buf) = login(server.addr).await;
        s.write_all(&typed(b'Q', &cstr(b"SELECT '\xff\xfe'"))).await.unwrap();
        assert!(until_ready(&mut s, &mut buf).await.is_some());
        // Bind with the wrong parameter count: 08P01, then Sync recovers.
        let mut out = BytesMut::new();
        frontend::parse("s1", "SELECT $1::bigint + $2::bigint", [20, 20], &mut out).unwrap();
        out.put_slice(&typed(b'B', &[&cstr(b"")[..], &cstr(b"s1"), &0i16.to_be_bytes(), &1i16.to_be_bytes(), &1i32.to_be_bytes(), b"1", &0i16.to_be_bytes()].concat()));
        frontend::execute("", 0, &mut out).unwrap();
        frontend::sync(&mut out);
        s.write_all(&out.split()).await.unwrap();
        let r = until_ready(&mut s, &mut buf).await.expect("still open");
        assert!(r.is_err(), "wrong parameter count must fail");
        // Bind with a value that is not of the parameter's type (binary int8 of 3 bytes).
        frontend::parse("s2", "SELECT $1::bigint", [20], &mut out).unwrap();
        out.put_slice(&typed(b'B', &[&cstr(b"")[..], &cstr(b"s2"), &1i16.to_be_bytes(), &1i16.to_be_bytes(), &1i16.to_be_bytes(), &3i32.to_be_bytes(), b"abc", &0i16.to_be_bytes()].concat()));
        frontend::execute("", 0, &mut out).unwrap();
        frontend::sync(&mut out);
        s.write_all(&out.split()).await.unwrap();
        assert!(until_ready(&mut s, &mut buf).await.expect("still open").is_err());
        frontend::query("SELECT 1", &mut out).unwrap();
        s.write_all(&out.split()).await.unwrap();
        assert_eq!(until_ready(&mut s, &mut buf).await, Some(Ok(())), "the connection still works");

        // An unknown message type: FATAL 08P01 and close, as PostgreSQL.
        let (mut s, mut buf) = login(server.addr).await;
        s.write_all(&typed(b'!', b"junk")).await.unwrap();
        assert_eq!(until_closed(&mut s, &mut buf).await.as_deref(), Some("08P01"));

        // An oversized message is refused from its length field, before its
        // body is read.
        let (mut s, mut buf) = login(server.addr).await;
        let mut huge = vec![b'Q'];
        huge.extend((64i32 << 20).to_be_bytes());
        huge.extend(b"SELECT ");
        s.write_all(&huge).await.unwrap();
        assert_eq!(until_closed(&mut s, &mut buf).await.as_deref(), Some("08P01"));

        // A startup packet with a bad length: closed without a crash.
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]).await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut sink)).await.expect("closed");

        let client = server.connect().await;
        assert_eq!(client.query_one("SELECT 1::bigint", &[]).await.unwrap().get::<_, i64>(0), 1);
    });
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked");
}

#[test]
fn random_protocol_bytes_do_not_break_the_server() {
    let cases: u64 = std::env::var("HUNTLAKE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let seed: u64 = std::env::var("HUNTLAKE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_1a4e);
    count_server_panics();
    runtime().block_on(async {
        let (_dir, lake) = small_lake().await;
        let server = Arc::new(
            start_with(
                lake,
                |_| {},
                |o| {
                    o.max_message_size = 1 << 20;
                    o.query_runtime = Some(tokio::runtime::Handle::current());
                    // Junk logins must not lock the final client out.
                    o.throttle.max_failures = 0;
                    o.throttle.base_delay = Duration::from_millis(1);
                },
            )
            .await,
        );
        // A few cases at a time, each with its own generator.
        let mut tasks = tokio::task::JoinSet::new();
        for case in 0..cases {
            let addr = server.addr;
            tasks.spawn(async move {
                let mut rng = Rng(seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                if rng.below(3) == 0 {
                    let s = TcpStream::connect(addr).await.unwrap();
                    send_and_drain(s, &random_startup(&mut rng), case).await;
                } else {
                    let (s, _) = login(addr).await;
                    let mut bytes = Vec::new();
                    for _ in 0..=rng.below(6) {
                        bytes.extend(random_message(&mut rng));
                    }
                    let mut out = BytesMut::new();
                    frontend::sync(&mut out);
                    frontend::query("SELECT 1", &mut out).unwrap();
                    bytes.extend(out.to_vec());
                    send_and_drain(s, &bytes, case).await;
                }
            });
            if tasks.len() >= 8 {
                tasks.join_next().await.unwrap().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        let client = server.connect().await;
        let n: i64 = client.query_one("SELECT count(*) FROM edr_alerts", &[]).await.unwrap().get(0);
        assert_eq!(n, 2);
    });
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked (seed {seed})");
}
