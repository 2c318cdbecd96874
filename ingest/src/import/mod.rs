//! `hoso import`: files of events (NDJSON or CSV, gzip or not) through the
//! same validation and the same producer as HTTP ingest.
//!
//! A reader thread reads the files one after the other ([`read`] for lines
//! and gzip, [`csv`] for CSV rows to JSON), validates every event with
//! `hoso_model::decode_event_with` (and the due-date rules) and hands batches of valid events to the
//! async side, which publishes them with a bounded number of batches in
//! flight. Only acknowledged batches count as published. Unlike an HTTP
//! request, an import is not all or nothing: an invalid line is reported
//! (file, line, reason) and the valid ones are published.
//!
//! Re-running an import is safe: the events are published again, and the
//! processor's fold drops them because `(filing_id, seq)` and `event_id`
//! identify an event.

pub mod csv;
pub mod index;
mod portal;
pub mod read;

use std::future::Future;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hoso_model::catalogue::DueRules;
use hoso_model::portal::unit_map::UnitMap;
use hoso_model::units::Units;
use tokio::sync::mpsc;

use crate::publish::{PublishError, Publisher};
use read::{Line, Lines, MAX_LINE_BYTES, OnBytes};

/// How a file's events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line; blank lines are skipped.
    Ndjson,
    /// A header row of contract field names, then one event per row.
    Csv,
    /// The National Public Service Portal's records and steps
    /// (`DongBoHoSoMC`, `CapNhatTienDoHoSoMC`): a JSON array of them, one
    /// per line, or whole request bodies (`{"data": [...]}`) one per line.
    /// Never told by the name: `--format dvcqg`.
    Dvcqg,
}

impl Format {
    /// By name: `*.csv` and `*.csv.gz` are CSV, anything else NDJSON.
    pub fn of_path(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Ndjson
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            "dvcqg" => Ok(Format::Dvcqg),
            other => Err(format!("unknown format {other:?}: ndjson, csv or dvcqg")),
        }
    }
}

/// One file to import.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
}

/// One line that was not published, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The file as it was named.
    pub file: String,
    /// 1-based; in a CSV file the header is line 1 (a row with a quoted
    /// line break is numbered by its first line).
    pub line: u64,
    /// The validation error (`seq: must be >= 1, got 0`), or what kept the
    /// line from being read.
    pub reason: String,
}

/// Where rejections go: the first `keep` are kept for the summary, every
/// one is written to the report when there is one.
pub struct Rejections {
    first: Vec<Rejection>,
    keep: usize,
    total: u64,
    report: Option<::csv::Writer<Box<dyn Write + Send>>>,
}

impl Rejections {
    /// Keeps the first `keep` rejections; writes all of them as CSV
    /// (`file,line,reason`, with a header) to `report`, if given.
    pub fn new(keep: usize, report: Option<Box<dyn Write + Send>>) -> io::Result<Rejections> {
        let report = match report {
            Some(w) => {
                let mut w = ::csv::Writer::from_writer(w);
                w.write_record(["file", "line", "reason"])?;
                Some(w)
            }
            None => None,
        };
        Ok(Rejections {
            first: Vec::new(),
            keep,
            total: 0,
            report,
        })
    }

