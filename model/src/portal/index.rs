//! One row of the portal's published Decision 766 index
//! (`../shared/docs/sources.md`, "How the portal scores"): a unit and
//! period with the portal's group scores, total, rank and volumes, as an
//! operator downloads them from dichvucong.gov.vn. `hoso import --format
//! portal-766` reads them into the table `portal_766`; hoso never calls the
//! portal itself.
//!
//! A row is read from a JSON object (a CSV row becomes one, each cell a
//! string) and refused with every field error listed, each naming its
//! field. The portal's figures keep the portal's names (`CKMB`, `TDGQ`...,
//! in any case); the unit and period use the names of `score_766`
//! (`period_kind`, `period_start`, `unit_level`, `province_code`,
//! `commune_code`). Fields hoso does not read (unit names, notes) are
//! ignored.

use std::sync::Arc;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::{civil_from_days, days_from_civil};
use crate::units::Units;

/// The portal's six group scores: its field, the column of `portal_766`
/// (lowercase, so `SELECT CKMB` needs no quotes), the `score_766` group it
/// scores, and the group's maximum. `CLGQ` is the online-service group by
/// elimination (the other five codes name their groups), an
/// interpretation `docs/kpis.md` states.
pub const GROUPS: [(&str, &str, &str, f64); 6] = [
    ("CKMB", "ckmb", "group_transparency", 18.0),
    ("TDGQ", "tdgq", "group_progress", 20.0),
    ("CLGQ", "clgq", "group_online_service", 12.0),
    ("TTTT", "tttt", "group_online_payment", 10.0),
    ("MDHL", "mdhl", "group_satisfaction", 18.0),
    ("MDSH", "mdsh", "group_digitization", 22.0),
];

/// The total, out of 100.
pub const TOTAL: (&str, &str) = ("TONG_SCORE", "tong_score");

/// The rank the portal gives the unit among its level.
pub const RANK: (&str, &str) = ("RANK", "portal_rank");

/// The portal's volumes: field and column. Filings in the period, those
/// synchronised, by channel (in person, post, online), ended on time and
/// ended late.
pub const VOLUMES: [(&str, &str); 7] = [
    ("HS_TOTAL", "hs_total"),
    ("DB_TOTAL", "db_total"),
    ("HTN_TRUCTIEP", "htn_tructiep"),
    ("HTN_BUUCHINH", "htn_buuchinh"),
    ("HTN_TRUCTUYEN", "htn_tructuyen"),
    ("HTDH", "htdh"),
    ("HTQH", "htqh"),
];

/// The periods the portal publishes, as `score_766` names them.
pub const PERIOD_KINDS: [&str; 4] = ["month", "quarter", "half", "year"];

/// One row of the index, validated. The codes are the official GSO codes
/// (two and five digits); `period_start` is the period's first day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexRow {
    pub period_kind: String,
    /// Days since 1970-01-01 (Arrow's `Date32`).
    pub period_start: i32,
    pub unit_level: String,
    pub province_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commune_code: Option<String>,
    /// In the order of [`GROUPS`].
    pub groups: [Option<f64>; 6],
    pub total: Option<f64>,
    pub rank: Option<u32>,
    /// In the order of [`VOLUMES`].
    pub volumes: [Option<u64>; 7],
    /// When the import read it (UTC ms): of two rows for one unit and
    /// period, the later import stands.
    pub imported_at_ms: i64,
    /// Where it came from: `file:line`.
    pub source: String,
}

