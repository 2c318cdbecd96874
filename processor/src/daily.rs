//! Daily aggregates of one partition, maintained incrementally.
//!
//! Each event moves its filing's [`Contribution`] from where it was to where
//! it is now (retract the old, add the new), so a figure is always the count
//! over the filings' current states: late events restate the right day, and
//! nothing is ever rebuilt from the filings. Rows live in buckets of 32 days,
//! each with its cached Arrow batch, re-encoded only when it changed.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use hoso_model::{Contribution, Outcome};

/// Counts for one (day, province, commune): the `received*` ones over the
/// filings received that day, the `ended*` ones over those ended that day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub received: i64,
    pub received_online: i64,
    /// Received from an applicant with a level-2 e-ID.
    pub received_eid_level2: i64,
    pub received_digitized: i64,
    /// Received for a fee-bearing procedure.
    pub received_fee_required: i64,
    /// Of those, paid online.
    pub received_fee_paid_online: i64,
    pub ended: i64,
    pub ended_early: i64,
    /// Early and on-time together, as the contract counts `ended_on_time`.
    pub ended_on_time: i64,
    pub ended_late: i64,
    /// `extended` events (apology letters) of the filings received that
    /// day, so a day's letters per filing is a ratio of its counts.
    pub extensions: i64,
}

impl DayCounts {
    /// The counts in column order (`daily_partials`, the checkpoint).
    pub const NAMES: [&'static str; 11] = hoso_model::schema::DAILY_COUNTS;

    /// The counts in [`DayCounts::NAMES`] order.
    pub fn values(&self) -> [i64; 11] {
        [
            self.received,
            self.received_online,
            self.received_eid_level2,
            self.received_digitized,
            self.received_fee_required,
            self.received_fee_paid_online,
            self.ended,
            self.ended_early,
            self.ended_on_time,
            self.ended_late,
            self.extensions,
        ]
    }

    pub fn from_values(v: [i64; 11]) -> DayCounts {
        let [
            received,
            received_online,
            received_eid_level2,
            received_digitized,
            received_fee_required,
            received_fee_paid_online,
            ended,
            ended_early,
            ended_on_time,
            ended_late,
            extensions,
        ] = v;
        DayCounts {
            received,
            received_online,
            received_eid_level2,
            received_digitized,
            received_fee_required,
            received_fee_paid_online,
            ended,
            ended_early,
            ended_on_time,
            ended_late,
            extensions,
        }
    }

    fn is_zero(&self) -> bool {
        *self == DayCounts::default()
    }

    /// The counts of two partitions together.
    pub fn plus(&self, o: &DayCounts) -> DayCounts {
        let (a, b) = (self.values(), o.values());
        DayCounts::from_values(std::array::from_fn(|i| a[i] + b[i]))
    }
}

/// (local day, province, commune).
pub type DayKey = (i32, u8, u32);

/// Rows of one bucket; foldhash, as the keys are small integers.
pub(crate) type DayRows = hashbrown::HashMap<DayKey, DayCounts, foldhash::fast::RandomState>;

/// Days per bucket.
const BUCKET_DAYS: i32 = 32;

#[derive(Default)]
pub(crate) struct Bucket {
    pub(crate) rows: DayRows,
    dirty: bool,
    batch: Option<RecordBatch>,
}

#[derive(Default)]
pub struct DailyAggregates {
    buckets: BTreeMap<i32, Bucket>,
}

impl DailyAggregates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves a filing's contribution from `before` to `after`.
    pub fn update(&mut self, before: &Contribution, after: &Contribution) {
        if before == after {
            return;
        }
        self.add(before, -1);
        self.add(after, 1);
    }

    fn add(&mut self, c: &Contribution, sign: i64) {
        if let Some(rc) = c.received {
            self.change((rc.day, c.province, c.commune), |r| {
                let n = |flag: bool| if flag { sign } else { 0 };
                r.received += sign;
                r.received_online += n(rc.online);
                r.received_eid_level2 += n(rc.eid_level2);
                r.received_digitized += n(rc.digitized);
                r.received_fee_required += n(rc.fee_required);
                r.received_fee_paid_online += n(rc.fee_paid_online);
                r.extensions += sign * i64::from(rc.extensions);
            });
        }
        if let Some((day, outcome)) = c.ended {
            self.change((day, c.province, c.commune), |r| {
                r.ended += sign;
                match outcome {
                    Outcome::Early => {
                        r.ended_early += sign;
                        r.ended_on_time += sign;
                    }
                    Outcome::OnTime => r.ended_on_time += sign,
                    Outcome::Late => r.ended_late += sign,
                }
            });
        }
    }

    fn change(&mut self, key: DayKey, f: impl FnOnce(&mut DayCounts)) {
        let bucket = self
            .buckets
            .entry(key.0.div_euclid(BUCKET_DAYS))
            .or_default();
        bucket.dirty = true;
        let row = bucket.rows.entry(key).or_default();
        f(row);
        if row.is_zero() {
            bucket.rows.remove(&key);
        }
    }

