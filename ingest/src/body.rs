//! A request body to validated items: one JSON object, a JSON array of
//! objects, or NDJSON (one object per line).

use std::cell::Cell;
use std::fmt;
use std::ops::Range;

use hoso_model::catalogue::DueRules;
use hoso_model::units::Units;
use serde::Serialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Errors reported per request at most; the count of the rest is given.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// One valid event of the body.
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// The filing id: the Kafka key.
    pub key: String,
    /// Where the event's bytes are in the body: published unchanged, so
    /// fields this version does not know travel on.
    pub payload: Range<usize>,
}

/// Why one item was refused (contract: `{"index", "event_id", "error"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemError {
    /// Position of the item in the request, from 0; for NDJSON, the
    /// position among its non-blank lines.
    pub index: usize,
    /// The item's `event_id` when it could be read.
    pub event_id: Option<String>,
    pub error: String,
}

/// A refused body: every error found (up to [`MAX_REPORTED_ERRORS`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub errors: Vec<ItemError>,
    /// Invalid items beyond those reported.
    pub more: usize,
    /// Items in the request, as far as they could be told apart.
    pub items: usize,
}

/// Splits and validates a body. All or nothing: `Err` when any item is
/// invalid. `dues` gives a `received` event without `due_at` its due date
/// (the processor computes the same); `units`, when given, are the
/// provinces and communes an event may name.
pub fn parse(body: &[u8], dues: &DueRules, units: Option<&Units>) -> Result<Vec<Item>, Refusal> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(single_error(
            None,
            "empty body: send one JSON object, a JSON array of objects, or NDJSON",
        ));
    };
    let slices: Vec<Result<&[u8], ItemError>> = if body[start] == b'[' {
        match split_array(body) {
            Ok(items) => items.into_iter().map(|r| Ok(r.get().as_bytes())).collect(),
            Err((index, error)) => {
                return Err(single_error(
                    Some(index),
                    &format!("malformed JSON array: {error}"),
                ));
            }
        }
    } else if serde_json::from_slice::<&RawValue>(body).is_ok() {
        vec![Ok(body[start..].trim_ascii_end())]
    } else {
        body.split(|&b| b == b'\n')
            .map(|l| l.trim_ascii())
            .filter(|l| !l.is_empty())
            .map(Ok)
            .collect()
    };
    let mut items = Vec::with_capacity(slices.len());
    let mut errors = Vec::new();
    let mut more = 0;
    let n = slices.len();
    for (index, slice) in slices.into_iter().enumerate() {
        let bytes = match slice {
            Ok(b) => b,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match crate::validate(bytes, dues, units) {
            Ok(ev) => {
                let offset = bytes.as_ptr() as usize - body.as_ptr() as usize;
                items.push(Item {
                    key: ev.filing_id.into_owned(),
                    payload: offset..offset + bytes.len(),
                });
            }
            Err(e) if errors.len() < MAX_REPORTED_ERRORS => errors.push(ItemError {
                index,
                event_id: probe_event_id(bytes),
                error: e,
            }),
            Err(_) => more += 1,
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(Refusal {
            errors,
            more,
            items: n,
        })
    }
}

fn single_error(index: Option<usize>, message: &str) -> Refusal {
    Refusal {
        errors: vec![ItemError {
            index: index.unwrap_or(0),
            event_id: None,
            error: message.to_string(),
        }],
        more: 0,
        items: index.map_or(0, |i| i + 1),
    }
}

/// The `event_id` of an item that failed validation, if it has a readable one.
fn probe_event_id(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        event_id: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes).ok()?.event_id? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// The elements of a JSON array, as raw slices. On malformed JSON, the index
/// of the element being read and the error.
fn split_array(body: &[u8]) -> Result<Vec<&RawValue>, (usize, serde_json::Error)> {
    let reached = Cell::new(0usize);
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = de
        .deserialize_seq(ElementsVisitor { reached: &reached })
        .map_err(|e| (reached.get(), e))?;
    de.end().map_err(|e| (reached.get(), e))?;
    Ok(items)
}

struct ElementsVisitor<'c> {
    reached: &'c Cell<usize>,
}

