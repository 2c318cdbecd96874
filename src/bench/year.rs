//! A province-year in the processor's state, without Kafka: the generator's
//! events for one province over a year are folded straight into the
//! partitions' tables (split by filing id, as the topic's partitions would
//! be), with the cold tier and publishing as `hoso up` configures them.
//! Then each partition is checkpointed, the state dropped and restored from
//! the checkpoints, as after a crash.
//!
//! It measures the fold on one core at scale (only the `fold_message`
//! calls are timed: decode, validate, fold, daily aggregates), the time to
//! recover, and the resident memory of the recovered state. The recovered
//! tables are what [`super::engines`] queries.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hoso_processor::checkpoint::{self, FsCheckpointStore};
use hoso_processor::engine::{Engine, Message};
use hoso_processor::{LiveTables, PartitionTables};

use crate::config::Config;
use crate::r#gen::communes::CommuneSource;
use crate::r#gen::mix::Mix;
use crate::r#gen::pace::Pace;
use crate::r#gen::stream::Stream;
use crate::r#gen::{Destination, GenOptions};

/// Events generated, then folded, at a time.
const BATCH_EVENTS: usize = 20_000;

/// What to fold.
#[derive(Clone, Debug)]
pub struct YearOptions {
    /// The province (its communes from the reference list when at hand,
    /// made-up ones otherwise).
    pub province: String,
    /// First local day (days since 1970-01-01) and how many.
    pub start_day: i32,
    pub days: u32,
    /// At most this many communes (the smoke test's small scale).
    pub max_communes: Option<usize>,
    pub seed: u64,
    /// Leave the directory (checkpoints, cold files, export) behind.
    pub keep: bool,
}

/// The folded and recovered year.
pub struct Year {
    /// Checkpoints and cold files live here; removed on drop.
    pub dir: PathBuf,
    keep: bool,
    pub communes: usize,
    pub events: u64,
    /// Rows of `filings` after recovery: in memory and in cold files.
    pub hot_filings: usize,
    pub cold_filings: u64,
    /// The `fold_message` calls only.
    pub fold: Duration,
    /// Moving closed filings to cold files and publishing, once a day of
    /// event time per partition.
    pub cold_and_publish: Duration,
    pub checkpoint_bytes: u64,
    /// Cold filings brought back by a late event during the fold.
    pub recalls: u64,
    /// Cold files after the fold.
    pub cold_files: usize,
    /// Restore every partition from its checkpoint and publish it: the
    /// time until SQL can answer again.
    pub recovery: Duration,
    /// Resident memory at the start, and with the recovered state held.
    pub rss_start: u64,
    pub rss_recovered: u64,
    /// Heap bytes in use at the start, and with the recovered state held:
    /// what the state holds, without the allocator's free pages, so the
    /// same run gives the same figure (0 where glibc's count is missing).
    pub heap_start: u64,
    pub heap_recovered: u64,
    /// The recovered tables, published for SQL.
    pub live: Arc<LiveTables>,
    /// The recovered state, held as the processor holds it.
    pub tables: Vec<PartitionTables>,
}

impl Year {
    pub fn filings(&self) -> u64 {
        self.hot_filings as u64 + self.cold_filings
    }

    pub fn fold_per_s(&self) -> f64 {
        self.events as f64 / self.fold.as_secs_f64().max(1e-9)
    }

    /// Resident memory the recovered state added, per filing of the year.
    /// An upper bound: it also counts what the allocator kept from the
    /// fold.
    pub fn rss_per_filing(&self) -> f64 {
        self.rss_recovered.saturating_sub(self.rss_start) as f64 / self.filings().max(1) as f64
    }

    /// Heap bytes in use the recovered state added, per filing of the year.
    pub fn heap_per_filing(&self) -> f64 {
        self.heap_recovered.saturating_sub(self.heap_start) as f64 / self.filings().max(1) as f64
    }
}

