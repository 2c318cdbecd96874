//! Decode + fold throughput on one core: the processor's inner loop, without
//! Kafka. `cargo bench --bench fold` prints events/s per stage.
//!
//! The stream: 50,000 filings with 6 events each (received, processing,
//! fee_requested, fee_paid, resolved, returned; one in ten with a supplement
//! round trip), interleaved the way a live topic is: blocks of 10,000
//! filings, each step of every filing of a block before the next step.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hoso_model::decode_event;
use hoso_processor::PartitionTables;

const FILINGS: usize = 50_000;
const BLOCK: usize = 10_000;

fn stream() -> Vec<Vec<u8>> {
    let communes = ["00004", "00008", "00025", "00070", "26737", "26740"];
    let mut out = Vec::new();
    for block in (0..FILINGS).step_by(BLOCK) {
        let steps: &[&str] = &[
            "received",
            "processing",
            "supplement_requested",
            "supplement_received",
            "fee_requested",
            "fee_paid",
            "resolved",
            "returned",
        ];
        for (step, kind) in steps.iter().enumerate() {
            for i in block..block + BLOCK {
                let supplement = i % 10 == 0;
                if kind.starts_with("supplement") && !supplement {
                    continue;
                }
                let seq = if supplement || step < 2 {
                    step + 1
                } else {
                    step - 1
                };
                let commune = communes[i % communes.len()];
                let province = if commune.starts_with("26") {
                    "79"
                } else {
                    "01"
                };
                let hour = 8 + step;
                let extra = match *kind {
                    "received" => format!(
                        r#","procedure_code":"1.00{}","channel":"{}","due_at":"2025-07-0{}T17:00:00+07:00","eid_level2":true"#,
                        1193 + i % 40,
                        if i % 7 == 0 { "online" } else { "in_person" },
                        3 + i % 5
                    ),
                    "fee_paid" => r#","online_payment":false"#.to_string(),
                    _ => String::new(),
                };
                out.push(
                    format!(
                        r#"{{"event_id":"01{commune}-2025-{i:08}-{seq}","filing_id":"H01.{commune}-250701-{i:08}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-01T{hour:02}:15:00+07:00","province_code":"{province}","commune_code":"{commune}"{extra}}}"#
                    )
                    .into_bytes(),
                );
            }
        }
    }
    out
}

/// Bytes of one fetch: librdkafka's `fetch.max.bytes` per partition
/// (`max.partition.fetch.bytes`) is 1 MiB.
const FETCH_BYTES: usize = 1 << 20;

/// The stream as the consumer gets it: in fetches of about a megabyte, each
/// copied in by librdkafka's network thread just before the fold reads it.
struct Fetches {
    /// Each fetch's events, contiguous, and where each event is.
    fetches: Vec<(Vec<u8>, Vec<std::ops::Range<usize>>)>,
    /// Where the fetch being read is copied to.
    landing: Vec<u8>,
}

impl Fetches {
    fn new(events: &[Vec<u8>]) -> Self {
        let mut fetches = Vec::new();
        let (mut bytes, mut ranges) = (Vec::new(), Vec::new());
        for e in events {
            if bytes.len() + e.len() > FETCH_BYTES {
                fetches.push((std::mem::take(&mut bytes), std::mem::take(&mut ranges)));
            }
            ranges.push(bytes.len()..bytes.len() + e.len());
            bytes.extend_from_slice(e);
        }
        fetches.push((bytes, ranges));
        Fetches {
            fetches,
            landing: Vec::with_capacity(FETCH_BYTES),
        }
    }

    /// Calls `each` on every event, fetch by fetch; times the calls only
    /// (the copy is the network thread's work, on another core).
    fn run(&mut self, mut each: impl FnMut(i64, &[u8])) -> Duration {
        let mut timed = Duration::ZERO;
        let mut offset = 0i64;
        for (bytes, ranges) in &self.fetches {
            self.landing.clear();
            self.landing.extend_from_slice(bytes);
            let started = Instant::now();
            for r in ranges {
                each(offset, &self.landing[r.clone()]);
                offset += 1;
            }
            timed += started.elapsed();
        }
        timed
    }
}