impl<'de> Visitor<'de> for ElementsVisitor<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(64));
        while let Some(item) = seq.next_element::<&RawValue>()? {
            items.push(item);
            self.reached.set(items.len());
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, seq: u32) -> String {
        format!(
            r#"{{"event_id":"{id}","filing_id":"F-{id}","seq":{seq},"type":"processing","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004"}}"#
        )
    }

    fn payloads<'a>(body: &'a [u8], items: &[Item]) -> Vec<&'a str> {
        items
            .iter()
            .map(|i| std::str::from_utf8(&body[i.payload.clone()]).unwrap())
            .collect()
    }

    #[test]
    fn one_object_an_array_and_ndjson() {
        let one = format!("  {}\n", event("a", 1));
        let items = parse(
            one.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap();
        assert_eq!(payloads(one.as_bytes(), &items), vec![event("a", 1)]);
        assert_eq!(items[0].key, "F-a");

        let arr = format!("[{}, {}]", event("a", 1), event("b", 2));
        let items = parse(
            arr.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap();
        assert_eq!(
            payloads(arr.as_bytes(), &items),
            vec![event("a", 1), event("b", 2)]
        );

        let nd = format!("{}\r\n\n{}\n", event("a", 1), event("b", 2));
        let items = parse(
            nd.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap();
        assert_eq!(
            payloads(nd.as_bytes(), &items),
            vec![event("a", 1), event("b", 2)]
        );

        // A pretty-printed single object is one event, not lines.
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&event("p", 1)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            parse(
                pretty.as_bytes(),
                &DueRules::vietnam(),
                Some(&Units::official())
            )
            .unwrap()
            .len(),
            1
        );
        assert_eq!(
            parse(b"[]", &DueRules::vietnam(), Some(&Units::official())).unwrap(),
            vec![]
        );
    }

    #[test]
    fn every_invalid_item_is_reported_with_its_index_and_id() {
        let bad_seq = event("b", 1).replace(r#""seq":1"#, r#""seq":0"#);
        let nd = format!(
            "{}\n{}\nnot json\n{}\n",
            event("a", 1),
            bad_seq,
            event("c", 1)
        );
        let r = parse(
            nd.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap_err();
        assert_eq!(r.items, 4);
        assert_eq!(r.errors.len(), 2);
        assert_eq!(
            (r.errors[0].index, r.errors[0].event_id.as_deref()),
            (1, Some("b"))
        );
        assert!(
            r.errors[0].error.starts_with("seq:"),
            "{}",
            r.errors[0].error
        );
        assert_eq!(
            (r.errors[1].index, r.errors[1].event_id.as_deref()),
            (2, None)
        );
        assert!(r.errors[1].error.contains("malformed JSON"));
    }

    #[test]
    fn a_malformed_array_names_the_element() {
        let arr = format!("[{}, {}, {{\"event_id\": ]", event("a", 1), event("b", 1));
        let r = parse(
            arr.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap_err();
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].index, 2);
        assert!(r.errors[0].error.contains("malformed JSON array"));
        let r = parse(b"   ", &DueRules::vietnam(), Some(&Units::official())).unwrap_err();
        assert!(r.errors[0].error.contains("empty body"));
    }

    #[test]
    fn reports_are_capped() {
        let nd = "x\n".repeat(MAX_REPORTED_ERRORS + 5);
        let r = parse(
            nd.as_bytes(),
            &DueRules::vietnam(),
            Some(&Units::official()),
        )
        .unwrap_err();
        assert_eq!(r.errors.len(), MAX_REPORTED_ERRORS);
        assert_eq!(r.more, 5);
    }

    #[test]
    fn codes_outside_the_official_list_refuse_the_request_naming_the_field() {
        let with = |province: &str, commune: &str| {
            event("a", 1)
                .replace("\"01\"", &format!("\"{province}\""))
                .replace("\"00004\"", &format!("\"{commune}\""))
        };
        let units = Units::official();
        for (province, commune, starts) in [
            ("03", "00004", "province_code: 03 is not a province code"),
            (
                "02",
                "00004",
                "province_code: 02 is a province code from before the 1 July 2025 merger",
            ),
            ("01", "99999", "commune_code: 99999 is not a commune code"),
            (
                "79",
                "00004",
                "commune_code: 00004 (Ba Đình) is a commune of province 01",
            ),
        ] {
            // With a valid event beside it: all or nothing.
            let body = format!("{}\n{}\n", event("ok", 1), with(province, commune));
            let r = parse(body.as_bytes(), &DueRules::vietnam(), Some(&units)).unwrap_err();
            assert_eq!(r.errors.len(), 1);
            assert_eq!(r.errors[0].index, 1);
            assert!(
                r.errors[0].error.starts_with(starts),
                "{}",
                r.errors[0].error
            );
            // With the check off (private codes), the same body passes.
            assert_eq!(
                parse(body.as_bytes(), &DueRules::vietnam(), None)
                    .unwrap()
                    .len(),
                2
            );
        }
    }
}
