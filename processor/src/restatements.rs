//! The audit of past figures: every change of a closed day's figure, kept
//! per partition for the SQL table `restatements` (and in the checkpoint).
//!
//! Officials are scored on daily figures, so a past figure never changes
//! silently. A day is closed once the partition's event time has passed
//! its end by `day_close_grace_ms`; an event that still moves a closed
//! day's counts (a late `received`, a late supplement that turns an outcome
//! late...) leaves one row per figure it changed.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{
    Array, ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i32, put_i64, put_u8, put_u32};
use hoso_model::event::{commune_code, province_code};
use hoso_model::schema;

use crate::daily::{DayCounts, DayKey};

/// The shares of a day that restatements follow, after the counts.
const SHARES: [&str; 5] = [
    "online_share",
    "eid_level2_share",
    "digitization_share",
    "online_payment_share",
    "on_time_rate",
];

/// Figures a day has, as in `restatements.metric`: the daily counts, then
/// the shares over them.
const FIGURES: usize = DayCounts::NAMES.len() + SHARES.len();

/// The name of figure `i`, as in `restatements.metric`.
pub fn metric_name(i: usize) -> Option<&'static str> {
    DayCounts::NAMES
        .get(i)
        .or_else(|| SHARES.get(i.wrapping_sub(DayCounts::NAMES.len())))
        .copied()
}

fn metric_index(name: &str) -> Option<usize> {
    (0..FIGURES).find(|&i| metric_name(i) == Some(name))
}

/// One changed figure of a closed day.
#[derive(Clone, Debug, PartialEq)]
pub struct Restatement {
    pub key: DayKey,
    /// One of [`metric_name`]'s.
    pub metric: &'static str,
    /// `None` for a rate whose denominator was 0.
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// Wall clock when the figure changed, UTC ms.
    pub changed_at_ms: i64,
    /// The event that changed it, shared by the rows of every figure and
    /// day it changed.
    pub cause: Arc<Cause>,
    pub partition: i32,
    pub offset: i64,
    /// How many partitions the figures are summed over (the processor's).
    pub partitions_held: i32,
}

/// The event behind restatements. One late event typically moves several
/// figures (a count and the shares over it) of one or two days: its rows
/// share one `Cause`, so a log of 100,000 rows holds each text once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// The event, in words, for `restatements.cause`.
    pub text: String,
    pub filing_id: String,
    pub event_id: String,
}

impl Cause {
    pub fn new(
        text: impl Into<String>,
        filing_id: impl Into<String>,
        event_id: impl Into<String>,
    ) -> Arc<Cause> {
        Arc::new(Cause {
            text: text.into(),
            filing_id: filing_id.into(),
            event_id: event_id.into(),
        })
    }
}

fn figures(c: &DayCounts) -> [Option<f64>; FIGURES] {
    let ratio = |num: i64, den: i64| (den != 0).then(|| num as f64 / den as f64);
    // In `SHARES` order.
    let shares = [
        ratio(c.received_online, c.received),
        ratio(c.received_eid_level2, c.received),
        ratio(c.received_digitized, c.received),
        ratio(c.received_fee_paid_online, c.received_fee_required),
        ratio(c.ended_on_time, c.ended),
    ];
    let v = c.values();
    std::array::from_fn(|i| match v.get(i) {
        Some(n) => Some(*n as f64),
        None => shares[i - v.len()],
    })
}

/// The figures that differ between `old` and `new`: metric, old, new.
pub fn changed(old: &DayCounts, new: &DayCounts) -> Vec<(&'static str, Option<f64>, Option<f64>)> {
    let (a, b) = (figures(old), figures(new));
    (0..FIGURES)
        .filter(|&i| a[i] != b[i])
        .filter_map(|i| Some((metric_name(i)?, a[i], b[i])))
        .collect()
}

/// Rows of one encoded chunk of the log.
const CHUNK_ROWS: usize = 4096;

/// A partition's restatements, the newest `retain` of them.
///
/// Each row is held once. Rows are recorded into `filling`; every
/// [`CHUNK_ROWS`] of them are encoded into an Arrow chunk, which is then
/// all there is of them: publishes share the chunk, and the checkpoint
/// reads it back. A log of 100,000 rows re-encoded whole at every publish
/// took most of a loaded processor's time, and one held both as rows and
/// as Arrow took more memory than the filings it audits.
#[derive(Debug)]
pub struct RestatementLog {
    retain: usize,
    /// Full chunks, oldest first; the front one's first `skip` rows are
    /// past `retain` and no longer part of the log.
    sealed: VecDeque<RecordBatch>,
    skip: usize,
    /// Rows recorded after the last full chunk, oldest first.
    filling: VecDeque<Restatement>,
    /// The last [`RestatementLog::batches`], until the next change.
    batches: Option<Vec<RecordBatch>>,
}

