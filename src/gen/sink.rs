//! Where generated events go: NDJSON (a file, gzip by its name, or stdout)
//! or Kafka through ingest's idempotent `acks=all` publisher.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::Compression;
use flate2::write::GzEncoder;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hoso_ingest::Publisher;
use tokio::sync::mpsc;

use super::GenError;

/// Events as NDJSON bytes, and where each one's key and payload are.
#[derive(Default)]
pub struct Batch {
    /// Every event followed by a newline.
    pub bytes: Vec<u8>,
    /// (key, payload without the newline) of each event, as ranges of `bytes`.
    pub items: Vec<(Range<usize>, Range<usize>)>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn events(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.items.iter().map(|(k, p)| {
            // Keys are ASCII filing ids written by the stream.
            let key = std::str::from_utf8(&self.bytes[k.clone()]).unwrap_or_default();
            (key, &self.bytes[p.clone()])
        })
    }
}

/// The receiving end of the generator thread.
pub enum Output {
    /// Lines written here; `sent` counts them.
    Ndjson {
        writer: Box<dyn Write + Send>,
        sent: Arc<AtomicU64>,
    },
    /// Batches handed to the publishing task, which counts acknowledged events.
    Kafka(mpsc::Sender<Batch>),
}

impl Output {
    /// NDJSON to `path`: `-` is stdout, a name ending in `.gz` is gzipped.
    pub fn ndjson(path: &Path, sent: Arc<AtomicU64>) -> Result<Output, GenError> {
        let writer: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout()))
        } else {
            let file = File::create(path)
                .map_err(|e| GenError::Usage(format!("cannot create {}: {e}", path.display())))?;
            let file = BufWriter::with_capacity(1 << 20, file);
            if path.extension().is_some_and(|e| e == "gz") {
                Box::new(GzEncoder::new(file, Compression::fast()))
            } else {
                Box::new(file)
            }
        };
        Ok(Output::Ndjson { writer, sent })
    }

    /// Hands over the batch and leaves it empty. `Err` when the sink
    /// cannot take more: the run stops.
    pub fn send(&mut self, batch: &mut Batch) -> Result<(), GenError> {
        match self {
            Output::Ndjson { writer, sent } => {
                writer
                    .write_all(&batch.bytes)
                    .map_err(|e| GenError::Output(e.to_string()))?;
                sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                // Keep the buffers: fresh ones cost page faults every batch.
                batch.bytes.clear();
                batch.items.clear();
                Ok(())
            }
            // Closed: the publishing task stopped on a Kafka failure or a stop.
            Output::Kafka(tx) => {
                let next = Batch {
                    bytes: Vec::with_capacity(batch.bytes.capacity()),
                    items: Vec::with_capacity(batch.items.capacity()),
                };
                tx.blocking_send(std::mem::replace(batch, next))
                    .map_err(|_| GenError::Output("the Kafka publisher stopped".into()))
            }
        }
    }

    /// Flushes what is buffered (and ends a gzip stream).
    pub fn finish(self) -> Result<(), GenError> {
        match self {
            Output::Ndjson { mut writer, .. } => {
                writer.flush().map_err(|e| GenError::Output(e.to_string()))
            }
            Output::Kafka(_) => Ok(()),
        }
    }
}

/// Publishes batches from `rx` with at most `max_in_flight` awaiting their
/// acknowledgement; `sent` counts acknowledged events. Returns the first
/// failure, after which it takes no more batches.
pub async fn publish(
    mut rx: mpsc::Receiver<Batch>,
    publisher: Publisher,
    max_in_flight: usize,
    sent: Arc<AtomicU64>,
) -> Result<(), String> {
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let done: Result<usize, hoso_ingest::publish::PublishError> = done;
                match done {
                    Ok(n) => {
                        sent.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        rx.close();
                        // What is in flight may still land; it is not counted.
                        return Err(e.to_string());
                    }
                }
            }
            batch = rx.recv(), if open && in_flight.len() < max_in_flight => match batch {
                Some(batch) => {
                    let p = publisher.clone();
                    in_flight.push(async move { p.publish(batch.events()).await });
                }
                None => open = false,
            },
        }
    }
    Ok(())
}