fn bench(c: &mut Criterion) {
    let events = stream();
    let bytes: usize = events.iter().map(Vec::len).sum();
    println!(
        "stream: {} events, {} filings, {:.0} bytes/event",
        events.len(),
        FILINGS,
        bytes as f64 / events.len() as f64
    );
    let mut fetches = Fetches::new(&events);
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);

    group.bench_function("json-skim", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    fetches.run(|_, e| {
                        serde_json::from_slice::<serde::de::IgnoredAny>(e).unwrap();
                    })
                })
                .sum()
        })
    });

    group.bench_function("decode", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut ok = 0usize;
                    let t = fetches.run(|_, e| ok += decode_event(e).is_ok() as usize);
                    assert_eq!(ok, events.len());
                    t
                })
                .sum()
        })
    });

    // Reading a backlog (a topic before its end, a replay): the deadline
    // timers wait for the end. The rate that bounds catching up.
    let backlog = || PartitionTables::new(0);
    // Caught up: the deadline timers follow every folded event, as they do
    // once a processor has read its backlog.
    let live = || {
        let mut t = PartitionTables::new(0);
        t.mark_end();
        t
    };
    for (name, tables) in [
        ("decode+fold", &backlog as &dyn Fn() -> PartitionTables),
        ("decode+fold caught-up", &live),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let mut t = tables();
                        fetches.run(|offset, e| {
                            t.fold_message(offset, None, e, None).unwrap();
                        })
                    })
                    .sum()
            })
        });
    }

    group.bench_function("decode+fold+publish", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut t = backlog();
                    let fold = fetches.run(|offset, e| {
                        t.fold_message(offset, None, e, None).unwrap();
                    });
                    let started = Instant::now();
                    black_box(t.publish());
                    fold + started.elapsed()
                })
                .sum()
        })
    });

    // The same fold reading each event from main memory, as a consumer
    // never does: the stream (66 MB) is far larger than the caches.
    group.bench_function("decode+fold from memory", |b| {
        b.iter_batched(
            backlog,
            |mut tables| {
                for (offset, e) in events.iter().enumerate() {
                    tables.fold_message(offset as i64, None, e, None).unwrap();
                }
                tables
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // Publishing after one change re-encodes one chunk (up to 65,536 rows)
    // and the changed day bucket, not the whole table.
    let mut tables = live();
    for (offset, e) in events.iter().enumerate() {
        tables.fold_message(offset as i64, None, e, None).unwrap();
    }
    tables.publish();
    let mut seq = 100u32;
    let mut next_offset = events.len() as i64;
    let mut publish = c.benchmark_group("publish");
    publish.sample_size(20);
    publish.bench_function("after one change", |b| {
        b.iter_batched(
            || {
                seq += 1;
                format!(
                    r#"{{"event_id":"late-{seq}","filing_id":"H01.00004-250701-00000000","seq":{seq},"type":"fee_paid","occurred_at":"2025-07-09T08:00:00+07:00","province_code":"01","commune_code":"00004"}}"#
                )
            },
            |late| {
                // A payment after the result was handed over: allowed
                // after close, and it folds.
                next_offset += 1;
                let offset = next_offset;
                let folded = tables.fold_message(offset, None, late.as_bytes(), None).unwrap();
                assert_eq!(folded, hoso_processor::FoldResult::Folded);
                tables.publish()
            },
            BatchSize::SmallInput,
        )
    });
    publish.finish();
    let bytes = tables.filings().state_bytes();
    println!(
        "state: {} filings, {} bytes of rows + index = {:.1} bytes/filing",
        tables.filings().len(),
        bytes,
        bytes as f64 / tables.filings().len() as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