impl RestatementLog {
    pub fn new(retain: usize) -> Self {
        RestatementLog {
            retain: retain.max(1),
            sealed: VecDeque::new(),
            skip: 0,
            filling: VecDeque::new(),
            batches: None,
        }
    }

    pub fn record(&mut self, r: Restatement) {
        self.filling.push_back(r);
        if self.filling.len() == CHUNK_ROWS {
            self.sealed.push_back(encode(&self.filling));
            self.filling.clear();
        }
        self.trim();
    }

    /// Keeps only the newest `retain` from now on.
    pub fn set_retain(&mut self, retain: usize) {
        self.retain = retain.max(1);
        self.trim();
    }

    /// Drops the rows past `retain`, and the chunks holding only those.
    fn trim(&mut self) {
        let mut excess = self.len().saturating_sub(self.retain);
        while excess > 0 {
            match self.sealed.front() {
                Some(front) => {
                    let n = excess.min(front.num_rows() - self.skip);
                    self.skip += n;
                    excess -= n;
                    if self.skip == front.num_rows() {
                        self.sealed.pop_front();
                        self.skip = 0;
                    }
                }
                None => {
                    self.filling.drain(..excess);
                    excess = 0;
                }
            }
        }
        self.batches = None;
    }

    pub fn len(&self) -> usize {
        let sealed: usize = self.sealed.iter().map(RecordBatch::num_rows).sum();
        sealed - self.skip + self.filling.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows, oldest first. Those of full chunks are read back from
    /// Arrow, their rows of one event sharing its cause again.
    pub fn iter(&self) -> impl Iterator<Item = Restatement> + '_ {
        self.sealed_batches()
            .flat_map(|b| {
                let chunk = Chunk::of(&b);
                let mut rows: Vec<Restatement> = Vec::with_capacity(b.num_rows());
                for i in 0..b.num_rows() {
                    let r = chunk.row(i, rows.last().map(|r| &r.cause));
                    rows.push(r);
                }
                rows
            })
            .chain(self.filling.iter().cloned())
    }

    /// The full chunks, cut to the rows still kept.
    fn sealed_batches(&self) -> impl Iterator<Item = RecordBatch> + '_ {
        self.sealed.iter().enumerate().map(|(i, b)| {
            let skip = if i == 0 { self.skip } else { 0 };
            b.slice(skip, b.num_rows() - skip)
        })
    }

    /// The rows as Arrow batches, oldest first (cached until the next
    /// change): the full chunks, and the rows recorded since.
    pub fn batches(&mut self) -> Vec<RecordBatch> {
        if let Some(b) = &self.batches {
            return b.clone();
        }
        let mut out: Vec<RecordBatch> = self.sealed_batches().collect();
        if !self.filling.is_empty() {
            out.push(encode(&self.filling));
        }
        self.batches = Some(out.clone());
        out
    }

    /// Writes the log as runs of rows with one cause (the rows one event
    /// left): the cause, the time, partition and offset once per run, then
    /// each row's day, commune, figure and values.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.len() as u32);
        let mut rows = self.iter().peekable();
        while let Some(first) = rows.next() {
            let mut run = vec![first];
            while let Some(next) = rows.next_if(|r| same_run(&run[0], r)) {
                run.push(next);
            }
            let head = &run[0];
            for s in [
                &head.cause.text,
                &head.cause.filing_id,
                &head.cause.event_id,
            ] {
                put_bytes(out, s.as_bytes());
            }
            put_i64(out, head.changed_at_ms);
            put_i32(out, head.partition);
            put_i64(out, head.offset);
            put_i32(out, head.partitions_held);
            put_u32(out, run.len() as u32);
            for r in &run {
                let (day, province, commune) = r.key;
                put_i32(out, day);
                put_u8(out, province);
                put_u32(out, commune);
                let metric = metric_index(r.metric).unwrap_or(0);
                put_u8(out, metric as u8);
                for v in [r.old, r.new] {
                    match v {
                        None => put_u8(out, 0),
                        Some(x) => {
                            put_u8(out, 1);
                            put_i64(out, x.to_bits() as i64);
                        }
                    }
                }
            }
        }
    }

    /// Reads what [`RestatementLog::encode`] wrote, or, from a checkpoint
    /// of `version` 6, the rows written one by one, each with its cause.
    pub fn decode(
        r: &mut ByteReader<'_>,
        retain: usize,
        version: u32,
    ) -> Result<RestatementLog, CodecError> {
        let mut log = RestatementLog::new(retain);
        if version <= 6 {
            return decode_rows(r, log);
        }
        let mut left = r.count(11)?;
        while left > 0 {
            let cause = Arc::new(Cause {
                text: text(r)?,
                filing_id: text(r)?,
                event_id: text(r)?,
            });
            let (changed_at_ms, partition, offset, partitions_held) =
                (r.i64()?, r.i32()?, r.i64()?, r.i32()?);
            let n = r.count(11)?;
            if n == 0 || n > left {
                return Err(CodecError::Corrupt("restatement run length".into()));
            }
            left -= n;
            for _ in 0..n {
                let at = (partition, offset, partitions_held);
                log.record(restatement(figure(r)?, changed_at_ms, cause.clone(), at));
            }
        }
        Ok(log)
    }
}