    fn push(&mut self, r: Rejection) -> io::Result<()> {
        self.total += 1;
        if let Some(w) = &mut self.report {
            w.write_record([r.file.as_str(), &r.line.to_string(), r.reason.as_str()])?;
        }
        if self.first.len() < self.keep {
            self.first.push(r);
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(w) = &mut self.report {
            w.flush()?;
        }
        Ok(())
    }
}

/// Told how an import moves along (a progress bar). Called from the reader
/// thread and the publishing task.
pub trait Progress: Send + Sync {
    /// `n` more bytes were read from the files (compressed bytes for gzip).
    fn read_bytes(&self, n: u64);
    /// `n` more events were acknowledged by Kafka.
    fn published(&self, n: u64);
}

/// No progress to show.
impl Progress for () {
    fn read_bytes(&self, _: u64) {}
    fn published(&self, _: u64) {}
}

/// How an import publishes.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Events per batch handed to the producer.
    pub batch_events: usize,
    /// Batches published at once: how far reading runs ahead of Kafka's
    /// acknowledgements.
    pub max_in_flight_batches: usize,
    /// How a `received` event without `due_at` gets one (as the
    /// processor will compute it); without a rule it is rejected.
    pub due_rules: DueRules,
    /// The provinces and communes an event may name; `None` checks none.
    pub units: Option<Arc<Units>>,
    /// The portal's unit codes (`sources.dvcqg.units_file`), for
    /// [`Format::Dvcqg`] files.
    pub portal_units: Option<Arc<UnitMap>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_events: 10_000,
            max_in_flight_batches: 8,
            due_rules: DueRules::vietnam(),
            units: Some(Units::official()),
            portal_units: None,
        }
    }
}

/// A batch also closes at this many payload bytes, whatever its count.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What an import did.
#[derive(Debug)]
pub struct Summary {
    /// Files begun (one that could not be read counts too).
    pub files: usize,
    /// Events read: non-blank NDJSON lines, CSV rows (header not counted).
    pub lines: u64,
    /// Events Kafka acknowledged.
    pub published: u64,
    /// Lines (or CSV headers) that were not published because of what
    /// they hold, or because the file could not be read from there on.
    pub rejected: u64,
    /// The first rejections (as many as [`Rejections::new`] was told).
    pub rejections: Vec<Rejection>,
    /// Why the import stopped early: Kafka failed, or the report could not
    /// be written. Events not acknowledged before it may or may not be on
    /// the topic; re-running is safe.
    pub failure: Option<String>,
    /// Stopped by `stop` before the end.
    pub interrupted: bool,
}

/// Valid events, their bytes together: payload and key of each are ranges
/// of `bytes` and `keys`.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    keys: String,
    items: Vec<(Range<usize>, Range<usize>)>,
}

impl Batch {
    fn push(&mut self, key: &str, payload: &[u8]) {
        let k = self.keys.len()..self.keys.len() + key.len();
        self.keys.push_str(key);
        let p = self.bytes.len()..self.bytes.len() + payload.len();
        self.bytes.extend_from_slice(payload);
        self.items.push((k, p));
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn events(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.items
            .iter()
            .map(|(k, p)| (&self.keys[k.clone()], &self.bytes[p.clone()]))
    }
}

/// What the reader thread hands back when done.
struct ReadOutcome {
    files: usize,
    lines: u64,
    rejections: Rejections,
    /// The report could not be written.
    failure: Option<String>,
}

/// Imports `sources`, in order, through `publisher`; `stop` ends the
/// import early (what is in flight is still awaited and counted).
pub async fn import(
    sources: Vec<Source>,
    publisher: &Publisher,
    options: &ImportOptions,
    rejections: Rejections,
    progress: Arc<dyn Progress>,
    stop: impl Future<Output = ()>,
) -> Summary {
    let max_in_flight = options.max_in_flight_batches.max(1);
    let (tx, mut rx) = mpsc::channel::<Batch>(max_in_flight);
    let batch_events = options.batch_events.max(1);
    let reader = {
        let progress = progress.clone();
        let dues = options.due_rules.clone();
        let units = options.units.clone();
        let portal_units = options.portal_units.clone();
        tokio::task::spawn_blocking(move || {
            let on_bytes = move |n| progress.read_bytes(n);
            let rules = Rules {
                dues: &dues,
                units: units.as_deref(),
                portal: portal::Portal::new(portal_units.as_deref()),
            };
            read_sources(&sources, batch_events, rules, rejections, &on_bytes, &tx)
        })
    };

    let mut published = 0u64;
    let mut failure: Option<String> = None;
    let mut interrupted = false;
    let mut accepting = true;
    let mut reading = true;
    let mut in_flight = FuturesUnordered::new();
    tokio::pin!(stop);
    while reading || !in_flight.is_empty() {
        tokio::select! {
            biased;
            _ = &mut stop, if !interrupted => {
                interrupted = true;
                accepting = false;
                rx.close();
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let done: Result<usize, PublishError> = done;
                match done {
                    Ok(n) => {
                        published += n as u64;
                        progress.published(n as u64);
                    }
                    Err(e) => {
                        failure.get_or_insert_with(|| e.to_string());
                        accepting = false;
                        rx.close();
                    }
                }
            }
            batch = rx.recv(), if reading && in_flight.len() < max_in_flight => match batch {
                Some(batch) if accepting => {
                    let p = publisher.clone();
                    in_flight.push(async move { p.publish(batch.events()).await });
                }
                // Read before the stop: dropped, neither published nor rejected.
                Some(_) => {}
                None => reading = false,
            },
        }
    }
    let read = match reader.await {
        Ok(r) => r,
        Err(e) => ReadOutcome {
            files: 0,
            lines: 0,
            rejections: Rejections {
                first: Vec::new(),
                keep: 0,
                total: 0,
                report: None,
            },
            failure: Some(format!("the file reader failed: {e}")),
        },
    };
    Summary {
        files: read.files,
        lines: read.lines,
        published,
        rejected: read.rejections.total,
        rejections: read.rejections.first,
        failure: failure.or(read.failure),
        interrupted,
    }
}

/// The reader thread: every source, line by line, into batches on `tx`.
/// Stops early when `tx` closes.
/// What a line is checked against.
struct Rules<'a> {
    dues: &'a DueRules,
    units: Option<&'a Units>,
    portal: portal::Portal<'a>,
}

