//! The limit on concurrent queries (`query.max_concurrent_queries`).
//!
//! A query takes a slot before it is planned and gives it back when its
//! result stream ends or is dropped, so a client reading a large result
//! slowly holds its slot as long as it reads. A query that finds every slot
//! taken waits, in arrival order, until its deadline (the query's timeout
//! counts from its arrival), then is refused as [`QueryError::Busy`]: 503
//! with `Retry-After`, since the same query may pass once the load drops.

use std::sync::Arc;

use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::QueryError;

#[derive(Clone)]
pub(crate) struct Slots {
    /// One permit per query allowed to run at once.
    semaphore: Arc<Semaphore>,
    /// The configured number of permits, for messages.
    limit: usize,
    /// Queries waiting now.
    waiting: IntGauge,
    /// Queries holding a slot now.
    running: IntGauge,
}

/// A taken slot; dropping it frees the slot.
pub(crate) struct Slot {
    /// Held, never read: its drop returns the slot.
    _permit: OwnedSemaphorePermit,
    /// Decremented on drop.
    running: IntGauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.running.dec();
    }
}

/// Counts a waiting query down however the wait ends, the caller dropping
/// the future included.
struct Waiting(IntGauge);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Slots {
    pub(crate) fn new(limit: usize, waiting: IntGauge, running: IntGauge) -> Self {
        let limit = limit.max(1);
        Slots {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
            waiting,
            running,
        }
    }

    /// A slot, waiting for one until `deadline` if all are taken.
    pub(crate) async fn acquire(&self, deadline: Instant) -> Result<Slot, QueryError> {
        let arrived = Instant::now();
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                self.waiting.inc();
                let _waiting = Waiting(self.waiting.clone());
                let acquire = self.semaphore.clone().acquire_owned();
                match tokio::time::timeout_at(deadline, acquire).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(closed)) => return Err(QueryError::Internal(closed.to_string())),
                    Err(_) => {
                        return Err(QueryError::Busy {
                            limit: self.limit,
                            waited: arrived.elapsed(),
                        });
                    }
                }
            }
        };
        self.running.inc();
        Ok(Slot {
            _permit: permit,
            running: self.running.clone(),
        })
    }
}
