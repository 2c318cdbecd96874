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
use arrow_array::{ArrayRef, RecordBatch};
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
const CHUNK_ROWS: u64 = 4096;

/// A partition's restatements, the newest `retain` of them.
///
/// Encoded in chunks of [`CHUNK_ROWS`] rows, by their number in the order
/// recorded: a full chunk is encoded once, and later publishes re-encode
/// only the chunk being filled. A log of 100,000 rows re-encoded whole at
/// every publish took most of a loaded processor's time.
#[derive(Debug)]
pub struct RestatementLog {
    rows: VecDeque<Restatement>,
    retain: usize,
    /// The number of `rows.front()`: rows recorded before it and dropped.
    first: u64,
    /// Full chunks, encoded: the number of each one's first row, its rows.
    sealed: VecDeque<(u64, RecordBatch)>,
    /// The last [`RestatementLog::batches`], until the next change.
    batches: Option<Vec<RecordBatch>>,
}

impl RestatementLog {
    pub fn new(retain: usize) -> Self {
        RestatementLog {
            rows: VecDeque::new(),
            retain: retain.max(1),
            first: 0,
            sealed: VecDeque::new(),
            batches: None,
        }
    }

    pub fn record(&mut self, r: Restatement) {
        self.rows.push_back(r);
        self.trim();
    }

    /// Keeps only the newest `retain` from now on.
    pub fn set_retain(&mut self, retain: usize) {
        self.retain = retain.max(1);
        self.trim();
    }

    /// Drops the rows past `retain`, and the chunks holding only those.
    fn trim(&mut self) {
        while self.rows.len() > self.retain {
            self.rows.pop_front();
            self.first += 1;
        }
        while let Some((from, b)) = self.sealed.front()
            && from + b.num_rows() as u64 <= self.first
        {
            self.sealed.pop_front();
        }
        self.batches = None;
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Restatement> {
        self.rows.iter()
    }

    /// The rows as Arrow batches, oldest first (cached until the next
    /// change): the full chunks encoded before, cut to the rows still
    /// kept, and the chunk being filled.
    pub fn batches(&mut self) -> Vec<RecordBatch> {
        if let Some(b) = &self.batches {
            return b.clone();
        }
        let end = self.first + self.rows.len() as u64;
        let next = |sealed: &VecDeque<(u64, RecordBatch)>, first: u64| {
            sealed
                .back()
                .map_or(first, |(from, b)| from + b.num_rows() as u64)
        };
        loop {
            let from = next(&self.sealed, self.first);
            let to = (from / CHUNK_ROWS + 1) * CHUNK_ROWS;
            if to > end {
                break;
            }
            let at = |n: u64| (n - self.first) as usize;
            let batch = encode(self.rows.range(at(from)..at(to)));
            self.sealed.push_back((from, batch));
        }
        let mut out: Vec<RecordBatch> = self
            .sealed
            .iter()
            .map(|(from, b)| {
                let skip = self.first.saturating_sub(*from) as usize;
                b.slice(skip, b.num_rows() - skip)
            })
            .collect();
        let filling = next(&self.sealed, self.first);
        if filling < end {
            out.push(encode(self.rows.range((filling - self.first) as usize..)));
        }
        self.batches = Some(out.clone());
        out
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.rows.len() as u32);
        for r in &self.rows {
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
            put_i64(out, r.changed_at_ms);
            for s in [&r.cause.text, &r.cause.filing_id, &r.cause.event_id] {
                put_bytes(out, s.as_bytes());
            }
            put_i32(out, r.partition);
            put_i64(out, r.offset);
            put_i32(out, r.partitions_held);
        }
    }

    pub fn decode(r: &mut ByteReader<'_>, retain: usize) -> Result<RestatementLog, CodecError> {
        let mut log = RestatementLog::new(retain);
        let n = r.count(40)?;
        for _ in 0..n {
            let key = (r.i32()?, r.u8()?, r.u32()?);
            let metric = metric_name(r.u8()? as usize)
                .ok_or_else(|| CodecError::Corrupt("restatement metric".into()))?;
            let mut value = || -> Result<Option<f64>, CodecError> {
                Ok(match r.u8()? {
                    0 => None,
                    _ => Some(f64::from_bits(r.i64()? as u64)),
                })
            };
            let (old, new) = (value()?, value()?);
            let changed_at_ms = r.i64()?;
            let mut text = || -> Result<String, CodecError> {
                String::from_utf8(r.bytes()?.to_vec())
                    .map_err(|_| CodecError::Corrupt("text is not UTF-8".into()))
            };
            let read = Cause {
                text: text()?,
                filing_id: text()?,
                event_id: text()?,
            };
            // Rows of one event are recorded together: they share its
            // cause again, as before the checkpoint.
            let cause = match log.rows.back() {
                Some(last) if *last.cause == read => last.cause.clone(),
                _ => Arc::new(read),
            };
            log.record(Restatement {
                key,
                metric,
                old,
                new,
                changed_at_ms,
                cause,
                partition: r.i32()?,
                offset: r.i64()?,
                partitions_held: r.i32()?,
            });
        }
        Ok(log)
    }
}

fn encode<'a>(rows: impl ExactSizeIterator<Item = &'a Restatement>) -> RecordBatch {
    let n = rows.len();
    let mut day = Date32Builder::with_capacity(n);
    let mut province = StringBuilder::with_capacity(n, n * 2);
    let mut commune = StringBuilder::with_capacity(n, n * 5);
    let mut metric = StringBuilder::new();
    let mut old = Float64Builder::with_capacity(n);
    let mut new = Float64Builder::with_capacity(n);
    let mut changed = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut cause = StringBuilder::new();
    let mut filing = StringBuilder::new();
    let mut event = StringBuilder::new();
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

    #[test]
    fn the_log_round_trips_through_bytes() {
        let mut log = RestatementLog::new(10);
        for (i, (metric, old)) in [("received", Some(1.0)), ("on_time_rate", None)]
            .into_iter()
            .enumerate()
        {
            log.record(Restatement {
                key: (20_000, 1, 4),
                metric,
                old,
                new: Some(0.25),
                changed_at_ms: 1_750_000_000_000,
                cause: Cause::new("late `received`", "F1", "F1-1"),
                partition: 2,
                offset: 10 + i as i64,
                partitions_held: 4,
            });
        }
        let mut out = Vec::new();
        log.encode(&mut out);
        let back = RestatementLog::decode(&mut ByteReader::new(&out), 10).unwrap();
        assert_eq!(back.rows, log.rows);
        assert_eq!(log.clone_batch_rows(), 2);
    }

    impl RestatementLog {
        fn clone_batch_rows(&mut self) -> usize {
            self.batches().iter().map(RecordBatch::num_rows).sum()
        }
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