fn read_sources(
    sources: &[Source],
    batch_events: usize,
    Rules {
        dues,
        units,
        mut portal,
    }: Rules<'_>,
    mut rejections: Rejections,
    on_bytes: &OnBytes<'_>,
    tx: &mpsc::Sender<Batch>,
) -> ReadOutcome {
    let mut out = Reader {
        batch: Batch::default(),
        batch_events,
        dues,
        units,
        tx,
        lines: 0,
        rejections: &mut rejections,
        stopped: false,
    };
    let mut files = 0;
    let mut failure = None;
    for source in sources {
        files += 1;
        let file = source.path.display().to_string();
        let result = match read::open(&source.path, on_bytes) {
            Ok(reader) => match source.format {
                Format::Ndjson => out.ndjson(&file, reader),
                Format::Csv => out.csv(&file, reader),
                Format::Dvcqg => out.dvcqg(&file, reader, &mut portal),
            },
            Err(e) => out.reject(&file, 1, format!("cannot read the file: {e}")),
        };
        if let Err(e) = result {
            failure = Some(format!("cannot write the report: {e}"));
            break;
        }
        if out.stopped {
            break;
        }
    }
    if failure.is_none() && !out.stopped {
        let last = std::mem::take(&mut out.batch);
        if last.len() > 0 {
            let _ = tx.blocking_send(last);
        }
    }
    let lines = out.lines;
    if let Err(e) = rejections.finish() {
        failure.get_or_insert(format!("cannot write the report: {e}"));
    }
    ReadOutcome {
        files,
        lines,
        rejections,
        failure,
    }
}

fn too_long(what: &str, bytes: usize) -> String {
    format!("the {what} is {bytes} bytes, over the {MAX_LINE_BYTES} a Kafka message may be")
}

struct Reader<'a> {
    batch: Batch,
    batch_events: usize,
    dues: &'a DueRules,
    units: Option<&'a Units>,
    tx: &'a mpsc::Sender<Batch>,
    lines: u64,
    rejections: &'a mut Rejections,
    /// The publishing side stopped taking batches.
    stopped: bool,
}

