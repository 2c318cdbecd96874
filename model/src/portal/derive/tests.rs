use serde_json::{Value, json};

use super::*;
use crate::fold::{FilingState, Outcome};
use crate::intern::Interner;
use crate::portal::record::Record;
use crate::time::parse_rfc3339_ms;

const PLACE: Place = Place {
    province: 1,
    commune: 4,
};

fn t(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

fn record(v: Value) -> Record {
    Record::parse(&v, "data[0]").unwrap()
}

/// A record of a filing received on 1 June, sent back once for documents,
/// resolved on the 3rd, as its status says.
fn sample(status: u8) -> Value {
    let mut v = json!({
        "MaHoSo": "H35-0001",
        "MaTTHC": "1.001193.000.00.00.H35",
        "KenhThucHien": 2,
        "NgayNopHoSo": "20260601080000",
        "NgayTiepNhan": "20260601083000",
        "NgayHenTra": "20260603170000",
        "TrangThaiHoSo": status,
        "TaiKhoanDuocXacThucVoiVNeID": 1,
        "HoSoCoThanhPhanSoHoa": 0,
        "DanhSachLePhi": [],
        "DanhSachHoSoBoSung": [{
            "NgayBoSung": "20260601100000",
            "NgayTiepNhanBoSung": "20260602100000"
        }]
    });
    if status >= 9 {
        v["NgayKetThucXuLy"] = json!("20260603160000");
    }
    v
}

fn kinds(events: &[Event<'_>]) -> Vec<EventType> {
    events.iter().map(|e| e.kind).collect()
}

fn fold(events: &[Event<'_>]) -> FilingState {
    let mut s = FilingState::new();
    let mut procedures = Interner::default();
    for e in events {
        s.apply(e, &mut procedures);
    }
    s
}

#[test]
fn a_resolved_record_derives_its_life_in_time_order() {
    use EventType::*;
    let events = events(&record(sample(9)), PLACE, &[], None);
    assert_eq!(
        kinds(&events),
        [
            Submitted,
            Received,
            SupplementRequested,
            SupplementReceived,
            Resolved
        ]
    );
    let seqs: Vec<u32> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let r = &events[1];
    assert_eq!(r.occurred_at_ms, t("2026-06-01T08:30:00+07:00"));
    assert_eq!(r.due_at_ms, Some(t("2026-06-03T17:00:00+07:00")));
    assert_eq!(r.channel, Some(crate::Channel::Online));
    assert_eq!(r.procedure_code.as_deref(), Some("1.001193.000.00.00.H35"));
    assert_eq!((r.eid_level2, r.digitized), (Some(true), Some(false)));
    assert_eq!(r.fee_required, Some(false), "an empty fee list: free");
    assert!(events.iter().all(|e| e.province == 1 && e.commune == 4));

    let s = fold(&events);
    assert_eq!(s.status(), Some(Resolved));
    assert_eq!(s.paused_ms(), 24 * 3_600_000);
    assert_eq!(s.supplement_count(), 1);
    // Ended on the 3rd, due the 4th once the day of the pause is added.
    assert_eq!(s.outcome(), Some(Outcome::Early));
}

#[test]
fn the_same_record_derives_the_same_events() {
    let a = events(&record(sample(9)), PLACE, &[1], None);
    let b = events(&record(sample(9)), PLACE, &[1], None);
    assert_eq!(a, b);
}

#[test]
fn a_code_less_step_shows_as_being_processed() {
    // Status 4 after the documents came back: the latest event,
    // `supplement_received`, already shows it; nothing is added.
    let e = events(&record(sample(4)), PLACE, &[], None);
    assert_eq!(e.last().unwrap().kind, EventType::SupplementReceived);
    // Status 4 with nothing after receipt: `processing` is added.
    let mut v = sample(4);
    v["DanhSachHoSoBoSung"] = json!([]);
    let e = events(&record(v), PLACE, &[], None);
    assert_eq!(
        kinds(&e),
        [
            EventType::Submitted,
            EventType::Received,
            EventType::Processing
        ]
    );
    assert_eq!(e[2].occurred_at_ms, e[1].occurred_at_ms);
}

#[test]
fn a_status_without_a_date_is_the_latest_event() {
    let mut v = sample(7);
    v["DanhSachHoSoBoSung"] = json!([]);
    let s = fold(&events(&record(v), PLACE, &[], None));
    assert_eq!(s.status(), Some(EventType::Withdrawn));
    assert!(s.is_closed());
    assert_eq!(s.outcome(), None);
}

#[test]
fn steps_count_only_while_the_filing_is_in_the_centers_hands() {
    let before = t("2026-06-01T08:00:00+07:00");
    let during = t("2026-06-02T09:00:00+07:00");
    let after = t("2026-06-04T09:00:00+07:00");
    let e = events(
        &record(sample(9)),
        PLACE,
        &[after, during, before, during],
        None,
    );
    let processing: Vec<i64> = e
        .iter()
        .filter(|e| e.kind == EventType::Processing)
        .map(|e| e.occurred_at_ms)
        .collect();
    assert_eq!(processing, [during]);
    assert_eq!(e.last().unwrap().kind, EventType::Resolved);
}

#[test]
fn a_step_ends_a_supplement_pause_the_record_never_closes() {
    // Documents asked for on the 1st, no `NgayTiepNhanBoSung`; a step on
    // the 2nd shows the filing back in the center's hands (contract v1.1).
    let mut v = sample(4);
    v["DanhSachHoSoBoSung"] = json!([{"NgayBoSung": "20260601100000"}]);
    let step = t("2026-06-01T16:00:00+07:00");
    let s = fold(&events(&record(v.clone()), PLACE, &[step], None));
    assert_eq!(s.paused_ms(), 6 * 3_600_000);
    assert_eq!(s.status(), Some(EventType::Processing));
    // Without the step the request is still pending: status 4 says the
    // filing is being processed, so `processing` is added at the request.
    let e = events(&record(v), PLACE, &[], None);
    assert_eq!(e.last().unwrap().kind, EventType::Processing);
}

#[test]
fn fee_paid_online_and_a_new_date_come_before_the_end() {
    let mut v = sample(9);
    v["DuocThanhToanTrucTuyen"] = json!(1);
    v["DanhSachLePhi"] = json!([{"MaPhiLePhi": "LP", "Gia": 8000}]);
    v["DanhSachHoSoBoSung"] =
        json!([{"NgayHenTraTruoc": "20260603170000", "NgayHenTraMoi": "20260605170000"}]);
    let e = events(&record(v), PLACE, &[], None);
    use EventType::*;
    assert_eq!(
        kinds(&e),
        [Submitted, Received, FeePaid, Extended, Resolved]
    );
    assert_eq!(e[1].fee_required, Some(true));
    assert_eq!(e[2].online_payment, Some(true));
    assert_eq!(e[3].due_at_ms, Some(t("2026-06-05T17:00:00+07:00")));
    let s = fold(&e);
    assert_eq!(s.online_payment(), Some(true));
    assert_eq!(s.extensions(), 1);
}

#[test]
fn refused_at_intake_and_stopped() {
    let v = json!({"MaHoSo": "X", "NgayNopHoSo": "20260601080000",
                   "NgayTuChoi": "20260601090000", "TrangThaiHoSo": 3});
    let s = fold(&events(&record(v), PLACE, &[], None));
    assert_eq!(s.status(), Some(EventType::NotReceived));
    assert!(s.is_not_received());
    let mut v = sample(8);
    v["NgayKetThucXuLy"] = json!("20260605090000");
    let s = fold(&events(&record(v), PLACE, &[], None));
    assert_eq!(s.status(), Some(EventType::Stopped));
    assert_eq!(s.outcome(), Some(Outcome::Late));
}

#[test]
fn each_change_of_a_filing_shows_one_more_stage() {
    let mut lives = Vec::new();
    let mut v = json!({"MaHoSo": "X", "NgayNopHoSo": "20260601080000", "TrangThaiHoSo": 1});
    lives.push(v.clone());
    v["NgayTiepNhan"] = json!("20260601083000");
    v["MaTTHC"] = json!("1.001193");
    v["KenhThucHien"] = json!(2);
    v["TrangThaiHoSo"] = json!(2);
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(4);
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(5);
    v["DanhSachHoSoBoSung"] = json!([{"NgayBoSung": "20260601100000"}]);
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(4);
    v["DanhSachHoSoBoSung"][0]["NgayTiepNhanBoSung"] = json!("20260602100000");
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(6);
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(4);
    v["DuocThanhToanTrucTuyen"] = json!(0);
    lives.push(v.clone());
    v["DanhSachHoSoBoSung"]
        .as_array_mut()
        .unwrap()
        .push(json!({"NgayHenTraMoi": "20260610170000"}));
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(9);
    v["NgayKetThucXuLy"] = json!("20260609170000");
    lives.push(v.clone());
    v["TrangThaiHoSo"] = json!(10);
    v["NgayTra"] = json!("20260610090000");
    lives.push(v.clone());
    let stages: Vec<u32> = lives.into_iter().map(|v| record(v).stages()).collect();
    assert!(
        stages.windows(2).all(|w| w[0] < w[1]),
        "stages {stages:?} must grow with every change"
    );
}

#[test]
fn a_status_missing_its_date_is_refused_naming_the_field() {
    let mut v = sample(9);
    v.as_object_mut().unwrap().remove("NgayKetThucXuLy");
    let e = Record::parse(&v, "data[2]").unwrap_err();
    assert_eq!(e.field, "data[2].NgayKetThucXuLy");
    assert!(e.message.contains("status 9"), "{}", e.message);
    let mut v = sample(2);
    v.as_object_mut().unwrap().remove("KenhThucHien");
    assert_eq!(
        Record::parse(&v, "data[0]").unwrap_err().field,
        "data[0].KenhThucHien"
    );
    let mut v = sample(2);
    v.as_object_mut().unwrap().remove("TrangThaiHoSo");
    assert_eq!(
        Record::parse(&v, "data[0]").unwrap_err().field,
        "data[0].TrangThaiHoSo"
    );
}
