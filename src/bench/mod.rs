//! `hoso bench`: the end-to-end benchmark harness. Against a running
//! broker it measures, in one run, each figure next to what bounds it, and
//! prints a Markdown table (the README's):
//!
//! - [`consume`]: a bare librdkafka consumer and the processor reading the
//!   same pre-filled topic (at least `--events` messages) to its end; the
//!   processor's rate as a share of the bare consumer's;
//! - [`ingest`]: HTTP ingest of batched NDJSON into the broker;
//! - [`freshness`]: from ingest's 202 to visible in SQL, p50 and p99, in a
//!   whole `hoso up` under a steady load;
//! - [`year`]: a province-year folded without Kafka: the fold's rate on
//!   one core, then checkpoints, a crash and recovery: its time and the
//!   resident memory of the recovered state;
//! - [`engines`]: the dashboard's and two ad-hoc queries over that year in
//!   hoso, DuckDB and chDB (on the filings exported to Parquet).
//!
//! The machine is shared and noisy, so the bare consumer runs before and
//! after the processor and the ratio takes their mean.

pub mod consume;
pub mod cpus;
pub mod engines;
pub mod freshness;
pub mod ingest;
pub mod year;

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The topic is filled to at least this many messages.
    pub events: u64,
    /// Events posted to HTTP ingest.
    pub ingest_events: u64,
    /// Load events per second while freshness is measured, and for how
    /// long.
    pub freshness_rate: u64,
    pub freshness_seconds: u64,
    pub seed: u64,
    /// The province-year of the `year` and `queries` parts.
    pub year: year::YearOptions,
    /// Parts to run (see [`PARTS`]); all when empty.
    pub only: Vec<String>,
    /// The broker's process, local to this machine: while the consume part
    /// reads, it gets half the CPUs and the clients the other half
    /// ([`cpus`]).
    pub broker_pid: Option<i32>,
}

/// The parts, in the order they run. `queries` runs on the year that
/// `year` folds (folding it when `year` is not asked for).
pub const PARTS: [&str; 5] = ["consume", "ingest", "freshness", "year", "queries"];

/// One line of the table.
struct Row {
    figure: String,
    measured: String,
    target: String,
    ratio: Option<f64>,
}

