//! One `DongBoHoSoMC` filing record, read field by field.
//!
//! Only what the figures need is read. Personal data (`ChuHoSo`, the
//! applicant's documents' contents) is never read, so it cannot be stored.
//! Unknown fields are ignored, as in the contract's events. A field that is
//! there with a value hoso cannot read refuses the record, naming the
//! portal's field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{date, value};
use crate::event::Channel;

/// A refused record: the portal's field (`data[3].NgayTiepNhan`) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A fee of the record (`DanhSachLePhi[]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fee {
    /// `MaPhiLePhi`.
    pub code: Option<String>,
    /// `HinhThucThu`: 1 at receipt, 2 at supplement, 4 at return.
    pub collected: Option<u8>,
    /// `Gia`, in đồng.
    pub amount: Option<f64>,
}

/// A supplement request or an extension (`DanhSachHoSoBoSung[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplement {
    /// `NgayBoSung`: documents requested.
    pub requested_at: Option<i64>,
    /// `NgayTiepNhanBoSung`: documents back.
    pub received_at: Option<i64>,
    /// `TrangThaiBoSung`.
    pub state: Option<String>,
    /// `NgayHenTraTruoc`, `NgayHenTraMoi`: the appointment before and after.
    pub due_before: Option<i64>,
    pub due_after: Option<i64>,
}

/// What a record says of its filing. Times are UTC ms. It is also what
/// ingest publishes for the processor (serde, in `portal::envelope`): the
/// record without what hoso never reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `MaHoSo`: the filing's id.
    pub filing_id: String,
    /// `MaTTHC`.
    pub procedure_code: Option<String>,
    /// `KenhThucHien`.
    pub channel: Option<Channel>,
    /// `TrangThaiHoSo`, 1-10 as in the contract's table.
    pub status: Option<u8>,
    /// `DonViXuLy`: the unit handling it, a portal unit code.
    pub unit: Option<String>,
    /// `NoiNopHoSo`: where it was filed (another unit since Decree
    /// 118/2025).
    pub filed_at: Option<String>,
    /// `NgayNopHoSo`.
    pub submitted_at: Option<i64>,
    /// `NgayTiepNhan`: the clock starts.
    pub received_at: Option<i64>,
    /// `NgayHenTra`.
    pub due_at: Option<i64>,
    /// `NgayKetThucXuLy`: resolved or stopped.
    pub ended_at: Option<i64>,
    /// `NgayTra`: the result handed back.
    pub returned_at: Option<i64>,
    /// `NgayTuChoi`.
    pub refused_at: Option<i64>,
    /// `HoSoCoThanhPhanSoHoa`.
    pub digitized: Option<bool>,
    /// `TaiKhoanDuocXacThucVoiVNeID`.
    pub eid_level2: Option<bool>,
    /// `DuocThanhToanTrucTuyen`: 1 or 2 paid online, 0 or 3 not.
    pub paid_online: Option<bool>,
    /// `DanhSachLePhi` was sent (an empty list says the filing is free).
    pub fees_listed: bool,
    pub fees: Vec<Fee>,
    pub supplements: Vec<Supplement>,
}

