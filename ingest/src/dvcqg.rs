//! A portal synchronisation body (`DongBoHoSoMC` records or
//! `CapNhatTienDoHoSoMC` steps) to the envelopes ingest publishes, keyed
//! by `MaHoSo` (`hoso_model::portal::envelope`). All or nothing: a body
//! with any field hoso cannot read, a unit the units file does not map, or
//! a received record whose due date can be neither read nor computed is
//! refused whole, every error naming the portal's field.

use hoso_model::catalogue::DueRules;
use hoso_model::portal::envelope::Envelope;
use hoso_model::portal::record::{FieldError, Record};
use hoso_model::portal::request::{ERRORS_LISTED, Items, Refused, Request};
use hoso_model::portal::unit_map::UnitMap;

/// The unit code of a step request that names none, and the place its
/// steps carry: a step is folded with its filing's record, which says
/// where the filing is held.
const NO_PLACE: (u8, u32) = (0, 0);

/// One message to publish: the filing id (the key) and the envelope.
#[derive(Debug, PartialEq, Eq)]
pub struct Publishable {
    pub key: String,
    pub payload: Vec<u8>,
}

/// Reads `body` and makes its envelopes, stamped `ingested_at_ms`.
/// `units` maps the portal's unit codes (none configured: every record
/// is refused, naming the setting).
pub fn envelopes(
    body: &[u8],
    dues: &DueRules,
    units: Option<&UnitMap>,
    ingested_at_ms: i64,
) -> Result<Vec<Publishable>, Refused> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| Refused {
        errors: vec![FieldError {
            field: "(body)".into(),
            message: format!("not JSON: {e}"),
        }],
        count: 1,
    })?;
    envelopes_of(&value, dues, units, ingested_at_ms)
}

/// [`envelopes`] of a body already read as JSON.
pub fn envelopes_of(
    value: &serde_json::Value,
    dues: &DueRules,
    units: Option<&UnitMap>,
    ingested_at_ms: i64,
) -> Result<Vec<Publishable>, Refused> {
    let request = Request::parse(value)?;
    let mut errors = Vec::new();
    let mut count = 0;
    let mut refuse = |field: String, message: String| {
        count += 1;
        if errors.len() < ERRORS_LISTED {
            errors.push(FieldError { field, message });
        }
    };
    let map = |unit: &str| match units {
        Some(m) => m.get(unit),
        None => Err(format!(
            "unit {unit}: no units file is configured (sources.dvcqg.units_file maps the \
             portal's unit codes to province and commune codes)"
        )),
    };
    let mut out = Vec::new();
    match request.items {
        Items::Records(records) => {
            for (i, record) in records.into_iter().enumerate() {
                let (field, unit) = match (&record.unit, &request.unit) {
                    (Some(u), _) => (format!("data[{i}].DonViXuLy"), u.clone()),
                    (None, Some(u)) => ("madonvi".to_string(), u.clone()),
                    (None, None) => {
                        refuse(
                            format!("data[{i}].DonViXuLy"),
                            "missing, and the request names no madonvi: the record's unit \
                             says where the filing is held"
                                .into(),
                        );
                        continue;
                    }
                };
                let place = match map(&unit) {
                    Ok(p) => p,
                    Err(m) => {
                        refuse(field, m);
                        continue;
                    }
                };
                if let Err(m) = due_known(&record, dues) {
                    refuse(format!("data[{i}].NgayHenTra"), m);
                    continue;
                }
                out.push(Publishable {
                    key: record.filing_id.clone(),
                    payload: Envelope::record(record, place, ingested_at_ms).to_json(),
                });
            }
        }
        Items::Steps(steps) => {
            let place = match &request.unit {
                Some(u) => match map(u) {
                    Ok(p) => p,
                    Err(m) => {
                        refuse("madonvi".into(), m);
                        NO_PLACE
                    }
                },
                None => NO_PLACE,
            };
            for step in steps {
                out.push(Publishable {
                    key: step.filing_id.clone(),
                    payload: Envelope::step(step, place, ingested_at_ms).to_json(),
                });
            }
        }
    }
    if count > 0 {
        return Err(Refused { errors, count });
    }
    Ok(out)
}

/// A received record's due date: sent, or computable from the catalogue
/// (as a contract `received` event without `due_at` is).
fn due_known(record: &Record, dues: &DueRules) -> Result<(), String> {
    let (Some(received), None) = (record.received_at, record.due_at) else {
        return Ok(());
    };
    let code = record.procedure_code.as_deref().unwrap_or("");
    match dues.due_at(code, received) {
        Some(_) => Ok(()),
        None => Err(format!(
            "missing, and procedure {code} is not in the catalogue to compute it from \
             (procedures.files adds procedures)"
        )),
    }
}

pub mod http;

#[cfg(test)]
mod tests;
