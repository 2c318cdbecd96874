//! `hoso gen`: a realistic, deterministic stream of filing events for
//! chosen provinces and communes, to Kafka or to NDJSON.
//!
//! The stream itself is pure and deterministic ([`stream::Stream`]): the
//! same options (seed and start date included) give the same bytes. This
//! module runs it: the generator thread paces events and hands batches to
//! the sink, the progress bar follows, and the report sums up what was
//! sent.

pub mod arrivals;
pub mod communes;
pub mod lifecycle;
pub mod mix;
pub mod pace;
pub mod portal;
pub mod procedures;
pub mod rng;
pub mod sink;
pub mod stream;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hoso_ingest::Publisher;
use hoso_model::time::format_day;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::topic;
use communes::CommuneSource;
use mix::Mix;
use pace::{Pace, Pacer};
use sink::{Batch, Output};
pub use stream::Format;
use stream::{Stats, Stream, World};

/// A run that cannot go on, and whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A bad flag or communes file: the caller's to fix.
    #[error("{0}")]
    Usage(String),
    /// The output could not be written or Kafka failed; retrying may help.
    #[error("output failed: {0}")]
    Output(String),
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// NDJSON to this path (`-`: stdout; `*.gz`: gzipped).
    Ndjson(PathBuf),
    /// The configured Kafka topic.
    Kafka,
}

/// Everything a run needs besides the Kafka configuration.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Seed of every random draw.
    pub seed: u64,
    /// First local day of the window (days since 1970-01-01).
    pub start_day: i32,
    /// Days in the window.
    pub days: u32,
    pub communes: CommuneSource,
    /// Province codes to keep; all when empty.
    pub provinces: Vec<String>,
    /// At most this many communes (a seeded sample).
    pub max_communes: Option<usize>,
    pub mix: Mix,
    pub pace: Pace,
    pub destination: Destination,
    /// The contract's events, or the portal's records and steps.
    pub format: Format,
    /// Where to write the units file that maps the portal format's unit
    /// codes (`sources.dvcqg.units_file`).
    pub units_out: Option<PathBuf>,
    /// Show a progress bar when stderr is a terminal.
    pub progress: bool,
}

/// Events per batch handed to the sink.
const BATCH_EVENTS: usize = 10_000;
/// A batch also closes at this many bytes.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// A paced run hands over what it has at least this often.
const PACED_FLUSH: Duration = Duration::from_millis(50);
/// A paced event may leave this much before its time rather than sleep.
const PACE_SLACK: Duration = Duration::from_millis(2);
/// Kafka batches awaiting acknowledgement at once.
const MAX_IN_FLIGHT: usize = 8;
/// How long to wait for Kafka before giving up, nothing sent.
const KAFKA_WAIT: Duration = Duration::from_secs(30);

/// What a run did.
#[derive(Debug)]
pub struct GenReport {
    pub communes: usize,
    pub start_day: i32,
    pub days: u32,
    pub seed: u64,
    /// What the stream produced.
    pub stats: Stats,
    /// Events written, or acknowledged by Kafka.
    pub sent: u64,
    /// Filings still open at the end of the window.
    pub open_at_end: usize,
    pub elapsed: Duration,
    /// Where the events went, in words.
    pub destination: String,
    pub failure: Option<String>,
    pub interrupted: bool,
}

