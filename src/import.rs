//! `hoso import FILE...`: files of events to the topic through ingest's
//! validation and producer (`hoso_ingest::import`). This is the command
//! around it: the files checked before anything is sent, the topic, the
//! progress bar, the report and the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hoso_ingest::Publisher;
use hoso_ingest::import::{self as importer, Format, ImportOptions, Progress, Rejections, Source};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::topic;

/// Rejected lines listed on stderr; the report file has them all.
pub const SHOWN_REJECTIONS: usize = 100;

/// How long to wait for Kafka before giving up, nothing published.
const KAFKA_WAIT: Duration = Duration::from_secs(30);

/// Exit codes: everything published; some lines rejected (the others
/// published); Kafka failed or the import was stopped.
pub const EXIT_OK: u8 = 0;
pub const EXIT_KAFKA: u8 = 1;
pub const EXIT_REJECTED: u8 = 2;

/// What to import, and how.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub files: Vec<PathBuf>,
    /// Every file in this format; `None` tells each by its name.
    pub format: Option<Format>,
    /// Where to write every rejected line as CSV (`file,line,reason`).
    pub report: Option<PathBuf>,
    pub options: ImportOptions,
    /// Show a progress bar when stderr is a terminal.
    pub progress: bool,
}

/// What an import did, and how long it took.
#[derive(Debug)]
pub struct ImportReport {
    pub summary: importer::Summary,
    pub elapsed: Duration,
    /// Where every rejection was written, if anywhere.
    pub report: Option<PathBuf>,
}

impl ImportReport {
    pub fn exit_code(&self) -> u8 {
        let s = &self.summary;
        if s.failure.is_some() || s.interrupted {
            EXIT_KAFKA
        } else if s.rejected > 0 {
            EXIT_REJECTED
        } else {
            EXIT_OK
        }
    }

    /// Published events per second.
    pub fn rate(&self) -> f64 {
        self.summary.published as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The rejected lines (at most [`SHOWN_REJECTIONS`]) and the summary.
    pub fn print(&self, w: &mut impl Write) -> std::io::Result<()> {
        let s = &self.summary;
        if s.rejected > 0 {
            writeln!(w, "rejected lines (file:line: reason):")?;
            for r in &s.rejections {
                writeln!(w, "  {}:{}: {}", r.file, r.line, r.reason)?;
            }
            let rest = s.rejected - s.rejections.len() as u64;
            if rest > 0 {
                match &self.report {
                    Some(p) => writeln!(w, "  ... and {rest} more, all in {}", p.display())?,
                    None => writeln!(w, "  ... and {rest} more (--report FILE lists them all)")?,
                }
            }
        }
        writeln!(
            w,
            "hoso import: {} file{}, {} lines read, {} published, {} rejected in {:.1} s ({:.0} events/s)",
            s.files,
            if s.files == 1 { "" } else { "s" },
            s.lines,
            s.published,
            s.rejected,
            self.elapsed.as_secs_f64(),
            self.rate()
        )?;
        let after = "events after those may or may not be on the topic; \
                     running the same import again is safe (the fold drops repeats)";
        if let Some(f) = &s.failure {
            writeln!(w, "hoso import: stopped: {f}; {after}")?;
        } else if s.interrupted {
            writeln!(w, "hoso import: interrupted; {after}")?;
        } else if s.rejected > 0 {
            writeln!(
                w,
                "hoso import: the rejected lines were not published; every other line was"
            )?;
        }
        Ok(())
    }
}

/// Publishes the files. `Err` before anything was published: a file that
/// cannot be read, a report that cannot be created, Kafka unreachable.
pub async fn run(
    config: &Config,
    request: &ImportRequest,
    cancel: CancellationToken,
) -> anyhow::Result<ImportReport> {
    let mut sources = Vec::with_capacity(request.files.len());
    let mut total_bytes = 0;
    for path in &request.files {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !meta.is_file() {
            bail!("{} is not a file", path.display());
        }
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        total_bytes += meta.len();
        sources.push(Source {
            path: path.clone(),
            format: request.format.unwrap_or_else(|| Format::of_path(path)),
        });
    }
    let report_file: Option<Box<dyn Write + Send>> = match &request.report {
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("cannot create the report {}", p.display()))?,
        ))),
        None => None,
    };
    let rejections =
        Rejections::new(SHOWN_REJECTIONS, report_file).context("cannot write the report")?;

    if !topic::ensure_topic_within(&config.kafka, &cancel, KAFKA_WAIT).await {
        if cancel.is_cancelled() {
            bail!("interrupted before anything was published");
        }
        bail!(
            "Kafka at {} did not answer within {} s; nothing was published",
            config.kafka.brokers,
            KAFKA_WAIT.as_secs()
        );
    }
    let publisher = Publisher::new(&config.ingest)?;

    let bar = progress_bar(request.progress, total_bytes);
    let started = Instant::now();
    // The configured catalogue and calendar, as the processor will use them.
    let options = ImportOptions {
        due_rules: config.due_rules.clone(),
        units: config.checked_units(),
        portal_units: config.portal_units.clone(),
        ..request.options.clone()
    };
    let summary = importer::import(
        sources,
        &publisher,
        &options,
        rejections,
        Arc::new(Bar {
            bar: bar.clone(),
            published: AtomicU64::new(0),
        }),
        cancel.cancelled(),
    )
    .await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(ImportReport {
        summary,
        elapsed,
        report: request.report.clone(),
    })
}

fn progress_bar(wanted: bool, total_bytes: u64) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:25} {binary_bytes}/{binary_total_bytes} ({eta} left), {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The progress bar (bytes read of the files' total), and the events
/// published so far as its message.
struct Bar {
    bar: ProgressBar,
    published: AtomicU64,
}

impl Progress for Bar {
    fn read_bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    fn published(&self, n: u64) {
        let total = self.published.fetch_add(n, Ordering::Relaxed) + n;
        self.bar.set_message(format!("{total} published"));
    }
}
