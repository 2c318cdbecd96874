//! Messages the processor cannot apply: kept per partition for the SQL
//! table `rejects` (and in the checkpoint), and sent to the dead-letter
//! topic by [`crate::dead_letters`].
//!
//! A partition is read again from a little before its checkpoint after a
//! restart, so the same message can be refused twice: the partition logs
//! and dead-letters only refusals of messages read for the first time
//! (refusals are final, so a re-read one was logged before the
//! checkpoint). The log is sorted by offset; an offset is logged once.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i64, put_u8, put_u32};
use hoso_model::schema;

/// The reason codes, as in `rejects.reason` and the DLQ `hoso-reason` header.
pub const REASONS: [&str; 3] = ["not_json", "invalid_event", "conflict"];

/// One refused message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// One of [`REASONS`].
    pub reason: &'static str,
    pub detail: String,
    pub filing_id: Option<String>,
    pub event_id: Option<String>,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    /// Wall clock when the processor refused it, UTC ms.
    pub seen_at_ms: i64,
}

impl Reject {
    /// The refusal of the message read at (`partition`, `offset`); the
    /// filing and event it names are added by [`Reject::naming`].
    pub fn of_message(
        reason: &'static str,
        detail: String,
        key: Option<&[u8]>,
        payload: &[u8],
        partition: i32,
        offset: i64,
        seen_at_ms: i64,
    ) -> Reject {
        Reject {
            reason,
            detail,
            filing_id: None,
            event_id: None,
            key: key.map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            partition,
            offset,
            seen_at_ms,
        }
    }

    pub fn naming(mut self, filing_id: &str, event_id: Option<&str>) -> Reject {
        self.filing_id = Some(filing_id.to_string());
        self.event_id = event_id.map(str::to_string);
        self
    }
}

/// A partition's rejects, the newest `retain` of them.
#[derive(Debug)]
pub struct RejectLog {
    rows: VecDeque<Reject>,
    retain: usize,
    batch: Option<RecordBatch>,
}

impl RejectLog {
    pub fn new(retain: usize) -> Self {
        RejectLog {
            rows: VecDeque::new(),
            retain: retain.max(1),
            batch: None,
        }
    }

    /// Logs `r` unless its offset was logged before; true when new.
    pub fn record(&mut self, r: Reject) -> bool {
        if self.reason_at(r.offset).is_some() {
            return false;
        }
        // Offsets only grow in a partition, except for an event displaced
        // later, logged under the older offset it was read at.
        let at = self.rows.partition_point(|x| x.offset < r.offset);
        self.rows.insert(at, r);
        while self.rows.len() > self.retain {
            self.rows.pop_front();
        }
        self.batch = None;
        true
    }

    /// Keeps only the newest `retain` from now on.
    pub fn set_retain(&mut self, retain: usize) {
        self.retain = retain.max(1);
        while self.rows.len() > self.retain {
            self.rows.pop_front();
        }
        self.batch = None;
    }

    /// The reason the message at `offset` was refused, if it is logged.
    pub fn reason_at(&self, offset: i64) -> Option<&'static str> {
        let i = self.rows.partition_point(|x| x.offset < offset);
        self.rows
            .get(i)
            .filter(|x| x.offset == offset)
            .map(|x| x.reason)
    }

    /// Sets every row's `seen_at` (tests compare logs without the clock).
    #[cfg(test)]
    pub(crate) fn stamp_all(&mut self, seen_at_ms: i64) {
        for r in &mut self.rows {
            r.seen_at_ms = seen_at_ms;
        }
        self.batch = None;
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Reject> {
        self.rows.iter()
    }

    /// The rows as one Arrow batch (cached until the next record).
    pub fn batch(&mut self) -> Option<RecordBatch> {
        if self.rows.is_empty() {
            return None;
        }
        if self.batch.is_none() {
            self.batch = Some(encode(&self.rows));
        }
        self.batch.clone()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.rows.len() as u32);
        for r in &self.rows {
            let reason = REASONS.iter().position(|x| *x == r.reason).unwrap_or(0);
            put_u8(out, reason as u8);
            put_bytes(out, r.detail.as_bytes());
            put_opt(out, r.filing_id.as_deref().map(str::as_bytes));
            put_opt(out, r.event_id.as_deref().map(str::as_bytes));
            put_opt(out, r.key.as_deref());
            put_bytes(out, &r.payload);
            put_u32(out, r.partition as u32);
            put_i64(out, r.offset);
            put_i64(out, r.seen_at_ms);
        }
    }

    pub fn decode(r: &mut ByteReader<'_>, retain: usize) -> Result<RejectLog, CodecError> {
        let mut log = RejectLog::new(retain);
        let n = r.count(30)?;
        for _ in 0..n {
            let reason = *REASONS
                .get(r.u8()? as usize)
                .ok_or_else(|| CodecError::Corrupt("reject reason".into()))?;
            let detail = text(r.bytes()?)?;
            let filing_id = get_opt(r)?.map(text).transpose()?;
            let event_id = get_opt(r)?.map(text).transpose()?;
            let key = get_opt(r)?.map(<[u8]>::to_vec);
            let payload = r.bytes()?.to_vec();
            let row = Reject {
                reason,
                detail,
                filing_id,
                event_id,
                key,
                payload,
                partition: r.u32()? as i32,
                offset: r.i64()?,
                seen_at_ms: r.i64()?,
            };
            log.rows.push_back(row);
        }
        // A smaller `retain` than when it was written applies now.
        log.set_retain(retain);
        Ok(log)
    }
}