impl IndexRow {
    /// Reads a row from `object`, its codes checked against `units` when
    /// given. Every field error is listed (`; `-separated), each naming
    /// its field.
    pub fn read(
        object: &Map<String, Value>,
        units: Option<&Units>,
        imported_at_ms: i64,
        source: String,
    ) -> Result<IndexRow, String> {
        let fields = Fields::new(object);
        let mut errors = Vec::new();
        let mut note = |r: Result<(), String>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        let period_kind = fields.text("period_kind");
        let period_start = fields.text("period_start");
        let mut kind = None;
        match &period_kind {
            None => note(Err(missing("period_kind"))),
            Some(k) if PERIOD_KINDS.contains(&k.as_str()) => kind = Some(k.clone()),
            Some(k) => note(Err(format!(
                "period_kind: {k:?} is not a period the portal publishes (month, quarter, half \
                 or year)"
            ))),
        }
        let mut start = None;
        match (&period_start, &kind) {
            (None, _) => note(Err(missing("period_start"))),
            (Some(s), k) => match parse_date(s) {
                Err(e) => note(Err(format!("period_start: {e}"))),
                // Without a kind, there is nothing to start.
                Ok(day) => {
                    if let Some(k) = k {
                        match starts_period(day, k) {
                            Ok(()) => start = Some(day),
                            Err(e) => note(Err(format!("period_start: {e}"))),
                        }
                    }
                }
            },
        }
        let (level, province, commune) = read_unit(&fields, units, &mut errors);
        let mut groups = [None; 6];
        for (i, (field, _, _, max)) in GROUPS.iter().enumerate() {
            match fields.number(field, *max) {
                Ok(v) => groups[i] = v,
                Err(e) => errors.push(e),
            }
        }
        let total = match fields.number(TOTAL.0, 100.0) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let rank = match fields.count(RANK.0) {
            Ok(Some(0)) => {
                errors.push(format!("{}: a rank starts at 1", RANK.0));
                None
            }
            Ok(v) => v.map(|r| r.min(u32::MAX as u64) as u32),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let mut volumes = [None; 7];
        for (i, (field, _)) in VOLUMES.iter().enumerate() {
            match fields.count(field) {
                Ok(v) => volumes[i] = v,
                Err(e) => errors.push(e),
            }
        }
        let any_figure = groups.iter().any(Option::is_some)
            || total.is_some()
            || rank.is_some()
            || volumes.iter().any(Option::is_some);
        if errors.is_empty() && !any_figure {
            errors.push(format!(
                "no figure: a row needs at least one of {}, {}, {} or {}",
                GROUPS.map(|g| g.0).join(", "),
                TOTAL.0,
                RANK.0,
                VOLUMES.map(|v| v.0).join(", ")
            ));
        }
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(IndexRow {
            period_kind: kind.expect("checked"),
            period_start: start.expect("checked"),
            unit_level: level.expect("checked"),
            province_code: province.expect("checked"),
            commune_code: commune,
            groups,
            total,
            rank,
            volumes,
            imported_at_ms,
            source,
        })
    }

    /// The unit and period: one row stands per key (the message key on
    /// the topic).
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.unit_level,
            self.province_code,
            self.commune_code.as_deref().unwrap_or("-"),
            self.period_kind,
            crate::time::format_day(self.period_start)
        )
    }
}

/// `rows` as a batch of [`crate::schema::portal_766`].
pub fn batch<'a>(rows: impl ExactSizeIterator<Item = &'a IndexRow> + Clone) -> RecordBatch {
    use arrow_array::{
        ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
    };
    let text = |f: fn(&IndexRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.clone().map(f).collect::<StringArray>())
    };
    let mut columns: Vec<ArrayRef> = vec![
        text(|r| Some(&r.period_kind)),
        Arc::new(Date32Array::from_iter_values(
            rows.clone().map(|r| r.period_start),
        )),
        text(|r| Some(&r.unit_level)),
        text(|r| Some(&r.province_code)),
        text(|r| r.commune_code.as_deref()),
    ];
    for i in 0..GROUPS.len() {
        columns.push(Arc::new(
            rows.clone().map(|r| r.groups[i]).collect::<Float64Array>(),
        ));
    }
    columns.push(Arc::new(
        rows.clone().map(|r| r.total).collect::<Float64Array>(),
    ));
    columns.push(Arc::new(
        rows.clone()
            .map(|r| r.rank.map(i64::from))
            .collect::<Int64Array>(),
    ));
    for i in 0..VOLUMES.len() {
        columns.push(Arc::new(
            rows.clone()
                .map(|r| r.volumes[i].map(|v| v.min(i64::MAX as u64) as i64))
                .collect::<Int64Array>(),
        ));
    }
    columns.push(Arc::new(
        TimestampMillisecondArray::from_iter_values(rows.clone().map(|r| r.imported_at_ms))
            .with_timezone("UTC"),
    ));
    columns.push(text(|r| Some(&r.source)));
    RecordBatch::try_new(crate::schema::portal_766(), columns).expect("the schema's columns")
}

fn missing(field: &str) -> String {
    format!("{field}: missing")
}

