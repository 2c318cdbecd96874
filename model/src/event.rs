//! The filing event of the contract, after validation.

use std::borrow::Cow;
use std::fmt;

/// The step of a filing's life an event records (contract: "Event types").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EventType {
    Submitted = 1,
    Received = 2,
    NotReceived = 3,
    Processing = 4,
    SupplementRequested = 5,
    SupplementReceived = 6,
    FeeRequested = 7,
    FeePaid = 8,
    Withdrawn = 9,
    Stopped = 10,
    Resolved = 11,
    Returned = 12,
    Extended = 13,
}

impl EventType {
    /// Every type, in the contract's order.
    pub const ALL: [EventType; 13] = [
        EventType::Submitted,
        EventType::Received,
        EventType::NotReceived,
        EventType::Processing,
        EventType::SupplementRequested,
        EventType::SupplementReceived,
        EventType::FeeRequested,
        EventType::FeePaid,
        EventType::Withdrawn,
        EventType::Stopped,
        EventType::Resolved,
        EventType::Returned,
        EventType::Extended,
    ];

    /// The name used on the wire and in the `status` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Submitted => "submitted",
            EventType::Received => "received",
            EventType::NotReceived => "not_received",
            EventType::Processing => "processing",
            EventType::SupplementRequested => "supplement_requested",
            EventType::SupplementReceived => "supplement_received",
            EventType::FeeRequested => "fee_requested",
            EventType::FeePaid => "fee_paid",
            EventType::Withdrawn => "withdrawn",
            EventType::Stopped => "stopped",
            EventType::Resolved => "resolved",
            EventType::Returned => "returned",
            EventType::Extended => "extended",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Some(match s {
            "submitted" => EventType::Submitted,
            "received" => EventType::Received,
            "not_received" => EventType::NotReceived,
            "processing" => EventType::Processing,
            "supplement_requested" => EventType::SupplementRequested,
            "supplement_received" => EventType::SupplementReceived,
            "fee_requested" => EventType::FeeRequested,
            "fee_paid" => EventType::FeePaid,
            "withdrawn" => EventType::Withdrawn,
            "stopped" => EventType::Stopped,
            "resolved" => EventType::Resolved,
            "returned" => EventType::Returned,
            "extended" => EventType::Extended,
            _ => return None,
        })
    }

    /// Inverse of `as u8`, for compact state.
    pub const fn from_u8(v: u8) -> Option<EventType> {
        if v >= 1 && v <= 13 {
            Some(EventType::ALL[v as usize - 1])
        } else {
            None
        }
    }
}

#[cfg(test)]
#[test]
fn names_round_trip() {
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
        assert_eq!(EventType::from_u8(t as u8), Some(t));
    }
    assert_eq!(EventType::parse("Received"), None);
    assert_eq!(EventType::from_u8(0), None);
    for c in [Channel::InPerson, Channel::Online, Channel::Postal] {
        assert_eq!(Channel::parse(c.as_str()), Some(c));
        assert_eq!(Channel::from_u8(c as u8), Some(c));
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a filing reached the center.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Channel {
    InPerson = 1,
    Online = 2,
    Postal = 3,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::InPerson => "in_person",
            Channel::Online => "online",
            Channel::Postal => "postal",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "in_person" => Some(Channel::InPerson),
            "online" => Some(Channel::Online),
            "postal" => Some(Channel::Postal),
            _ => None,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Channel> {
        match v {
            1 => Some(Channel::InPerson),
            2 => Some(Channel::Online),
            3 => Some(Channel::Postal),
            _ => None,
        }
    }
}

/// A validated filing event. Strings borrow from the message they were
/// decoded from whenever JSON escapes allow it, so decoding allocates
/// nothing on the common path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Unique per event; a repeated one is a duplicate.
    pub event_id: Cow<'a, str>,
    /// The filing (mã hồ sơ); also the Kafka message key.
    pub filing_id: Cow<'a, str>,
    /// Position in the filing's history; (`filing_id`, `seq`) identifies the event.
    pub seq: u32,
    pub kind: EventType,
    /// Event time, UTC milliseconds.
    pub occurred_at_ms: i64,
    /// NSO province code, 0..=99 (two digits on the wire).
    pub province: u8,
    /// NSO commune code, 0..=99999 (five digits on the wire).
    pub commune: u32,
    /// Required on `received`.
    pub procedure_code: Option<Cow<'a, str>>,
    /// Required on `received`.
    pub channel: Option<Channel>,
    /// Appointment date, UTC milliseconds; required on `received` and `extended`.
    pub due_at_ms: Option<i64>,
    /// `due_at` was missing on a `received` event and hoso computed it from
    /// the procedure catalogue and the working-day calendar.
    pub due_at_computed: bool,
    pub eid_level2: Option<bool>,
    pub digitized: Option<bool>,
    pub fee_required: Option<bool>,
    pub online_payment: Option<bool>,
}

/// Formats a province code the way the contract writes it (two digits).
pub fn province_code(code: u8) -> String {
    format!("{code:02}")
}

/// Formats a commune code the way the contract writes it (five digits).
pub fn commune_code(code: u32) -> String {
    format!("{code:05}")
}
