//! A filing's contract events, derived from its record in force and its
//! processing steps. The processor folds them into a fresh
//! [`FilingState`](crate::FilingState) whenever either changes, so the
//! filing's row is a function of (record in force, set of steps), and
//! those of the set of messages (ARCHITECTURE.md, "Portal records").
//!
//! The record says its dates, not its history, so `seq` is each event's
//! place in time order, ties broken by the lifecycle's order
//! ([`rank`]). What a record has no date for (the fee paid online, an
//! apology letter with a new date, a withdrawal, a wait for a fee) is put
//! at the latest date the record knows before its end; the figures never
//! read those times (only the pause rule reads event times, and it reads
//! the dated ones). `docs/sources.md` tabulates the mapping.

use std::borrow::Cow;

use super::record::Record;
use crate::catalogue::DueRules;
use crate::event::{Event, EventType};

/// Where the filing is held: the record's unit, mapped at ingest to GSO
/// codes.
#[derive(Clone, Copy)]
pub struct Place {
    pub province: u8,
    pub commune: u32,
}

/// The lifecycle's order of events that happen at one instant.
fn rank(kind: EventType) -> u8 {
    match kind {
        EventType::Submitted => 0,
        EventType::NotReceived => 1,
        EventType::Received => 2,
        EventType::Processing => 3,
        EventType::SupplementRequested => 4,
        EventType::SupplementReceived => 5,
        EventType::FeeRequested => 6,
        EventType::FeePaid => 7,
        EventType::Extended => 8,
        EventType::Withdrawn => 9,
        EventType::Stopped | EventType::Resolved => 10,
        EventType::Returned => 11,
    }
}

/// The portal's status code of an event type (the contract's table).
fn code(kind: EventType) -> Option<u8> {
    Some(match kind {
        EventType::Submitted => 1,
        EventType::Received => 2,
        EventType::NotReceived => 3,
        EventType::Processing => 4,
        EventType::SupplementRequested => 5,
        EventType::FeeRequested => 6,
        EventType::Withdrawn => 7,
        EventType::Stopped => 8,
        EventType::Resolved => 9,
        EventType::Returned => 10,
        EventType::SupplementReceived | EventType::FeePaid | EventType::Extended => return None,
    })
}

/// The event a status code stands for.
fn of_code(status: u8) -> Option<EventType> {
    EventType::ALL
        .into_iter()
        .find(|k| code(*k) == Some(status))
}

/// Whether a filing whose latest event is `kind` shows `status`: its code,
/// or, for the steps the portal has no code for (documents back, fee paid,
/// new date promised), "being processed" (4).
fn shows(kind: EventType, status: u8) -> bool {
    match code(kind) {
        Some(c) => c == status,
        None => status == 4,
    }
}

#[derive(Clone, Copy)]
struct Draft {
    at: i64,
    kind: EventType,
    due_at: Option<i64>,
    online_payment: Option<bool>,
}

impl Draft {
    fn new(kind: EventType, at: i64) -> Draft {
        Draft {
            at,
            kind,
            due_at: None,
            online_payment: None,
        }
    }
}