impl Drop for Year {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("bench: the year's files are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Hands the heap the fold freed back to the system, so that resident
/// memory counts what the recovered state holds (and the allocator's
/// fragmentation around it), not what the fold of the year once used: a
/// processor restarted on these checkpoints never held that. glibc keeps
/// freed memory for reuse; other allocators and systems are left as they are.
fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Heap bytes the program holds (glibc; 0 elsewhere): allocated chunks
/// and the large allocations glibc maps on their own. Unlike resident
/// memory it leaves out what the allocator keeps free, which varies from
/// run to run.
pub fn heap_bytes() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let m = unsafe { libc::mallinfo2() };
        (m.uordblks + m.hblkhd) as u64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    0
}

/// The process's resident memory in bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Folds the year, checkpoints it, drops it and recovers it.
pub fn run(config: &Config, opts: &YearOptions) -> anyhow::Result<Year> {
    let dir = std::env::temp_dir().join(format!("hoso-bench-year-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut processor = config.processor.clone();
    processor.cold_dir = Some(dir.join("cold"));
    let settings = processor.partition_settings();
    let partitions = config.kafka.partitions.max(1);

    release_free_heap();
    let rss_start = rss_bytes();
    let heap_start = heap_bytes();
    let source = CommuneSource::default_for(None);
    let gen_opts = GenOptions {
        seed: opts.seed,
        start_day: opts.start_day,
        days: opts.days,
        communes: source,
        provinces: vec![opts.province.clone()],
        max_communes: opts.max_communes,
        mix: Mix::default(),
        pace: Pace::Fast,
        destination: Destination::Kafka,
        format: crate::r#gen::Format::Events,
        units_out: None,
        progress: false,
    };
    let world = Arc::new(crate::r#gen::world(&gen_opts)?);
    let communes = world.communes.len();
    let mut stream = Stream::new(world, opts.start_day, opts.days);

    // The processor's own engine, driven as the consumer drives it: the
    // same fold, restatements, cold passes and publishes, in one order.
    let mut engine = Engine::new(settings.clone());
    for p in 0..partitions {
        engine.assign(PartitionTables::new(p).with_settings(settings.clone()));
    }
    let mut offsets = vec![0i64; partitions as usize];
    let mut bytes = Vec::with_capacity(8 << 20);
    let mut batch: Vec<(usize, std::ops::Range<usize>, std::ops::Range<usize>, i64)> =
        Vec::with_capacity(BATCH_EVENTS);
    let (mut fold, mut cold_and_publish) = (Duration::ZERO, Duration::ZERO);
    let mut events = 0u64;
    let mut day = None;
    loop {
        bytes.clear();
        batch.clear();
        while batch.len() < BATCH_EVENTS {
            let from = bytes.len();
            let Some(e) = stream.next_into(&mut bytes) else {
                break;
            };
            let p = partition_of(&bytes[e.key.clone()], offsets.len());
            batch.push((p, e.key, from..bytes.len(), e.at));
        }
        if batch.is_empty() {
            break;
        }
        let now = hoso_processor::partition::now_ms();
        let started = Instant::now();
        for (p, key, event, at) in &batch {
            let message = Message {
                partition: *p as i32,
                offset: offsets[*p],
                key: Some(&bytes[key.clone()]),
                payload: &bytes[event.clone()],
                timestamp_ms: Some(*at),
            };
            engine.fold(message, now)?;
            offsets[*p] += 1;
        }
        fold += started.elapsed();
        events += batch.len() as u64;
        // Once a day of event time, as the consumer's publishing would
        // (its cold passes with it).
        let last = hoso_model::time::local_day(batch[batch.len() - 1].3);
        if day != Some(last) {
            day = Some(last);
            let started = Instant::now();
            // The Arrow encoding is the cost; nothing reads it here.
            drop(engine.publish(now));
            cold_and_publish += started.elapsed();
            let effects = engine.take_effects();
            if let Some((_, e)) = effects.cold_errors.into_iter().next() {
                return Err(e.into());
            }
        }
    }
    drop(stream);

    let store = FsCheckpointStore::new(dir.join("checkpoints"))?;
    let mut checkpoint_bytes = 0;
    let (mut recalls, mut cold_files) = (0, 0);
    drop(engine.publish(hoso_processor::partition::now_ms()));
    for (p, saved) in engine.checkpoint(&store) {
        saved?;
        checkpoint_bytes +=
            hoso_model::checkpoint::load(&store, p)?.map_or(0, |c| c.bytes.len() as u64);
    }
    for t in engine.partitions() {
        recalls += t.cold().recalls();
        cold_files += t.cold().files().len();
    }
    // The crash: nothing of the fold is left but the checkpoints and the
    // cold files they name.
    drop(engine);

    let live = LiveTables::new();
    let ids: Vec<i32> = (0..partitions).collect();
    live.assign(&ids);
    let started = Instant::now();
    let (mut hot_filings, mut cold_filings) = (0, 0u64);
    let mut tables = Vec::with_capacity(ids.len());
    for &p in &ids {
        let mut t = checkpoint::restore(&store, p, settings.clone())?;
        anyhow::ensure!(
            t.next_offset() == offsets[p as usize],
            "partition {p} recovered at offset {} instead of {}",
            t.next_offset(),
            offsets[p as usize]
        );
        hot_filings += t.filings().len();
        cold_filings += t.cold().rows();
        t.mark_end();
        live.publish(p, t.publish());
        if t.take_caught_up() {
            live.mark_caught_up(p);
        }
        tables.push(t);
    }
    let recovery = started.elapsed();
    Ok(Year {
        dir,
        keep: opts.keep,
        communes,
        events,
        hot_filings,
        cold_filings,
        fold,
        cold_and_publish,
        checkpoint_bytes,
        recalls,
        cold_files,
        recovery,
        rss_start,
        rss_recovered: {
            release_free_heap();
            rss_bytes()
        },
        heap_start,
        heap_recovered: heap_bytes(),
        live,
        tables,
    })
}

/// A filing's partition: FNV-1a of its id, so all of a filing's events
/// meet in one partition, as under the topic's key partitioning.
fn partition_of(key: &[u8], partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % partitions as u64) as usize
}
