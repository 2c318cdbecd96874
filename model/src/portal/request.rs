//! A whole synchronisation request, as `POST /v1/dvcqg` takes it: the
//! portal's envelope (`service`, `session`, `madonvi`, `isUpdating`) around
//! an array of records or of steps. A request is taken whole or refused
//! whole: every field error is listed, and nothing of it is published.

use serde_json::Value;

use super::record::{FieldError, Record};
use super::step::Step;
use super::value;

/// The portal's service names.
pub const RECORDS: &str = "DongBoHoSoMC";
pub const STEPS: &str = "CapNhatTienDoHoSoMC";

/// At most this many field errors are listed in a refusal.
pub const ERRORS_LISTED: usize = 20;

/// What a request carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Items {
    Records(Vec<Record>),
    Steps(Vec<Step>),
}

/// A request read whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `madonvi`: the sending unit's portal code, when it says one.
    pub unit: Option<String>,
    pub items: Items,
}

/// A refused request: its field errors, the first [`ERRORS_LISTED`], and
/// how many there were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub errors: Vec<FieldError>,
    pub count: usize,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, "{}", listed.join("; "))?;
        if self.count > self.errors.len() {
            write!(f, "; and {} more", self.count - self.errors.len())?;
        }
        Ok(())
    }
}

impl Refused {
    fn one(field: &str, message: impl Into<String>) -> Refused {
        Refused {
            errors: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
            count: 1,
        }
    }
}

impl Request {
    /// Reads a request body. `service` says which items `data` holds; a
    /// body without it is read as records when its items have a
    /// `TrangThaiHoSo` or `NgayTiepNhan`, as steps when they have a
    /// `ThoiDiemXuLy`.
    pub fn parse(body: &Value) -> Result<Request, Refused> {
        let Value::Object(envelope) = body else {
            return Err(Refused::one(
                "(body)",
                "not a JSON object with a `data` array",
            ));
        };
        let unit = value::code(envelope.get("madonvi").unwrap_or(&Value::Null))
            .map_err(|m| Refused::one("madonvi", m))?;
        let data = match envelope.get("data") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(Refused::one("data", "not an array")),
            None => return Err(Refused::one("data", "missing: the records or steps")),
        };
        let service = match envelope.get("service") {
            None | Some(Value::Null) => guess(data),
            Some(Value::String(s)) if s == RECORDS || s == STEPS => Some(s.as_str()),
            Some(other) => {
                return Err(Refused::one(
                    "service",
                    format!("{other} is not {RECORDS} or {STEPS}"),
                ));
            }
        };
        let mut errors = Vec::new();
        let mut count = 0;
        let mut keep = |e: FieldError| {
            count += 1;
            if errors.len() < ERRORS_LISTED {
                errors.push(e);
            }
        };
        let items = match service {
            Some(STEPS) => {
                let steps = read_all(data, Step::parse, &mut keep);
                Items::Steps(steps)
            }
            _ => Items::Records(read_all(data, Record::parse, &mut keep)),
        };
        if count > 0 {
            return Err(Refused { errors, count });
        }
        Ok(Request { unit, items })
    }
}

/// Every item read, the errors handed to `refuse`.
fn read_all<T>(
    data: &[Value],
    read: fn(&Value, &str) -> Result<T, FieldError>,
    refuse: &mut impl FnMut(FieldError),
) -> Vec<T> {
    data.iter()
        .enumerate()
        .filter_map(|(i, v)| read(v, &format!("data[{i}]")).map_err(&mut *refuse).ok())
        .collect()
}

/// The service of a body that does not say, from its first item.
fn guess(data: &[Value]) -> Option<&'static str> {
    let first = data.first()?.as_object()?;
    if first.contains_key("ThoiDiemXuLy") && !first.contains_key("TrangThaiHoSo") {
        Some(STEPS)
    } else {
        Some(RECORDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_and_steps_are_told_apart() {
        let records = json!({
            "service": "DongBoHoSoMC", "session": "t0k3n", "madonvi": "000.00.27.H35",
            "isUpdating": "False",
            "data": [{"MaHoSo": "A-1", "TrangThaiHoSo": 1, "NgayNopHoSo": "20260601080000"},
                     {"MaHoSo": "A-2", "TrangThaiHoSo": 1, "NgayNopHoSo": 20260601080000_u64}]
        });
        let r = Request::parse(&records).unwrap();
        assert_eq!(r.unit.as_deref(), Some("000.00.27.H35"));
        assert!(matches!(&r.items, Items::Records(v) if v.len() == 2));
        let steps = json!({"data": [{"MaHoSo": "A-1", "ThoiDiemXuLy": "20260609140000"}]});
        let r = Request::parse(&steps).unwrap();
        assert!(matches!(&r.items, Items::Steps(v) if v.len() == 1));
        let named = json!({"service": "CapNhatTienDoHoSoMC", "data": []});
        assert_eq!(Request::parse(&named).unwrap().items, Items::Steps(vec![]));
    }

    #[test]
    fn a_request_is_refused_whole_with_every_error_listed() {
        let body = json!({"service": "DongBoHoSoMC", "data": [
            {"MaHoSo": "A-1", "TrangThaiHoSo": 1, "NgayNopHoSo": "20260601080000"},
            {"TrangThaiHoSo": 2},
            {"MaHoSo": "A-3", "NgayTiepNhan": "20261301000000"}
        ]});
        let refused = Request::parse(&body).unwrap_err();
        assert_eq!(refused.count, 2);
        let text = refused.to_string();
        assert!(text.starts_with("data[1].MaHoSo: missing"), "{text}");
        assert!(text.contains("; data[2].NgayTiepNhan: month 13"), "{text}");
        // Past the listed ones, a count.
        let many: Vec<Value> = (0..30).map(|_| json!({})).collect();
        let refused = Request::parse(&json!({"data": many})).unwrap_err();
        assert_eq!((refused.errors.len(), refused.count), (ERRORS_LISTED, 30));
        assert!(refused.to_string().ends_with("; and 10 more"));
    }

    #[test]
    fn a_bad_envelope_says_which_part() {
        for (body, want) in [
            (json!([1]), "(body): not a JSON object"),
            (json!({}), "data: missing"),
            (json!({"data": {}}), "data: not an array"),
            (
                json!({"service": "LayHoSo", "data": []}),
                "service: \"LayHoSo\" is not",
            ),
            (
                json!({"madonvi": [1], "data": []}),
                "madonvi: [1] is not a code",
            ),
        ] {
            let text = Request::parse(&body).unwrap_err().to_string();
            assert!(text.starts_with(want), "{body}: {text}");
        }
    }
}
