//! The portal's unit codes (`madonvi`, `DonViXuLy`, e.g.
//! `000.00.27.H35`) mapped to the official province and commune codes
//! events carry: the CSV that `[sources.dvcqg] units_file` names,
//! `unit_code,province_code,commune_code`.

use std::collections::HashMap;

use crate::units::{Units, UnitsError, csv_rows};

/// The file's header.
pub const COLUMNS: [&str; 3] = ["unit_code", "province_code", "commune_code"];

/// Portal unit code to (province, commune).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitMap {
    units: HashMap<String, (u8, u32)>,
}

impl UnitMap {
    /// Reads a units file: `#` lines and blank lines skipped, the first
    /// other line the header [`COLUMNS`]. Each row's codes must be a
    /// commune of its province in `units`, and each unit code appears once.
    pub fn parse(text: &str, units: &Units) -> Result<UnitMap, UnitsError> {
        let mut map = HashMap::new();
        let mut header = false;
        for (line, cells) in csv_rows(text) {
            let err = |message: String| UnitsError { line, message };
            if !header {
                if cells != COLUMNS {
                    return Err(err(format!(
                        "the header must be {}, not {}",
                        COLUMNS.join(","),
                        cells.join(",")
                    )));
                }
                header = true;
                continue;
            }
            let [unit, province, commune] = cells[..] else {
                return Err(err(format!(
                    "{} cells, not the {} of {}",
                    cells.len(),
                    COLUMNS.len(),
                    COLUMNS.join(",")
                )));
            };
            if unit.is_empty() {
                return Err(err("unit_code is empty".into()));
            }
            let code = |name: &str, text: &str, width: usize| -> Result<u32, UnitsError> {
                match text.parse::<u32>() {
                    Ok(n) if text.len() == width => Ok(n),
                    _ => Err(err(format!(
                        "{name} {text:?} is not a code of {width} digits"
                    ))),
                }
            };
            let province = code("province_code", province, 2)? as u8;
            let commune = code("commune_code", commune, 5)?;
            units
                .check(province, commune)
                .map_err(|e| err(format!("unit {unit}: {e}")))?;
            if map.insert(unit.to_string(), (province, commune)).is_some() {
                return Err(err(format!("unit {unit} appears twice")));
            }
        }
        if !header {
            return Err(UnitsError {
                line: 0,
                message: format!("no header ({})", COLUMNS.join(",")),
            });
        }
        Ok(UnitMap { units: map })
    }

    /// The province and commune of a unit, or a message naming the code.
    pub fn get(&self, unit: &str) -> Result<(u8, u32), String> {
        self.units.get(unit).copied().ok_or_else(|| {
            format!(
                "unit {unit} is not in the units file (sources.dvcqg.units_file, {} units): \
                 add its row unit_code,province_code,commune_code",
                self.units.len()
            )
        })
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commune of the official list and its province.
    fn some_commune() -> (u8, u32) {
        let units = Units::official();
        let c = &units.communes()[0];
        (c.province, c.code)
    }

    #[test]
    fn a_units_file_maps_portal_codes() {
        let (p, c) = some_commune();
        let text = format!(
            "# from the province's portal account\nunit_code,province_code,commune_code\n\
             000.00.27.H35,{p:02},{c:05}\r\n\nG09.20,{p:02},{c:05}\n"
        );
        let map = UnitMap::parse(&text, &Units::official()).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("000.00.27.H35"), Ok((p, c)));
        let err = map.get("000.00.99.H35").unwrap_err();
        assert!(
            err.contains("unit 000.00.99.H35 is not in the units file"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_row_names_its_line_and_field() {
        let (p, c) = some_commune();
        let units = Units::official();
        let header = "unit_code,province_code,commune_code\n";
        for (body, line, why) in [
            (format!("X,{p:02}\n"), 2, "2 cells"),
            (format!(",{p:02},{c:05}\n"), 2, "unit_code is empty"),
            (format!("X,{p},{c:05}\n"), 2, "province_code"),
            (
                format!("X,{p:02},12\n"),
                2,
                "commune_code \"12\" is not a code of 5 digits",
            ),
            ("X,99,00001\n".to_string(), 2, "unit X: province_code: 99"),
            (
                format!("X,{p:02},{c:05}\nX,{p:02},{c:05}\n"),
                3,
                "unit X appears twice",
            ),
        ] {
            let err = UnitMap::parse(&format!("{header}{body}"), &units).unwrap_err();
            assert_eq!(err.line, line, "{body}: {err}");
            assert!(err.message.contains(why), "{body}: {err}");
        }
        let err = UnitMap::parse("unit,province,commune\n", &units).unwrap_err();
        assert!(err.message.contains("the header must be"), "{err}");
        let err = UnitMap::parse("# nothing\n", &units).unwrap_err();
        assert!(err.message.contains("no header"), "{err}");
    }
}