/// The fields of one JSON object, each error naming `path.field`.
pub(super) struct Fields<'a> {
    path: &'a str,
    object: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(super) fn of(value: &'a Value, path: &'a str) -> Result<Fields<'a>, FieldError> {
        match value {
            Value::Object(object) => Ok(Fields { path, object }),
            other => Err(FieldError {
                field: path.to_string(),
                message: format!("{} is not an object", kind(other)),
            }),
        }
    }

    pub(super) fn error(&self, name: &str, message: String) -> FieldError {
        FieldError {
            field: format!("{}.{name}", self.path),
            message,
        }
    }

    pub(super) fn read<T>(
        &self,
        name: &str,
        read: impl Fn(&Value) -> Result<Option<T>, String>,
    ) -> Result<Option<T>, FieldError> {
        match self.object.get(name) {
            None => Ok(None),
            Some(v) => read(v).map_err(|m| self.error(name, m)),
        }
    }

    pub(super) fn code(&self, name: &str) -> Result<Option<String>, FieldError> {
        self.read(name, value::code)
    }

    pub(super) fn date(&self, name: &str) -> Result<Option<i64>, FieldError> {
        self.read(name, |v| date::parse(v).map_err(|e| e.to_string()))
    }

    pub(super) fn flag(&self, name: &str) -> Result<Option<bool>, FieldError> {
        self.read(name, value::flag)
    }

    /// `MaHoSo`: required, and no longer than the contract's `filing_id`.
    pub(super) fn filing_id(&self) -> Result<String, FieldError> {
        let id = self.code("MaHoSo")?.ok_or_else(|| {
            self.error(
                "MaHoSo",
                "missing: every record and step names its filing".into(),
            )
        })?;
        if id.len() > 64 {
            return Err(self.error(
                "MaHoSo",
                format!("{} bytes, over the 64 a filing id may have", id.len()),
            ));
        }
        Ok(id)
    }

    /// An array of objects (absent or `null`: none).
    pub(super) fn list(&self, name: &str) -> Result<Vec<(String, &'a Value)>, FieldError> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}.{name}[{i}]", self.path), v))
                .collect()),
            Some(other) => Err(self.error(name, format!("{} is not an array", kind(other)))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Record {
    /// Reads the record at `path` (`data[3]`).
    pub fn parse(record: &Value, path: &str) -> Result<Record, FieldError> {
        let f = Fields::of(record, path)?;
        let filing_id = f.filing_id()?;
        let channel = f.read("KenhThucHien", |v| {
            Ok(match value::small(v)? {
                None => None,
                Some(1) => Some(Channel::InPerson),
                Some(2) => Some(Channel::Online),
                Some(3) => Some(Channel::Postal),
                Some(n) => {
                    return Err(format!(
                        "{n} is not a channel (1 in person, 2 online, 3 postal)"
                    ));
                }
            })
        })?;
        let status = f.read("TrangThaiHoSo", |v| match value::small(v)? {
            Some(n) if !(1..=10).contains(&n) => Err(format!(
                "{n} is not a status code (1-10, as in the portal's table)"
            )),
            n => Ok(n),
        })?;
        let paid_online = f.read("DuocThanhToanTrucTuyen", |v| match value::small(v)? {
            None => Ok(None),
            Some(1 | 2) => Ok(Some(true)),
            Some(0 | 3) => Ok(Some(false)),
            Some(n) => Err(format!(
                "{n} is not a payment code (1 or 2 paid online, 0 or 3 not)"
            )),
        })?;
        let mut fees = Vec::new();
        let fees_listed = matches!(f.object.get("DanhSachLePhi"), Some(Value::Array(_)));
        for (path, item) in f.list("DanhSachLePhi")? {
            let fee = Fields::of(item, &path)?;
            fees.push(Fee {
                code: fee.code("MaPhiLePhi")?,
                collected: fee.read("HinhThucThu", value::small)?,
                amount: fee.read("Gia", value::amount)?,
            });
        }
        let mut supplements = Vec::new();
        for (path, item) in f.list("DanhSachHoSoBoSung")? {
            let s = Fields::of(item, &path)?;
            supplements.push(Supplement {
                requested_at: s.date("NgayBoSung")?,
                received_at: s.date("NgayTiepNhanBoSung")?,
                state: s.code("TrangThaiBoSung")?,
                due_before: s.date("NgayHenTraTruoc")?,
                due_after: s.date("NgayHenTraMoi")?,
            });
        }
        let record = Record {
            procedure_code: f.code("MaTTHC")?,
            channel,
            status,
            unit: f.code("DonViXuLy")?,
            filed_at: f.code("NoiNopHoSo")?,
            submitted_at: f.date("NgayNopHoSo")?,
            received_at: f.date("NgayTiepNhan")?,
            due_at: f.date("NgayHenTra")?,
            ended_at: f.date("NgayKetThucXuLy")?,
            returned_at: f.date("NgayTra")?,
            refused_at: f.date("NgayTuChoi")?,
            digitized: f.flag("HoSoCoThanhPhanSoHoa")?,
            eid_level2: f.flag("TaiKhoanDuocXacThucVoiVNeID")?,
            paid_online,
            fees_listed,
            fees,
            supplements,
            filing_id,
        };
        record.check(&f)?;
        Ok(record)
    }

    /// The dates and dimensions its status needs, so that every record
    /// taken derives its events (`portal::derive`) without guessing.
    fn check(&self, f: &Fields<'_>) -> Result<(), FieldError> {
        let status = self.status.ok_or_else(|| {
            f.error(
                "TrangThaiHoSo",
                "missing: every record says its status (1-10)".into(),
            )
        })?;
        let need = |field: &str, present: bool, what: &str| {
            if present {
                Ok(())
            } else {
                Err(f.error(field, format!("missing: status {status} ({what}) needs it")))
            }
        };
        match status {
            1 => need("NgayNopHoSo", self.submitted_at.is_some(), "submitted")?,
            3 => need(
                "NgayTuChoi",
                self.refused_at.is_some(),
                "not received: refused at intake",
            )?,
            _ => need(
                "NgayTiepNhan",
                self.received_at.is_some(),
                "received or later",
            )?,
        }
        if self.received_at.is_some() {
            need("MaTTHC", self.procedure_code.is_some(), "received or later")?;
            need("KenhThucHien", self.channel.is_some(), "received or later")?;
        }
        match status {
            8 => need(
                "NgayKetThucXuLy",
                self.ended_at.or(self.refused_at).is_some(),
                "stopped",
            ),
            9 => need("NgayKetThucXuLy", self.ended_at.is_some(), "resolved"),
            10 => need("NgayTra", self.returned_at.is_some(), "returned"),
            _ => Ok(()),
        }
    }

    /// How far the record's filing has come: the stages of its life the
    /// record shows, each implied by any later one. A newer record of a
    /// filing shows more stages than an older one, since every change
    /// the source makes adds one; a correction shows as many. This is the
    /// first half of the order that picks the record in force (see
    /// ARCHITECTURE.md, "Portal records").
    pub fn stages(&self) -> u32 {
        let status = self.status.unwrap_or(0);
        let ended = self.ended_at.is_some() || matches!(status, 8..=10);
        let paid = self.paid_online.is_some();
        let requested = self
            .supplements
            .iter()
            .filter(|s| s.requested_at.is_some())
            .count();
        let back = self
            .supplements
            .iter()
            .filter(|s| s.requested_at.is_some() && s.received_at.is_some())
            .count();
        let extensions = self
            .supplements
            .iter()
            .filter(|s| s.requested_at.is_none() && s.due_after.is_some())
            .count();
        let flags = [
            self.submitted_at.is_some(),
            self.received_at.is_some(),
            status == 3,
            status >= 4,
            status == 6 || paid,
            paid,
            status == 7,
            ended,
            status == 10 || self.returned_at.is_some(),
        ];
        flags.iter().map(|&b| u32::from(b)).sum::<u32>() + (requested + back + extensions) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339_ms;
    use serde_json::json;

    fn at(s: &str) -> Option<i64> {
        Some(parse_rfc3339_ms(s).unwrap())
    }

    /// A record as a province's system sends it, the applicant included.
    fn sample() -> Value {
        json!({
            "MaHoSo": "000.00.27.H35-260601-0001",
            "MaTTHC": "1.001193.000.00.00.H35",
            "TenTTHC": "Đăng ký khai sinh",
            "KenhThucHien": "2",
            "ChuHoSo": "Nguyễn Văn A",
            "LoaiDoiTuong": 1,
            "NgayNopHoSo": "20260601080000",
            "NgayTiepNhan": "20260601083000",
            "NgayHenTra": "20260603170000",
            "TrangThaiHoSo": 9,
            "NgayKetThucXuLy": "20260602160000",
            "NgayTra": "",
            "DonViXuLy": "000.00.27.H35",
            "NoiNopHoSo": "000.00.27.H35",
            "HoSoCoThanhPhanSoHoa": 1,
            "TaiKhoanDuocXacThucVoiVNeID": "True",
            "DuocThanhToanTrucTuyen": 3,
            "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP01", "HinhThucThu": 1, "Gia": "8000"}],
            "DanhSachHoSoBoSung": [{
                "NgayBoSung": "20260601100000",
                "NgayTiepNhanBoSung": "20260601140000",
                "TrangThaiBoSung": 2,
                "NgayHenTraTruoc": "20260603170000",
                "NgayHenTraMoi": null
            }],
            "NewFieldFromANewerSystem": {"x": 1}
        })
    }

    #[test]
    fn a_record_is_read_and_personal_data_left_out() {
        let r = Record::parse(&sample(), "data[0]").unwrap();
        assert_eq!(r.filing_id, "000.00.27.H35-260601-0001");
        assert_eq!(r.procedure_code.as_deref(), Some("1.001193.000.00.00.H35"));
        assert_eq!(r.channel, Some(Channel::Online));
        assert_eq!(r.status, Some(9));
        assert_eq!(r.received_at, at("2026-06-01T08:30:00+07:00"));
        assert_eq!(r.due_at, at("2026-06-03T17:00:00+07:00"));
        assert_eq!(r.ended_at, at("2026-06-02T16:00:00+07:00"));
        assert_eq!(r.returned_at, None);
        assert_eq!(r.refused_at, None);
        assert_eq!(
            (r.digitized, r.eid_level2, r.paid_online),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(
            r.fees,
            vec![Fee {
                code: Some("LP01".into()),
                collected: Some(1),
                amount: Some(8000.0)
            }]
        );
        assert_eq!(r.supplements.len(), 1);
        assert_eq!(
            r.supplements[0].received_at,
            at("2026-06-01T14:00:00+07:00")
        );
        assert_eq!(r.supplements[0].state.as_deref(), Some("2"));
        // Nothing of the applicant is in what was read.
        assert!(!format!("{r:?}").contains("Nguyễn"));
    }

    #[test]
    fn a_bad_field_is_named_with_its_path() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("MaHoSo", Value::Null, "data[0].MaHoSo: missing"),
            ("MaHoSo", json!("x".repeat(65)), "data[0].MaHoSo: 65 bytes"),
            (
                "NgayTiepNhan",
                json!("20261301083000"),
                "data[0].NgayTiepNhan: month 13",
            ),
            (
                "TrangThaiHoSo",
                json!(11),
                "data[0].TrangThaiHoSo: 11 is not a status code",
            ),
            (
                "TrangThaiHoSo",
                json!("xong"),
                "data[0].TrangThaiHoSo: \"xong\"",
            ),
            (
                "KenhThucHien",
                json!(4),
                "data[0].KenhThucHien: 4 is not a channel",
            ),
            (
                "DuocThanhToanTrucTuyen",
                json!(5),
                "data[0].DuocThanhToanTrucTuyen: 5",
            ),
            (
                "HoSoCoThanhPhanSoHoa",
                json!("có"),
                "data[0].HoSoCoThanhPhanSoHoa",
            ),
            (
                "DanhSachLePhi",
                json!({"Gia": 1}),
                "data[0].DanhSachLePhi: an object is not an array",
            ),
            (
                "DanhSachLePhi",
                json!([{"Gia": -5}]),
                "data[0].DanhSachLePhi[0].Gia: -5",
            ),
            (
                "DanhSachLePhi",
                json!(["LP01"]),
                "data[0].DanhSachLePhi[0]: a string is not an object",
            ),
            (
                "DanhSachHoSoBoSung",
                json!([{}, {"NgayHenTraMoi": "31/02/2026"}]),
                "data[0].DanhSachHoSoBoSung[1].NgayHenTraMoi: day 31",
            ),
        ];
        for (field, v, want) in cases {
            let mut record = sample();
            record[field] = v;
            let err = Record::parse(&record, "data[0]").unwrap_err().to_string();
            assert!(err.starts_with(want), "{field}: {err}");
        }
        let err = Record::parse(&json!([1]), "data[2]")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "data[2]: an array is not an object");
    }

    #[test]
    fn absent_fields_are_steps_not_reached() {
        let r = Record::parse(
            &json!({"MaHoSo": 12345, "TrangThaiHoSo": 1, "NgayNopHoSo": "20260601080000"}),
            "data[0]",
        )
        .unwrap();
        assert_eq!(r.filing_id, "12345");
        assert_eq!((r.received_at, r.status, r.channel), (None, Some(1), None));
        assert!(r.fees.is_empty() && r.supplements.is_empty());
    }
}