/// Whether `r` belongs to the run `head` starts: the same event, at the
/// same time, partition and offset.
fn same_run(head: &Restatement, r: &Restatement) -> bool {
    (Arc::ptr_eq(&head.cause, &r.cause) || head.cause == r.cause)
        && head.changed_at_ms == r.changed_at_ms
        && head.partition == r.partition
        && head.offset == r.offset
        && head.partitions_held == r.partitions_held
}

fn text(r: &mut ByteReader<'_>) -> Result<String, CodecError> {
    String::from_utf8(r.bytes()?.to_vec())
        .map_err(|_| CodecError::Corrupt("text is not UTF-8".into()))
}

/// A figure as both versions write it: day, province, commune, metric,
/// old and new value.
type Figure = (DayKey, &'static str, Option<f64>, Option<f64>);

fn figure(r: &mut ByteReader<'_>) -> Result<Figure, CodecError> {
    let key = (r.i32()?, r.u8()?, r.u32()?);
    let metric = metric_name(r.u8()? as usize)
        .ok_or_else(|| CodecError::Corrupt("restatement metric".into()))?;
    Ok((key, metric, value(r)?, value(r)?))
}

fn value(r: &mut ByteReader<'_>) -> Result<Option<f64>, CodecError> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(f64::from_bits(r.i64()? as u64)),
    })
}

/// Version 6: every row with its cause and position.
fn decode_rows(
    r: &mut ByteReader<'_>,
    mut log: RestatementLog,
) -> Result<RestatementLog, CodecError> {
    let n = r.count(40)?;
    let mut last: Option<Arc<Cause>> = None;
    for _ in 0..n {
        let figure = figure(r)?;
        let changed_at_ms = r.i64()?;
        let read = Cause {
            text: text(r)?,
            filing_id: text(r)?,
            event_id: text(r)?,
        };
        // Rows of one event are recorded together: they share its cause
        // again, as before the checkpoint.
        let cause = match last {
            Some(last) if *last == read => last,
            _ => Arc::new(read),
        };
        last = Some(cause.clone());
        let at = (r.i32()?, r.i64()?, r.i32()?);
        log.record(restatement(figure, changed_at_ms, cause, at));
    }
    Ok(log)
}

/// A row read back: its figure, when, why, and where (partition, offset,
/// partitions held).
fn restatement(
    (key, metric, old, new): Figure,
    changed_at_ms: i64,
    cause: Arc<Cause>,
    (partition, offset, partitions_held): (i32, i64, i32),
) -> Restatement {
    Restatement {
        key,
        metric,
        old,
        new,
        changed_at_ms,
        cause,
        partition,
        offset,
        partitions_held,
    }
}

/// An encoded chunk's columns, to read its rows back.
struct Chunk<'a> {
    day: &'a Date32Array,
    province: &'a StringArray,
    commune: &'a StringArray,
    metric: &'a StringArray,
    old: &'a Float64Array,
    new: &'a Float64Array,
    changed_at: &'a TimestampMillisecondArray,
    cause: &'a StringArray,
    filing_id: &'a StringArray,
    event_id: &'a StringArray,
    partition: &'a Int32Array,
    offset: &'a Int64Array,
    partitions_held: &'a Int32Array,
}

