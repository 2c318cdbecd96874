//! Command-line flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hoso_ingest::import::{Format, ImportOptions};

use crate::config::Overrides;
use crate::r#gen::communes::CommuneSource;
use crate::r#gen::mix::Mix;
use crate::r#gen::pace::Pace;
use crate::r#gen::{Destination, GenError, GenOptions};
use crate::import::ImportRequest;

#[derive(Parser, Debug)]
#[command(
    name = "hoso",
    version,
    about = "Live analytics over the filing events of Vietnam's public service centers"
)]
pub struct Cli {
    /// TOML configuration file (see `hoso config print` for every key).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Ingest + processor + SQL in one process.
    Up {
        #[command(flatten)]
        common: CommonArgs,
        /// Also run the demo feed into this server.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        demo_args: DemoArgs,
    },
    /// HTTP ingest only: POST /v1/events -> Kafka.
    Ingest {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The processor only, in the consumer group (HTTP: health and metrics).
    Process {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// SQL only, over its own copy of the tables folded from every partition.
    Query {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Send the demo feed to a running ingest.
    Demo {
        /// Base URL of ingest.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[command(flatten)]
        demo_args: DemoArgs,
    },
    /// The end-to-end benchmark: the processor against a bare librdkafka
    /// consumer on the same pre-filled topic, and HTTP ingest; prints a
    /// Markdown table of each figure and its target.
    Bench {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        args: BenchArgs,
    },
    /// Rebuild every partition's state from the topic into a fresh data
    /// directory (a checkpoint per partition), with a progress bar and a
    /// summary. `hoso up --data-dir DIR` then serves it.
    Replay {
        #[command(flatten)]
        common: CommonArgs,
        /// Start each partition at its first message stamped (Kafka
        /// timestamp) at or after this time, RFC 3339 (e.g.
        /// 2025-07-01T00:00:00+07:00), instead of its beginning.
        #[arg(long)]
        from: Option<String>,
    },
    /// Publish files of events (NDJSON or CSV, gzip or not) through ingest's
    /// validation. Exit code 0: all published; 2: some lines rejected (the
    /// others published); 1: Kafka failed.
    Import {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Generate a realistic, deterministic stream of filing events for
    /// chosen provinces and communes, into Kafka (through ingest's
    /// publisher) or NDJSON. Exit code 0: all sent; 1: Kafka or the output
    /// failed, or interrupted.
    Gen {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        args: GenArgs,
    },
    /// Make a new access token for `[[auth.tokens]]`: prints the token
    /// (give it to its user; it is not stored) and the entry to add to the
    /// configuration (which keeps only its SHA-256).
    Token {
        /// The name it logs in as (Postgres user, Flight SQL user).
        #[arg(long)]
        user: String,
        /// admin, planner, province:<code> or ingest.
        #[arg(long)]
        role: String,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the effective configuration (file, HOSO_ variables and flags applied).
    Print {
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Kafka bootstrap servers (kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Events topic (kafka.topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// HTTP listen address (http.listen).
    #[arg(long)]
    pub listen: Option<String>,
    /// State directory (data_dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl CommonArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            brokers: self.brokers.clone(),
            topic: self.topic.clone(),
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Communes CSV (province_code, province_name, commune_code, ...);
    /// made-up communes when it does not exist.
    #[arg(long, default_value = "../shared/reference/communes.csv")]
    pub communes_csv: PathBuf,
    /// Communes to simulate (a seeded sample of the file's).
    #[arg(long, default_value_t = 12)]
    pub demo_communes: usize,
    /// Days of history to backfill.
    #[arg(long, default_value_t = 30)]
    pub backfill_days: i64,
    /// Median filings per commune per working day (`hoso gen --median-daily`).
    #[arg(long, default_value_t = 40)]
    pub filings_per_day: u32,
    /// Extra filings per second once live, each living a day in a minute.
    #[arg(long, default_value_t = 5)]
    pub live_rate_per_s: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 766)]
    pub seed: u64,
    /// Token of an `admin` or `ingest` entry of `[auth]`, when tokens are
    /// configured (local mode needs none).
    #[arg(long, env = "HOSO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What the demo sends: the contract's events (POST /v1/events), or the
    /// same filings as the portal's records and steps (POST /v1/dvcqg, as a
    /// province's system synchronises with the National Public Service
    /// Portal; `hoso up` maps the demo's unit codes unless
    /// sources.dvcqg.units_file is set).
    #[arg(long, value_enum, default_value_t = GenFormat::Events)]
    pub demo_format: GenFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// Files of events: CSV when named `*.csv` or `*.csv.gz`, NDJSON
    /// otherwise; gzip is recognised by the name or the content.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read every file in this format, whatever its name.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write every rejected line to this CSV file (file,line,reason).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Events per batch handed to the producer.
    #[arg(long, default_value_t = ImportOptions::default().batch_events)]
    pub batch_events: usize,
    /// Batches awaiting Kafka's acknowledgement at once.
    #[arg(long, default_value_t = ImportOptions::default().max_in_flight_batches)]
    pub max_in_flight_batches: usize,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    /// One JSON object per line.
    Ndjson,
    /// A header row of the contract's field names, one event per row.
    Csv,
    /// The National Public Service Portal's records and steps: a JSON
    /// array, or one record, step or request body per line.
    Dvcqg,
}

impl ImportArgs {
    pub fn request(&self) -> ImportRequest {
        ImportRequest {
            files: self.files.clone(),
            format: self.format.map(|f| match f {
                FormatArg::Ndjson => Format::Ndjson,
                FormatArg::Csv => Format::Csv,
                FormatArg::Dvcqg => Format::Dvcqg,
            }),
            report: self.report.clone(),
            options: ImportOptions {
                batch_events: self.batch_events,
                max_in_flight_batches: self.max_in_flight_batches,
                ..ImportOptions::default()
            },
            progress: !self.no_progress,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Messages the benchmark topic holds at least (filled with generated
    /// events on the first run; `--topic` names it).
    #[arg(long, default_value_t = 5_000_000)]
    pub events: u64,
    /// Events posted to HTTP ingest.
    #[arg(long, default_value_t = 1_000_000)]
    pub ingest_events: u64,
    /// Load events per second while freshness is measured.
    #[arg(long, default_value_t = 20_000)]
    pub freshness_rate: u64,
    /// Seconds freshness is measured for (ten markers a second).
    #[arg(long, default_value_t = 20)]
    pub freshness_seconds: u64,
    #[arg(long, default_value_t = 766)]
    pub seed: u64,
    /// The province of the province-year (20, Lạng Sơn: about 6M filings a
    /// year; made-up communes without the reference list).
    #[arg(long, default_value = "20", value_name = "CODE")]
    pub year_province: String,
    /// First day of the province-year.
    #[arg(long, default_value = "2025-01-01", value_name = "DATE")]
    pub year_start: String,
    /// Days of the province-year.
    #[arg(long, default_value_t = 365)]
    pub year_days: u32,
    /// At most this many of the province's communes.
    #[arg(long, value_name = "N")]
    pub year_communes: Option<usize>,
    /// Keep the province-year's checkpoints, cold files and Parquet export
    /// (their directory is printed) instead of deleting them.
    #[arg(long)]
    pub year_keep: bool,
    /// Only these parts (consume, ingest, freshness, year, queries); all by default.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The broker's process id, when it runs on this machine: while the
    /// consume part reads, the broker gets half the CPUs and hoso the
    /// other half, as when the broker has machines of its own
    /// (`deploy/local.sh bench` passes its Tansu's).
    #[arg(long)]
    pub broker_pid: Option<i32>,
}

#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Seed of every random draw: the same flags (and --start) give the
    /// same events, byte for byte.
    #[arg(long, default_value_t = 766)]
    pub seed: u64,
    /// First local day of filings, YYYY-MM-DD [default: --days days before today].
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,
    /// Days of filings.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Communes CSV (province_code,province_name,commune_code,commune_name,unit_type)
    /// [default: ../shared/reference/communes.csv if it exists, else made-up communes].
    #[arg(long, value_name = "FILE")]
    pub communes_csv: Option<PathBuf>,
    /// Province codes to simulate, comma-separated (91 is An Giang) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub provinces: Vec<String>,
    /// At most this many communes: a seeded sample of the selected ones.
    #[arg(long, value_name = "N")]
    pub communes: Option<usize>,
    /// Median of the communes' daily volumes (filings received on a working day).
    #[arg(long, default_value_t = Mix::default().median_daily)]
    pub median_daily: f64,
    /// Share of received filings filed online.
    #[arg(long, default_value_t = Mix::default().online_share)]
    pub online_share: f64,
    /// Share of received filings sent by post.
    #[arg(long, default_value_t = Mix::default().postal_share)]
    pub postal_share: f64,
    /// Share of received filings with a level-2 e-ID.
    #[arg(long, default_value_t = Mix::default().eid_share)]
    pub eid_share: f64,
    /// Share of in-person and postal dossiers digitised (online ones always are).
    #[arg(long, default_value_t = Mix::default().digitized_share)]
    pub digitized_share: f64,
    /// Share of received filings sent back for more documents.
    #[arg(long, default_value_t = Mix::default().supplement_share)]
    pub supplement_share: f64,
    /// Share of those sent back a second time (late by rule).
    #[arg(long, default_value_t = Mix::default().second_supplement_share)]
    pub second_supplement_share: f64,
    /// Share of filings resolved after their effective due date.
    #[arg(long, default_value_t = Mix::default().late_share)]
    pub late_share: f64,
    /// Share of on-time filings resolved on the due date itself.
    #[arg(long, default_value_t = Mix::default().due_day_share)]
    pub due_day_share: f64,
    /// Share of received filings the citizen withdraws.
    #[arg(long, default_value_t = Mix::default().withdrawn_share)]
    pub withdrawn_share: f64,
    /// Share of ended filings refused (`stopped`).
    #[arg(long, default_value_t = Mix::default().refusal_share)]
    pub refusal_share: f64,
    /// Share of online submissions refused at intake (`not_received`).
    #[arg(long, default_value_t = Mix::default().not_received_share)]
    pub not_received_share: f64,
    /// Share of `received` events sent without `due_at` (hoso computes it
    /// from the procedure catalogue).
    #[arg(long, default_value_t = Mix::default().omit_due_share)]
    pub omit_due_share: f64,
    /// Write NDJSON here instead of publishing to Kafka: a file (gzipped
    /// when named *.gz) or - for stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Send this many events per second [default: as fast as possible].
    #[arg(long, value_name = "EVENTS_PER_S", conflicts_with = "speedup")]
    pub rate: Option<f64>,
    /// Play event time this many times faster than wall time (10000 plays
    /// a month in about 4.3 minutes).
    #[arg(long, value_name = "X")]
    pub speedup: Option<f64>,
    /// What to write: the contract's events, or the same filings as the
    /// National Public Service Portal's records and steps (`dvcqg`: one
    /// JSON object per line, for `hoso import` or POST /v1/dvcqg; needs
    /// --out).
    #[arg(long, value_enum, default_value_t = GenFormat::Events)]
    pub format: GenFormat,
    /// With --format dvcqg: also write the units file mapping the records'
    /// unit codes (for `sources.dvcqg.units_file`).
    #[arg(long, value_name = "FILE")]
    pub units_out: Option<PathBuf>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// `hoso gen --format`, `--demo-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenFormat {
    Events,
    Dvcqg,
}

impl GenFormat {
    pub fn stream_format(self) -> crate::r#gen::Format {
        match self {
            GenFormat::Events => crate::r#gen::Format::Events,
            GenFormat::Dvcqg => crate::r#gen::Format::Portal,
        }
    }
}

impl GenArgs {
    /// The run's options; `today` is the local day the default window ends.
    pub fn options(&self, today: i32) -> Result<GenOptions, GenError> {
        let start_day = match &self.start {
            Some(s) => parse_date(s).ok_or_else(|| {
                GenError::Usage(format!("--start {s:?} must be a date, YYYY-MM-DD"))
            })?,
            None => today - self.days as i32,
        };
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(GenError::Usage(format!(
                    "--{name} must be a positive number, got {v}"
                )))
            }
        };
        let pace = match (self.rate, self.speedup) {
            (Some(r), _) => Pace::Rate {
                events_per_s: positive("rate", r)?,
            },
            (None, Some(x)) => Pace::Speedup(positive("speedup", x)?),
            (None, None) => Pace::Fast,
        };
        Ok(GenOptions {
            seed: self.seed,
            start_day,
            days: self.days,
            communes: CommuneSource::default_for(self.communes_csv.clone()),
            provinces: self
                .provinces
                .iter()
                .map(|p| p.trim().to_string())
                .collect(),
            max_communes: self.communes,
            mix: Mix {
                median_daily: self.median_daily,
                online_share: self.online_share,
                postal_share: self.postal_share,
                eid_share: self.eid_share,
                digitized_share: self.digitized_share,
                supplement_share: self.supplement_share,
                second_supplement_share: self.second_supplement_share,
                late_share: self.late_share,
                due_day_share: self.due_day_share,
                withdrawn_share: self.withdrawn_share,
                refusal_share: self.refusal_share,
                not_received_share: self.not_received_share,
                omit_due_share: self.omit_due_share,
                ..Mix::default()
            },
            pace,
            destination: match &self.out {
                Some(p) => Destination::Ndjson(p.clone()),
                None => Destination::Kafka,
            },
            format: self.format.stream_format(),
            units_out: self.units_out.clone(),
            progress: !self.no_progress,
        })
    }
}

/// `YYYY-MM-DD` as a day number (days since 1970-01-01).
pub fn parse_date(s: &str) -> Option<i32> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    let valid = (1970..=2100).contains(&y)
        && (1..=12).contains(&m)
        && d >= 1
        && d <= hoso_model::time::days_in_month(y, m);
    valid.then(|| hoso_model::time::days_from_civil(y, m, d) as i32)
}