impl Reader<'_> {
    fn reject(&mut self, file: &str, line: u64, reason: String) -> io::Result<()> {
        self.rejections.push(Rejection {
            file: file.to_string(),
            line,
            reason,
        })
    }

    /// Validates one event and adds it to the batch, or rejects it.
    fn event(&mut self, file: &str, line: u64, payload: &[u8]) -> io::Result<()> {
        match crate::validate(payload, self.dues, self.units) {
            Ok(ev) => {
                self.publish(&ev.filing_id, payload);
                Ok(())
            }
            Err(e) => self.reject(file, line, e),
        }
    }

    /// Adds a valid message to the batch, handing the batch over when full.
    fn publish(&mut self, key: &str, payload: &[u8]) {
        self.batch.push(key, payload);
        if self.batch.len() >= self.batch_events || self.batch.bytes.len() >= MAX_BATCH_BYTES {
            let full = std::mem::take(&mut self.batch);
            // Closed: Kafka failed or the import was stopped.
            self.stopped = self.tx.blocking_send(full).is_err();
        }
    }

    fn read_error(&mut self, file: &str, line: u64, e: &io::Error) -> io::Result<()> {
        self.reject(
            file,
            line,
            format!("cannot read the file from here on (the rest of it was not imported): {e}"),
        )
    }

    fn ndjson(&mut self, file: &str, reader: impl io::BufRead) -> io::Result<()> {
        // Published as read, like ingest: unknown fields travel on.
        self.lines_of(file, reader, |r, number, text| r.event(file, number, text))
    }

    /// Hands every non-blank line of `reader`, trimmed, to `each` with its
    /// number (from 1); rejects a line too long to be a message.
    fn lines_of(
        &mut self,
        file: &str,
        reader: impl io::BufRead,
        mut each: impl FnMut(&mut Self, u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut lines = Lines::new(reader, MAX_LINE_BYTES);
        let mut at = 1;
        loop {
            if self.stopped || self.tx.is_closed() {
                self.stopped = true;
                return Ok(());
            }
            let (number, line) = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return Ok(()),
                Err(e) => return self.read_error(file, at, &e),
            };
            at = number + 1;
            match line {
                Line::Text(text) => {
                    let text = text.trim_ascii();
                    if !text.is_empty() {
                        self.lines += 1;
                        each(self, number, text)?;
                    }
                }
                Line::TooLong { bytes } => {
                    self.lines += 1;
                    self.reject(file, number, too_long("line", bytes))?;
                }
            }
        }
    }

    fn csv(&mut self, file: &str, reader: impl io::BufRead) -> io::Result<()> {
        let mut rows = csv::Rows::new(reader, MAX_LINE_BYTES);
        let mut json = Vec::new();
        let mut header: Option<csv::Header> = None;
        let mut at = 1;
        loop {
            if self.stopped || self.tx.is_closed() {
                self.stopped = true;
                return Ok(());
            }
            let (line, row) = match rows.next_row() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(()),
                Err(e) => return self.read_error(file, at, &e),
            };
            at = line + 1;
            let cells = match row {
                csv::Row::Cells(cells) => cells,
                csv::Row::TooLong { bytes } if header.is_some() => {
                    self.lines += 1;
                    self.reject(file, line, too_long("row", bytes))?;
                    continue;
                }
                csv::Row::TooLong { bytes } => {
                    return self.reject(file, line, too_long("header", bytes));
                }
            };
            let Some(h) = &header else {
                match csv::Header::new(cells.iter()) {
                    Ok(h) => header = Some(h),
                    // Nothing in the file can be read without its header.
                    Err(reason) => return self.reject(file, line, reason),
                }
                continue;
            };
            self.lines += 1;
            json.clear();
            match h.row_to_json(cells.iter(), &mut json) {
                Ok(()) => self.event(file, line, &json)?,
                Err(reason) => self.reject(file, line, reason)?,
            }
        }
    }
}

#[cfg(test)]
mod tests;