fn put_opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => put_u8(out, 0),
        Some(b) => {
            put_u8(out, 1);
            put_bytes(out, b);
        }
    }
}

fn get_opt<'a>(r: &mut ByteReader<'a>) -> Result<Option<&'a [u8]>, CodecError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.bytes()?)),
        other => Err(CodecError::Corrupt(format!("option marker {other}"))),
    }
}

fn text(b: &[u8]) -> Result<String, CodecError> {
    String::from_utf8(b.to_vec()).map_err(|_| CodecError::Corrupt("text is not UTF-8".into()))
}

fn encode(rows: &VecDeque<Reject>) -> RecordBatch {
    let n = rows.len();
    let mut reason = StringBuilder::with_capacity(n, n * 12);
    let mut detail = StringBuilder::new();
    let mut filing = StringBuilder::new();
    let mut event = StringBuilder::new();
    let mut payload = StringBuilder::new();
    let mut bytes = BinaryBuilder::new();
    let mut partition = Int32Builder::with_capacity(n);
    let mut offset = Int64Builder::with_capacity(n);
    let mut seen = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    for r in rows {
        reason.append_value(r.reason);
        detail.append_value(&r.detail);
        filing.append_option(r.filing_id.as_deref());
        event.append_option(r.event_id.as_deref());
        payload.append_value(String::from_utf8_lossy(&r.payload));
        bytes.append_value(&r.payload);
        partition.append_value(r.partition);
        offset.append_value(r.offset);
        seen.append_value(r.seen_at_ms);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("reason", Arc::new(reason.finish())),
        ("detail", Arc::new(detail.finish())),
        ("filing_id", Arc::new(filing.finish())),
        ("event_id", Arc::new(event.finish())),
        ("payload", Arc::new(payload.finish())),
        ("payload_bytes", Arc::new(bytes.finish())),
        ("partition", Arc::new(partition.finish())),
        ("offset", Arc::new(offset.finish())),
        ("seen_at", Arc::new(seen.finish())),
    ];
    crate::encode::named(schema::rejects(), columns).expect("rejects batch matches its schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(offset: i64) -> Reject {
        Reject {
            reason: "conflict",
            detail: "d".into(),
            filing_id: Some("F1".into()),
            event_id: None,
            key: Some(b"F1".to_vec()),
            payload: vec![0xff, b'{'],
            partition: 3,
            offset,
            seen_at_ms: 1_750_000_000_000,
        }
    }

    #[test]
    fn an_offset_is_logged_once_and_the_newest_are_kept() {
        let mut log = RejectLog::new(2);
        assert!(log.record(reject(5)));
        assert!(!log.record(reject(5)), "an offset is logged once");
        assert!(log.record(reject(9)));
        assert!(
            log.record(reject(7)),
            "a displaced event, under its older offset"
        );
        assert_eq!(log.len(), 2, "only the newest `retain` are kept");
        assert_eq!(log.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![7, 9]);
        let b = log.batch().unwrap();
        assert_eq!(b.num_rows(), 2);
    }

    #[test]
    fn the_log_round_trips_through_bytes() {
        let mut log = RejectLog::new(10);
        for o in [1, 4, 6] {
            log.record(reject(o));
        }
        let mut out = Vec::new();
        log.encode(&mut out);
        let back = RejectLog::decode(&mut ByteReader::new(&out), 10).unwrap();
        assert_eq!(back.rows, log.rows);
        let smaller = RejectLog::decode(&mut ByteReader::new(&out), 1).unwrap();
        assert_eq!(smaller.len(), 1);
        assert_eq!(smaller.iter().next().unwrap().offset, 6, "the newest kept");
    }
}
