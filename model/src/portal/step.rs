//! One `CapNhatTienDoHoSoMC` processing step, read field by field.
//!
//! The handler's name and title (`NguoiXuLy`, `ChucDanh`) and the step's
//! free text (`NoiDungXuLy`) are personal or free-form and never read.

use serde_json::Value;

use super::record::{FieldError, Fields};

/// What a step says of its filing. Times are UTC ms.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// `MaHoSo`.
    pub filing_id: String,
    /// `ThoiDiemXuLy`: when the step was taken. Every step has one.
    pub at: i64,
    /// `PhongBanXuLy`: the department, as the sender names it.
    pub department: Option<String>,
    /// `TrangThai`: the sender's code for the step's state.
    pub state: Option<String>,
    /// `NgayBatDau`, `NgayKetThucTheoQuyDinh`: the step's start and the end
    /// its rules allow.
    pub started_at: Option<i64>,
    pub due_at: Option<i64>,
}

impl Step {
    /// Reads the step at `path` (`data[3]`).
    pub fn parse(step: &Value, path: &str) -> Result<Step, FieldError> {
        let f = Fields::of(step, path)?;
        let filing_id = f.filing_id()?;
        let at = f
            .date("ThoiDiemXuLy")?
            .ok_or_else(|| f.error("ThoiDiemXuLy", "missing: every step has its time".into()))?;
        Ok(Step {
            filing_id,
            at,
            department: f.code("PhongBanXuLy")?,
            state: f.code("TrangThai")?,
            started_at: f.date("NgayBatDau")?,
            due_at: f.date("NgayKetThucTheoQuyDinh")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339_ms;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "MaHoSo": "G09.20-20260609-0092637",
            "NguoiXuLy": "Trần Thị B",
            "ChucDanh": "Chuyên viên",
            "ThoiDiemXuLy": "20260609140000",
            "PhongBanXuLy": "Phòng Tư pháp",
            "NoiDungXuLy": "Chuyển xử lý",
            "TrangThai": 1,
            "NgayBatDau": "20260609083000",
            "NgayKetThucTheoQuyDinh": "20260610170000"
        })
    }

    #[test]
    fn a_step_is_read_and_the_handler_left_out() {
        let s = Step::parse(&sample(), "data[0]").unwrap();
        assert_eq!(s.filing_id, "G09.20-20260609-0092637");
        assert_eq!(s.at, parse_rfc3339_ms("2026-06-09T14:00:00+07:00").unwrap());
        assert_eq!(s.state.as_deref(), Some("1"));
        assert_eq!(
            s.due_at,
            Some(parse_rfc3339_ms("2026-06-10T17:00:00+07:00").unwrap())
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("Trần") && !shown.contains("Chuyển"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_step_names_its_field() {
        for (field, v, want) in [
            ("MaHoSo", json!(""), "data[1].MaHoSo: missing"),
            ("ThoiDiemXuLy", Value::Null, "data[1].ThoiDiemXuLy: missing"),
            (
                "ThoiDiemXuLy",
                json!("hôm nay"),
                "data[1].ThoiDiemXuLy: \"hôm nay\"",
            ),
            (
                "NgayBatDau",
                json!("20260632000000"),
                "data[1].NgayBatDau: day 32",
            ),
            (
                "TrangThai",
                json!({"a": 1}),
                "data[1].TrangThai: {\"a\":1} is not a code",
            ),
        ] {
            let mut step = sample();
            step[field] = v;
            let err = Step::parse(&step, "data[1]").unwrap_err().to_string();
            assert!(err.starts_with(want), "{field}: {err}");
        }
    }
}
