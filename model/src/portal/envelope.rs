//! A portal record or step as ingest publishes it on the filing topic,
//! keyed by its `MaHoSo`, for the processor to fold (ARCHITECTURE.md,
//! "Portal records"). Plain JSON, readable by any Kafka client:
//!
//! ```json
//! {"dvcqg":"record","ingested_at_ms":1780275600000,"province_code":"01",
//!  "commune_code":"00004","record":{"filing_id":"H35-0001", ...}}
//! ```
//!
//! The `dvcqg` key comes first: that is how the processor tells an
//! envelope from a contract event without parsing it twice. The record is
//! what [`Record`] read, so nothing hoso never reads (the applicant,
//! the handler, free text) is on the topic.

use serde::{Deserialize, Serialize};

use super::record::Record;
use super::step::Step;

/// The bytes every envelope starts with.
pub const PREFIX: &[u8] = b"{\"dvcqg\":";

/// What an envelope carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Record,
    Step,
}

/// One published record or step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub dvcqg: Kind,
    /// When ingest took it (UTC ms): with the record's stages, the order
    /// that picks the record in force.
    pub ingested_at_ms: i64,
    /// The GSO codes its unit maps to (two and five digits).
    pub province_code: String,
    pub commune_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
}

/// An envelope the processor cannot fold.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadEnvelope(pub String);

impl Envelope {
    pub fn record(record: Record, place: (u8, u32), ingested_at_ms: i64) -> Envelope {
        Envelope {
            dvcqg: Kind::Record,
            ingested_at_ms,
            province_code: crate::event::province_code(place.0),
            commune_code: crate::event::commune_code(place.1),
            record: Some(record),
            step: None,
        }
    }

    pub fn step(step: Step, place: (u8, u32), ingested_at_ms: i64) -> Envelope {
        Envelope {
            dvcqg: Kind::Step,
            ingested_at_ms,
            province_code: crate::event::province_code(place.0),
            commune_code: crate::event::commune_code(place.1),
            record: None,
            step: Some(step),
        }
    }

    /// Whether `payload` is an envelope (else it is a contract event).
    pub fn is_envelope(payload: &[u8]) -> bool {
        payload.starts_with(PREFIX)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serialises")
    }

    pub fn filing_id(&self) -> &str {
        match (&self.record, &self.step) {
            (Some(r), _) => &r.filing_id,
            (None, Some(s)) => &s.filing_id,
            (None, None) => "",
        }
    }

    /// Reads and checks an envelope off the topic.
    pub fn parse(payload: &[u8]) -> Result<Envelope, BadEnvelope> {
        let e: Envelope = serde_json::from_slice(payload)
            .map_err(|e| BadEnvelope(format!("not a portal envelope: {e}")))?;
        e.place()?;
        match (&e.dvcqg, &e.record, &e.step) {
            (Kind::Record, Some(_), None) | (Kind::Step, None, Some(_)) => Ok(e),
            _ => Err(BadEnvelope(
                "a record envelope holds `record`, a step envelope `step`".into(),
            )),
        }
    }

    /// The province and commune codes, as numbers.
    pub fn place(&self) -> Result<(u8, u32), BadEnvelope> {
        let digits = |s: &str, n: usize, field: &str| {
            if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(s.parse::<u32>().expect("digits"))
            } else {
                Err(BadEnvelope(format!("{field}: {s:?} is not {n} digits")))
            }
        };
        Ok((
            digits(&self.province_code, 2, "province_code")? as u8,
            digits(&self.commune_code, 5, "commune_code")?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_round_trips_and_says_what_it_is_first() {
        let r = Record::parse(
            &json!({"MaHoSo": "A-1", "TrangThaiHoSo": 1, "NgayNopHoSo": "20260601080000",
                    "ChuHoSo": "Nguyễn Văn A"}),
            "data[0]",
        )
        .unwrap();
        let e = Envelope::record(r, (1, 4), 42);
        let bytes = e.to_json();
        assert!(Envelope::is_envelope(&bytes));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            !text.contains("Nguyễn"),
            "personal data never published: {text}"
        );
        assert_eq!(Envelope::parse(&bytes).unwrap(), e);
        assert_eq!(e.place().unwrap(), (1, 4));
        assert_eq!(e.filing_id(), "A-1");
    }

    #[test]
    fn a_bad_envelope_is_refused() {
        assert!(Envelope::parse(br#"{"dvcqg":"record"}"#).is_err());
        let bad = br#"{"dvcqg":"step","ingested_at_ms":1,"province_code":"1","commune_code":"00004","step":{"filing_id":"A","at":1,"department":null,"state":null,"started_at":null,"due_at":null}}"#;
        let e = Envelope::parse(bad).unwrap_err();
        assert!(e.0.contains("province_code"), "{e}");
    }
}