impl<'a> Chunk<'a> {
    /// The columns of a batch [`encode`] made, found by name.
    fn of(b: &'a RecordBatch) -> Chunk<'a> {
        fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
            b.column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<T>())
                .expect("a restatements chunk hoso encoded")
        }
        Chunk {
            day: col(b, "day"),
            province: col(b, "province_code"),
            commune: col(b, "commune_code"),
            metric: col(b, "metric"),
            old: col(b, "old_value"),
            new: col(b, "new_value"),
            changed_at: col(b, "changed_at"),
            cause: col(b, "cause"),
            filing_id: col(b, "filing_id"),
            event_id: col(b, "event_id"),
            partition: col(b, "partition"),
            offset: col(b, "offset"),
            partitions_held: col(b, "partitions_held"),
        }
    }

    /// Row `i`; its cause is `last`, shared, when they are equal.
    fn row(&self, i: usize, last: Option<&Arc<Cause>>) -> Restatement {
        let (text, filing_id, event_id) = (
            self.cause.value(i),
            self.filing_id.value(i),
            self.event_id.value(i),
        );
        let cause = match last {
            Some(c) if c.text == text && c.filing_id == filing_id && c.event_id == event_id => {
                c.clone()
            }
            _ => Cause::new(text, filing_id, event_id),
        };
        let float = |a: &Float64Array| a.is_valid(i).then(|| a.value(i));
        // Codes are written zero-padded ([`province_code`]): they parse back.
        let code = |a: &StringArray| a.value(i).parse::<u32>().unwrap_or(0);
        Restatement {
            key: (
                self.day.value(i),
                code(self.province) as u8,
                code(self.commune),
            ),
            metric: metric_index(self.metric.value(i))
                .and_then(metric_name)
                .expect("a metric hoso encoded"),
            old: float(self.old),
            new: float(self.new),
            changed_at_ms: self.changed_at.value(i),
            cause,
            partition: self.partition.value(i),
            offset: self.offset.value(i),
            partitions_held: self.partitions_held.value(i),
        }
    }
}

