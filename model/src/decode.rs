//! From the bytes of one JSON object to a validated [`Event`].
//!
//! One pass over the bytes with a hand-written serde visitor: known fields are
//! read into their types (a wrong type names the field), unknown fields are
//! skipped (forward compatibility), strings borrow from the input. The
//! contract's rules that span fields (what `received` must carry) are checked
//! after the pass. Ingest and the processor share this one function, so what
//! ingest accepts the processor can always apply.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::catalogue::DueRules;
use crate::event::{Channel, Event, EventType};
use crate::time::parse_rfc3339_ms;

mod scan;

/// Why an event was refused. The message names the field and the reason,
/// in words a producer's developer can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidEvent {
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    /// `field: reason`, or the JSON error when the bytes are not JSON.
    pub message: String,
}

impl InvalidEvent {
    /// The dead-letter reason code: `not_json` for bytes that are not JSON
    /// (or not UTF-8), `invalid_event` for JSON that breaks the contract.
    pub fn reason(&self) -> &'static str {
        if self.field.is_none() && self.message.starts_with(MALFORMED) {
            "not_json"
        } else {
            "invalid_event"
        }
    }

    fn field(field: &'static str, reason: impl fmt::Display) -> Self {
        InvalidEvent {
            field: Some(field),
            message: format!("{field}: {reason}"),
        }
    }
}

/// How every "these bytes are not JSON" message starts.
const MALFORMED: &str = "malformed JSON:";

/// Decodes and validates one event. Never panics; every refusal is an
/// [`InvalidEvent`]. A `received` event must carry `due_at`.
pub fn decode_event(bytes: &[u8]) -> Result<Event<'_>, InvalidEvent> {
    decode_event_with(bytes, None)
}

/// [`decode_event`], except that a `received` event without `due_at` whose
/// procedure `dues` knows gets the due date the catalogue and the calendar
/// give, marked `due_at_computed`. Ingest and the processor decode with the
/// same rules.
pub fn decode_event_with<'a>(
    bytes: &'a [u8],
    dues: Option<&DueRules>,
) -> Result<Event<'a>, InvalidEvent> {
    // One UTF-8 check of the whole message is cheaper than serde_json's
    // check of every string in it (`from_str` trusts its input). SIMD
    // checks it; std's check says where it breaks.
    let text = match simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes)) {
        Ok(t) => t,
        Err(e) => {
            return Err(InvalidEvent {
                field: None,
                message: format!("{MALFORMED} not UTF-8 ({e})"),
            });
        }
    };
    let raw = match scan::scan(text) {
        Some(raw) => raw,
        None => raw_by_serde(text)?,
    };
    raw.validate(dues)
}

/// The fields of any JSON object, the refusal of anything else: the path
/// for what [`scan`] leaves (escapes, nested values, errors).
fn raw_by_serde(text: &str) -> Result<Raw<'_>, InvalidEvent> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = match de.deserialize_map(RawVisitor) {
        Ok(raw) => raw,
        Err(e) => return Err(json_error(text.as_bytes(), e)),
    };
    if let Err(e) = de.end() {
        return Err(json_error(text.as_bytes(), e));
    }
    Ok(raw)
}

/// [`decode_event`] without the fast path: what the fast path must equal.
#[cfg(test)]
fn decode_event_by_serde(bytes: &[u8]) -> Result<Event<'_>, InvalidEvent> {
    match std::str::from_utf8(bytes) {
        Ok(text) => raw_by_serde(text)?.validate(None),
        Err(_) => decode_event(bytes),
    }
}

fn json_error(bytes: &[u8], e: serde_json::Error) -> InvalidEvent {
    // A syntax error inside a field's value surfaces as that field's error;
    // on this (rare) path, check the bytes alone so broken JSON is called
    // broken JSON.
    if let Err(syntax) = serde_json::from_slice::<IgnoredAny>(bytes)
        && (syntax.is_syntax() || syntax.is_eof())
    {
        return InvalidEvent {
            field: None,
            message: format!("{MALFORMED} {syntax}"),
        };
    }
    // A field-level error carries its field name as the message prefix
    // (see `field`); keep it so the caller can still see the field.
    let text = e.to_string();
    let field = FIELDS.iter().copied().find(|f| {
        text.strip_prefix(f)
            .is_some_and(|rest| rest.starts_with(':'))
    });
    let message = if e.is_syntax() || e.is_eof() {
        format!("{MALFORMED} {text}")
    } else {
        text
    };
    InvalidEvent { field, message }
}

