//! `hoso import --format portal-766`: files of the portal's published
//! Decision 766 index rows (`hoso_model::portal::index`), for the table
//! `portal_766`. A file is CSV by its name (`*.csv`, `*.csv.gz`: a header
//! of field names, then a row per unit and period), else JSON: one array
//! of row objects (as the portal's pages give them), or one object per
//! line. Each bad row is refused with its line and every reason; the good
//! ones are published.
//!
//! The files are a few thousand rows (a unit and period each), so they
//! are read whole, which lets one unit and period given twice be refused
//! before anything is published.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use hoso_model::portal::index::IndexRow;
use hoso_model::units::Units;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::Rejection;
use super::csv::{Row, Rows};
use super::read::{self, MAX_LINE_BYTES};

/// The most bytes of one file: the whole national index of a year (3,355
/// units by 19 periods) is about 10 MB as JSON.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// What the files hold.
#[derive(Debug, Default)]
pub struct IndexFiles {
    /// The valid rows, each once per unit and period.
    pub rows: Vec<IndexRow>,
    /// Rows read, valid or not.
    pub read: u64,
    pub rejections: Vec<Rejection>,
}

/// Reads every file of `paths`, its codes checked against `units` when
/// given, every row stamped `imported_at_ms`.
pub fn read_files(
    paths: &[impl AsRef<Path>],
    units: Option<&Units>,
    imported_at_ms: i64,
) -> IndexFiles {
    let mut out = IndexFiles::default();
    // Where each unit and period was first given.
    let mut seen: HashMap<String, String> = HashMap::new();
    for path in paths {
        let path = path.as_ref();
        let file = path.display().to_string();
        let reject = |out: &mut IndexFiles, line: u64, reason: String| {
            out.rejections.push(Rejection {
                file: file.clone(),
                line,
                reason,
            })
        };
        let bytes = match read_whole(path) {
            Ok(b) => b,
            Err(e) => {
                reject(&mut out, 1, format!("cannot read the file: {e}"));
                continue;
            }
        };
        let objects = if is_csv(path) {
            csv_objects(&bytes)
        } else {
            json_objects(&bytes)
        };
        for (line, object) in objects {
            out.read += 1;
            let row = object
                .and_then(|o| IndexRow::read(&o, units, imported_at_ms, format!("{file}:{line}")));
            match row {
                Err(reason) => reject(&mut out, line, reason),
                Ok(row) => match seen.get(&row.key()) {
                    Some(first) => reject(
                        &mut out,
                        line,
                        format!(
                            "the same unit and period ({}) as {first}: give each once",
                            row.key()
                        ),
                    ),
                    None => {
                        seen.insert(row.key(), row.source.clone());
                        out.rows.push(row);
                    }
                },
            }
        }
    }
    out
}

fn is_csv(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.strip_suffix(".gz").unwrap_or(&name).ends_with(".csv")
}

fn read_whole(path: &Path) -> io::Result<Vec<u8>> {
    let on_bytes = |_| {};
    let mut bytes = Vec::new();
    read::open(path, &on_bytes)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::other(format!(
            "over {} MiB: split it",
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

type Object = Result<Map<String, Value>, String>;

/// The line a byte offset is on (from 1).
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64
}

/// A JSON array of objects, each numbered by the line it starts on; or
/// one object per line.
fn json_objects(bytes: &[u8]) -> Vec<(u64, Object)> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Vec::new();
    };
    if bytes[start] != b'[' {
        return bytes
            .split(|&b| b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.trim_ascii().is_empty())
            .map(|(i, l)| (i as u64 + 1, object(l)))
            .collect();
    }
    let items: Vec<&RawValue> = match serde_json::from_slice(bytes) {
        Ok(items) => items,
        Err(e) => {
            return vec![(
                e.line() as u64,
                Err(format!("not a JSON array of rows: {e}")),
            )];
        }
    };
    items
        .into_iter()
        .map(|raw| {
            // A raw value borrows from `bytes`: its place is its line.
            let offset = raw.get().as_ptr() as usize - bytes.as_ptr() as usize;
            (line_of(bytes, offset), object(raw.get().as_bytes()))
        })
        .collect()
}

fn object(bytes: &[u8]) -> Object {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(other) => Err(format!("a row is a JSON object, not {other}")),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// CSV rows as objects of strings (an empty cell is no field), each
/// numbered by the line it starts on; the header names the fields.
fn csv_objects(bytes: &[u8]) -> Vec<(u64, Object)> {
    let mut rows = Rows::new(bytes, MAX_LINE_BYTES);
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    loop {
        let (line, row) = match rows.next_row() {
            Ok(Some(r)) => r,
            Ok(None) => return out,
            Err(e) => {
                out.push((0, Err(format!("cannot read the CSV: {e}"))));
                return out;
            }
        };
        let cells = match row {
            Row::Cells(cells) => cells,
            Row::TooLong { bytes } => {
                out.push((line, Err(format!("the row is {bytes} bytes long"))));
                continue;
            }
        };
        let texts: Vec<String> = cells
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let Some(names) = &header else {
            if let Some(dup) = texts
                .iter()
                .enumerate()
                .find(|(i, n)| texts[..*i].iter().any(|m| m.eq_ignore_ascii_case(n)))
            {
                out.push((
                    line,
                    Err(format!("column {:?} appears twice in the header", dup.1)),
                ));
                return out;
            }
            header = Some(texts);
            continue;
        };
        if texts.len() != names.len() {
            out.push((
                line,
                Err(format!(
                    "the row has {} fields, the header {}",
                    texts.len(),
                    names.len()
                )),
            ));
            continue;
        }
        let object = names
            .iter()
            .zip(texts)
            .filter(|(_, t)| !t.is_empty())
            .map(|(n, t)| (n.clone(), Value::String(t)))
            .collect();
        out.push((line, Ok(object)));
    }
}

#[cfg(test)]
mod tests;
