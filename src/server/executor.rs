//! Runs query execution on a dedicated runtime, away from the protocol.
//!
//! DataFusion operators are cooperative but some do a lot of work per poll
//! (a nested-loop join with a selective filter can spend minutes in one
//! poll). On the runtime that serves connections, a few such queries would
//! occupy every worker thread: logins, cancel requests, statement timeouts
//! and everybody's small queries would wait. So each result stream is driven
//! by a task on a separate "query" runtime (with more threads than cores, so
//! the OS time-slices between concurrent heavy queries), and batches cross
//! to the connection through a small channel. Dropping the receiving side
//! (statement_timeout, cancel, client gone) aborts that task, which drops
//! the DataFusion stream and with it the query's spawned tasks.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot};

/// Where queries run.
pub struct QueryRuntime {
    handle: Handle,
    /// Owned when dedicated; shut down in the background when the server
    /// stops (a runtime cannot be dropped inside another one).
    owned: Option<Runtime>,
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            rt.shutdown_background();
        }
    }
}

impl QueryRuntime {
    /// A dedicated runtime with twice as many threads as cores (at least 4).
    pub fn dedicated() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads((2 * cores).max(4))
            .thread_name("huntlake-query")
            .enable_all()
            .build()?;
        Ok(Self { handle: rt.handle().clone(), owned: Some(rt) })
    }

    /// Runs queries on an existing runtime.
    pub fn on(handle: Handle) -> Self {
        Self { handle, owned: None }
    }

    /// Starts `df` on the query runtime; the returned stream yields its
    /// batches. Planning errors come back from this call.
    pub async fn execute(&self, df: DataFrame) -> Result<SendableRecordBatchStream, DataFusionError> {
        let (schema_tx, schema_rx) = oneshot::channel::<Result<SchemaRef, DataFusionError>>();
        let (tx, mut rx) = mpsc::channel(2);
        let task = self.handle.spawn(async move {
            let mut stream = match df.execute_stream().await {
                Ok(s) => {
                    let _ = schema_tx.send(Ok(s.schema()));
                    s
                }
                Err(e) => {
                    let _ = schema_tx.send(Err(e));
                    return;
                }
            };
            while let Some(batch) = stream.next().await {
                let failed = batch.is_err();
                if tx.send(batch).await.is_err() || failed {
                    return;
                }
            }
        });
        let abort = AbortOnDrop(task);
        let schema = match schema_rx.await {
            Ok(r) => r?,
            Err(_) => return Err(DataFusionError::Execution("query task ended unexpectedly".into())),
        };
        let batches = futures::stream::poll_fn(move |cx| {
            let _keep = &abort;
            rx.poll_recv(cx)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for QueryRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRuntime").field("dedicated", &self.owned.is_some()).finish()
    }
}

/// Shared handle.
pub type SharedRuntime = Arc<QueryRuntime>;
