//! The administrative units events name: the official list of provinces
//! and communes (`data/communes.csv`, with its source), plus the
//! operator's files in the same format. Ingest checks every event's
//! `province_code` and `commune_code` against it; the SQL table `communes`
//! is this list, names in Vietnamese.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock};

/// The official list (see the file's header for its source and license).
pub const OFFICIAL: &str = include_str!("../data/communes.csv");

/// The columns of a units file, in order.
pub const COLUMNS: [&str; 5] = [
    "province_code",
    "province_name",
    "commune_code",
    "commune_name",
    "unit_type",
];

/// Province codes of the 63 provinces before the 1 July 2025 merger
/// (Resolution 202/2025/QH15) that no longer exist: legacy systems still
/// send them.
const RETIRED_PROVINCES: [u8; 29] = [
    2, 6, 10, 17, 26, 27, 30, 34, 35, 36, 45, 49, 54, 58, 60, 62, 64, 67, 70, 72, 74, 77, 83, 84,
    87, 89, 93, 94, 95,
];

/// One commune-level unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commune {
    pub province: u8,
    pub code: u32,
    pub name: String,
    /// Xã, Phường or Đặc khu.
    pub unit_type: String,
}

/// A units file that cannot be read: its line and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct UnitsError {
    pub line: usize,
    pub message: String,
}

/// Why an event's codes are refused: the field and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownUnit {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for UnknownUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Provinces and communes by code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Units {
    provinces: BTreeMap<u8, String>,
    communes: HashMap<u32, usize>,
    /// In file order (later files' rows replace earlier ones in place).
    list: Vec<Commune>,
}

impl Units {
    /// The official list alone (built once, shared).
    pub fn official() -> Arc<Units> {
        static U: LazyLock<Arc<Units>> = LazyLock::new(|| {
            Arc::new(Units::from_texts(&[OFFICIAL]).expect("the official units file is valid"))
        });
        U.clone()
    }

    /// The official list, then the operator's files (their texts); the
    /// error names the file (by index among `texts`) and its line.
    pub fn official_with(texts: &[&str]) -> Result<Units, (usize, UnitsError)> {
        let mut all = vec![OFFICIAL];
        all.extend_from_slice(texts);
        Units::from_texts(&all).map_err(|(i, e)| (i - 1, e))
    }

    /// Units from file texts, later rows winning for the same commune.
    pub fn from_texts(texts: &[&str]) -> Result<Units, (usize, UnitsError)> {
        let mut units = Units::default();
        for (i, text) in texts.iter().enumerate() {
            for (province_name, c) in parse(text).map_err(|e| (i, e))? {
                units.provinces.insert(c.province, province_name);
                match units.communes.get(&c.code) {
                    Some(&at) => units.list[at] = c,
                    None => {
                        units.communes.insert(c.code, units.list.len());
                        units.list.push(c);
                    }
                }
            }
        }
        Ok(units)
    }

    /// Adds `other`'s units, its rows winning for the same commune.
    pub fn extend(&mut self, other: &Units) {
        for c in &other.list {
            if let Some(name) = other.province_name(c.province) {
                self.provinces.insert(c.province, name.to_string());
            }
            match self.communes.get(&c.code) {
                Some(&at) => self.list[at] = c.clone(),
                None => {
                    self.communes.insert(c.code, self.list.len());
                    self.list.push(c.clone());
                }
            }
        }
    }

    pub fn communes(&self) -> &[Commune] {
        &self.list
    }

    pub fn province_name(&self, code: u8) -> Option<&str> {
        self.provinces.get(&code).map(String::as_str)
    }

    pub fn commune(&self, code: u32) -> Option<&Commune> {
        self.communes.get(&code).map(|&i| &self.list[i])
    }

    pub fn province_count(&self) -> usize {
        self.provinces.len()
    }

    /// Checks that `province` is a province, `commune` one of its communes.
    pub fn check(&self, province: u8, commune: u32) -> Result<(), UnknownUnit> {
        let Some(province_name) = self.province_name(province) else {
            let message = if RETIRED_PROVINCES.contains(&province) {
                format!(
                    "{province:02} is a province code from before the 1 July 2025 merger \
                     (Resolution 202/2025/QH15), which no longer exists: send the code of the \
                     province it is part of now (one of the {} in the official list)",
                    self.provinces.len()
                )
            } else {
                format!(
                    "{province:02} is not a province code (the {} official codes since 1 July \
                     2025; a private code needs a units file, or units.check = false)",
                    self.provinces.len()
                )
            };
            return Err(UnknownUnit {
                field: "province_code",
                message,
            });
        };
        let Some(c) = self.commune(commune) else {
            return Err(UnknownUnit {
                field: "commune_code",
                message: format!(
                    "{commune:05} is not a commune code of the official list ({} communes since \
                     1 July 2025; codes from before the merger no longer exist: send the new \
                     commune's code)",
                    self.list.len()
                ),
            });
        };
        if c.province != province {
            return Err(UnknownUnit {
                field: "commune_code",
                message: format!(
                    "{commune:05} ({}) is a commune of province {:02} ({}), not of {province:02} \
                     ({province_name})",
                    c.name,
                    c.province,
                    self.province_name(c.province).unwrap_or("?")
                ),
            });
        }
        Ok(())
    }
}

/// The cells of a small CSV file's rows, each with its line number: `#`
/// lines and blank lines skipped, a byte-order mark and `\r` dropped. The
/// reference files have no quoted cells.
pub(crate) fn csv_rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.trim_start_matches('\u{feff}').trim_end_matches('\r');
        let skip = line.trim().is_empty() || line.starts_with('#');
        (!skip).then(|| (i + 1, line.split(',').map(str::trim).collect()))
    })
}

/// The rows of one units file: `#` lines and blank lines skipped, the
/// first other line the header [`COLUMNS`].
fn parse(text: &str) -> Result<Vec<(String, Commune)>, UnitsError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut header = false;
    for (line, fields) in csv_rows(text) {
        let err = |message: String| UnitsError { line, message };
        if !header {
            if fields != COLUMNS {
                return Err(err(format!(
                    "the header must be {} (found {})",
                    COLUMNS.join(","),
                    fields.join(",")
                )));
            }
            header = true;
            continue;
        }
        let [province, province_name, commune, commune_name, unit] = fields[..] else {
            return Err(err(format!(
                "{} fields, 5 expected (names may not hold commas)",
                fields.len()
            )));
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(province, 2) || !digits(commune, 5) {
            return Err(err(format!(
                "codes are 2 digits (province) and 5 (commune): {province:?}, {commune:?}"
            )));
        }
        let code: u32 = commune.parse().unwrap_or(0);
        if !seen.insert(code) {
            return Err(err(format!("commune {commune} twice")));
        }
        out.push((
            province_name.to_string(),
            Commune {
                province: province.parse().unwrap_or(0),
                code,
                name: commune_name.to_string(),
                unit_type: unit.to_string(),
            },
        ));
    }
    if !header {
        return Err(UnitsError {
            line: 0,
            message: format!("no header row {}", COLUMNS.join(",")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
