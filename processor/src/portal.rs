//! The filings fed by portal records (`DongBoHoSoMC`) and steps
//! (`CapNhatTienDoHoSoMC`): per filing, its record in force and the times
//! of its steps, from which its events are derived
//! (`hoso_model::portal::derive`) and folded afresh at every change.
//!
//! The record in force is the greatest of the filing's records by
//! (stages shown, ingest stamp, bytes): a function of the set of records,
//! so the filing's row is one of the set of messages, in any order
//! (ARCHITECTURE.md, "Portal records"). These entries stay in memory when
//! their filings go cold: they are what a later record is weighed
//! against.

use std::cmp::Ordering;
use std::collections::HashMap;

use hoso_model::Event;
use hoso_model::catalogue::DueRules;
use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i64, put_u8, put_u32};
use hoso_model::portal::derive::{self, Place};
use hoso_model::portal::record::Record;

/// The record a filing is folded from.
#[derive(Clone, Debug, PartialEq)]
pub struct InForce {
    pub record: Record,
    pub place: (u8, u32),
    pub stamp_ms: i64,
    pub stages: u32,
    /// The offset it was read at: its events are folded under it.
    pub offset: i64,
}

impl InForce {
    fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&(&self.record, self.place)).expect("a record serialises")
    }

    /// The order that picks the record in force.
    fn cmp_key(&self, other: &InForce) -> Ordering {
        (self.stages, self.stamp_ms)
            .cmp(&(other.stages, other.stamp_ms))
            .then_with(|| self.bytes().cmp(&other.bytes()))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PortalFiling {
    pub in_force: Option<InForce>,
    /// `ThoiDiemXuLy` of every step seen, sorted, without repeats.
    pub steps: Vec<i64>,
}

fn compact(r: &mut Record) {
    r.unit = None;
    r.filed_at = None;
    for f in &mut r.fees {
        f.code = None;
        f.collected = None;
    }
    for s in &mut r.supplements {
        s.state = None;
        s.due_before = None;
    }
    r.fees.shrink_to_fit();
    r.supplements.shrink_to_fit();
}

/// What a record did to its filing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offered {
    /// Not greater than the record in force (or the same record again).
    Unchanged,
    /// The filing's first record.
    First,
    /// A record showing more stages than the one it replaced.
    Newer,
    /// As many stages, ingested later: a correction at the source.
    Correction,
    /// The record in force sent again, later: only its stamp moved (so
    /// the record in force is the same in every order), nothing to fold.
    Restamped,
}

#[derive(Debug, Default)]
pub struct PortalFilings {
    filings: HashMap<String, PortalFiling>,
}