/// The rows as one batch. Each text column is sized to its bytes first: a
/// full chunk is held for as long as its rows are, and a builder left to
/// grow by doubling would hold up to twice their room.
fn encode(rows: &VecDeque<Restatement>) -> RecordBatch {
    let n = rows.len();
    let bytes = |f: fn(&Restatement) -> usize| rows.iter().map(f).sum::<usize>();
    let mut day = Date32Builder::with_capacity(n);
    let mut province = StringBuilder::with_capacity(n, n * 2);
    let mut commune = StringBuilder::with_capacity(n, n * 5);
    let mut metric = StringBuilder::with_capacity(n, bytes(|r| r.metric.len()));
    let mut old = Float64Builder::with_capacity(n);
    let mut new = Float64Builder::with_capacity(n);
    let mut changed = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut cause = StringBuilder::with_capacity(n, bytes(|r| r.cause.text.len()));
    let mut filing = StringBuilder::with_capacity(n, bytes(|r| r.cause.filing_id.len()));
    let mut event = StringBuilder::with_capacity(n, bytes(|r| r.cause.event_id.len()));
    let mut partition = Int32Builder::with_capacity(n);
    let mut offset = Int64Builder::with_capacity(n);
    let mut held = Int32Builder::with_capacity(n);
    for r in rows {
        day.append_value(r.key.0);
        province.append_value(province_code(r.key.1));
        commune.append_value(commune_code(r.key.2));
        metric.append_value(r.metric);
        old.append_option(r.old);
        new.append_option(r.new);
        changed.append_value(r.changed_at_ms);
        cause.append_value(&r.cause.text);
        filing.append_value(&r.cause.filing_id);
        event.append_value(&r.cause.event_id);
        partition.append_value(r.partition);
        offset.append_value(r.offset);
        held.append_value(r.partitions_held);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("day", Arc::new(day.finish())),
        ("province_code", Arc::new(province.finish())),
        ("commune_code", Arc::new(commune.finish())),
        ("metric", Arc::new(metric.finish())),
        ("old_value", Arc::new(old.finish())),
        ("new_value", Arc::new(new.finish())),
        ("changed_at", Arc::new(changed.finish())),
        ("cause", Arc::new(cause.finish())),
        ("filing_id", Arc::new(filing.finish())),
        ("event_id", Arc::new(event.finish())),
        ("partition", Arc::new(partition.finish())),
        ("offset", Arc::new(offset.finish())),
        ("partitions_held", Arc::new(held.finish())),
    ];
    crate::encode::named(schema::restatements(), columns)
        .expect("restatements batch matches its schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_figures_that_moved_are_restated() {
        let old = DayCounts {
            received: 4,
            received_online: 1,
            ended: 2,
            ended_on_time: 2,
            ..DayCounts::default()
        };
        // One of the ended filings turns late.
        let new = DayCounts {
            ended_on_time: 1,
            ended_late: 1,
            ..old
        };
        let c = changed(&old, &new);
        assert_eq!(
            c,
            vec![
                ("ended_on_time", Some(2.0), Some(1.0)),
                ("ended_late", Some(0.0), Some(1.0)),
                ("on_time_rate", Some(1.0), Some(0.5)),
            ]
        );
        // A first filing on a day: the share appears from nothing.
        let c = changed(
            &DayCounts::default(),
            &DayCounts {
                received: 1,
                ..DayCounts::default()
            },
        );
        assert_eq!(
            c,
            vec![
                ("received", Some(0.0), Some(1.0)),
                ("online_share", None, Some(0.0)),
                ("eid_level2_share", None, Some(0.0)),
                ("digitization_share", None, Some(0.0)),
            ]
        );
    }

    #[test]
    fn the_names_match_the_counts_and_the_table() {
        assert_eq!(metric_name(0), Some("received"));
        assert_eq!(metric_name(10), Some("extensions"));
        assert_eq!(metric_name(11), Some("online_share"));
        assert_eq!(metric_name(FIGURES), None);
        assert_eq!(metric_index("on_time_rate"), Some(FIGURES - 1));
        let schema = schema::daily_partials();
        let columns: Vec<&str> = schema.fields()[4..]
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(columns, DayCounts::NAMES);
    }

    /// A log of `events` late events, each leaving 1 to 4 rows that share
    /// its cause, some with a missing value.
    fn log_of(events: i64, retain: usize) -> RestatementLog {
        let mut log = RestatementLog::new(retain);
        for e in 0..events {
            let cause = Cause::new(
                format!("late `received` event (seq {e}) of filing F{e}"),
                format!("F{e}"),
                format!("F{e}-1"),
            );
            for m in 0..(e % 4 + 1) as usize {
                log.record(Restatement {
                    key: (
                        20_000 + (e % 7) as i32,
                        (e % 34) as u8 + 1,
                        10_000 + e as u32,
                    ),
                    metric: metric_name(m * 4).unwrap(),
                    old: (m != 3).then_some(e as f64 / 3.0),
                    new: Some(m as f64),
                    changed_at_ms: 1_750_000_000_000 + e,
                    cause: cause.clone(),
                    partition: 2,
                    offset: 10 + e,
                    partitions_held: 4,
                });
            }
        }
        log
    }

    #[test]
    fn the_log_round_trips_through_bytes() {
        // Rows in full chunks (the first one cut by `retain`) and after.
        for (events, retain) in [(3, 10), (5_000, 9_999), (5_000, 100_000)] {
            let log = log_of(events, retain);
            let mut out = Vec::new();
            log.encode(&mut out);
            let mut r = ByteReader::new(&out);
            let back = RestatementLog::decode(&mut r, retain, 7).unwrap();
            assert_eq!(r.remaining(), 0);
            let rows: Vec<Restatement> = log.iter().collect();
            assert_eq!(rows.len(), log.len());
            assert_eq!(back.iter().collect::<Vec<_>>(), rows, "{events} events");
            // The rows of one event share its cause again (but for one
            // split by a chunk's end).
            let back: Vec<Restatement> = back.iter().collect();
            let causes = 1 + back
                .windows(2)
                .filter(|w| !Arc::ptr_eq(&w[0].cause, &w[1].cause))
                .count();
            let events = 1 + back
                .windows(2)
                .filter(|w| w[0].offset != w[1].offset)
                .count();
            assert!(
                causes <= events + back.len() / CHUNK_ROWS,
                "{causes} causes"
            );
        }
    }

    #[test]
    fn a_version_6_log_is_read() {
        let log = log_of(50, 1_000);
        // Version 6 wrote each row whole.
        let mut out = Vec::new();
        put_u32(&mut out, log.len() as u32);
        for r in log.iter() {
            put_i32(&mut out, r.key.0);
            put_u8(&mut out, r.key.1);
            put_u32(&mut out, r.key.2);
            put_u8(&mut out, metric_index(r.metric).unwrap() as u8);
            for v in [r.old, r.new] {
                match v {
                    None => put_u8(&mut out, 0),
                    Some(x) => {
                        put_u8(&mut out, 1);
                        put_i64(&mut out, x.to_bits() as i64);
                    }
                }
            }
            put_i64(&mut out, r.changed_at_ms);
            for s in [&r.cause.text, &r.cause.filing_id, &r.cause.event_id] {
                put_bytes(&mut out, s.as_bytes());
            }
            put_i32(&mut out, r.partition);
            put_i64(&mut out, r.offset);
            put_i32(&mut out, r.partitions_held);
        }
        let back = RestatementLog::decode(&mut ByteReader::new(&out), 1_000, 6).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            log.iter().collect::<Vec<_>>()
        );
        // Written again, runs take less room than rows.
        let mut again = Vec::new();
        back.encode(&mut again);
        assert!(
            again.len() * 3 < out.len() * 2,
            "{} vs {}",
            again.len(),
            out.len()
        );
    }

    #[test]
    fn a_damaged_run_length_is_refused() {
        let log = log_of(3, 10);
        let mut out = Vec::new();
        log.encode(&mut out);
        // The first run's length, after its cause and position, says 0.
        let head = 4
            + 3 * 4
            + log.iter().next().map_or(0, |r| {
                r.cause.text.len() + r.cause.filing_id.len() + r.cause.event_id.len()
            })
            + 8
            + 4
            + 8
            + 4;
        out[head..head + 4].copy_from_slice(&0u32.to_le_bytes());
        let err = RestatementLog::decode(&mut ByteReader::new(&out), 10, 7).unwrap_err();
        assert!(err.to_string().contains("run length"), "{err}");
    }

    impl RestatementLog {
        fn clone_batch_rows(&mut self) -> usize {
            self.batches().iter().map(RecordBatch::num_rows).sum()
        }
    }

    #[test]
    fn batches_hold_what_iter_holds() {
        let mut log = log_of(5_000, 9_999);
        assert_eq!(log.clone_batch_rows(), log.len());
        let rows: Vec<Restatement> = log.iter().collect();
        let from_batches: Vec<Restatement> = log
            .batches()
            .iter()
            .flat_map(|b| {
                let c = Chunk::of(b);
                (0..b.num_rows())
                    .map(move |i| c.row(i, None))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(from_batches, rows);
    }

    fn row(offset: i64) -> Restatement {
        Restatement {
            key: (20_000, 1, 4),
            metric: "received",
            old: Some(1.0),
            new: Some(2.0),
            changed_at_ms: 1_750_000_000_000,
            cause: Cause::new(
                "late `received`",
                format!("F{offset}"),
                format!("F{offset}-1"),
            ),
            partition: 0,
            offset,
            partitions_held: 1,
        }
    }

    /// The `offset` column of every batch, in order.
    fn offsets(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                let col = b.column_by_name("offset").unwrap();
                let col = col
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .unwrap();
                col.values().to_vec()
            })
            .collect()
    }

    #[test]
    fn batches_hold_the_rows_kept_in_order_and_reuse_full_chunks() {
        let retain = 10_000;
        let mut log = RestatementLog::new(retain);
        let mut recorded = 0i64;
        // Through several chunk boundaries and past `retain`, asking now
        // and then, as publishes do.
        for stop in [
            1, 4_095, 4_096, 4_097, 9_999, 10_000, 12_345, 20_480, 23_000,
        ] {
            while recorded < stop {
                log.record(row(recorded));
                recorded += 1;
            }
            let kept = (recorded - retain as i64).max(0)..recorded;
            assert_eq!(offsets(&log.batches()), kept.collect::<Vec<_>>(), "{stop}");
        }
        // A full chunk is encoded once: the next publish shares its buffers.
        let before = log.batches();
        log.record(row(recorded));
        let after = log.batches();
        let data = |b: &RecordBatch| b.column(0).to_data().buffers()[0].as_ptr();
        assert_eq!(data(&before[1]), data(&after[1]));
        // A smaller `retain` cuts the oldest chunk, not the newest.
        log.set_retain(5_000);
        let kept = offsets(&log.batches());
        assert_eq!(kept.len(), 5_000);
        assert_eq!(kept[0], recorded + 1 - 5_000);
    }
}