    /// The counts of one key, for tests and checks.
    pub fn get(&self, key: DayKey) -> Option<DayCounts> {
        self.buckets
            .get(&key.0.div_euclid(BUCKET_DAYS))?
            .rows
            .get(&key)
            .copied()
    }

    /// Every row, for checkpoints.
    pub fn rows(&self) -> impl Iterator<Item = (&DayKey, &DayCounts)> {
        self.buckets.values().flat_map(|b| b.rows.iter())
    }

    /// Sets a row restored from a checkpoint.
    pub fn restore_row(&mut self, key: DayKey, counts: DayCounts) {
        if !counts.is_zero() {
            self.change(key, |r| *r = counts);
        }
    }

    /// Number of (day, province, commune) rows.
    pub fn len(&self) -> usize {
        self.buckets.values().map(|b| b.rows.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One batch per non-empty bucket, re-encoding (with `encode`, the
    /// publisher's) only changed buckets.
    pub fn batches(
        &mut self,
        partition: i32,
        encode: impl Fn(i32, &DayRows) -> RecordBatch,
    ) -> Vec<RecordBatch> {
        self.buckets.retain(|_, b| !b.rows.is_empty());
        self.buckets
            .values_mut()
            .map(|b| {
                if b.dirty || b.batch.is_none() {
                    b.batch = Some(encode(partition, &b.rows));
                    b.dirty = false;
                }
                b.batch.clone().expect("encoded above")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoso_model::Received;

    fn c(received: Option<(i32, bool)>, ended: Option<(i32, Outcome)>) -> Contribution {
        Contribution {
            province: 1,
            commune: 4,
            received: received.map(|(day, online)| Received {
                day,
                online,
                ..Received::default()
            }),
            ended,
        }
    }

    #[test]
    fn contributions_move_between_days_and_vanish_at_zero() {
        let mut d = DailyAggregates::new();
        let none = c(None, None);
        d.update(&none, &c(Some((100, true)), None));
        d.update(&none, &c(Some((100, false)), None));
        assert_eq!(d.get((100, 1, 4)).unwrap().received, 2);
        assert_eq!(d.get((100, 1, 4)).unwrap().received_online, 1);
        // The online filing ends early on day 101...
        d.update(
            &c(Some((100, true)), None),
            &c(Some((100, true)), Some((101, Outcome::Early))),
        );
        let day101 = d.get((101, 1, 4)).unwrap();
        assert_eq!(
            (
                day101.ended,
                day101.ended_early,
                day101.ended_on_time,
                day101.ended_late
            ),
            (1, 1, 1, 0)
        );
        // ...then a late supplement event turns it late: restated, not added.
        d.update(
            &c(Some((100, true)), Some((101, Outcome::Early))),
            &c(Some((100, true)), Some((101, Outcome::Late))),
        );
        let day101 = d.get((101, 1, 4)).unwrap();
        assert_eq!(
            (
                day101.ended,
                day101.ended_early,
                day101.ended_on_time,
                day101.ended_late
            ),
            (1, 0, 0, 1)
        );
        // A lower-seq `received` moves the other filing to day 99.
        d.update(&c(Some((100, false)), None), &c(Some((99, false)), None));
        assert_eq!(d.get((100, 1, 4)).unwrap().received, 1);
        assert_eq!(d.get((99, 1, 4)).unwrap().received, 1);
        assert_eq!(d.len(), 3);
        d.update(&c(Some((99, false)), None), &none);
        assert_eq!(d.get((99, 1, 4)), None, "an all-zero row is removed");
        let rows: usize = d
            .batches(0, crate::encode::daily)
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 2);
    }

    #[test]
    fn the_766_flags_count_and_move_with_the_filing() {
        let mut d = DailyAggregates::new();
        let flags = |paid| Contribution {
            province: 1,
            commune: 4,
            received: Some(Received {
                day: 100,
                online: true,
                eid_level2: true,
                digitized: false,
                fee_required: true,
                fee_paid_online: paid,
                extensions: u16::from(paid),
            }),
            ended: None,
        };
        d.update(&c(None, None), &flags(false));
        // The fee is paid online later: one count moves, nothing else.
        d.update(&flags(false), &flags(true));
        let r = d.get((100, 1, 4)).unwrap();
        assert_eq!(
            r,
            DayCounts {
                received: 1,
                received_online: 1,
                received_eid_level2: 1,
                received_fee_required: 1,
                received_fee_paid_online: 1,
                extensions: 1,
                ..DayCounts::default()
            }
        );
        assert_eq!(DayCounts::from_values(r.values()), r);
        assert_eq!(r.plus(&r).received_fee_paid_online, 2);
    }
}