/// The unit: level, province and commune, codes padded and checked.
fn read_unit(
    fields: &Fields<'_>,
    units: Option<&Units>,
    errors: &mut Vec<String>,
) -> (Option<String>, Option<String>, Option<String>) {
    let province = match fields.text("province_code") {
        None => {
            errors.push(missing("province_code"));
            None
        }
        Some(p) => match code(&p, 2) {
            Some(p) => Some(p),
            None => {
                errors.push(format!(
                    "province_code: {p:?} is not a province code (two digits, e.g. \"01\")"
                ));
                None
            }
        },
    };
    let commune = match fields.text("commune_code") {
        None => None,
        Some(c) => match code(&c, 5) {
            Some(c) => Some(c),
            None => {
                errors.push(format!(
                    "commune_code: {c:?} is not a commune code (five digits, e.g. \"00004\")"
                ));
                return (None, province, None);
            }
        },
    };
    let level = match fields.text("unit_level") {
        // Told by the commune code when unsaid.
        None if commune.is_some() => "commune".to_string(),
        None => "province".to_string(),
        Some(l) if l == "commune" || l == "province" => l,
        Some(l) => {
            errors.push(format!("unit_level: {l:?} is not commune or province"));
            return (None, province, commune);
        }
    };
    match (level.as_str(), &commune) {
        ("commune", None) => {
            errors.push("commune_code: missing (unit_level is commune)".into());
        }
        ("province", Some(c)) => errors.push(format!(
            "commune_code: {c} given for a row whose unit_level is province"
        )),
        _ => {}
    }
    if let (Some(units), Some(p)) = (units, &province) {
        let p: u8 = p.parse().expect("two digits");
        let known = match &commune {
            Some(c) => units.check(p, c.parse().expect("five digits")),
            None => match units.province_name(p) {
                Some(_) => Ok(()),
                // The same words as an event's unknown province.
                None => units.check(p, 0).map(|_| ()),
            },
        };
        if let Err(e) = known {
            errors.push(e.to_string());
        }
    }
    (Some(level), province, commune)
}

/// `s` as a code of `width` digits, padded with zeros ("1" is "01").
fn code(s: &str, width: usize) -> Option<String> {
    if s.is_empty() || s.len() > width || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{s:0>width$}"))
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(s: &str) -> Result<i32, String> {
    let bad = || format!("{s:?} is not a date (YYYY-MM-DD)");
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, u32, u32) = match (y.parse(), m.parse(), d.parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    if !(2000..=2100).contains(&y) {
        return Err(format!("{s}: the year is outside 2000-2100"));
    }
    if !(1..=12).contains(&m) || d == 0 || d > crate::time::days_in_month(y, m) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) as i32)
}

/// Whether `day` is the first day of a period of `kind`.
fn starts_period(day: i32, kind: &str) -> Result<(), String> {
    let (y, m, d) = civil_from_days(day as i64);
    let first_months: &[u32] = match kind {
        "month" => &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        "quarter" => &[1, 4, 7, 10],
        "half" => &[1, 7],
        _ => &[1],
    };
    if d == 1 && first_months.contains(&m) {
        return Ok(());
    }
    let months: Vec<String> = first_months.iter().map(|m| format!("{m:02}")).collect();
    Err(format!(
        "{y}-{m:02}-{d:02} does not start a {kind} (a {kind} starts on the 1st of {})",
        months.join(", ")
    ))
}

/// The fields of an object by upper-case name: `ckmb` and `CKMB` are one
/// field. An empty string or a JSON null is no value.
struct Fields<'a> {
    by_name: Vec<(String, &'a Value)>,
}

impl<'a> Fields<'a> {
    fn new(object: &'a Map<String, Value>) -> Self {
        Fields {
            by_name: object
                .iter()
                .map(|(k, v)| (k.trim().to_ascii_uppercase(), v))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        let name = name.to_ascii_uppercase();
        self.by_name
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    }

    /// A text field; a number is taken as its digits (a code written as
    /// a number in a spreadsheet).
    fn text(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// A score between 0 and `max`: a JSON number, or text with a dot or a
    /// decimal comma (`17,5`).
    fn number(&self, name: &str, max: f64) -> Result<Option<f64>, String> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().replace(',', ".").parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() && (0.0..=max).contains(&x) => Ok(Some(x)),
            Some(x) if x.is_finite() => Err(format!("{name}: {x} is outside 0-{max} points")),
            _ => Err(format!("{name}: {v} is not a number of points")),
        }
    }

    /// A count: a whole number, at least 0.
    fn count(&self, name: &str) -> Result<Option<u64>, String> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) => Ok(Some(n)),
            None => Err(format!("{name}: {v} is not a whole number, at least 0")),
        }
    }
}

#[cfg(test)]
mod tests;