impl GenReport {
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failure.is_some() || self.interrupted)
    }

    pub fn print(&self, w: &mut impl Write) -> std::io::Result<()> {
        let s = &self.stats;
        let pct = |a: u64, b: u64| 100.0 * Stats::share(a, b);
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            w,
            "hoso gen: {} communes, {} to {} ({} day{}), seed {}",
            self.communes,
            format_day(self.start_day),
            format_day(self.start_day + self.days as i32 - 1),
            self.days,
            if self.days == 1 { "" } else { "s" },
            self.seed
        )?;
        writeln!(
            w,
            "  {} filings ({} received, {} refused at intake, {} withdrawn), {} events; {} still open at the end",
            s.filings, s.received, s.not_received, s.withdrawn, s.events, self.open_at_end
        )?;
        writeln!(
            w,
            "  received: {:.1}% online, {:.1}% postal, {:.1}% e-ID, {:.1}% digitised, {:.1}% with a supplement request",
            pct(s.received_online, s.received),
            pct(s.received_postal, s.received),
            pct(s.eid_level2, s.received),
            pct(s.digitized, s.received),
            pct(s.with_supplement, s.received),
        )?;
        writeln!(
            w,
            "  ended: {} ({:.1}% early, {:.1}% on the due date, {:.1}% late by design; {:.1}% refused)",
            s.ended,
            pct(s.early, s.ended),
            pct(s.on_time, s.ended),
            pct(s.late, s.ended),
            pct(s.stopped, s.ended),
        )?;
        writeln!(
            w,
            "  {} events {} in {:.1} s ({:.0} events/s)",
            self.sent,
            self.destination,
            secs,
            self.sent as f64 / secs.max(1e-9)
        )?;
        if let Some(f) = &self.failure {
            writeln!(
                w,
                "hoso gen: stopped: {f}; running the same command again is safe (the fold drops repeats)"
            )?;
        } else if self.interrupted {
            writeln!(w, "hoso gen: interrupted")?;
        }
        Ok(())
    }
}

/// Builds the world of a run: communes (read, filtered, sized) and mix.
pub fn world(opts: &GenOptions) -> Result<World, GenError> {
    opts.mix.validate()?;
    if opts.days == 0 {
        return Err(GenError::Usage("--days must be at least 1".into()));
    }
    let communes = communes::select(
        &opts.communes,
        &opts.provinces,
        opts.max_communes,
        opts.mix.median_daily,
        opts.seed,
    )?;
    World::new(communes, opts.mix.clone(), opts.seed)
}

/// Runs the generator to its destination. `Err` before anything was sent
/// (bad options, Kafka unreachable); a failure later is in the report.
pub async fn run(
    opts: GenOptions,
    config: &Config,
    cancel: CancellationToken,
) -> anyhow::Result<GenReport> {
    let world = Arc::new(world(&opts)?);
    if opts.format == Format::Portal && opts.destination == Destination::Kafka {
        return Err(GenError::Usage(
            "--format dvcqg writes the portal's records for `hoso import` or POST /v1/dvcqg \
             (add --out FILE); they reach Kafka through ingest, which maps their units"
                .into(),
        )
        .into());
    }
    if let Some(path) = &opts.units_out {
        std::fs::write(path, portal::units_csv(&world.communes))
            .map_err(|e| GenError::Output(format!("{}: {e}", path.display())))?;
    }
    let sent = Arc::new(AtomicU64::new(0));
    let (output, publishing, destination) = match &opts.destination {
        Destination::Ndjson(path) => (
            Output::ndjson(path, sent.clone())?,
            None,
            if path.as_os_str() == "-" {
                "written to stdout".to_string()
            } else {
                format!("written to {}", path.display())
            },
        ),
        Destination::Kafka => {
            if !topic::ensure_topic_within(&config.kafka, &cancel, KAFKA_WAIT).await {
                anyhow::bail!(
                    "Kafka at {} did not answer within {} s; nothing was sent",
                    config.kafka.brokers,
                    KAFKA_WAIT.as_secs()
                );
            }
            let publisher = Publisher::new(&config.ingest)?;
            let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
            let task = tokio::spawn(sink::publish(rx, publisher, MAX_IN_FLIGHT, sent.clone()));
            (
                Output::Kafka(tx),
                Some(task),
                format!(
                    "acknowledged by Kafka ({} on {})",
                    config.kafka.topic, config.kafka.brokers
                ),
            )
        }
    };

    let window_ms = i64::from(opts.days) * hoso_model::time::DAY_MS;
    let bar = progress_bar(opts.progress, window_ms);
    let started = Instant::now();
    let generator = {
        let (world, bar, sent, cancel) = (world.clone(), bar.clone(), sent.clone(), cancel.clone());
        let (start_day, days, pace) = (opts.start_day, opts.days, opts.pace);
        let format = opts.format;
        tokio::task::spawn_blocking(move || {
            let mut stream = Stream::new(world, start_day, days).with_format(format);
            let origin = arrivals::midnight(start_day);
            let pacer = Pacer::new(pace, origin);
            let result = generate(&mut stream, output, &pacer, origin, &bar, &sent, &cancel);
            (result, stream.stats().clone(), stream.open_filings())
        })
    };
    let (result, stats, open_at_end) = generator.await?;
    let mut failure = result.err().map(|e| e.to_string());
    if let Some(task) = publishing {
        // The sender is gone: the task drains what is in flight.
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(format!("the Kafka publisher failed: {e}")),
        }
    }
    bar.finish_and_clear();
    Ok(GenReport {
        communes: world.communes.len(),
        start_day: opts.start_day,
        days: opts.days,
        seed: opts.seed,
        stats,
        sent: sent.load(Ordering::Relaxed),
        open_at_end,
        elapsed: started.elapsed(),
        destination,
        failure,
        interrupted: cancel.is_cancelled(),
    })
}