/// The contract's fields, in the contract's order (the columns a CSV import
/// may have).
pub const FIELDS: [&str; 14] = [
    "event_id",
    "filing_id",
    "seq",
    "type",
    "occurred_at",
    "province_code",
    "commune_code",
    "procedure_code",
    "channel",
    "due_at",
    "eid_level2",
    "digitized",
    "fee_required",
    "online_payment",
];

/// The fields as read, before cross-field rules.
#[derive(Default)]
struct Raw<'a> {
    event_id: Option<Cow<'a, str>>,
    filing_id: Option<Cow<'a, str>>,
    seq: Option<u64>,
    kind: Option<Cow<'a, str>>,
    occurred_at: Option<Cow<'a, str>>,
    province_code: Option<Cow<'a, str>>,
    commune_code: Option<Cow<'a, str>>,
    procedure_code: Option<Cow<'a, str>>,
    channel: Option<Cow<'a, str>>,
    due_at: Option<Cow<'a, str>>,
    eid_level2: Option<bool>,
    digitized: Option<bool>,
    fee_required: Option<bool>,
    online_payment: Option<bool>,
}

impl<'a> Raw<'a> {
    fn validate(self, dues: Option<&DueRules>) -> Result<Event<'a>, InvalidEvent> {
        let event_id = require(self.event_id, "event_id")?;
        check_len(&event_id, "event_id", 128)?;
        let filing_id = require(self.filing_id, "filing_id")?;
        check_len(&filing_id, "filing_id", 64)?;
        let seq = match self.seq {
            None => return Err(InvalidEvent::field("seq", "is missing")),
            Some(0) => return Err(InvalidEvent::field("seq", "must be >= 1, got 0")),
            Some(s) if s > u64::from(u32::MAX) => {
                return Err(InvalidEvent::field(
                    "seq",
                    format!("must be <= {}, got {s}", u32::MAX),
                ));
            }
            Some(s) => s as u32,
        };
        let kind_text = require(self.kind, "type")?;
        let kind = EventType::parse(&kind_text).ok_or_else(|| {
            InvalidEvent::field(
                "type",
                format!(
                    "unknown event type {kind_text:?}; expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?;
        let occurred_at_ms = timestamp(require(self.occurred_at, "occurred_at")?, "occurred_at")?;
        let province = digits(
            require(self.province_code, "province_code")?,
            "province_code",
            2,
        )? as u8;
        let commune = digits(
            require(self.commune_code, "commune_code")?,
            "commune_code",
            5,
        )?;
        let channel = match self.channel {
            None => None,
            Some(c) => Some(Channel::parse(&c).ok_or_else(|| {
                InvalidEvent::field(
                    "channel",
                    format!("must be one of in_person, online, postal; got {c:?}"),
                )
            })?),
        };
        let mut due_at_ms = match self.due_at {
            None => None,
            Some(d) => Some(timestamp(d, "due_at")?),
        };
        if let Some(p) = &self.procedure_code {
            check_len(p, "procedure_code", 64)?;
        }
        let mut due_at_computed = false;
        match kind {
            EventType::Received => {
                let why = "is required on a `received` event (it carries the filing's dimensions)";
                if self.procedure_code.is_none() {
                    return Err(InvalidEvent::field("procedure_code", why));
                }
                if channel.is_none() {
                    return Err(InvalidEvent::field("channel", why));
                }
                if due_at_ms.is_none() {
                    let code = self.procedure_code.as_deref().unwrap_or_default();
                    match dues {
                        None => return Err(InvalidEvent::field("due_at", why)),
                        Some(d) => match d.due_at(code, occurred_at_ms) {
                            Some(due) => {
                                due_at_ms = Some(due);
                                due_at_computed = true;
                            }
                            None => {
                                return Err(InvalidEvent::field(
                                    "due_at",
                                    format!(
                                        "is required on a `received` event whose procedure is \
                                         not in the procedure catalogue ({code:?} is not)"
                                    ),
                                ));
                            }
                        },
                    }
                }
            }
            EventType::Extended if due_at_ms.is_none() => {
                return Err(InvalidEvent::field(
                    "due_at",
                    "is required on an `extended` event (the new appointment date)",
                ));
            }
            _ => {}
        }
        Ok(Event {
            event_id,
            filing_id,
            seq,
            kind,
            occurred_at_ms,
            province,
            commune,
            procedure_code: self.procedure_code,
            channel,
            due_at_ms,
            due_at_computed,
            eid_level2: self.eid_level2,
            digitized: self.digitized,
            fee_required: self.fee_required,
            online_payment: self.online_payment,
        })
    }
}

fn require<T>(v: Option<T>, field: &'static str) -> Result<T, InvalidEvent> {
    v.ok_or_else(|| InvalidEvent::field(field, "is missing"))
}

fn check_len(s: &str, field: &'static str, max: usize) -> Result<(), InvalidEvent> {
    // Bytes >= characters: most values are short enough to skip counting.
    let n = if s.len() <= max {
        s.len().min(1)
    } else {
        s.chars().count()
    };
    if n == 0 {
        Err(InvalidEvent::field(field, "must not be empty"))
    } else if n > max {
        Err(InvalidEvent::field(
            field,
            format!("must be at most {max} characters, got {n}"),
        ))
    } else {
        Ok(())
    }
}

fn digits(s: Cow<'_, str>, field: &'static str, n: usize) -> Result<u32, InvalidEvent> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidEvent::field(
            field,
            format!("must be exactly {n} digits, got {s:?}"),
        ));
    }
    Ok(s.bytes().fold(0u32, |v, b| v * 10 + u32::from(b - b'0')))
}

