//! CSV files: rows with their line numbers ([`Rows`]), and a row to the
//! JSON object of one event ([`Header::row_to_json`]).
//!
//! The header names the contract's fields; each row becomes an object with
//! those fields in the header's order: `seq` as an integer, the booleans as
//! JSON booleans, everything else as strings. An empty cell is no field at
//! all. The object is then validated like any other event, so the CSV
//! adds no rules of its own beyond the cell types.

use std::io::{self, BufRead, Write as _};

use csv_core::ReadRecordResult;
use hoso_model::decode::FIELDS;

use super::read::{Line, Lines};

/// The rows of a CSV file, each with the line it starts on. Blank lines
/// are skipped; a quoted field may hold line breaks (the row then spans
/// lines); a row longer than the limit is skipped, never held whole.
///
/// Rows are told apart by counting quotes: in RFC 4180 CSV a row ends at a
/// line break outside quotes, that is after an even number of `"`. The
/// `csv` crate's own positions would not do: they count the blank lines
/// before a row as part of it, and a CRLF's `\n` as part of the next row.
pub struct Rows<R> {
    lines: Lines<R>,
    max_bytes: usize,
    text: Vec<u8>,
    parser: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

/// One row of a CSV file.
#[derive(Debug)]
pub enum Row<'a> {
    /// Its cells, unquoted.
    Cells(Cells<'a>),
    /// Longer than the limit: skipped, its length counted.
    TooLong { bytes: usize },
}

/// The cells of a row.
#[derive(Debug)]
pub struct Cells<'a> {
    out: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Cells<'a> {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + use<'a> {
        let (out, ends) = (self.out, self.ends);
        (0..ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &out[start..ends[i]]
        })
    }
}

impl<R: BufRead> Rows<R> {
    pub fn new(reader: R, max_bytes: usize) -> Self {
        Rows {
            lines: Lines::new(reader, max_bytes),
            max_bytes,
            text: Vec::new(),
            parser: csv_core::Reader::new(),
            out: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// The next row and the line it starts on (1-based), or `None` at the
    /// end.
    pub fn next_row(&mut self) -> io::Result<Option<(u64, Row<'_>)>> {
        self.text.clear();
        let mut start = None;
        let mut bytes = 0usize;
        let mut too_long = false;
        let mut quotes = 0usize;
        while let Some((number, line)) = self.lines.next_line()? {
            match line {
                Line::Text(t) if start.is_none() && t.trim_ascii().is_empty() => continue,
                Line::Text(t) => {
                    if start.is_some() {
                        // A line break inside quotes is part of the cell.
                        self.text.push(b'\n');
                    }
                    bytes += t.len() + usize::from(start.is_some());
                    quotes += t.iter().filter(|&&b| b == b'"').count();
                    if bytes <= self.max_bytes {
                        self.text.extend_from_slice(t);
                    } else {
                        too_long = true;
                    }
                }
                Line::TooLong { bytes: b } => {
                    // Its quotes are unknown: take the row as ending here.
                    bytes += b;
                    too_long = true;
                    start.get_or_insert(number);
                    break;
                }
            }
            start.get_or_insert(number);
            if quotes.is_multiple_of(2) {
                break;
            }
        }
        let Some(start) = start else {
            return Ok(None);
        };
        if too_long {
            return Ok(Some((start, Row::TooLong { bytes })));
        }
        self.split();
        Ok(Some((
            start,
            Row::Cells(Cells {
                out: &self.out,
                ends: &self.ends,
            }),
        )))
    }

    /// Splits `text`, one whole row, into cells.
    fn split(&mut self) {
        self.parser.reset();
        // Unquoting only shortens; a row has at most one cell more than commas.
        self.out.resize(self.text.len() + 1, 0);
        let cells = self.text.iter().filter(|&&b| b == b',').count() + 1;
        self.ends.resize(cells + 1, 0);
        let (mut nin, mut nout, mut nend) = (0, 0, 0);
        loop {
            let (result, i, o, e) = self.parser.read_record(
                &self.text[nin..],
                &mut self.out[nout..],
                &mut self.ends[nend..],
            );
            nin += i;
            nout += o;
            nend += e;
            match result {
                ReadRecordResult::Record | ReadRecordResult::End => break,
                // Next: the rest, or nothing, which tells the parser the row
                // has ended.
                ReadRecordResult::InputEmpty => {}
                // Cannot happen with the sizes above; grow and go on if it does.
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2 + 1, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2 + 1, 0),
            }
        }
        self.out.truncate(nout);
        self.ends.truncate(nend);
    }
}

/// How a column's cells become JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Bool,
}

fn kind(field: &str) -> Kind {
    match field {
        "seq" => Kind::Integer,
        "eid_level2" | "digitized" | "fee_required" | "online_payment" => Kind::Bool,
        _ => Kind::Text,
    }
}

/// The fields every event carries (the contract lists them first): a CSV
/// without one of these columns could not hold a single valid event.
pub const REQUIRED_COLUMNS: &[&str] = FIELDS.split_at(7).0;

