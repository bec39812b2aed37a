//! The Postgres wire-protocol endpoint.
//!
//! Our own pgwire handler (not `datafusion_postgres::serve`; see
//! `architecture.md`): SCRAM-SHA-256 logins against stored verifiers
//! ([`auth`], [`scram`]), optional or required TLS ([`tls`]), our own
//! connection loop with message-size caps, login throttling and a hard
//! connection limit ([`connection`], [`throttle`]), one DataFusion session
//! per connection ([`session`]), session chatter answered like PostgreSQL
//! and lake writes refused ([`statement`]), results streamed with arrow-pg
//! and stopped by statement_timeout or cancel ([`encode`], [`cancel`]),
//! errors mapped to SQLSTATE ([`errors`]).
//!
//! The server sees only an [`Engine`]; it knows nothing of connectors or the
//! lake layout. It takes a bound listener and a shutdown future, so tests
//! bind port 0.

pub mod auth;
mod cancel;
mod connection;
mod encode;
mod executor;
pub mod errors;
mod handler;
mod params;
mod session;
pub mod scram;
pub mod statement;
mod temp_views;
mod throttle;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::PgWireError;
use pgwire::tokio::TlsAcceptor;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use auth::{Credential, Role};
use auth::UserStore;
use cancel::Backends;
use handler::QueryService;
pub use scram::ScramVerifier;
pub use throttle::ThrottleOptions;

use crate::engine::Engine;

/// Default cap on one frontend message (a query text, a Bind with its
/// parameters): far above any real query, far below pgwire's 1 GiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// How the endpoint behaves.
#[derive(Clone)]
pub struct ServerOptions {
    /// Who may log in (SCRAM-SHA-256).
    pub users: Vec<Credential>,
    /// Connections served at once; further ones are refused with 53300.
    pub max_connections: usize,
    /// How long in-flight connections may finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// Refuse connections that did not negotiate TLS.
    pub tls_require: bool,
    /// Largest frontend message accepted, in bytes.
    pub max_message_size: usize,
    /// Failed-login throttling.
    pub throttle: ThrottleOptions,
    /// Time allowed from connect to a completed login.
    pub startup_timeout: Duration,
    /// Run query execution on this runtime instead of a dedicated one
    /// (tests use it to measure the queries' CPU time).
    pub query_runtime: Option<tokio::runtime::Handle>,
}

impl ServerOptions {
    /// Defaults for everything but the users.
    pub fn new(users: Vec<Credential>) -> Self {
        Self {
            users,
            max_connections: 100,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
            tls_require: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            throttle: ThrottleOptions::default(),
            startup_timeout: Duration::from_secs(60),
            query_runtime: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("users", &self.users)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls.is_some())
            .field("tls_require", &self.tls_require)
            .field("max_message_size", &self.max_message_size)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

/// Logs failed statements and connection errors. Statement text and
/// parameters are logged only at debug level by the handlers; messages here
/// never contain passwords (the server never receives one: SCRAM sends
/// proofs).
struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        let user = client.metadata().get("user").map(String::as_str).unwrap_or("");
        match error {
            PgWireError::UserError(info) => {
                tracing::debug!(user, code = %info.code, message = %info.message, "Statement failed.")
            }
            other => tracing::info!(user, peer = %client.socket_addr(), error = %other, "Client error."),
        }
    }
}

/// Connections over the limit answered at once with 53300; beyond this many
/// in flight, extra sockets are closed without an answer.
const MAX_REJECTING: usize = 64;

/// Serves `engine` on `listener` until `shutdown` resolves.
pub async fn serve(
    engine: Engine,
    options: ServerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if options.tls_require && options.tls.is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "server.tls_require needs server.tls_cert and server.tls_key",
        ));
    }
    let backends = Backends::new();
    let runtime = Arc::new(match options.query_runtime.clone() {
        Some(handle) => executor::QueryRuntime::on(handle),
        None => executor::QueryRuntime::dedicated()?,
    });
    let shared = Arc::new(connection::Shared {
        query: Arc::new(QueryService::new(engine, runtime)),
        users: Arc::new(UserStore::new(&options.users)),
        params: Arc::new(auth::parameter_provider()),
        backends,
        throttle: throttle::LoginThrottle::new(options.throttle),
        tls: options.tls.clone(),
        tls_require: options.tls_require,
        max_message_size: options.max_message_size.max(1024),
        startup_timeout: options.startup_timeout,
    });
    let max = options.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let rejecting = Arc::new(Semaphore::new(MAX_REJECTING));
    tracing::info!(address = %listener.local_addr()?, tls = options.tls.is_some(), tls_require = options.tls_require,
        max_connections = max, "Serving the Postgres protocol.");
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "Could not accept a connection.");
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let shared = shared.clone();
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(async move {
                    if let Err(e) = connection::serve(shared, socket, peer).await {
                        tracing::debug!(%peer, error = %e, "Connection ended with an error.");
                    }
                    drop(slot);
                });
            }
            Err(_) => {
                if let Ok(permit) = rejecting.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        connection::reject(shared, socket, peer).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    tracing::info!(grace = ?options.shutdown_grace, "Stopped accepting connections; waiting for open ones.");
    if tokio::time::timeout(options.shutdown_grace, slots.acquire_many(max as u32)).await.is_err() {
        tracing::warn!("Connections still open after the shutdown grace period are closed.");
    }
    Ok(())
}