fn timestamp(s: Cow<'_, str>, field: &'static str) -> Result<i64, InvalidEvent> {
    parse_rfc3339_ms(&s).map_err(|why| InvalidEvent::field(field, format!("{s:?} {why}")))
}

/// The keys the visitor knows; everything else is skipped.
enum Key {
    EventId,
    FilingId,
    Seq,
    Type,
    OccurredAt,
    ProvinceCode,
    CommuneCode,
    ProcedureCode,
    Channel,
    DueAt,
    EidLevel2,
    Digitized,
    FeeRequired,
    OnlinePayment,
    Other,
}

impl Key {
    fn of(s: &str) -> Key {
        match s {
            "event_id" => Key::EventId,
            "filing_id" => Key::FilingId,
            "seq" => Key::Seq,
            "type" => Key::Type,
            "occurred_at" => Key::OccurredAt,
            "province_code" => Key::ProvinceCode,
            "commune_code" => Key::CommuneCode,
            "procedure_code" => Key::ProcedureCode,
            "channel" => Key::Channel,
            "due_at" => Key::DueAt,
            "eid_level2" => Key::EidLevel2,
            "digitized" => Key::Digitized,
            "fee_required" => Key::FeeRequired,
            "online_payment" => Key::OnlinePayment,
            _ => Key::Other,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::of(v))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// A JSON string that borrows from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// A JSON integer >= 0 (the range check is the validator's, with a better message).
struct Count(u64);

impl<'de> de::Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer >= 1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                Err(E::custom(format_args!("must be >= 1, got {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format_args!("must be an integer, got {v}")))
            }
        }
        d.deserialize_u64(CountVisitor)
    }
}

/// An optional boolean: JSON `null` counts as absent.
struct Flag(Option<bool>);

impl<'de> de::Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_option(FlagVisitor)
    }
}

/// Wraps a field's deserialisation so its error names the field.
fn field<'de, T, A>(map: &mut A, name: &'static str, slot_filled: bool) -> Result<T, A::Error>
where
    T: de::Deserialize<'de>,
    A: MapAccess<'de>,
{
    if slot_filled {
        return Err(de::Error::custom(format_args!(
            "{name}: appears twice in the object"
        )));
    }
    map.next_value::<T>()
        .map_err(|e| de::Error::custom(format_args!("{name}: {}", strip_position(&e.to_string()))))
}

