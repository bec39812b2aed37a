//! The Postgres wire-protocol endpoint.
//!
//! Our own pgwire handler (not `datafusion_postgres::serve`; see
//! `architecture.md`): SCRAM-SHA-256 logins ([`auth`]), one DataFusion session
//! per connection ([`session`]), session chatter answered like PostgreSQL and
//! lake writes refused ([`statement`]), results streamed with arrow-pg
//! ([`encode`]), errors mapped to SQLSTATE ([`errors`]).
//!
//! The server sees only an [`Engine`]; it knows nothing of connectors or the
//! lake layout. It takes a bound listener and a shutdown future, so tests
//! bind port 0.

pub mod auth;
mod encode;
pub mod errors;
mod handler;
mod params;
mod session;
pub mod statement;

use std::future::Future;
use std::sync::Arc;

use pgwire::api::auth::DefaultServerParameterProvider;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireError;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use auth::Credential;
use auth::UserStore;
use handler::QueryService;

use crate::engine::Engine;

/// How the endpoint behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Who may log in (SCRAM-SHA-256).
    pub users: Vec<Credential>,
    /// Connections served at once; further ones wait for a free slot.
    pub max_connections: usize,
    /// How long in-flight connections may finish after shutdown starts.
    pub shutdown_grace: std::time::Duration,
}

struct Handlers {
    query: Arc<QueryService>,
    users: Arc<UserStore>,
    params: Arc<DefaultServerParameterProvider>,
    connections: Arc<ConnectionManager>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.query.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.query.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        // Called once per connection: each gets its own SCRAM exchange state.
        Arc::new(auth::startup_handler(self.users.clone(), self.params.clone(), self.connections.clone()))
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(self.connections.clone()))
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

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

/// Serves `engine` on `listener` until `shutdown` resolves.
pub async fn serve(
    engine: Engine,
    options: ServerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers {
        query: Arc::new(QueryService::new(engine)),
        users: Arc::new(UserStore::new(&options.users)),
        params: Arc::new(auth::parameter_provider()),
        connections: Arc::new(ConnectionManager::new()),
    });
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    tracing::info!(address = %listener.local_addr()?, "Serving the Postgres protocol.");
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
        let handlers = handlers.clone();
        let slots = slots.clone();
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else { return };
            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                tracing::debug!(%peer, error = %e, "Connection ended with an error.");
            }
        });
    }
    let max = options.max_connections.max(1) as u32;
    tracing::info!(grace = ?options.shutdown_grace, "Stopped accepting connections; waiting for open ones.");
    if tokio::time::timeout(options.shutdown_grace, slots.acquire_many(max)).await.is_err() {
        tracing::warn!("Connections still open after the shutdown grace period are closed.");
    }
    Ok(())
}
