//! The engine's promises as properties, with no broker: generated filings
//! in generated arrival orders give the same tables, and a run killed at
//! generated points and resumed from its checkpoints gives the tables of
//! a run never killed.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoso_model::checkpoint::CheckpointStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Engine, Message};
use crate::checkpoint::{self, FsCheckpointStore};
use crate::partition::{PartitionTables, Settings};

/// The wall clock every test run is given: rows it stamps compare equal.
const NOW: i64 = 1_751_500_000_000;

const TYPES: [&str; 13] = [
    "submitted",
    "received",
    "not_received",
    "processing",
    "supplement_requested",
    "supplement_received",
    "fee_requested",
    "fee_paid",
    "withdrawn",
    "stopped",
    "resolved",
    "returned",
    "extended",
];

/// One generated event, before it is written as contract JSON.
#[derive(Clone, Debug)]
struct GenEvent {
    event_id: String,
    filing: usize,
    seq: u32,
    kind: &'static str,
    /// Minutes after 2025-07-01 00:00 local time.
    minute: u32,
    commune: u32,
    channel: &'static str,
    due_days: u32,
    flag: bool,
}

impl GenEvent {
    fn json(&self) -> Vec<u8> {
        let at = |minute: u32| {
            let day = 1 + minute / 1440;
            let (h, m) = ((minute % 1440) / 60, minute % 60);
            format!("2025-07-{day:02}T{h:02}:{m:02}:00+07:00")
        };
        let mut extra = String::new();
        if self.kind == "received" {
            extra = format!(
                r#","procedure_code":"1.00{}","channel":"{}","due_at":"{}","fee_required":{},"eid_level2":{}"#,
                1190 + self.commune,
                self.channel,
                at(self.minute + self.due_days * 1440),
                self.flag,
                !self.flag
            );
        } else if self.kind == "extended" {
            extra = format!(r#","due_at":"{}""#, at(self.minute + self.due_days * 1440));
        } else if self.kind == "fee_paid" {
            extra = format!(r#","online_payment":{}"#, self.flag);
        }
        format!(
            r#"{{"event_id":"{}","filing_id":"F{}","seq":{},"type":"{}","occurred_at":"{}","province_code":"01","commune_code":"{:05}"{extra}}}"#,
            self.event_id,
            self.filing,
            self.seq,
            self.kind,
            at(self.minute),
            self.commune
        )
        .into_bytes()
    }
}

/// One message of a generated log: its identity (the index of the event
/// in the generated list; copies of one event share it), key and bytes.
#[derive(Clone, Debug)]
struct Msg {
    id: usize,
    key: Vec<u8>,
    bytes: Vec<u8>,
}

mod portal;

/// The contract's filings of [`contract_filings`] and the portal's of
/// [`portal::portal_filings`], in one log.
fn filings() -> impl Strategy<Value = Vec<Msg>> {
    (contract_filings(), portal::portal_filings()).prop_map(|(mut msgs, portal)| {
        let n = msgs.len();
        msgs.extend(portal.into_iter().map(|m| Msg { id: m.id + n, ..m }));
        msgs
    })
}

/// Filings with every event type, repeats, conflicting events at one seq,
/// reopenings, a second `received` from another commune, seq gaps,
/// supplements before and after receipt, and messages that are not events.
fn contract_filings() -> impl Strategy<Value = Vec<Msg>> {
    let event = (
        1u32..=9,
        0usize..TYPES.len(),
        0u32..(9 * 1440),
        0u32..3,
        0usize..3,
        1u32..6,
        any::<bool>(),
        0u32..4,
    );
    let filing = prop::collection::vec(event, 1..9);
    prop::collection::vec(filing, 1..14).prop_map(|filings| {
        let mut msgs = Vec::new();
        let mut ids: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for (f, events) in filings.into_iter().enumerate() {
            let mut prev: Option<GenEvent> = None;
            for (i, (seq, kind, minute, commune, channel, due_days, flag, copies)) in
                events.into_iter().enumerate()
            {
                // A second event at a seq gets another id: a conflict.
                let mut e = GenEvent {
                    event_id: format!("E{f}-{i}"),
                    filing: f,
                    seq,
                    kind: TYPES[kind],
                    minute,
                    commune: 4 + commune,
                    channel: ["in_person", "online", "postal"][channel],
                    due_days,
                    flag,
                };
                match (&prev, copies) {
                    // The previous event resent at another seq (same id,
                    // type and time): a duplicate wherever it lands.
                    (Some(p), 1) if flag => e = GenEvent { seq, ..p.clone() },
                    // Its id reused for another event: a conflict.
                    (Some(p), 2) => e.event_id = p.event_id.clone(),
                    _ => {}
                }
                prev = Some(e.clone());
                let bytes = e.json();
                // Copies of a message: a source or a producer sending again.
                // They are one event: a refusal names whichever copy came
                // first, so they share one identity (also when a resend
                // came out byte for byte the same as an earlier event).
                let id = *ids.entry(bytes.clone()).or_insert(msgs.len());
                for _ in 0..=(copies / 3) {
                    msgs.push(Msg {
                        id,
                        key: format!("F{f}").into_bytes(),
                        bytes: bytes.clone(),
                    });
                }
            }
            if f % 5 == 4 {
                msgs.push(Msg {
                    id: msgs.len(),
                    key: format!("F{f}").into_bytes(),
                    bytes: format!("{{not an event of F{f}").into_bytes(),
                });
            }
        }
        msgs
    })
}

/// A filing's partition, as the topic's key partitioning would place it.
fn partition_of(key: &[u8], partitions: i32) -> i32 {
    (key.iter().map(|&b| u32::from(b)).sum::<u32>() % partitions as u32) as i32
}

/// The marker that opens every partition: an event far ahead in event
/// time, so every day the generated events fall on is closed before the
/// first of them arrives, and each change to one is a restatement.
fn marker(p: i32) -> Msg {
    Msg {
        id: usize::MAX - p as usize,
        key: format!("M{p}").into_bytes(),
        bytes: format!(
            r#"{{"event_id":"M{p}","filing_id":"M{p}","seq":1,"type":"submitted","occurred_at":"2025-09-01T08:00:00+07:00","province_code":"01","commune_code":"00004"}}"#
        )
        .into_bytes(),
    }
}

/// What the tables say, in a form that does not depend on offsets or on
/// where a filing is kept (memory or a cold file).
#[derive(Debug, PartialEq)]
struct Tables {
    rows: Vec<String>,
    daily: Vec<String>,
    /// (message identity, reason) of every reject.
    rejects: BTreeSet<(usize, &'static str)>,
    /// The same, of every dead letter asked for.
    dead_letters: BTreeSet<(usize, &'static str)>,
    /// Per (day, province, commune, metric): the figure the last
    /// restatement left, where it differs from the figure at close.
    restated: BTreeMap<String, String>,
}

fn row(id: &[u8], s: &hoso_model::FilingState, t: &PartitionTables) -> String {
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {:?} {:?} {:?} {:?} {} {:?} {} {} {:?} {} {}",
        String::from_utf8_lossy(id),
        (s.province(), s.commune()),
        t.filings().procedures().resolve(s.procedure_id()),
        s.channel(),
        s.status(),
        s.received_at(),
        s.due_at(),
        s.ended_at(),
        s.outcome(),
        s.effective_due_at(),
        s.supplement_count(),
        s.paused_ms(),
        s.eid_level2(),
        s.digitized(),
        s.online_payment(),
        s.fee_required(),
        s.due_at_computed(),
        s.deadline(),
        s.last_seq(),
        s.handling_commune(),
        s.extended_due_at(),
        s.extensions(),
        s.is_withdrawn() || s.is_not_received(),
    )
}

/// Reads the tables of `engine` (every filing, hot or cold), naming each
/// reject by the message identity read at its (partition, offset).
fn tables(
    engine: &mut Engine,
    ids: &BTreeMap<(i32, i64), usize>,
    dead_letters: &[crate::rejects::Reject],
    restated: BTreeMap<String, String>,
) -> Tables {
    let mut rows = Vec::new();
    let mut daily = Vec::new();
    let mut rejects = BTreeSet::new();
    // As a publish would: recalled filings leave their files first.
    for t in engine.partitions_mut() {
        t.finish_recalls();
    }
    for t in engine.partitions() {
        for (id, s) in t.filings().rows() {
            rows.push(row(id, s, t));
        }
        for path in t.cold().paths() {
            for (id, s) in crate::cold::file::read_states(Path::new(&path)).unwrap() {
                rows.push(row(&id, &s, t));
            }
        }
        daily.extend(t.daily().rows().map(|(k, c)| format!("{k:?} {c:?}")));
        for r in t.rejects.iter() {
            rejects.insert((ids[&(r.partition, r.offset)], r.reason));
        }
    }
    rows.sort();
    daily.sort();
    let dead_letters = dead_letters
        .iter()
        .map(|r| (ids[&(r.partition, r.offset)], r.reason))
        .collect();
    Tables {
        rows,
        daily,
        rejects,
        dead_letters,
        restated,
    }
}

/// Feeds the messages, in `order` within each partition and interleaved
/// as `interleave` says, to a fresh engine over `partitions` partitions.
fn run_order(
    msgs: &[Msg],
    partitions: i32,
    order: &[usize],
    interleave: &[i32],
    settings: &Settings,
) -> Tables {
    let mut queues: BTreeMap<i32, std::collections::VecDeque<&Msg>> = BTreeMap::new();
    for p in 0..partitions {
        queues.entry(p).or_default();
    }
    for &i in order {
        let m = &msgs[i];
        queues
            .get_mut(&partition_of(&m.key, partitions))
            .unwrap()
            .push_back(m);
    }
    let markers: Vec<Msg> = (0..partitions).map(marker).collect();
    for (p, q) in queues.iter_mut() {
        q.push_front(&markers[*p as usize]);
    }
    let mut engine = Engine::new(settings.clone());
    for p in 0..partitions {
        engine.assign(PartitionTables::new(p).with_settings(settings.clone()));
    }
    let mut ids = BTreeMap::new();
    let mut dead_letters = Vec::new();
    let mut next = vec![0i64; partitions as usize];
    let mut turn = interleave.iter().cycle();
    // Restatements as they happen, across partitions: the first `old` and
    // the last `new` of each (day, province, commune, metric).
    let mut first_old: BTreeMap<String, String> = BTreeMap::new();
    let mut last_new: BTreeMap<String, String> = BTreeMap::new();
    while queues.values().any(|q| !q.is_empty()) {
        // The interleaving's next partition, or the next one that still
        // has messages.
        let first = *turn.next().unwrap() % partitions;
        let Some(p) = (0..partitions)
            .map(|i| (first + i) % partitions)
            .find(|p| !queues[p].is_empty())
        else {
            break;
        };
        let m = queues.get_mut(&p).unwrap().pop_front().unwrap();
        let offset = next[p as usize];
        next[p as usize] += 1;
        ids.insert((p, offset), m.id);
        let seen = engine.partition(p).unwrap().restatements.len();
        fold_msg(&mut engine, p, offset, m);
        dead_letters.extend(engine.take_effects().dead_letters);
        for r in engine.partition(p).unwrap().restatements.iter().skip(seen) {
            let key = format!("{:?} {}", r.key, r.metric);
            first_old
                .entry(key.clone())
                .or_insert(format!("{:?}", r.old));
            last_new.insert(key, format!("{:?}", r.new));
        }
    }
    let restated = last_new
        .into_iter()
        .filter(|(k, new)| first_old[k] != *new)
        .collect();
    tables(&mut engine, &ids, &dead_letters, restated)
}

/// Folds one generated message at (`p`, `offset`); these logs never fail.
fn fold_msg(engine: &mut Engine, p: i32, offset: i64, m: &Msg) {
    let message = Message {
        partition: p,
        offset,
        key: Some(&m.key),
        payload: &m.bytes,
        timestamp_ms: None,
    };
    engine.fold(message, NOW).unwrap();
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

const ORDER_CASES: u32 = 1500;

#[test]
fn every_arrival_order_gives_the_same_tables() {
    let mut runner = TestRunner::new(Config {
        cases: ORDER_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        filings(),
        1i32..=3,
        prop::collection::vec((any::<u64>(), prop::collection::vec(0i32..3, 1..5)), 3),
    );
    let settings = Settings::default();
    let (cases, orders) = (Cell::new(0u32), Cell::new(0u32));
    runner
        .run(&strategy, |(msgs, partitions, shuffles)| {
            cases.set(cases.get() + 1);
            let want = run_order(
                &msgs,
                partitions,
                &(0..msgs.len()).collect::<Vec<_>>(),
                &[0, 1, 2],
                &settings,
            );
            prop_assert_eq!(
                &want.rejects,
                &want.dead_letters,
                "a dead letter per reject"
            );
            for (seed, interleave) in shuffles {
                orders.set(orders.get() + 1);
                let got = run_order(
                    &msgs,
                    partitions,
                    &shuffled(msgs.len(), seed),
                    &interleave,
                    &settings,
                );
                prop_assert_eq!(
                    &got,
                    &want,
                    "messages {:?}",
                    msgs.iter()
                        .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
                        .collect::<Vec<_>>()
                );
            }
            Ok(())
        })
        .unwrap();
    let (cases, orders) = (cases.get(), orders.get());
    eprintln!(
        "arrival orders: {cases} generated logs, {orders} shuffled orders, each equal to log order"
    );
    assert_eq!(cases, ORDER_CASES);
}

// ---- crashes ----

/// A temporary directory (on tmpfs when there is one: checkpoints fsync).
fn scratch(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("hoso-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cold_settings(cold: &Path) -> Settings {
    Settings {
        cold_dir: Some(Arc::from(cold)),
        cold_after_days: 1,
        ..Settings::default()
    }
}

/// The `occurred_at` text of a generated message ("" for one that is not
/// an event).
fn occurred_at(bytes: &[u8]) -> Vec<u8> {
    let key = b"\"occurred_at\":\"";
    bytes
        .windows(key.len())
        .position(|w| w == key)
        .map_or(Vec::new(), |i| {
            bytes[i + key.len()..].iter().take(25).copied().collect()
        })
}

/// One partition's log, in the order the broker holds it.
fn log_of(msgs: &[Msg], partitions: i32) -> Vec<Vec<&Msg>> {
    let mut logs = vec![Vec::new(); partitions as usize];
    for m in msgs {
        logs[partition_of(&m.key, partitions) as usize].push(m);
    }
    logs
}

/// The broker's view of a fetch from `offset`: Tansu 0.6 answers a fetch
/// that starts inside a record batch with the next batch, so a resume may
/// skip records up to the next batch boundary (batches of `batch` here).
fn fetch_start(offset: i64, batch: i64, skip: bool) -> i64 {
    if skip && offset % batch != 0 {
        (offset / batch + 1) * batch
    } else {
        offset
    }
}

/// The dead letters each folded message (partition, offset) asked for.
type DeadByMessage = BTreeMap<(i32, i64), Vec<crate::rejects::Reject>>;

fn flat(dead: &DeadByMessage) -> Vec<crate::rejects::Reject> {
    dead.values().flatten().cloned().collect()
}

#[derive(Clone, Copy)]
struct CrashRun<'a> {
    logs: &'a [Vec<&'a Msg>],
    checkpoint_every: usize,
    publish_every: usize,
}

impl CrashRun<'_> {
    /// Folds the logs round-robin from `from` (per partition) while
    /// `keep_going(messages folded)` says so; publishes every
    /// `publish_every` messages and checkpoints every `checkpoint_every`. Returns whether it stopped early.
    fn fold(
        &self,
        engine: &mut Engine,
        store: &dyn CheckpointStore,
        from: &mut [usize],
        ids: &mut BTreeMap<(i32, i64), usize>,
        dead: &mut DeadByMessage,
        mut keep_going: impl FnMut(usize) -> bool,
    ) -> bool {
        let mut n = 0;
        loop {
            let mut any = false;
            for (p, log) in self.logs.iter().enumerate() {
                let Some(m) = log.get(from[p]) else {
                    continue;
                };
                if !keep_going(n) {
                    return true;
                }
                any = true;
                let offset = from[p] as i64;
                from[p] += 1;
                ids.insert((p as i32, offset), m.id);
                fold_msg(engine, p as i32, offset, m);
                let asked = engine.take_effects().dead_letters;
                dead.insert((p as i32, offset), asked);
                n += 1;
                if n % self.publish_every == 0 {
                    // The driver's publish, which makes the cold passes
                    // due: when it runs is the clock's, never the log's.
                    drop(engine.publish(NOW));
                    let cold = engine.take_effects();
                    assert!(cold.cold_errors.is_empty(), "{:?}", cold.cold_errors);
                }
                if n % self.checkpoint_every == 0 {
                    for (_, saved) in engine.checkpoint(store) {
                        saved.unwrap();
                    }
                }
            }
            if !any {
                return false;
            }
        }
    }
}

/// What a crash leaves half done: a checkpoint being written (its bytes
/// cut short; or whole, the manifest not yet moved) and a cold file being
/// written.
fn leave_half_written(checkpoints: &Path, cold: &Path, partitions: i32) {
    for p in 0..partitions {
        let dir = checkpoints.join(format!("partition-{p}"));
        if dir.is_dir() {
            let next = hoso_model::checkpoint::object_name(99_999_999);
            std::fs::write(dir.join(format!("{next}.tmp")), b"HOSOCKP1\x05\0").unwrap();
            let whole = hoso_model::checkpoint::object_name(99_999_998);
            std::fs::write(dir.join(whole), b"HOSOCKP1 never named by a manifest").unwrap();
        }
    }
    let month = cold.join("province=01").join("month=2025-07");
    std::fs::create_dir_all(&month).unwrap();
    std::fs::write(month.join("p0-999999.parquet"), b"PAR1 cut short").unwrap();
}

/// Every restatement row of every partition, in log order.
fn restatements(e: &Engine) -> Vec<String> {
    e.partitions()
        .flat_map(|t| t.restatements.iter().map(|r| format!("{r:?}")))
        .collect()
}

const CRASH_LOGS: u32 = 40;
const CRASHES_PER_LOG: usize = 30;

#[test]
fn a_run_killed_anywhere_and_resumed_gives_the_tables_of_one_never_killed() {
    let mut runner = TestRunner::new(Config {
        cases: CRASH_LOGS,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        filings(),
        1i32..=2,
        prop::collection::vec(
            (any::<prop::sample::Index>(), any::<bool>(), any::<bool>()),
            CRASHES_PER_LOG,
        ),
        3usize..40,
        2i64..8,
        (1usize..12, 1usize..12),
    );
    let (logs_run, crashes) = (Cell::new(0u32), Cell::new(0usize));
    // What the runs never killed did, so the property is known to cover it.
    let (cold_rows, restated, displaced) = (Cell::new(0u64), Cell::new(0usize), Cell::new(0usize));
    let root = scratch("crash");
    runner
        .run(
            &strategy,
            |(
                msgs,
                partitions,
                points,
                checkpoint_every,
                batch,
                (publish_every, publish_after),
            )| {
                logs_run.set(logs_run.get() + 1);
                let logs_run = logs_run.get();
                // Mostly in event time, as a live stream is, so that days turn
                // and the cold tier makes its passes along the log.
                let mut msgs = msgs;
                msgs.sort_by_key(|m| occurred_at(&m.bytes));
                let logs = log_of(&msgs, partitions);
                let total: usize = logs.iter().map(Vec::len).sum();
                let run = CrashRun {
                    logs: &logs,
                    checkpoint_every,
                    publish_every,
                };
                // The resumed run publishes on another clock: where filings
                // are kept must not change a figure.
                let resumed = CrashRun {
                    publish_every: publish_after,
                    ..run
                };
                // The run never killed.
                let dir = root.join(format!("whole-{logs_run}"));
                let settings = cold_settings(&dir.join("cold"));
                let store = FsCheckpointStore::new(dir.join("checkpoints")).unwrap();
                let mut engine = Engine::new(settings.clone());
                for p in 0..partitions {
                    engine.assign(checkpoint::restore(&store, p, settings.clone()).unwrap());
                }
                let (mut ids, mut want_dead) = (BTreeMap::new(), DeadByMessage::new());
                run.fold(
                    &mut engine,
                    &store,
                    &mut vec![0; logs.len()],
                    &mut ids,
                    &mut want_dead,
                    |_| true,
                );
                let dead = flat(&want_dead);
                let want = tables(&mut engine, &ids, &dead, BTreeMap::new());
                let want_restatements = restatements(&engine);
                cold_rows.set(
                    cold_rows.get() + engine.partitions().map(|t| t.cold().rows()).sum::<u64>(),
                );
                restated.set(restated.get() + want_restatements.len());
                displaced
                    .set(displaced.get() + dead.iter().filter(|r| r.payload.is_empty()).count());
                drop(engine);

                for (i, (point, half_written, tansu_skip)) in points.into_iter().enumerate() {
                    crashes.set(crashes.get() + 1);
                    let crash_at = point.index(total + 1);
                    let dir = root.join(format!("crash-{logs_run}-{i}"));
                    let settings = cold_settings(&dir.join("cold"));
                    let store = FsCheckpointStore::new(dir.join("checkpoints")).unwrap();
                    let mut engine = Engine::new(settings.clone());
                    for p in 0..partitions {
                        engine.assign(checkpoint::restore(&store, p, settings.clone()).unwrap());
                    }
                    let (mut ids, mut before) = (BTreeMap::new(), DeadByMessage::new());
                    let mut from = vec![0; logs.len()];
                    run.fold(&mut engine, &store, &mut from, &mut ids, &mut before, |n| {
                        n < crash_at
                    });
                    // Killed: the state is dropped; only the stores remain.
                    drop(engine);
                    if half_written {
                        leave_half_written(&dir.join("checkpoints"), &dir.join("cold"), partitions);
                    }
                    let mut engine = Engine::new(settings.clone());
                    let mut from = vec![0; logs.len()];
                    let mut resumed_at = vec![0i64; logs.len()];
                    for p in 0..partitions {
                        let t = checkpoint::restore(&store, p, settings.clone()).unwrap();
                        resumed_at[p as usize] = t.next_offset();
                        // The consumer's resume: a little before the checkpoint,
                        // and the broker may skip to the next batch from there.
                        let rewind = (t.next_offset() - batch).max(0);
                        from[p as usize] = fetch_start(rewind, batch, tansu_skip) as usize;
                        engine.assign(t);
                    }
                    let mut after = DeadByMessage::new();
                    resumed.fold(&mut engine, &store, &mut from, &mut ids, &mut after, |_| {
                        true
                    });
                    // A message the checkpoint covered asks for no dead letter
                    // again; every later one asks for exactly those it asked
                    // for in the run never killed.
                    for ((p, offset), asked) in &after {
                        let want: &[crate::rejects::Reject] = if *offset < resumed_at[*p as usize] {
                            &[]
                        } else {
                            &want_dead[&(*p, *offset)]
                        };
                        prop_assert_eq!(
                            asked.as_slice(),
                            want,
                            "crash at {}: message {}:{}",
                            crash_at,
                            p,
                            offset
                        );
                    }
                    let mut dead = flat(&before);
                    dead.extend(flat(&after));
                    let got = tables(&mut engine, &ids, &dead, BTreeMap::new());
                    prop_assert_eq!(&got.rows, &want.rows, "crash at {}", crash_at);
                    prop_assert_eq!(&got.daily, &want.daily, "crash at {}", crash_at);
                    prop_assert_eq!(&got.rejects, &want.rejects, "crash at {}", crash_at);
                    // Every dead letter of the whole run was asked for (some
                    // twice: a crash before the checkpoint sends them again).
                    prop_assert_eq!(&want.dead_letters, &got.dead_letters);
                    // The same log in the same order: the very same restatements.
                    prop_assert_eq!(
                        restatements(&engine),
                        want_restatements.clone(),
                        "crash at {}",
                        crash_at
                    );
                    let _ = std::fs::remove_dir_all(&dir);
                }
                let _ = std::fs::remove_dir_all(root.join(format!("whole-{logs_run}")));
                Ok::<(), TestCaseError>(())
            },
        )
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
    let (logs_run, crashes) = (logs_run.get(), crashes.get());
    eprintln!(
        "crashes: {logs_run} generated logs, {crashes} crash points, each equal to the run never \
         killed ({} filings in cold files, {} restatements, {} displaced events)",
        cold_rows.get(),
        restated.get(),
        displaced.get()
    );
    assert!(crashes >= 1000, "{crashes}");
    assert!(cold_rows.get() > 0 && restated.get() > 0 && displaced.get() > 0);
}

// ---- fatal errors are values ----

fn event(filing: &str, seq: u32, kind: &str, day: u32) -> Vec<u8> {
    let extra = if kind == "received" {
        r#","procedure_code":"1.001193","channel":"online","due_at":"2025-07-25T17:00:00+07:00""#
    } else {
        ""
    };
    format!(
        r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-{day:02}T09:00:00+07:00","province_code":"01","commune_code":"00004"{extra}}}"#
    )
    .into_bytes()
}

/// Folds one message and makes the cold passes due, as a publish after
/// every message would.
fn feed(engine: &mut Engine, offset: i64, bytes: &[u8]) -> Result<super::Outcome, super::Fatal> {
    let outcome = engine.fold(
        Message {
            partition: 0,
            offset,
            key: None,
            payload: bytes,
            timestamp_ms: None,
        },
        NOW,
    )?;
    engine.evict_cold();
    Ok(outcome)
}

/// Checkpoint bytes said to be of format `version`, their CRC made good.
fn with_version(bytes: &[u8], version: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[8..12].copy_from_slice(&version.to_le_bytes());
    let body = out.len() - 4;
    let crc = crc32fast::hash(&out[..body]).to_le_bytes();
    out[body..].copy_from_slice(&crc);
    out
}

#[test]
fn a_checkpoint_that_cannot_be_read_is_an_error_not_a_fresh_start() {
    let dir = scratch("fatal-restore");
    let store = FsCheckpointStore::new(dir.join("checkpoints")).unwrap();
    let mut engine = Engine::new(Settings::default());
    engine.assign(super::restore(Some(&store), 0, Settings::default(), || Some(0)).unwrap());
    feed(&mut engine, 0, &event("F1", 1, "received", 1)).unwrap();
    for (_, saved) in engine.checkpoint(&store) {
        saved.unwrap();
    }
    let file = dir
        .join("checkpoints/partition-0")
        .join(hoso_model::checkpoint::object_name(1));
    let good = std::fs::read(&file).unwrap();
    assert!(super::restore(Some(&store), 0, Settings::default(), || Some(0)).is_ok());
    // Damaged: re-reading from the beginning would replace a good state
    // with a partial one at the next save. An error, for the binary.
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let restore_err = || {
        super::restore(Some(&store), 0, Settings::default(), || Some(0))
            .err()
            .expect("an error")
    };
    let err = restore_err();
    assert!(
        matches!(
            err,
            super::Fatal::Restore {
                partition: 0,
                source: hoso_model::checkpoint::CheckpointError::Corrupt(_)
            }
        ),
        "{err}"
    );
    // Written by a newer hoso: said as a version, not as damage.
    std::fs::write(&file, with_version(&good, 99)).unwrap();
    let err = restore_err();
    assert!(
        matches!(
            err,
            super::Fatal::Restore {
                source: hoso_model::checkpoint::CheckpointError::Version { found: 99, .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("version 99"), "{err}");
    // Older than this build reads (an upgrade across a format change):
    // rebuilt from the topic when it still holds the whole partition,
    // else an error (re-reading would lose what retention deleted).
    std::fs::write(&file, with_version(&good, 4)).unwrap();
    let rebuilt = super::restore(Some(&store), 0, Settings::default(), || Some(0)).unwrap();
    assert_eq!((rebuilt.next_offset(), rebuilt.filings().len()), (0, 0));
    // Version 5 derived its rows under the rules before contract v1.1
    // (issue 23): rebuilt the same way, never read under the new rules.
    std::fs::write(&file, with_version(&good, 5)).unwrap();
    let rebuilt = super::restore(Some(&store), 0, Settings::default(), || Some(0)).unwrap();
    assert_eq!((rebuilt.next_offset(), rebuilt.filings().len()), (0, 0));
    let trimmed = super::restore(Some(&store), 0, Settings::default(), || Some(5));
    assert!(
        matches!(
            trimmed,
            Err(super::Fatal::Restore {
                source: hoso_model::checkpoint::CheckpointError::Version { found: 5, .. },
                ..
            })
        ),
        "the topic no longer holds offset 0"
    );
    assert!(super::restore(Some(&store), 0, Settings::default(), || None).is_err());
    // Gone from under its manifest: corrupt, not "no checkpoint".
    std::fs::remove_file(&file).unwrap();
    assert!(super::restore(Some(&store), 0, Settings::default(), || Some(0)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cold_file_that_cannot_be_read_stops_the_fold_and_changes_nothing() {
    let dir = scratch("fatal-cold");
    let settings = cold_settings(&dir.join("cold"));
    let mut engine = Engine::new(settings.clone());
    engine.assign(PartitionTables::new(0).with_settings(settings));
    let log = [
        event("F1", 1, "received", 1),
        event("F1", 2, "resolved", 2),
        event("F1", 3, "returned", 2),
        // Days later: F1 goes cold.
        event("F2", 1, "received", 12),
    ];
    for (i, e) in log.iter().enumerate() {
        feed(&mut engine, i as i64, e).unwrap();
    }
    let t = engine.partition(0).unwrap();
    assert_eq!(t.cold().rows(), 1, "F1 is in a cold file");
    let before = (t.next_offset(), t.filings().len());
    // The file is gone (a disk lost, a store away): a late event for F1
    // must not start a fresh F1, which would count it twice.
    let cold = t.cold().paths();
    for p in &cold {
        std::fs::rename(p, format!("{p}.away")).unwrap();
    }
    let late = event("F1", 4, "fee_paid", 12);
    let err = feed(&mut engine, 4, &late).unwrap_err();
    assert!(
        matches!(
            err,
            super::Fatal::ColdRead {
                partition: 0,
                offset: 4,
                ..
            }
        ),
        "{err}"
    );
    let t = engine.partition(0).unwrap();
    assert_eq!(
        (t.next_offset(), t.filings().len()),
        before,
        "nothing folded"
    );
    // Once the file is back, the same message folds: it was never read.
    for p in &cold {
        std::fs::rename(format!("{p}.away"), p).unwrap();
    }
    assert_eq!(feed(&mut engine, 4, &late).unwrap(), super::Outcome::Folded);
    let t = engine.partition(0).unwrap();
    assert_eq!(t.filings().get("F1").unwrap().last_seq(), 4);
    assert_eq!(t.cold().rows(), 0, "recalled");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn messages_dated_in_a_projected_year_are_counted_by_year() {
    let mut engine = Engine::new(Settings::default());
    engine.assign(PartitionTables::new(0));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    // 2025 is announced; a backfilled 2023 event, and a due date in 2028.
    let in_2023 = text(event("B1", 2, "processing", 3)).replace("2025-", "2023-");
    let due_2028 = text(event("A2", 1, "received", 3)).replace("2025-07-25", "2028-01-05");
    feed(&mut engine, 0, &event("A1", 1, "processing", 3)).unwrap();
    feed(&mut engine, 1, in_2023.as_bytes()).unwrap();
    feed(&mut engine, 2, due_2028.as_bytes()).unwrap();
    // A message read again after a resume is not counted twice.
    feed(&mut engine, 1, in_2023.as_bytes()).unwrap();
    let years = engine.take_effects().projected_years;
    assert_eq!(years, BTreeMap::from([(2023, 1), (2028, 1)]));
}