/// A checked header row: the contract field of each column.
#[derive(Debug)]
pub struct Header {
    columns: Vec<(&'static str, Kind)>,
}

impl Header {
    /// Checks a header row: every column a contract field, none twice, the
    /// required ones present. Names are matched after trimming spaces.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Result<Header, String> {
        let mut columns: Vec<(&'static str, Kind)> = Vec::new();
        for raw in names {
            let name = String::from_utf8_lossy(raw.trim_ascii());
            let Some(field) = FIELDS.iter().copied().find(|f| *f == name) else {
                return Err(format!(
                    "unknown column {name:?} in the header (columns are the contract's fields: {})",
                    FIELDS.join(", ")
                ));
            };
            if columns.iter().any(|(f, _)| *f == field) {
                return Err(format!("column {field:?} appears twice in the header"));
            }
            columns.push((field, kind(field)));
        }
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|r| !columns.iter().any(|(f, _)| f == r))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header lacks the required column{} {}",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            ));
        }
        Ok(Header { columns })
    }

    /// Appends the JSON object of one row to `out`. On `Err`, `out` may
    /// hold part of it.
    pub fn row_to_json<'a>(
        &self,
        cells: impl ExactSizeIterator<Item = &'a [u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if cells.len() != self.columns.len() {
            return Err(format!(
                "the row has {} fields, the header {}",
                cells.len(),
                self.columns.len()
            ));
        }
        out.push(b'{');
        let mut first = true;
        for (&(field, kind), cell) in self.columns.iter().zip(cells) {
            if cell.is_empty() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(cell) else {
                return Err(format!("{field}: not UTF-8"));
            };
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(field.as_bytes());
            out.extend_from_slice(b"\":");
            match kind {
                // Writing to a Vec cannot fail.
                Kind::Text => {
                    let _ = serde_json::to_writer(&mut *out, text);
                }
                Kind::Integer => match text.trim().parse::<i64>() {
                    Ok(n) => {
                        let _ = write!(out, "{n}");
                    }
                    Err(_) => return Err(format!("{field}: not an integer: {text:?}")),
                },
                Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => out.extend_from_slice(b"true"),
                    "false" | "0" => out.extend_from_slice(b"false"),
                    _ => {
                        return Err(format!(
                            "{field}: not a boolean (true, false, 1 or 0): {text:?}"
                        ));
                    }
                },
            }
        }
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn header(cols: &str) -> Result<Header, String> {
        Header::new(cols.split(',').map(str::as_bytes))
    }

    fn row(h: &Header, cells: &[&str]) -> Result<Value, String> {
        let mut out = Vec::new();
        h.row_to_json(cells.iter().map(|c| c.as_bytes()), &mut out)?;
        Ok(serde_json::from_slice(&out).expect("valid JSON"))
    }

    const REQUIRED: &str = "event_id,filing_id,seq,type,occurred_at,province_code,commune_code";

    #[test]
    fn every_column_is_a_contract_field_and_typed() {
        let h = Header::new(FIELDS.iter().map(|f| f.as_bytes())).unwrap();
        let v = row(
            &h,
            &[
                "e-1",
                "F-1",
                "1",
                "received",
                "2025-07-01T08:00:00+07:00",
                "01",
                "00004",
                "1.001193",
                "online",
                "2025-07-03T17:00:00+07:00",
                "true",
                "0",
                "FALSE",
                "1",
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "event_id": "e-1", "filing_id": "F-1", "seq": 1, "type": "received",
                "occurred_at": "2025-07-01T08:00:00+07:00", "province_code": "01",
                "commune_code": "00004", "procedure_code": "1.001193", "channel": "online",
                "due_at": "2025-07-03T17:00:00+07:00", "eid_level2": true, "digitized": false,
                "fee_required": false, "online_payment": true
            })
        );
        // Codes stay strings: leading zeros survive.
        assert_eq!(v["commune_code"], json!("00004"));
    }

    #[test]
    fn empty_cells_are_absent_fields() {
        let h = header(&format!("{REQUIRED},channel,digitized")).unwrap();
        let mut out = Vec::new();
        h.row_to_json(
            ["e", "F", "2", "processing", "t", "01", "00004", "", ""]
                .iter()
                .map(|c| c.as_bytes()),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"event_id":"e","filing_id":"F","seq":2,"type":"processing","occurred_at":"t","province_code":"01","commune_code":"00004"}"#
        );
        // A required field left empty is simply missing: validation says so.
        let v = row(
            &h,
            &["e", "F", "", "processing", "t", "01", "00004", "", ""],
        )
        .unwrap();
        assert!(v.get("seq").is_none());
        let err =
            hoso_model::decode_event(serde_json::to_string(&v).unwrap().as_bytes()).unwrap_err();
        assert_eq!(err.message, "seq: is missing");
    }

    #[test]
    fn text_is_escaped_as_json() {
        let h = header(REQUIRED).unwrap();
        let v = row(
            &h,
            &["say \"hi\"\n\\", "Hồ sơ", "1", "x", "t", "01", "00004"],
        )
        .unwrap();
        assert_eq!(v["event_id"], json!("say \"hi\"\n\\"));
        assert_eq!(v["filing_id"], json!("Hồ sơ"));
    }

    #[test]
    fn bad_cells_name_the_column() {
        let h = header(&format!("{REQUIRED},eid_level2")).unwrap();
        let base = ["e", "F", "1", "received", "t", "01", "00004"];
        let with = |seq: &str, b: &str| {
            let mut cells = base.to_vec();
            cells[2] = seq;
            cells.push(b);
            row(&h, &cells)
        };
        assert_eq!(
            with("1", "yes").unwrap_err(),
            r#"eid_level2: not a boolean (true, false, 1 or 0): "yes""#
        );
        assert_eq!(
            with("1.5", "1").unwrap_err(),
            r#"seq: not an integer: "1.5""#
        );
        assert_eq!(
            with("abc", "1").unwrap_err(),
            r#"seq: not an integer: "abc""#
        );
        // A number out of range is the contract's to refuse.
        assert_eq!(with("-3", " True ").unwrap()["seq"], json!(-3));
        assert_eq!(
            row(&h, &base).unwrap_err(),
            "the row has 7 fields, the header 8"
        );
        let mut out = Vec::new();
        let bad_utf8: [&[u8]; 8] = [b"e", b"F\xff", b"1", b"t", b"t", b"01", b"00004", b""];
        assert_eq!(
            h.row_to_json(bad_utf8.into_iter(), &mut out).unwrap_err(),
            "filing_id: not UTF-8"
        );
    }

    #[test]
    fn the_header_is_checked() {
        let err = header(&format!("{REQUIRED},note")).unwrap_err();
        assert!(err.starts_with("unknown column \"note\""), "{err}");
        let err = header(&format!("{REQUIRED},seq")).unwrap_err();
        assert_eq!(err, "column \"seq\" appears twice in the header");
        let err = header("event_id,filing_id,type,occurred_at,commune_code").unwrap_err();
        assert_eq!(
            err,
            "the header lacks the required columns seq, province_code"
        );
        let err = header("seq,event_id,filing_id,type,occurred_at,commune_code").unwrap_err();
        assert_eq!(err, "the header lacks the required column province_code");
        // Any order, spaces around names tolerated.
        let h = header(" commune_code , province_code,occurred_at,type,seq,filing_id,event_id")
            .unwrap();
        assert_eq!(
            row(&h, &["00004", "01", "t", "x", "7", "F", "e"]).unwrap()["seq"],
            json!(7)
        );
    }

    fn rows(text: &str, max: usize) -> Vec<(u64, Vec<String>)> {
        let mut rows = Rows::new(text.as_bytes(), max);
        let mut out = Vec::new();
        while let Some((line, row)) = rows.next_row().unwrap() {
            let cells = match row {
                Row::Cells(c) => c
                    .iter()
                    .map(|c| String::from_utf8(c.to_vec()).unwrap())
                    .collect(),
                Row::TooLong { bytes } => vec![format!("<{bytes} bytes>")],
            };
            out.push((line, cells));
        }
        out
    }

    fn cells(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        let text = "h1,h2\n\n  \na,b\n\"multi\nline\",\"x,\"\"y\"\"\"\nlast,\n\nend,row";
        assert_eq!(
            rows(text, 100),
            vec![
                (1, cells(&["h1", "h2"])),
                (4, cells(&["a", "b"])),
                (5, cells(&["multi\nline", "x,\"y\""])),
                (7, cells(&["last", ""])),
                (9, cells(&["end", "row"])),
            ]
        );
        // CRLF line ends: the same numbers, and a CRLF inside quotes is kept.
        let crlf = "h1,h2\r\n\r\na,b\r\n\"x\r\ny\",z\r\nc,d\r\n";
        assert_eq!(
            rows(crlf, 100),
            vec![
                (1, cells(&["h1", "h2"])),
                (3, cells(&["a", "b"])),
                (4, cells(&["x\r\ny", "z"])),
                (6, cells(&["c", "d"])),
            ]
        );
        assert_eq!(rows("", 100), vec![]);
        assert_eq!(rows("\n\n", 100), vec![]);
    }

    #[test]
    fn long_rows_are_skipped() {
        let text = format!(
            "a,b\n{},c\n\"{}\n{}\"\nd,e\n",
            "x".repeat(30),
            "y".repeat(8),
            "z".repeat(8)
        );
        assert_eq!(
            rows(&text, 16),
            vec![
                (1, cells(&["a", "b"])),
                (2, cells(&["<32 bytes>"])),
                (3, cells(&["<19 bytes>"])),
                (5, cells(&["d", "e"])),
            ]
        );
        // An unclosed quote runs to the end of the file, within the limit.
        assert_eq!(
            rows("a,b\n\"open,c\nd,e\n", 100),
            vec![(1, cells(&["a", "b"])), (2, cells(&["open,c\nd,e"]))]
        );
    }
}