pub async fn run(
    opts: BenchOptions,
    config: Config,
    cancel: CancellationToken,
) -> anyhow::Result<String> {
    for part in &opts.only {
        if !PARTS.contains(&part.as_str()) {
            anyhow::bail!("--only {part:?}: the parts are {}", PARTS.join(", "));
        }
    }
    let wants = |part: &str| opts.only.is_empty() || opts.only.iter().any(|p| p == part);
    let mut rows = Vec::new();
    if wants("consume") {
        let size = consume::prefill(&config, opts.events, opts.seed, &cancel).await?;
        let (brokers, topic) = (config.kafka.brokers.clone(), config.kafka.topic.clone());
        eprintln!("bench: {topic} holds {size} messages; bare consumer, processor, bare consumer");
        let split = opts.broker_pid.map(cpus::CpuSplit::apply).transpose()?;
        let pinned = split.as_ref().map_or(String::new(), |s| {
            format!(
                "; the broker on CPU {}, the clients on CPU {}",
                cpu_list(&s.broker),
                cpu_list(&s.clients)
            )
        });
        let wait = (
            config.processor.fetch_wait_max_ms,
            config.processor.fetch_queue_backoff_ms,
        );
        let bare =
            |b: String, t: String| tokio::task::spawn_blocking(move || consume::bare(&b, &t, wait));
        let first = bare(brokers.clone(), topic.clone()).await??;
        let processed = consume::processor(&config, first.messages, &cancel).await?;
        let second = bare(brokers, topic).await??;
        drop(split);
        let limit = (first.per_s() + second.per_s()) / 2.0;
        rows.push(Row {
            figure: format!(
                "bare librdkafka consumer, {} messages ({:.0} bytes each): the limit",
                first.messages,
                first.bytes as f64 / first.messages.max(1) as f64
            ),
            measured: format!("{:.0} and {:.0} msgs/s", first.per_s(), second.per_s()),
            target: "-".into(),
            ratio: None,
        });
        rows.push(Row {
            figure: format!("processor (decode, fold, publish, checkpoints, cold tier){pinned}"),
            measured: format!(
                "{:.0} msgs/s ({:.1} s)",
                processed.per_s(),
                processed.elapsed.as_secs_f64()
            ),
            target: ">= 90% of the bare consumer".into(),
            ratio: Some(processed.per_s() / limit / 0.9),
        });
    }
    if wants("ingest") {
        let topic = format!("{}-ingest", config.kafka.topic);
        let run = ingest::run(&config, &topic, opts.ingest_events, opts.seed).await?;
        rows.push(Row {
            figure: format!(
                "HTTP ingest, NDJSON batches of {}, {} clients ({:.0} bytes/event)",
                ingest::BATCH_EVENTS,
                ingest::CLIENTS,
                run.bytes as f64 / run.events.max(1) as f64
            ),
            measured: format!("{:.0} events/s ({} events)", run.per_s(), run.events),
            target: ">= 200,000 events/s".into(),
            ratio: Some(run.per_s() / 200_000.0),
        });
    }
    if wants("freshness") {
        let topic = format!("{}-freshness", config.kafka.topic);
        let f = freshness::run(
            &config,
            &topic,
            opts.freshness_rate,
            opts.freshness_seconds,
            opts.seed,
        )
        .await?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        rows.push(Row {
            figure: format!(
                "freshness, 202 to visible in SQL ({} markers under {:.0} events/s)",
                f.latencies.len(),
                f.load_per_s
            ),
            measured: format!(
                "p50 {:.0} ms, p99 {:.0} ms (the SQL poll itself: p50 {:.0} ms, p99 {:.0} ms)",
                ms(f.quantile(0.5)),
                ms(f.quantile(0.99)),
                ms(f.poll_quantile(0.5)),
                ms(f.poll_quantile(0.99))
            ),
            target: "p99 <= 1,000 ms".into(),
            // Lower is better: the target over the measure.
            ratio: Some(1000.0 / ms(f.quantile(0.99)).max(1e-3)),
        });
    }
    if wants("year") || wants("queries") {
        let y = &opts.year;
        eprintln!(
            "bench: folding province {} over {} days from {}",
            y.province,
            y.days,
            hoso_model::time::format_day(y.start_day)
        );
        let cfg = config.clone();
        let opts_year = y.clone();
        let folded = tokio::task::spawn_blocking(move || year::run(&cfg, &opts_year)).await??;
        if wants("year") {
            year_rows(&folded, &y.province, &mut rows);
        }
        if wants("queries") {
            eprintln!(
                "bench: {} filings: exporting to Parquet; hoso, DuckDB and chDB",
                folded.filings()
            );
            let today = y.start_day + y.days as i32 - 1;
            let queries = engines::queries(&y.province, today);
            let source: std::sync::Arc<dyn hoso_model::tables::TableSource> = folded.live.clone();
            let c = engines::compare(&config, source, &queries, &folded.dir).await?;
            query_rows(&c, &mut rows);
        }
    }
    Ok(table(&rows))
}

