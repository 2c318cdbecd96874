//! Command-line flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hoso_ingest::import::{Format, ImportOptions};

use crate::config::Overrides;
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
    /// Communes CSV (province_code, province_name, commune_code, ...).
    #[arg(long, default_value = "../shared/reference/communes.csv")]
    pub communes_csv: PathBuf,
    /// Communes to simulate.
    #[arg(long, default_value_t = 12)]
    pub demo_communes: usize,
    /// Days of history to backfill.
    #[arg(long, default_value_t = 30)]
    pub backfill_days: i64,
    /// Filings per commune per day in the backfill.
    #[arg(long, default_value_t = 40)]
    pub filings_per_day: u32,
    /// New filings per second once live.
    #[arg(long, default_value_t = 5)]
    pub live_rate_per_s: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 766)]
    pub seed: u64,
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
}

impl ImportArgs {
    pub fn request(&self) -> ImportRequest {
        ImportRequest {
            files: self.files.clone(),
            format: self.format.map(|f| match f {
                FormatArg::Ndjson => Format::Ndjson,
                FormatArg::Csv => Format::Csv,
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
