//! Streams query results to the client: Arrow batches encoded row by row with
//! arrow-pg in the text or binary format the client asked for, bounded by the
//! session's `statement_timeout` and the connection's cancel token while rows
//! are still being produced (pgwire itself stops watching for cancels once
//! `do_query` has returned the stream).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{stream, Stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, QueryResponse};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::errors::{self, sqlstate};

/// Column descriptions for a result schema.
pub fn fields(schema: &Schema, format: &Format, options: Arc<FormatOptions>) -> PgWireResult<Arc<Vec<FieldInfo>>> {
    Ok(Arc::new(arrow_schema_to_pg_fields(schema, format, Some(options))?))
}

fn timeout_error() -> PgWireError {
    errors::error(sqlstate::QUERY_CANCELED, "canceling statement due to statement timeout")
}

fn cancel_error() -> PgWireError {
    errors::error(sqlstate::QUERY_CANCELED, "canceling statement due to user request")
}

/// A batch stream that ends with a 57014 error once its deadline passes or
/// its statement is cancelled. Dropping the inner stream stops the query's
/// remaining work (DataFusion aborts the tasks it spawned).
struct Deadline {
    inner: Option<SendableRecordBatchStream>,
    sleep: Option<Pin<Box<Sleep>>>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for Deadline {
    type Item = PgWireResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        if this.cancelled.as_mut().poll(cx).is_ready() {
            this.inner = None;
            return Poll::Ready(Some(Err(cancel_error())));
        }
        if let Some(sleep) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                this.inner = None;
                return Poll::Ready(Some(Err(timeout_error())));
            }
        }
        match inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Some(Err(e))) => {
                this.inner = None;
                Poll::Ready(Some(Err(errors::from_datafusion(e))))
            }
            Poll::Ready(None) => {
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Turns a running query into a pgwire response that stops at `deadline`
/// or when `cancel` fires.
pub fn query_response(
    stream: SendableRecordBatchStream,
    fields: Arc<Vec<FieldInfo>>,
    deadline: Option<Instant>,
    cancel: CancellationToken,
) -> QueryResponse {
    let batches = Deadline {
        inner: Some(stream),
        sleep: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        cancelled: Box::pin(cancel.cancelled_owned()),
    };
    let fields_ref = fields.clone();
    let rows = batches
        .map(move |batch| -> Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> {
            match batch {
                Ok(b) => encode_recordbatch(fields_ref.clone(), b),
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        })
        .flat_map(stream::iter);
    QueryResponse::new(fields, rows)
}

/// A response from batches already in memory (SHOW and friends).
pub fn batches_response(batches: Vec<RecordBatch>, fields: Arc<Vec<FieldInfo>>) -> QueryResponse {
    let fields_ref = fields.clone();
    let rows = stream::iter(batches).flat_map(move |b| stream::iter(encode_recordbatch(fields_ref.clone(), b)));
    QueryResponse::new(fields, rows)
}

/// The deadline for a statement started now.
pub fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Runs `fut` (planning, or a statement without rows) within the deadline,
/// unless cancelled first.
pub async fn within<T>(
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    let timed = async {
        match deadline {
            Some(d) => tokio::time::timeout_at(d, fut).await.map_err(|_| timeout_error())?,
            None => fut.await,
        }
    };
    tokio::select! {
        r = timed => r,
        _ = cancel.cancelled() => Err(cancel_error()),
    }
}
