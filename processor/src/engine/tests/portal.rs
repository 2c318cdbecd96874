//! Generated filings fed by portal records and steps, as ingest publishes
//! them: each filing's life as the records its source re-sends at every
//! change, with repeats, old records sent again late, corrections of a
//! date, processing steps, and a contract event for one of its ids.

use hoso_model::portal::envelope::Envelope;
use hoso_model::portal::record::Record;
use hoso_model::portal::step::Step;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::Msg;

/// `yyyyMMddHHmmss` of `minute` minutes after 2025-07-01 00:00 local.
fn portal_time(minute: u32) -> String {
    let day = 1 + minute / 1440;
    let (h, m) = ((minute % 1440) / 60, minute % 60);
    format!("202507{day:02}{h:02}{m:02}00")
}

/// One filing's life as its successive records: each a change the source
/// made, so each shows one more stage.
#[derive(Clone, Debug)]
pub(super) struct Life {
    start: u32,
    online: bool,
    supplement: bool,
    paid_online: Option<bool>,
    /// 0 open, 1 resolved then returned, 2 stopped, 3 withdrawn.
    end: u8,
    due_days: u32,
    flag: bool,
}

impl Life {
    fn records(&self, id: &str) -> Vec<Value> {
        let at = |d: u32| portal_time(self.start + d);
        let mut out = Vec::new();
        let mut v = json!({"MaHoSo": id, "NgayNopHoSo": at(0), "TrangThaiHoSo": 1});
        if self.online {
            out.push(v.clone());
        }
        let received = if self.online { 30 } else { 0 };
        v["NgayTiepNhan"] = json!(at(received));
        v["MaTTHC"] = json!("1.001193.000.00.00.H35");
        v["KenhThucHien"] = json!(if self.online { 2 } else { 1 });
        v["NgayHenTra"] = json!(at(received + self.due_days * 1440));
        v["TaiKhoanDuocXacThucVoiVNeID"] = json!(self.flag);
        v["HoSoCoThanhPhanSoHoa"] = json!(u8::from(!self.flag));
        v["DanhSachLePhi"] = match self.paid_online {
            Some(_) => json!([{"MaPhiLePhi": "LP", "Gia": 8000}]),
            None => json!([]),
        };
        v["TrangThaiHoSo"] = json!(2);
        out.push(v.clone());
        v["TrangThaiHoSo"] = json!(4);
        out.push(v.clone());
        if self.supplement {
            v["TrangThaiHoSo"] = json!(5);
            v["DanhSachHoSoBoSung"] = json!([{"NgayBoSung": at(received + 120)}]);
            out.push(v.clone());
            v["TrangThaiHoSo"] = json!(4);
            v["DanhSachHoSoBoSung"][0]["NgayTiepNhanBoSung"] = json!(at(received + 1500));
            out.push(v.clone());
        }
        if let Some(online) = self.paid_online {
            v["DuocThanhToanTrucTuyen"] = json!(if online { 1 } else { 3 });
            out.push(v.clone());
        }
        let end = received + 1600 + self.due_days * 1000;
        match self.end {
            1 => {
                v["TrangThaiHoSo"] = json!(9);
                v["NgayKetThucXuLy"] = json!(at(end));
                out.push(v.clone());
                v["TrangThaiHoSo"] = json!(10);
                v["NgayTra"] = json!(at(end + 60));
                out.push(v.clone());
            }
            2 => {
                v["TrangThaiHoSo"] = json!(8);
                v["NgayKetThucXuLy"] = json!(at(end));
                out.push(v.clone());
            }
            3 => {
                v["TrangThaiHoSo"] = json!(7);
                out.push(v.clone());
            }
            _ => {}
        }
        out
    }
}

fn life() -> impl Strategy<Value = Life> {
    (
        0u32..(9 * 1440),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(any::<bool>()),
        0u8..4,
        1u32..6,
        any::<bool>(),
    )
        .prop_map(
            |(start, online, supplement, paid_online, end, due_days, flag)| Life {
                start,
                online,
                supplement,
                paid_online,
                end,
                due_days,
                flag,
            },
        )
}

fn envelope_of(v: &Value, commune: u32, stamp: i64) -> Vec<u8> {
    let record = Record::parse(v, "data[0]").expect("generated records are valid");
    Envelope::record(record, (1, commune), stamp).to_json()
}

/// Portal filings `P0`, `P1`, ... as messages (identities from 0).
pub(super) fn portal_filings() -> impl Strategy<Value = Vec<Msg>> {
    let filing = (
        life(),
        1usize..9,
        0u32..3,
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..4), 0..4),
        prop::collection::vec(0u32..4000, 0..3),
        0u8..4,
    );
    prop::collection::vec(filing, 0..6).prop_map(|filings| {
        let mut msgs: Vec<Msg> = Vec::new();
        let push = |key: &str, bytes: Vec<u8>, msgs: &mut Vec<Msg>| {
            // Copies share their identity, as in `filings()`.
            let id = msgs
                .iter()
                .find(|m| m.bytes == bytes)
                .map_or(msgs.len(), |m| m.id);
            msgs.push(Msg {
                id,
                key: key.as_bytes().to_vec(),
                bytes,
            });
        };
        for (f, (life, reached, commune, extras, steps, contract)) in
            filings.into_iter().enumerate()
        {
            let id = format!("P{f}");
            let records = life.records(&id);
            let reached = reached.min(records.len());
            let commune = 4 + commune;
            for (i, v) in records[..reached].iter().enumerate() {
                push(&id, envelope_of(v, commune, 1_000 * (i as i64 + 1)), &mut msgs);
            }
            for (k, (which, how)) in extras.into_iter().enumerate() {
                let i = which.index(reached);
                let mut v = records[i].clone();
                let stamp = 100_000 + k as i64;
                match how {
                    // The same record again, byte for byte.
                    0 => push(&id, envelope_of(&v, commune, 1_000 * (i as i64 + 1)), &mut msgs),
                    // An old record sent again later: it shows fewer
                    // stages, so it moves nothing back.
                    1 => push(&id, envelope_of(&v, commune, stamp), &mut msgs),
                    // A correction: a date fixed at the source.
                    _ => {
                        for field in ["NgayKetThucXuLy", "NgayTiepNhan"] {
                            if v.get(field).is_some() {
                                let fixed = portal_time(life.start + 45 * u32::from(how));
                                v[field] = json!(fixed.max(v["NgayNopHoSo"].as_str().unwrap().into()));
                                break;
                            }
                        }
                        push(&id, envelope_of(&v, commune, stamp), &mut msgs);
                    }
                }
            }
            for minute in steps {
                let step = Step::parse(
                    &json!({"MaHoSo": id, "ThoiDiemXuLy": portal_time(life.start + minute)}),
                    "data[0]",
                )
                .unwrap();
                push(&id, Envelope::step(step, (1, commune), 50_000).to_json(), &mut msgs);
            }
            if contract == 0 {
                let bytes = format!(
                    r#"{{"event_id":"C{f}","filing_id":"{id}","seq":1,"type":"submitted","occurred_at":"2025-07-02T08:00:00+07:00","province_code":"01","commune_code":"00004"}}"#
                );
                push(&id, bytes.into_bytes(), &mut msgs);
            }
        }
        msgs
    })
}