/// The events of the filing whose record in force is `record` and whose
/// processing steps were taken at `steps` (any order, repeats allowed).
/// A record taken by [`Record::parse`] always derives (its status's dates
/// were checked there).
pub fn events(
    record: &Record,
    place: Place,
    steps: &[i64],
    dues: Option<&DueRules>,
) -> Vec<Event<'static>> {
    let status = record.status.unwrap_or(2);
    let mut dated: Vec<Draft> = Vec::with_capacity(8);
    let received = record.received_at;
    if let Some(s) = record.submitted_at
        && received.is_none_or(|r| s < r)
    {
        dated.push(Draft::new(EventType::Submitted, s));
    }
    if status == 3
        && let Some(t) = record.refused_at
    {
        dated.push(Draft::new(EventType::NotReceived, t));
    }
    let mut end: Option<Draft> = None;
    let mut returned: Option<Draft> = None;
    if let Some(r) = received {
        let due = record.due_at.or_else(|| {
            let code = record.procedure_code.as_deref().unwrap_or("");
            dues.and_then(|d| d.due_at(code, r))
        });
        dated.push(Draft {
            due_at: due,
            ..Draft::new(EventType::Received, r)
        });
        let mut asked: Vec<_> = record
            .supplements
            .iter()
            .filter_map(|s| s.requested_at.map(|q| (q, s.received_at)))
            .collect();
        asked.sort_unstable();
        for (q, back) in asked {
            dated.push(Draft::new(EventType::SupplementRequested, q));
            if let Some(b) = back {
                dated.push(Draft::new(EventType::SupplementReceived, b));
            }
        }
        end = match status {
            8 => record
                .ended_at
                .or(record.refused_at)
                .map(|t| Draft::new(EventType::Stopped, t)),
            9 | 10 => record.ended_at.map(|t| Draft::new(EventType::Resolved, t)),
            _ => None,
        };
        if status == 10 {
            returned = record
                .returned_at
                .map(|t| Draft::new(EventType::Returned, t));
        }
        // Steps while the filing is in the center's hands: after receipt,
        // before its end (a step logged after the end would otherwise
        // outrank the status the record gives).
        let until = end.or(returned).map_or(i64::MAX, |d| d.at);
        let mut steps: Vec<i64> = steps
            .iter()
            .copied()
            .filter(|t| *t > r && *t < until)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        dated.extend(
            steps
                .into_iter()
                .map(|t| Draft::new(EventType::Processing, t)),
        );
    }
    dated.sort_by_key(|d| (d.at, rank(d.kind)));

    // The undated, at the latest date known before the end, in the
    // lifecycle's order.
    let last = dated.last().map_or(0, |d| d.at);
    let mut undated = Vec::new();
    if received.is_some() {
        if let Some(paid) = record.paid_online {
            undated.push(Draft {
                online_payment: Some(paid),
                ..Draft::new(EventType::FeePaid, last)
            });
        }
        for s in &record.supplements {
            if let (None, Some(due)) = (s.requested_at, s.due_after) {
                undated.push(Draft {
                    due_at: Some(due),
                    ..Draft::new(EventType::Extended, last)
                });
            }
        }
    }
    let mut all = dated;
    all.extend(undated);
    all.extend(end);
    all.extend(returned);
    // A status no dated event shows (processing under way, a wait for
    // documents or for a fee, a withdrawal) is the filing's latest event.
    // The others (1-3, 8-10) are their dated events, and a step after one
    // of those is newer news than the record.
    let pending = record
        .supplements
        .iter()
        .any(|s| s.requested_at.is_some() && s.received_at.is_none());
    let undated_status = match status {
        4 | 6 | 7 => true,
        5 => !pending,
        _ => false,
    };
    if let Some(kind) = of_code(status)
        && undated_status
        && received.is_some()
        && !all.last().is_some_and(|d| shows(d.kind, status))
    {
        let at = all.last().map_or(last, |d| d.at);
        all.push(Draft::new(kind, at));
    }

    let computed = record.due_at.is_none();
    all.iter()
        .enumerate()
        .map(|(i, d)| {
            let seq = i as u32 + 1;
            let is_received = d.kind == EventType::Received;
            Event {
                event_id: Cow::Owned(format!("dvcqg/{}/{seq}/{}", record.filing_id, d.kind)),
                filing_id: Cow::Owned(record.filing_id.clone()),
                seq,
                kind: d.kind,
                occurred_at_ms: d.at,
                province: place.province,
                commune: place.commune,
                procedure_code: record
                    .procedure_code
                    .clone()
                    .filter(|_| is_received)
                    .map(Cow::Owned),
                channel: record.channel.filter(|_| is_received),
                due_at_ms: d.due_at,
                due_at_computed: is_received && computed && d.due_at.is_some(),
                eid_level2: record.eid_level2.filter(|_| is_received),
                digitized: record.digitized.filter(|_| is_received),
                fee_required: is_received.then(|| fee_required(record)).flatten(),
                online_payment: d.online_payment,
            }
        })
        .collect()
}

/// Whether the filing charges a fee: a listed fee above 0 đồng (or of no
/// stated amount). An empty list says it is free; no list, unknown. The
/// portal leaves filings whose fees are all 0 out of the online-payment
/// share (indicator 3.6).
fn fee_required(record: &Record) -> Option<bool> {
    record
        .fees_listed
        .then(|| record.fees.iter().any(|f| f.amount.is_none_or(|a| a > 0.0)))
}

#[cfg(test)]
mod tests;