impl PortalFilings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.filings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filings.is_empty()
    }

    /// Whether the filing is fed by portal records. Asked for every
    /// contract event: free while no filing is (no hashing).
    pub fn contains(&self, filing_id: &str) -> bool {
        !self.filings.is_empty() && self.filings.contains_key(filing_id)
    }

    pub fn get(&self, filing_id: &str) -> Option<&PortalFiling> {
        self.filings.get(filing_id)
    }

    /// Weighs `candidate` against the filing's record in force. What
    /// the derivation never reads (the units' portal codes, the fees'
    /// codes, a supplement entry's state and old date) is dropped first:
    /// the record in force is held for every portal filing.
    pub fn offer_record(&mut self, mut candidate: InForce) -> Offered {
        compact(&mut candidate.record);
        let entry = self
            .filings
            .entry(candidate.record.filing_id.clone())
            .or_default();
        let offered = match &entry.in_force {
            None => Offered::First,
            Some(cur) => match candidate.cmp_key(cur) {
                Ordering::Greater if candidate.stages > cur.stages => Offered::Newer,
                Ordering::Greater if candidate.bytes() == cur.bytes() => Offered::Restamped,
                Ordering::Greater => Offered::Correction,
                _ => Offered::Unchanged,
            },
        };
        if offered != Offered::Unchanged {
            entry.in_force = Some(candidate);
        }
        offered
    }

    /// Adds a step's time; whether it was new.
    pub fn offer_step(&mut self, filing_id: &str, at: i64) -> bool {
        let entry = self.filings.entry(filing_id.to_string()).or_default();
        match entry.steps.binary_search(&at) {
            Ok(_) => false,
            Err(i) => {
                entry.steps.insert(i, at);
                true
            }
        }
    }

    /// The filing's events and the offset they are folded under, when it
    /// has a record in force.
    pub fn events(
        &self,
        filing_id: &str,
        dues: Option<&DueRules>,
    ) -> Option<(Vec<Event<'static>>, i64)> {
        let f = self.filings.get(filing_id)?;
        let r = f.in_force.as_ref()?;
        let place = Place {
            province: r.place.0,
            commune: r.place.1,
        };
        Some((derive::events(&r.record, place, &f.steps, dues), r.offset))
    }

    /// Checkpoint bytes: count, then per filing (by id) its id, whether it
    /// has a record in force (then the record as JSON, province, commune,
    /// stamp, stages, offset), and its step times.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut ids: Vec<&String> = self.filings.keys().collect();
        ids.sort_unstable();
        put_u32(out, ids.len() as u32);
        for id in ids {
            let f = &self.filings[id];
            put_bytes(out, id.as_bytes());
            match &f.in_force {
                None => put_u8(out, 0),
                Some(r) => {
                    put_u8(out, 1);
                    put_bytes(out, &serde_json::to_vec(&r.record).expect("serialises"));
                    put_u8(out, r.place.0);
                    put_u32(out, r.place.1);
                    put_i64(out, r.stamp_ms);
                    put_u32(out, r.stages);
                    put_i64(out, r.offset);
                }
            }
            put_u32(out, f.steps.len() as u32);
            for t in &f.steps {
                put_i64(out, *t);
            }
        }
    }

    pub fn decode(r: &mut ByteReader<'_>) -> Result<PortalFilings, CodecError> {
        let n = r.count(4 + 1 + 4)?;
        let mut filings = HashMap::with_capacity(n);
        for _ in 0..n {
            let id = std::str::from_utf8(r.bytes()?)
                .map_err(|e| CodecError::Corrupt(e.to_string()))?
                .to_string();
            let in_force = match r.u8()? {
                0 => None,
                1 => {
                    let record: Record = serde_json::from_slice(r.bytes()?)
                        .map_err(|e| CodecError::Corrupt(format!("portal record: {e}")))?;
                    Some(InForce {
                        record,
                        place: (r.u8()?, r.u32()?),
                        stamp_ms: r.i64()?,
                        stages: r.u32()?,
                        offset: r.i64()?,
                    })
                }
                t => return Err(CodecError::Corrupt(format!("portal entry tag {t}"))),
            };
            let k = r.count(8)?;
            let mut steps = Vec::with_capacity(k);
            for _ in 0..k {
                steps.push(r.i64()?);
            }
            filings.insert(id, PortalFiling { in_force, steps });
        }
        Ok(PortalFilings { filings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn in_force(status: u8, ended: Option<&str>, stamp_ms: i64) -> InForce {
        let mut v = json!({"MaHoSo": "A", "MaTTHC": "1.001193", "KenhThucHien": 1,
            "NgayTiepNhan": "20260601083000", "NgayHenTra": "20260603170000",
            "TrangThaiHoSo": status});
        if let Some(e) = ended {
            v["NgayKetThucXuLy"] = json!(e);
        }
        let record = Record::parse(&v, "data[0]").unwrap();
        InForce {
            stages: record.stages(),
            record,
            place: (1, 4),
            stamp_ms,
            offset: stamp_ms,
        }
    }

    #[test]
    fn the_record_in_force_is_the_same_in_every_order() {
        let records = [
            in_force(2, None, 10),
            in_force(9, Some("20260602100000"), 20),
            in_force(9, Some("20260602110000"), 30), // a corrected end
            in_force(2, None, 40),                   // an old record sent again
        ];
        let mut orders = vec![vec![0, 1, 2, 3]];
        for a in 0..4 {
            for b in 0..4 {
                let mut o: Vec<usize> = (0..4).collect();
                o.swap(a, b);
                orders.push(o);
            }
        }
        for order in orders {
            let mut p = PortalFilings::new();
            for i in &order {
                p.offer_record(records[*i].clone());
            }
            let mut want = records[2].clone();
            compact(&mut want.record);
            assert_eq!(
                p.get("A").unwrap().in_force.as_ref(),
                Some(&want),
                "order {order:?}"
            );
        }
    }

    #[test]
    fn offers_say_what_they_did() {
        let mut p = PortalFilings::new();
        assert_eq!(p.offer_record(in_force(2, None, 10)), Offered::First);
        assert_eq!(p.offer_record(in_force(2, None, 10)), Offered::Unchanged);
        assert_eq!(p.offer_record(in_force(2, None, 12)), Offered::Restamped);
        let end = Some("20260602100000");
        assert_eq!(p.offer_record(in_force(9, end, 20)), Offered::Newer);
        assert_eq!(p.offer_record(in_force(2, None, 50)), Offered::Unchanged);
        assert_eq!(
            p.offer_record(in_force(9, Some("20260602090000"), 30)),
            Offered::Correction
        );
        assert!(p.offer_step("A", 5));
        assert!(!p.offer_step("A", 5));
    }

    #[test]
    fn a_checkpoint_round_trips() {
        let mut p = PortalFilings::new();
        p.offer_record(in_force(9, Some("20260602100000"), 20));
        p.offer_step("A", 7);
        p.offer_step("B", 3);
        let mut out = Vec::new();
        p.encode(&mut out);
        let back = PortalFilings::decode(&mut ByteReader::new(&out)).unwrap();
        assert_eq!(back.filings, p.filings);
    }
}