/// serde_json appends " at line L column C" to inner errors only when it
/// surfaces them; strip a copy if one is already there so it is not doubled.
fn strip_position(s: &str) -> &str {
    match s.rfind(" at line ") {
        Some(i) => &s[..i],
        None => s,
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (one filing event)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut r = Raw::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::EventId => {
                    r.event_id =
                        Some(field::<Text, _>(&mut map, "event_id", r.event_id.is_some())?.0)
                }
                Key::FilingId => {
                    r.filing_id =
                        Some(field::<Text, _>(&mut map, "filing_id", r.filing_id.is_some())?.0)
                }
                Key::Seq => r.seq = Some(field::<Count, _>(&mut map, "seq", r.seq.is_some())?.0),
                Key::Type => r.kind = Some(field::<Text, _>(&mut map, "type", r.kind.is_some())?.0),
                Key::OccurredAt => {
                    r.occurred_at =
                        Some(field::<Text, _>(&mut map, "occurred_at", r.occurred_at.is_some())?.0)
                }
                Key::ProvinceCode => {
                    r.province_code = Some(
                        field::<Text, _>(&mut map, "province_code", r.province_code.is_some())?.0,
                    )
                }
                Key::CommuneCode => {
                    r.commune_code = Some(
                        field::<Text, _>(&mut map, "commune_code", r.commune_code.is_some())?.0,
                    )
                }
                Key::ProcedureCode => {
                    r.procedure_code = field::<Option<Text>, _>(
                        &mut map,
                        "procedure_code",
                        r.procedure_code.is_some(),
                    )?
                    .map(|t| t.0)
                }
                Key::Channel => {
                    r.channel = field::<Option<Text>, _>(&mut map, "channel", r.channel.is_some())?
                        .map(|t| t.0)
                }
                Key::DueAt => {
                    r.due_at = field::<Option<Text>, _>(&mut map, "due_at", r.due_at.is_some())?
                        .map(|t| t.0)
                }
                Key::EidLevel2 => {
                    r.eid_level2 =
                        field::<Flag, _>(&mut map, "eid_level2", r.eid_level2.is_some())?.0
                }
                Key::Digitized => {
                    r.digitized = field::<Flag, _>(&mut map, "digitized", r.digitized.is_some())?.0
                }
                Key::FeeRequired => {
                    r.fee_required =
                        field::<Flag, _>(&mut map, "fee_required", r.fee_required.is_some())?.0
                }
                Key::OnlinePayment => {
                    r.online_payment =
                        field::<Flag, _>(&mut map, "online_payment", r.online_payment.is_some())?.0
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_id":"e1","filing_id":"F1","seq":1,"type":"received",
        "occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004",
        "procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00",
        "eid_level2":true,"digitized":null,"some_future_field":{"nested":[1,2]}}"#;

    #[test]
    fn decodes_a_full_received_event() {
        let e = decode_event(GOOD.as_bytes()).unwrap();
        assert_eq!(e.event_id, "e1");
        assert!(
            matches!(e.event_id, Cow::Borrowed(_)),
            "plain strings borrow"
        );
        assert_eq!(e.seq, 1);
        assert_eq!(e.kind, EventType::Received);
        assert_eq!(e.province, 1);
        assert_eq!(e.commune, 4);
        assert_eq!(e.channel, Some(Channel::Online));
        assert_eq!(e.eid_level2, Some(true));
        assert_eq!(e.digitized, None, "null counts as absent");
        assert_eq!(e.occurred_at_ms, 1_751_331_600_000);
    }

    #[test]
    fn a_missing_due_date_comes_from_the_catalogue_or_is_refused() {
        let rules = DueRules::vietnam();
        let without = GOOD.replace(r#""due_at":"2025-07-03T17:00:00+07:00","#, "");
        let e = decode_event_with(without.as_bytes(), Some(&rules)).unwrap();
        // 1.001193 is same-day; 08:00 on Tuesday 1/7/2025 is before 15:00.
        assert_eq!(
            e.due_at_ms,
            Some(parse_rfc3339_ms("2025-07-01T17:00:00+07:00").unwrap())
        );
        assert!(e.due_at_computed);
        // A due date sent is kept as sent.
        let sent = decode_event_with(GOOD.as_bytes(), Some(&rules)).unwrap();
        assert!(!sent.due_at_computed);
        // Without rules, or for a procedure the catalogue lacks, it is required.
        let err = decode_event(without.as_bytes()).unwrap_err();
        assert_eq!(err.field, Some("due_at"));
        let unknown = without.replace("1.001193", "9.999999");
        let err = decode_event_with(unknown.as_bytes(), Some(&rules)).unwrap_err();
        assert_eq!(
            err.message,
            "due_at: is required on a `received` event whose procedure is not in the \
             procedure catalogue (\"9.999999\" is not)"
        );
    }

    #[test]
    fn escaped_strings_are_owned_and_correct() {
        let e = decode_event(
            br#"{"event_id":"e\u0031","filing_id":"F\"1","seq":2,"type":"processing","occurred_at":"2025-07-01T08:00:00Z","province_code":"01","commune_code":"00004"}"#,
        )
        .unwrap();
        assert_eq!(e.event_id, "e1");
        assert_eq!(e.filing_id, "F\"1");
    }

    /// Input -> the field named and a fragment of the reason.
    #[test]
    fn refusals_name_the_field_and_the_reason() {
        let base = r#""event_id":"e1","filing_id":"F1","seq":1,"type":"processing","occurred_at":"2025-07-01T08:00:00Z","province_code":"01","commune_code":"00004""#;
        let cases: Vec<(String, Option<&str>, &str)> = vec![
            (r#"{"event_id":"e1""#.into(), None, "malformed JSON"),
            ("[1,2]".into(), None, "expected a JSON object"),
            (format!("{{{base}}} trailing"), None, "trailing"),
            (
                base.replace(r#""seq":1,"#, "").pipe_obj(),
                Some("seq"),
                "missing",
            ),
            (
                base.replace(r#""seq":1"#, r#""seq":"1""#).pipe_obj(),
                Some("seq"),
                "invalid type",
            ),
            (
                base.replace(r#""seq":1"#, r#""seq":0"#).pipe_obj(),
                Some("seq"),
                ">= 1",
            ),
            (
                base.replace(r#""seq":1"#, r#""seq":-3"#).pipe_obj(),
                Some("seq"),
                ">= 1",
            ),
            (
                base.replace(r#""seq":1"#, r#""seq":1.5"#).pipe_obj(),
                Some("seq"),
                "integer",
            ),
            (
                base.replace(r#""seq":1"#, r#""seq":99999999999"#)
                    .pipe_obj(),
                Some("seq"),
                "<= 4294967295",
            ),
            (
                base.replace("processing", "teleported").pipe_obj(),
                Some("type"),
                "unknown event type",
            ),
            (
                base.replace("2025-07-01T08:00:00Z", "2025-07-01 08:00")
                    .pipe_obj(),
                Some("occurred_at"),
                "RFC 3339",
            ),
            (
                base.replace("2025-07-01T08:00:00Z", "2025-07-01T08:00:00")
                    .pipe_obj(),
                Some("occurred_at"),
                "offset",
            ),
            (
                base.replace(r#""01""#, r#""1""#).pipe_obj(),
                Some("province_code"),
                "2 digits",
            ),
            (
                base.replace(r#""01""#, "1").pipe_obj(),
                Some("province_code"),
                "invalid type",
            ),
            (
                base.replace("00004", "4").pipe_obj(),
                Some("commune_code"),
                "5 digits",
            ),
            (
                base.replace(r#""e1""#, r#""""#).pipe_obj(),
                Some("event_id"),
                "empty",
            ),
            (
                base.replace(r#""F1""#, &format!("{:?}", "x".repeat(65)))
                    .pipe_obj(),
                Some("filing_id"),
                "at most 64",
            ),
            (format!("{{{base},\"seq\":2}}"), Some("seq"), "twice"),
            (
                format!("{{{base},\"eid_level2\":\"yes\"}}"),
                Some("eid_level2"),
                "invalid type",
            ),
            (
                format!("{{{base},\"channel\":\"fax\"}}"),
                Some("channel"),
                "in_person, online, postal",
            ),
            (
                base.replace("processing", "received").pipe_obj(),
                Some("procedure_code"),
                "required on a `received`",
            ),
            (
                format!(
                    "{{{},\"procedure_code\":\"1.001193\"}}",
                    base.replace("processing", "received")
                ),
                Some("channel"),
                "required",
            ),
            (
                format!(
                    "{{{},\"procedure_code\":\"1.001193\",\"channel\":\"online\"}}",
                    base.replace("processing", "received")
                ),
                Some("due_at"),
                "required",
            ),
            (
                base.replace("processing", "extended").pipe_obj(),
                Some("due_at"),
                "required on an `extended`",
            ),
            (
                format!("{{{base},\"due_at\":\"soon\"}}"),
                Some("due_at"),
                "RFC 3339",
            ),
        ];
        for (input, field, reason) in cases {
            let err = decode_event(input.as_bytes()).expect_err(&input);
            assert_eq!(err.field, field, "{input} -> {err}");
            assert!(
                err.message.contains(reason),
                "{input} -> {err} (wanted {reason:?})"
            );
            if let Some(f) = field {
                assert!(
                    err.message.starts_with(f),
                    "{err} should start with the field"
                );
            }
        }
    }

    trait PipeObj {
        fn pipe_obj(self) -> String;
    }
    impl<S: AsRef<str>> PipeObj for S {
        fn pipe_obj(self) -> String {
            format!("{{{}}}", self.as_ref())
        }
    }
}
