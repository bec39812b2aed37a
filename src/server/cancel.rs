//! Query cancellation: the protocol's CancelRequest (backend pid + secret
//! key) and `pg_cancel_backend(pid)`.
//!
//! pgwire 0.41 only cancels while `do_query` runs (planning); once rows
//! stream, its cancel signal is no longer watched. So every logged-in
//! connection registers here with its own [`QueryCancel`], each statement
//! takes a fresh token from it, and the planning step and the streaming
//! encoder (`encode.rs`) both watch that token: cancelling drops the
//! DataFusion stream, which stops the query's remaining work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_int64_array;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio_util::sync::CancellationToken;

use super::auth::Role;

/// The cancel switch of one connection; each statement gets a new token.
#[derive(Debug, Default)]
pub struct QueryCancel {
    current: Mutex<CancellationToken>,
}

impl QueryCancel {
    /// A token for a statement starting now (earlier cancels do not apply).
    pub fn start(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *self.current.lock().expect("not poisoned") = token.clone();
        token
    }

    /// Cancels the running statement, if any (a no-op when idle, as in
    /// PostgreSQL: the next statement starts with a fresh token).
    pub fn cancel(&self) {
        self.current.lock().expect("not poisoned").cancel();
    }
}

/// One logged-in connection.
#[derive(Debug)]
pub struct Backend {
    pub user: String,
    pub role: Role,
    pub cancel: Arc<QueryCancel>,
}

impl Backend {
    pub fn new(user: String, role: Role) -> Self {
        Self { user, role, cancel: Arc::new(QueryCancel::default()) }
    }
}

struct Entry {
    secret: SecretKey,
    backend: Arc<Backend>,
}

/// All logged-in connections by backend pid.
#[derive(Default)]
pub struct Backends {
    next_pid: AtomicI32,
    map: Mutex<HashMap<i32, Entry>>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").field("count", &self.len()).finish()
    }
}

/// Keeps a connection registered; unregisters it when the connection ends
/// (it lives in the connection's session extensions).
pub struct Registration {
    pid: i32,
    pub(super) backends: Arc<Backends>,
    pub backend: Arc<Backend>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.backends.map.lock().expect("not poisoned").remove(&self.pid);
    }
}

impl Registration {
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Backends {
    pub fn new() -> Arc<Self> {
        // Pids look like PostgreSQL's (small positive numbers) and are unique
        // per server.
        Arc::new(Self { next_pid: AtomicI32::new(1000), map: Mutex::default() })
    }

    pub fn next_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(self: &Arc<Self>, pid: i32, secret: SecretKey, backend: Backend) -> Registration {
        let backend = Arc::new(backend);
        self.map.lock().expect("not poisoned").insert(pid, Entry { secret, backend: backend.clone() });
        Registration { pid, backends: self.clone(), backend }
    }

    pub fn len(&self) -> usize {
        self.map.lock().expect("not poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// CancelRequest: the pid and secret key must both match.
    pub fn cancel_with_key(&self, pid: i32, secret: &SecretKey) -> bool {
        let backend = {
            let map = self.map.lock().expect("not poisoned");
            match map.get(&pid) {
                Some(e) if e.secret.eq_value(secret) => e.backend.clone(),
                _ => return false,
            }
        };
        backend.cancel.cancel();
        true
    }

    /// `pg_cancel_backend(pid)` by `user`: allowed for the user's own
    /// connections, as for a PostgreSQL role without pg_signal_backend.
    pub fn cancel_as(&self, pid: i32, user: &str) -> bool {
        let backend = match self.map.lock().expect("not poisoned").get(&pid) {
            Some(e) if e.backend.user == user => e.backend.clone(),
            _ => return false,
        };
        backend.cancel.cancel();
        true
    }
}

/// Answers CancelRequest messages (on their own short connection).
pub struct CancelByKey(pub Arc<Backends>);

#[async_trait]
impl CancelHandler for CancelByKey {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let found = self.0.cancel_with_key(request.pid, &request.secret_key);
        tracing::info!(pid = request.pid, found, "Cancel request.");
    }
}

/// Registers `pg_backend_pid()` and `pg_cancel_backend(pid)` for one
/// client's session, replacing the engine's fixed answers.
pub fn register_session_functions(ctx: &SessionContext, backends: Arc<Backends>, pid: i32, user: String) {
    ctx.register_udf(create_udf(
        "pg_backend_pid",
        vec![],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::Int32(Some(pid))))
        }),
    ));
    ctx.register_udf(create_udf(
        "pg_cancel_backend",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let pids = ColumnarValue::values_to_arrays(args)?;
            let pids = as_int64_array(&pids[0])?;
            let out: BooleanArray = pids
                .iter()
                .map(|p| p.map(|p| i32::try_from(p).is_ok_and(|p| backends.cancel_as(p, &user))))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
}