/// `0,1` or `0-3`.
fn cpu_list(cpus: &[usize]) -> String {
    match cpus {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if last - first + 1 == cpus.len() => format!("{first}-{last}"),
        _ => cpus
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn year_rows(y: &year::Year, province: &str, rows: &mut Vec<Row>) {
    rows.push(Row {
        figure: format!(
            "decode + fold on one core: a province-year ({} events of {} filings, province {province}, {} communes)",
            y.events,
            y.filings(),
            y.communes
        ),
        measured: format!(
            "{:.2}M events/s ({:.1} s, {} cold filings recalled by late events; \
             moving closed filings to {} cold files and publishing daily: {:.1} s more)",
            y.fold_per_s() / 1e6,
            y.fold.as_secs_f64(),
            y.recalls,
            y.cold_files,
            y.cold_and_publish.as_secs_f64()
        ),
        target: ">= 3M events/s".into(),
        ratio: Some(y.fold_per_s() / 3e6),
    });
    let mb = |b: u64| b as f64 / 1e6;
    rows.push(Row {
        figure: format!(
            "state of that year after recovery ({} filings in memory, {} in cold Parquet files)",
            y.hot_filings, y.cold_filings
        ),
        measured: format!(
            "{:.1} bytes of resident memory per filing ({:.0} MB over the {:.0} MB the process held before); {:.1} bytes of heap in use per filing ({:.0} MB)",
            y.rss_per_filing(),
            mb(y.rss_recovered.saturating_sub(y.rss_start)),
            mb(y.rss_start),
            y.heap_per_filing(),
            mb(y.heap_recovered.saturating_sub(y.heap_start))
        ),
        target: "<= 64 bytes per filing".into(),
        ratio: Some(64.0 / y.rss_per_filing().max(1e-9)),
    });
    rows.push(Row {
        figure: "resident memory of the process holding that year".into(),
        measured: format!("{:.0} MB", mb(y.rss_recovered)),
        target: "<= 1 GB".into(),
        ratio: Some(1e9 / (y.rss_recovered.max(1) as f64)),
    });
    rows.push(Row {
        figure: format!(
            "recovery of that year: restore {} checkpoints ({:.1} MB) and publish",
            y.tables.len(),
            mb(y.checkpoint_bytes)
        ),
        measured: format!("{:.2} s", y.recovery.as_secs_f64()),
        target: "<= 10 s".into(),
        ratio: Some(10.0 / y.recovery.as_secs_f64().max(1e-9)),
    });
}

fn query_rows(c: &engines::Comparison, rows: &mut Vec<Row>) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    for t in &c.timed {
        let (duck, ch) = (t.others[0], t.others[1]);
        let (factor, source) = match t.kind {
            engines::Kind::Dashboard => (0.5, "hoso from daily_stats"),
            engines::Kind::AdHoc => (1.5, "all from raw filings"),
        };
        let reference = t
            .reference
            .map(|r| {
                format!(
                    "; DataFusion alone on the same file {:.1} ms, {:.2}x DuckDB",
                    ms(r),
                    ms(r) / ms(duck).max(1e-9)
                )
            })
            .unwrap_or_default();
        rows.push(Row {
            figure: format!(
                "{} ({source}; {} rows; medians of {})",
                t.name,
                t.rows,
                engines::RUNS
            ),
            measured: format!(
                "hoso {:.1} ms, DuckDB {:.1} ms, chDB {:.1} ms: {:.2}x DuckDB, {:.2}x chDB{reference}",
                ms(t.hoso),
                ms(duck),
                ms(ch),
                ms(t.hoso) / ms(duck).max(1e-9),
                ms(t.hoso) / ms(ch).max(1e-9)
            ),
            target: format!("<= {factor}x DuckDB"),
            ratio: Some(factor * ms(duck) / ms(t.hoso).max(1e-9)),
        });
    }
    rows.push(Row {
        figure: format!(
            "(the Parquet export the engines read: {} filings, {:.0} MB; DuckDB {}, chDB {}, DataFusion (Python) {})",
            c.rows,
            c.parquet_bytes as f64 / 1e6,
            c.versions[0],
            c.versions[1],
            c.versions[2]
        ),
        measured: "-".into(),
        target: "-".into(),
        ratio: None,
    });
}

/// Waits until the server at `base` answers `/readyz` with success; the
/// error says why it was still not ready after `timeout`.
pub async fn wait_ready(
    client: &reqwest::Client,
    base: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let why = match client.get(format!("{base}/readyz")).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > timeout {
            anyhow::bail!("hoso was not ready within {} s: {why}", timeout.as_secs());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The rows as Markdown, with the machine they ran on.
fn table(rows: &[Row]) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    let mut out = format!(
        "hoso {} on {cores} cores, librdkafka {librdkafka}\n\n\
         | figure | measured | target | share of target (>= 1 meets it) |\n|---|---|---|---|\n",
        env!("CARGO_PKG_VERSION")
    );
    for r in rows {
        let ratio = r.ratio.map_or("-".to_string(), |x| format!("{x:.2}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} |",
            r.figure, r.measured, r.target
        );
    }
    out
}
