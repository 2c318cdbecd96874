//! `hoso replay`: the processor's replay with a progress bar and a summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use hoso_processor::replay::{ReplayProgress, ReplaySummary, replay};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::up::{checkpoint_dir, cold_dir, open_table_store, remote_tables};

/// Replays the configured topic into fresh checkpoints and cold files: in
/// the table store when `store.url` names one, else under `data_dir`.
pub async fn run(
    config: Config,
    from: Option<&str>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let from_ms = from
        .map(|s| {
            hoso_model::time::parse_rfc3339_ms(s).map_err(|why| {
                anyhow::anyhow!(
                    "--from {s:?}: {why} (want RFC 3339, e.g. 2025-07-01T00:00:00+07:00)"
                )
            })
        })
        .transpose()?;
    let mut pc = config.processor.clone();
    pc.brokers = config.kafka.brokers.clone();
    pc.topic = config.kafka.topic.clone();
    pc.checkpoint_dir = Some(checkpoint_dir(&config));
    pc.cold_dir = Some(cold_dir(&config));
    let store = open_table_store(&config)?;
    pc.remote = remote_tables(&config, &store);
    let into = match &pc.remote {
        Some(_) => config.store.url.clone(),
        None => config.data_dir.display().to_string(),
    };
    eprintln!(
        "hoso: replaying topic {} from {} into {into}",
        pc.topic,
        from.unwrap_or("its beginning"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    tokio::spawn(async move {
        cancel.cancelled().await;
        stopper.store(true, Ordering::Relaxed);
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress_bar = bar.clone();
    let summary = tokio::task::spawn_blocking(move || {
        replay(
            &pc,
            from_ms,
            |p: ReplayProgress| {
                progress_bar.set_length(p.total.max(p.read));
                progress_bar.set_position(p.read);
            },
            || stop.load(Ordering::Relaxed),
        )
    })
    .await
    .context("the replay thread failed")?;
    bar.finish_and_clear();
    let summary = summary?;
    println!("{}", report(&summary));
    Ok(())
}

fn report(s: &ReplaySummary) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut out = format!(
        "replayed {} messages from {} partitions in {:.1} s ({:.0} msgs/s)\n  \
         folded {}, duplicates {}, restatements {}, filings {}",
        s.messages,
        s.partitions,
        secs,
        s.messages as f64 / secs,
        s.folded,
        s.duplicates,
        s.restatements,
        s.filings
    );
    if s.skipped > 0 {
        out.push_str(&format!("\n  skipped {} stamped before --from", s.skipped));
    }
    let rejected: u64 = s.rejected.values().sum();
    out.push_str(&format!("\n  rejected {rejected}"));
    if rejected > 0 {
        let by: Vec<String> = s.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
        out.push_str(&format!(" ({})", by.join(", ")));
    }
    out
}
