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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

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
        let mut abort = abort;
        let mut ended = false;
        let batches = futures::stream::poll_fn(move |cx| {
            if ended {
                return Poll::Ready(None);
            }
            match rx.poll_recv(cx) {
                // The task let go of the channel: a normal end, unless it
                // panicked, which must not look like a complete result.
                Poll::Ready(None) => match Pin::new(&mut abort.0).poll(cx) {
                    Poll::Ready(result) => {
                        ended = true;
                        match result {
                            Ok(()) => Poll::Ready(None),
                            Err(e) => Poll::Ready(Some(Err(DataFusionError::Execution(format!("query execution failed: {e}"))))),
                        }
                    }
                    Poll::Pending => Poll::Pending,
                },
                other => other,
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
    use datafusion::prelude::SessionContext;

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udf(create_udf(
            "boom",
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Volatile,
            Arc::new(|_: &[ColumnarValue]| panic!("boom")),
        ));
        ctx
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_cross_over_and_a_panic_is_an_error_not_an_early_end() {
        let rt = QueryRuntime::dedicated().unwrap();
        let df = ctx().sql("SELECT value FROM generate_series(1, 100000)").await.unwrap();
        let batches: Vec<_> = rt.execute(df).await.unwrap().collect().await;
        let rows: usize = batches.into_iter().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 100_000);

        let df = ctx().sql("SELECT boom(value) FROM generate_series(1, 10)").await.unwrap();
        let results: Vec<_> = match rt.execute(df).await {
            Ok(stream) => stream.collect().await,
            Err(e) => vec![Err(e)],
        };
        assert!(results.iter().any(|r| r.is_err()), "a panicking query must end with an error");
    }
}
