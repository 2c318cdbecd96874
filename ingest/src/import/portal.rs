//! `hoso import --format dvcqg`: files of the portal's records and steps,
//! exported from a province's system or kept from its synchronisation
//! traffic. A file is one JSON array of items, or one JSON value per line:
//! an item, or a whole request body (`{"service": ..., "madonvi": ...,
//! "data": [...]}`). Each item is read and mapped as `POST /v1/dvcqg`
//! reads it (`crate::dvcqg`), and a refused one is reported with its line
//! (for an array: its position, from 1) and every field error.
//!
//! Ingest stamps are the import's start plus the item's position, in ms:
//! of two records of a filing in the files that show as many stages, the
//! later one is the correction.

use std::io;

use hoso_model::catalogue::DueRules;
use hoso_model::portal::unit_map::UnitMap;
use serde_json::{Value, json};

use super::Reader;

/// What every portal file of one import shares.
pub(super) struct Portal<'a> {
    units: Option<&'a UnitMap>,
    /// The stamp of the next item.
    stamp_ms: i64,
}

impl<'a> Portal<'a> {
    pub(super) fn new(units: Option<&'a UnitMap>) -> Portal<'a> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Portal {
            units,
            stamp_ms: now,
        }
    }
}

impl Reader<'_> {
    pub(super) fn dvcqg(
        &mut self,
        file: &str,
        mut reader: impl io::BufRead,
        portal: &mut Portal<'_>,
    ) -> io::Result<()> {
        // A JSON array is read whole; anything else line by line.
        let head = match reader.fill_buf() {
            Ok(b) => b.iter().find(|b| !b.is_ascii_whitespace()).copied(),
            Err(e) => return self.read_error(file, 1, &e),
        };
        if head == Some(b'[') {
            let mut text = Vec::new();
            if let Err(e) = reader.read_to_end(&mut text) {
                return self.read_error(file, 1, &e);
            }
            return match serde_json::from_slice::<Vec<Value>>(&text) {
                Ok(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        self.lines += 1;
                        self.portal_value(file, i as u64 + 1, item, portal)?;
                    }
                    Ok(())
                }
                Err(e) => {
                    self.lines += 1;
                    self.reject(file, 1, format!("not a JSON array of records: {e}"))
                }
            };
        }
        self.lines_of(
            file,
            reader,
            |r, number, text| match serde_json::from_slice::<Value>(text) {
                Ok(v) => r.portal_value(file, number, v, portal),
                Err(e) => r.reject(file, number, format!("not JSON: {e}")),
            },
        )
    }

    /// One item, or one request body of items, at `line`.
    fn portal_value(
        &mut self,
        file: &str,
        line: u64,
        value: Value,
        portal: &mut Portal<'_>,
    ) -> io::Result<()> {
        let body = if value.get("data").is_some() {
            value
        } else {
            json!({ "data": [value] })
        };
        portal.stamp_ms += 1;
        let dues: &DueRules = self.dues;
        match crate::dvcqg::envelopes_of(&body, dues, portal.units, portal.stamp_ms) {
            Ok(items) => {
                for item in items {
                    self.publish(&item.key, &item.payload);
                }
                Ok(())
            }
            Err(refused) => self.reject(file, line, refused.to_string()),
        }
    }
}