/// The generator thread: events in batches to `output`, paced from
/// `origin_ms` (the start of the window).
fn generate(
    stream: &mut Stream,
    mut output: Output,
    pacer: &Pacer,
    origin_ms: i64,
    bar: &ProgressBar,
    sent: &AtomicU64,
    cancel: &CancellationToken,
) -> Result<(), GenError> {
    let mut batch = Batch::default();
    let mut batch_started = Instant::now();
    let mut index = 0u64;
    let started = Instant::now();
    let show = |at: i64| {
        let n = sent.load(Ordering::Relaxed);
        let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_position(((at - origin_ms) / 1000).max(0) as u64);
        bar.set_message(format!(
            "{n} events sent, {rate:.0}/s, at {}",
            local_minute(at)
        ));
    };
    while let Some(at) = stream.peek_at() {
        if index.is_multiple_of(4096) && cancel.is_cancelled() {
            break;
        }
        if let Some(due) = pacer.due(at, index)
            && due > Instant::now() + PACE_SLACK
        {
            if !batch.is_empty() {
                output.send(&mut batch)?;
                batch_started = Instant::now();
            }
            show(at);
            if !sleep_until(due, cancel) {
                break;
            }
        }
        let from = batch.bytes.len();
        let Some(e) = stream.next_into(&mut batch.bytes) else {
            break;
        };
        batch.items.push((e.key, from..batch.bytes.len()));
        batch.bytes.push(b'\n');
        index += 1;
        let full = batch.len() >= BATCH_EVENTS || batch.bytes.len() >= BATCH_BYTES;
        if full || (pacer.is_paced() && batch_started.elapsed() >= PACED_FLUSH) {
            output.send(&mut batch)?;
            batch_started = Instant::now();
            show(e.at);
        }
    }
    if !batch.is_empty() {
        output.send(&mut batch)?;
    }
    output.finish()
}

/// Sleeps until `due` in short steps; false when cancelled first.
fn sleep_until(due: Instant, cancel: &CancellationToken) -> bool {
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        std::thread::sleep((due - now).min(Duration::from_millis(100)));
    }
}

/// A bar over the window's event time (in seconds), with the events sent
/// as its message; hidden unless wanted and stderr is a terminal.
fn progress_bar(wanted: bool, window_ms: i64) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some((window_ms / 1000).max(1) as u64),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        ProgressStyle::with_template("{bar:25} event time {percent}% ({eta} left), {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// `2025-07-14 10:31`, local time.
fn local_minute(ms: i64) -> String {
    let local = ms + hoso_model::time::LOCAL_OFFSET_MS;
    let minute = local.rem_euclid(hoso_model::time::DAY_MS) / 60_000;
    format!(
        "{} {:02}:{:02}",
        format_day(hoso_model::time::local_day(ms)),
        minute / 60,
        minute % 60
    )
}
