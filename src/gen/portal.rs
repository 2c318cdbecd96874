//! The generator's filings in the National Public Service Portal's
//! synchronisation format, as a province's system sends them: the whole
//! record (`DongBoHoSoMC`) again at every change, and a processing step
//! (`CapNhatTienDoHoSoMC`) when a handler takes the filing up. The same
//! plans as the contract's events, so the two formats of one run describe
//! the same filings (`portal/tests.rs` checks that hoso folds them alike).
//!
//! Units are named by demo codes, `G<province>.<commune>`
//! ([`unit_code`]); [`units_csv`] is the `sources.dvcqg.units_file` that
//! maps them.

use hoso_model::{Channel, EventType};
use serde_json::{Map, Value, json};

use super::communes::Commune;
use super::lifecycle::Plan;
use super::procedures::ProcedureInfo;

/// The fee a fee-bearing filing lists, in đồng (the catalogue says
/// whether a procedure charges, not always how much).
const FEE_VND: u32 = 20_000;

/// The portal's unit code of a commune in the generator's runs.
pub fn unit_code(c: &Commune) -> String {
    format!("G{}.{}", c.province_code, c.commune_code)
}

/// The units file mapping [`unit_code`]s to the communes.
pub fn units_csv(communes: &[Commune]) -> String {
    let mut out = String::from(
        "# The generator's demo unit codes (hoso gen --format dvcqg)\n\
         unit_code,province_code,commune_code\n",
    );
    for c in communes {
        out.push_str(&format!(
            "{},{},{}\n",
            unit_code(c),
            c.province_code,
            c.commune_code
        ));
    }
    out
}

/// Whether the plan's event is sent as a step (else as the record after it).
pub fn is_step(kind: EventType) -> bool {
    kind == EventType::Processing
}

/// `yyyyMMddHHmmss` in local time.
pub fn portal_time(ms: i64) -> String {
    let local = ms + hoso_model::time::LOCAL_OFFSET_MS;
    let day = local.div_euclid(hoso_model::time::DAY_MS);
    let (y, m, d) = hoso_model::time::civil_from_days(day);
    let rem = local.rem_euclid(hoso_model::time::DAY_MS) / 1000;
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A processing step taken at `at`.
pub fn step(id: &str, at: i64) -> Map<String, Value> {
    let v = json!({
        "MaHoSo": id,
        "NguoiXuLy": "Cán bộ một cửa",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": portal_time(at),
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": "Chuyển xử lý",
        "TrangThai": 1,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The record of the filing as its source sends it once the plan's events
/// up to `upto` (inclusive) happened.
pub fn record(
    plan: &Plan,
    upto: usize,
    id: &str,
    commune: &Commune,
    procedure: &ProcedureInfo,
) -> Map<String, Value> {
    let events = &plan.events()[..=upto.min(plan.events().len() - 1)];
    let mut r = Map::new();
    let mut put = |k: &str, v: Value| {
        r.insert(k.to_string(), v);
    };
    put("MaHoSo", id.into());
    put("MaTTHC", procedure.code.as_str().into());
    put("KenhThucHien", json!(channel_code(plan.channel)));
    put("ChuHoSo", "Nguyễn Văn An".into());
    put("DonViXuLy", unit_code(commune).into());
    put("NoiNopHoSo", unit_code(commune).into());
    put("NgayNopHoSo", portal_time(events[0].at).into());
    put(
        "TaiKhoanDuocXacThucVoiVNeID",
        json!(u8::from(plan.eid_level2)),
    );
    put("HoSoCoThanhPhanSoHoa", json!(u8::from(plan.digitized)));
    let mut supplements: Vec<Value> = Vec::new();
    let mut status = 1;
    for e in events {
        let at = portal_time(e.at);
        match e.kind {
            EventType::Submitted => status = 1,
            EventType::NotReceived => {
                status = 3;
                put("NgayTuChoi", at.into());
            }
            EventType::Received => {
                status = 2;
                put("NgayTiepNhan", at.into());
                if plan.send_due {
                    put("NgayHenTra", portal_time(plan.due_at).into());
                }
                let fees = if plan.fee_required {
                    json!([{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP", "HinhThucThu": 1,
                            "Gia": FEE_VND, "LoaiPhiLePhi": 2}])
                } else {
                    json!([])
                };
                put("DanhSachLePhi", fees);
            }
            EventType::Processing => status = 4,
            EventType::SupplementRequested => {
                status = 5;
                supplements.push(json!({"NgayBoSung": at, "TrangThaiBoSung": 1}));
            }
            EventType::SupplementReceived => {
                status = 4;
                if let Some(Value::Object(s)) = supplements.last_mut() {
                    s.insert("NgayTiepNhanBoSung".into(), at.into());
                    s.insert("TrangThaiBoSung".into(), json!(2));
                }
            }
            EventType::FeeRequested => status = 6,
            EventType::FeePaid => {
                status = 4;
                put(
                    "DuocThanhToanTrucTuyen",
                    json!(if plan.online_payment { 1 } else { 3 }),
                );
            }
            EventType::Extended => {
                status = 4;
                supplements.push(json!({
                    "NgayHenTraTruoc": portal_time(plan.due_at),
                    "NgayHenTraMoi": portal_time(plan.extended_due_at),
                }));
            }
            EventType::Withdrawn => status = 7,
            EventType::Stopped | EventType::Resolved => {
                status = if e.kind == EventType::Stopped { 8 } else { 9 };
                put("NgayKetThucXuLy", at.into());
            }
            EventType::Returned => {
                status = 10;
                put("NgayTra", at.into());
            }
        }
    }
    put("TrangThaiHoSo", json!(status));
    put("DanhSachHoSoBoSung", Value::Array(supplements));
    r
}

fn channel_code(c: Channel) -> u8 {
    match c {
        Channel::InPerson => 1,
        Channel::Online => 2,
        Channel::Postal => 3,
    }
}

/// Writes one portal item as JSON with `MaHoSo` first; returns where the
/// filing id is in `out` (the Kafka key, as for an event).
pub fn write_item(out: &mut Vec<u8>, item: &Map<String, Value>) -> std::ops::Range<usize> {
    let id = item.get("MaHoSo").and_then(Value::as_str).unwrap_or("");
    out.extend_from_slice(b"{\"MaHoSo\":\"");
    let key = out.len()..out.len() + id.len();
    out.extend_from_slice(id.as_bytes());
    out.push(b'"');
    for (k, v) in item.iter().filter(|(k, _)| *k != "MaHoSo") {
        out.push(b',');
        serde_json::to_writer(&mut *out, k).expect("writes to a Vec");
        out.push(b':');
        serde_json::to_writer(&mut *out, v).expect("writes to a Vec");
    }
    out.push(b'}');
    key
}

#[cfg(test)]
mod tests;
