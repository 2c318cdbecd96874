use hoso_model::portal::envelope::Envelope;
use hoso_model::units::Units;
use serde_json::{Value, json};

use super::*;

fn units() -> UnitMap {
    UnitMap::parse(
        "unit_code,province_code,commune_code\n000.00.27.H35,01,00004\nG09.20,01,00008\n",
        &Units::official(),
    )
    .unwrap()
}

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn record(id: &str) -> Value {
    json!({
        "MaHoSo": id, "MaTTHC": "1.001193.000.00.00.H35", "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn A", "NgayNopHoSo": "20260601080000",
        "NgayTiepNhan": "20260601083000", "NgayHenTra": "20260603170000",
        "TrangThaiHoSo": 2, "DonViXuLy": "000.00.27.H35"
    })
}

fn refused(v: Value, units: Option<&UnitMap>) -> Refused {
    envelopes(&body(v), &DueRules::vietnam(), units, 7).unwrap_err()
}

#[test]
fn records_become_envelopes_keyed_by_their_filing() {
    let b = body(json!({"service": "DongBoHoSoMC", "madonvi": "G09.20",
        "data": [record("A-1"), {"MaHoSo": "A-2", "TrangThaiHoSo": 1,
                                 "NgayNopHoSo": "20260601080000"}]}));
    let out = envelopes(&b, &DueRules::vietnam(), Some(&units()), 7).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].key, "A-1");
    let e = Envelope::parse(&out[0].payload).unwrap();
    assert_eq!((e.place().unwrap(), e.ingested_at_ms), ((1, 4), 7));
    assert!(!String::from_utf8_lossy(&out[0].payload).contains("Nguyễn"));
    // No DonViXuLy: the request's madonvi.
    let e = Envelope::parse(&out[1].payload).unwrap();
    assert_eq!(e.place().unwrap(), (1, 8));
}

#[test]
fn an_unmapped_unit_is_refused_with_its_code() {
    let mut r = record("A-1");
    r["DonViXuLy"] = json!("000.00.99.H99");
    let e = refused(json!({"data": [r]}), Some(&units()));
    assert_eq!(e.errors[0].field, "data[0].DonViXuLy");
    assert!(e.errors[0].message.contains("000.00.99.H99"), "{e}");
    let e = refused(json!({"data": [record("A-1")]}), None);
    assert!(
        e.errors[0].message.contains("sources.dvcqg.units_file"),
        "{e}"
    );
    let mut r = record("A-1");
    r.as_object_mut().unwrap().remove("DonViXuLy");
    let e = refused(json!({"data": [r]}), Some(&units()));
    assert_eq!(e.errors[0].field, "data[0].DonViXuLy");
}

#[test]
fn a_due_date_is_read_or_computed_or_the_record_refused() {
    let mut r = record("A-1");
    r.as_object_mut().unwrap().remove("NgayHenTra");
    // Birth registration is in the catalogue: its due date is computed.
    let ok = envelopes(
        &body(json!({"data": [r.clone()]})),
        &DueRules::vietnam(),
        Some(&units()),
        7,
    );
    assert!(ok.is_ok());
    r["MaTTHC"] = json!("9.999999");
    let e = refused(json!({"data": [r]}), Some(&units()));
    assert_eq!(e.errors[0].field, "data[0].NgayHenTra");
    assert!(e.errors[0].message.contains("9.999999"), "{e}");
}

#[test]
fn steps_need_no_unit_but_a_named_one_must_map() {
    let steps = json!({"service": "CapNhatTienDoHoSoMC", "data": [
        {"MaHoSo": "A-1", "ThoiDiemXuLy": "20260601090000", "NguoiXuLy": "Trần Thị B"}]});
    let out = envelopes(&body(steps.clone()), &DueRules::vietnam(), None, 7).unwrap();
    let e = Envelope::parse(&out[0].payload).unwrap();
    assert_eq!(e.place().unwrap(), (0, 0));
    assert!(!String::from_utf8_lossy(&out[0].payload).contains("Trần"));
    let mut named = steps;
    named["madonvi"] = json!("nope");
    let e = refused(named, Some(&units()));
    assert_eq!(e.errors[0].field, "madonvi");
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    let e = envelopes(b"{\"data\": [", &DueRules::vietnam(), None, 7).unwrap_err();
    assert_eq!(e.errors[0].field, "(body)");
}

#[test]
fn every_field_error_is_listed() {
    let mut bad = record("A-1");
    bad["NgayTiepNhan"] = json!("20261301000000");
    let mut worse = record("A-2");
    worse["KenhThucHien"] = json!(7);
    let mut unknown = record("A-3");
    unknown["TrangThaiHoSo"] = json!(11);
    let e = refused(
        json!({"data": [bad, worse, unknown, {"TrangThaiHoSo": 2}]}),
        Some(&units()),
    );
    let fields: Vec<&str> = e.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "data[0].NgayTiepNhan",
            "data[1].KenhThucHien",
            "data[2].TrangThaiHoSo",
            "data[3].MaHoSo"
        ]
    );
}
