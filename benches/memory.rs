//! Memory under a long stream, and recovery from a large checkpoint.
//! `cargo bench --bench memory` prints two tables:
//!
//! 1. Resident memory (RSS) of one partition's tables while 1.2M filings
//!    flow through 120 days of event time (10,000 filings a day, each
//!    received, resolved and returned within two days), with the cold tier
//!    (closed filings leave memory 7 days after they close) and without
//!    it: flat with it, a straight line without.
//! 2. The time to restore a checkpoint of 1M filings (read, check, decode,
//!    rebuild the index), median of 3.
//!
//! Run alone: RSS is the process's, and each table runs in a child process
//! of its own so one does not inherit the other's heap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hoso_processor::PartitionTables;
use hoso_processor::checkpoint::{self, FsCheckpointStore};
use hoso_processor::partition::Settings;

const HORIZON_DAYS: i32 = 7;

/// The sizes: the real run under `cargo bench`, a small one under
/// `cargo test --all-targets` (which runs bench targets once, unoptimised,
/// only to check they work).
struct Scale {
    days: u32,
    per_day: u32,
    recovery_filings: u32,
}

fn scale() -> Scale {
    if std::env::var("HOSO_BENCH_SMOKE").is_ok() {
        Scale {
            days: 12,
            per_day: 200,
            recovery_filings: 5_000,
        }
    } else {
        Scale {
            days: 120,
            per_day: 10_000,
            recovery_filings: 1_000_000,
        }
    }
}

fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn date(day: u32) -> (u32, u32, u32) {
    // Day 0 = 2025-01-01; a civil date without a calendar crate.
    let days = hoso_model::time::days_from_civil(2025, 1, 1) + i64::from(day);
    let (y, m, d) = hoso_model::time::civil_from_days(days);
    (y as u32, m, d)
}

fn event(filing: &str, seq: u32, kind: &str, day: u32, hour: u32, commune: u32) -> Vec<u8> {
    let (y, m, d) = date(day);
    let extra = if kind == "received" {
        let (dy, dm, dd) = date(day + 3);
        format!(
            r#","procedure_code":"1.001193","channel":"online","due_at":"{dy:04}-{dm:02}-{dd:02}T17:00:00+07:00""#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"{y:04}-{m:02}-{d:02}T{hour:02}:00:00+07:00","province_code":"01","commune_code":"{commune:05}"{extra}}}"#
    )
    .into_bytes()
}

/// Folds the scale's days of filings, printing RSS every 10 days.
fn stream(cold: Option<&Path>) {
    let Scale { days, per_day, .. } = scale();
    let settings = Settings {
        cold_dir: cold.map(Arc::from),
        cold_after_days: HORIZON_DAYS,
        ..Settings::default()
    };
    let mut t = PartitionTables::new(0).with_settings(settings);
    // A live processor: its deadline timers follow the fold.
    t.mark_end();
    let mut offset = 0i64;
    let started = Instant::now();
    println!("| day | filings so far | in memory | in cold files | RSS MB |");
    println!("|---:|---:|---:|---:|---:|");
    for day in 0..days {
        for i in 0..per_day {
            let f = format!("H01.{:05}-{day:03}-{i:05}", i % 100);
            // Received today; resolved today or tomorrow; returned a day later.
            let steps = [
                (1, "received", day, 8),
                (2, "resolved", day + i % 2, 15),
                (3, "returned", day + 1 + i % 2, 10),
            ];
            for (seq, kind, d, h) in steps {
                // Events of tomorrow arrive tomorrow: a live stream.
                if d == day {
                    t.fold_message(offset, None, &event(&f, seq, kind, d, h, i % 100), None)
                        .unwrap();
                    offset += 1;
                }
            }
            if day > 0 {
                let y = format!("H01.{:05}-{:03}-{i:05}", i % 100, day - 1);
                let late = [
                    (2, "resolved", day - 1 + i % 2, 15),
                    (3, "returned", day + i % 2, 10),
                ];
                for (seq, kind, d, h) in late {
                    if d == day {
                        t.fold_message(offset, None, &event(&y, seq, kind, d, h, i % 100), None)
                            .unwrap();
                        offset += 1;
                    }
                }
            }
            if day > 1 {
                let z = format!("H01.{:05}-{:03}-{i:05}", i % 100, day - 2);
                if i % 2 == 1 {
                    t.fold_message(
                        offset,
                        None,
                        &event(&z, 3, "returned", day, 10, i % 100),
                        None,
                    )
                    .unwrap();
                    offset += 1;
                }
            }
        }
        t.evict_cold().expect("cold files written");
        t.publish();
        if (day + 1) % 10 == 0 || day + 1 == days {
            println!(
                "| {} | {} | {} | {} | {:.0} |",
                day + 1,
                (day + 1) * per_day,
                t.filings().len(),
                t.cold().rows(),
                rss_mb()
            );
        }
    }
    eprintln!(
        "{} events in {:.1} s",
        offset,
        started.elapsed().as_secs_f64()
    );
}

fn recovery(dir: &Path) {
    let filings = scale().recovery_filings;
    let store = FsCheckpointStore::new(dir).expect("checkpoint dir");
    let mut t = PartitionTables::new(0);
    let mut offset = 0i64;
    for i in 0..filings {
        let day = i / 10_000;
        let f = format!("H01.{:05}-{day:03}-{i:07}", i % 100);
        t.fold_message(
            offset,
            None,
            &event(&f, 1, "received", day, 8, i % 100),
            None,
        )
        .unwrap();
        offset += 1;
        if i % 3 != 0 {
            t.fold_message(
                offset,
                None,
                &event(&f, 2, "resolved", day + 1, 15, i % 100),
                None,
            )
            .unwrap();
            offset += 1;
        }
    }
    checkpoint::save(&store, &mut t).expect("checkpoint written");
    let bytes = hoso_model::checkpoint::load(&store, 0)
        .expect("load")
        .map_or(0, |c| c.bytes.len());
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let restored = checkpoint::restore(&store, 0, Settings::default()).unwrap();
        times.push(started.elapsed().as_secs_f64());
        assert_eq!(restored.filings().len(), filings as usize);
    }
    times.sort_by(f64::total_cmp);
    println!("| filings | checkpoint MB | restore s (median of 3) |");
    println!("|---:|---:|---:|");
    println!(
        "| {} | {:.1} | {:.2} |",
        filings,
        bytes as f64 / 1e6,
        times[1]
    );
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hoso-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn main() {
    // cargo bench passes `--bench`; a child gets the part to run.
    match std::env::args().nth(1).as_deref() {
        Some("cold") => {
            let d = temp("cold");
            stream(Some(&d));
            let _ = std::fs::remove_dir_all(&d);
        }
        Some("hot") => stream(None),
        Some("recovery") => {
            let d = temp("recovery");
            recovery(&d);
            let _ = std::fs::remove_dir_all(&d);
        }
        _ => {
            let me = std::env::current_exe().expect("own path");
            // `cargo bench` passes --bench; `cargo test` runs it for a smoke check.
            let smoke = !std::env::args().any(|a| a == "--bench");
            for (part, title) in [
                ("cold", "With the cold tier (horizon 7 days):"),
                ("hot", "Without it (everything in memory):"),
                ("recovery", "Recovery:"),
            ] {
                println!("\n{title}\n");
                let mut child = std::process::Command::new(&me);
                child.arg(part);
                if smoke {
                    child.env("HOSO_BENCH_SMOKE", "1");
                }
                let status = child.status().expect("child runs");
                assert!(status.success(), "{part} failed");
            }
        }
    }
}
