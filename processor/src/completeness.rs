//! How far each commune's events have arrived: the newest event time folded
//! per (province, commune), for `system.completeness`.
//!
//! A province's figures are only as complete as its slowest commune's
//! feed: a commune whose source system stopped sending yesterday makes
//! today's share wrong without any error anywhere. This is what lets an
//! operator see that. One map entry per commune (at most 3,321), updated
//! per folded event, encoded only when it changed, kept in the checkpoint.

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use hoso_model::codec::{ByteReader, CodecError, put_i64, put_u8, put_u32};
use hoso_model::event::{commune_code, province_code};
use hoso_model::schema;

type Map = hashbrown::HashMap<(u8, u32), i64, foldhash::fast::RandomState>;

/// Newest folded event time per commune, in one partition.
#[derive(Clone, Debug, Default)]
pub struct CommuneClock {
    newest: Map,
    /// Changed since the last batch.
    dirty: bool,
    batch: Option<RecordBatch>,
}

impl PartialEq for CommuneClock {
    fn eq(&self, other: &Self) -> bool {
        self.newest == other.newest
    }
}

impl CommuneClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// An event of this commune at `at_ms` was folded.
    #[inline]
    pub fn saw(&mut self, province: u8, commune: u32, at_ms: i64) {
        let newest = self.newest.entry((province, commune)).or_insert(i64::MIN);
        if at_ms > *newest {
            *newest = at_ms;
            self.dirty = true;
        }
    }

    pub fn get(&self, province: u8, commune: u32) -> Option<i64> {
        self.newest.get(&(province, commune)).copied()
    }

    pub fn len(&self) -> usize {
        self.newest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }

    /// The rows of `system.commune_clocks` for `partition`, re-encoded
    /// only when something moved.
    pub fn batch(&mut self, partition: i32) -> RecordBatch {
        if self.dirty || self.batch.is_none() {
            self.batch = Some(self.encode_batch(partition));
            self.dirty = false;
        }
        self.batch.clone().expect("encoded above")
    }

    fn encode_batch(&self, partition: i32) -> RecordBatch {
        let mut rows: Vec<(&(u8, u32), &i64)> = self.newest.iter().collect();
        rows.sort_unstable();
        let n = rows.len();
        let mut part = Int32Builder::with_capacity(n);
        let mut province = StringBuilder::with_capacity(n, n * 2);
        let mut commune = StringBuilder::with_capacity(n, n * 5);
        let mut at = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        for ((p, c), t) in rows {
            part.append_value(partition);
            province.append_value(province_code(*p));
            commune.append_value(commune_code(*c));
            at.append_value(*t);
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("partition", Arc::new(part.finish())),
            ("province_code", Arc::new(province.finish())),
            ("commune_code", Arc::new(commune.finish())),
            ("newest_event_at", Arc::new(at.finish())),
        ];
        crate::encode::named(schema::commune_clocks(), columns)
            .expect("commune clocks match their schema")
    }

    /// Checkpoint bytes, sorted so the same map gives the same bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut rows: Vec<_> = self.newest.iter().collect();
        rows.sort_unstable();
        put_u32(out, rows.len() as u32);
        for ((p, c), t) in rows {
            put_u8(out, *p);
            put_u32(out, *c);
            put_i64(out, *t);
        }
    }

    pub fn decode(r: &mut ByteReader<'_>) -> Result<CommuneClock, CodecError> {
        let n = r.count(13)?;
        let mut clock = CommuneClock {
            dirty: true,
            ..CommuneClock::default()
        };
        for _ in 0..n {
            let key = (r.u8()?, r.u32()?);
            clock.newest.insert(key, r.i64()?);
        }
        Ok(clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_time_per_commune_and_round_trips() {
        let mut c = CommuneClock::new();
        c.saw(91, 30292, 2_000);
        c.saw(91, 30292, 1_000);
        c.saw(1, 4, 5_000);
        assert_eq!(
            c.get(91, 30292),
            Some(2_000),
            "an older event moves nothing"
        );
        assert_eq!(c.len(), 2);
        let b = c.batch(3);
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), schema::commune_clocks());
        let mut bytes = Vec::new();
        c.encode(&mut bytes);
        let back = CommuneClock::decode(&mut ByteReader::new(&bytes)).unwrap();
        assert_eq!(back, c);
        assert!(CommuneClock::decode(&mut ByteReader::new(&bytes[..7])).is_err());
    }
}
