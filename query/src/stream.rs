//! A query's result as a stream of batches, with the policy that still
//! applies while rows flow: the timeout, the row cap and the slot.
//!
//! The stream ends at the first error and yields nothing after it. Whatever
//! the query held (its DataFusion stream, with the tasks it spawned, and its
//! slot) is let go the moment the stream ends, fails or is dropped: a client
//! that goes away cancels its query by dropping the stream, and the query
//! counts as `cancelled`.

use std::pin::Pin;
use std::task::{Context, Poll};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures::Stream;
use tokio::time::Sleep;

use crate::error::QueryError;
use crate::metrics::Tally;
use crate::slots::Slot;

/// Rows of a query that passed the read-only checks and is running.
pub struct QueryStream {
    /// The result's columns, known before the first row.
    schema: SchemaRef,
    /// `None` once the stream has ended, failed or yielded its error.
    running: Option<Running>,
    /// Rows yielded so far, for the cap.
    rows: usize,
    /// The deadline and the row cap.
    budget: Budget,
    /// The outcome, counted once: at the end, or as `cancelled` on drop.
    tally: Tally,
}

/// What a running query holds; dropped together when it ends.
struct Running {
    /// DataFusion's stream; dropping it stops the plan and its tasks.
    batches: SendableRecordBatchStream,
    /// The query's timeout, counted from its arrival.
    deadline: Pin<Box<Sleep>>,
    /// The query's slot; dropped last, after the plan has stopped.
    _slot: Slot,
}

/// What a query may spend, fixed when it arrives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// When it is cancelled: its arrival plus `timeout`.
    pub deadline: tokio::time::Instant,
    /// `query.timeout_ms`, for the error message.
    pub timeout: std::time::Duration,
    /// `query.max_result_rows`.
    pub max_rows: usize,
}

impl Budget {
    pub(crate) fn new(timeout: std::time::Duration, max_rows: usize) -> Self {
        Budget {
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            max_rows,
        }
    }
}

impl QueryStream {
    pub(crate) fn new(
        schema: SchemaRef,
        batches: SendableRecordBatchStream,
        slot: Slot,
        budget: Budget,
        tally: Tally,
    ) -> Self {
        QueryStream {
            schema,
            running: Some(Running {
                batches,
                deadline: Box::pin(tokio::time::sleep_until(budget.deadline)),
                _slot: slot,
            }),
            rows: 0,
            budget,
            tally,
        }
    }

    /// The result's columns.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Ends the query: frees what it held and counts its outcome.
    fn end(&mut self, outcome: &'static str, error: Option<&QueryError>) {
        self.running = None;
        self.tally.count(outcome, error);
    }

    /// Ends the query with `error`, which is the stream's last item.
    fn fail(&mut self, error: QueryError) -> Poll<Option<Result<RecordBatch, QueryError>>> {
        self.end(error.label(), Some(&error));
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch, QueryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(running) = this.running.as_mut() else {
            return Poll::Ready(None);
        };
        // The deadline first: a plan that always has a batch ready must
        // still stop on time.
        if running.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(QueryError::Timeout(this.budget.timeout));
        }
        match running.batches.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.end("ok", None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => this.fail(e.into()),
            Poll::Ready(Some(Ok(batch))) => {
                this.rows += batch.num_rows();
                if this.rows > this.budget.max_rows {
                    return this.fail(QueryError::TooManyRows(this.budget.max_rows));
                }
                this.tally.add_rows(batch.num_rows());
                Poll::Ready(Some(Ok(batch)))
            }
        }
    }
}
