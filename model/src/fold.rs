//! The filing lifecycle: events in, filing state out (event sourcing).
//!
//! [`FilingState::apply`] folds one event into a filing. The result depends
//! only on the *set* of a filing's events, never on their arrival order:
//! every derived value is either an order-free aggregate ("first `resolved`
//! by `seq`" is a minimum over `seq`, the status is the type at the maximum
//! `seq`) or, for supplement pauses, recomputed from the few pause events kept
//! sorted by `seq`. So events that arrive out of order give exactly the state
//! of in-order arrival, and a repeated `(filing_id, seq)` changes nothing.
//!
//! Some events cannot be applied ([`Rejection`]): another event at a
//! `(filing_id, seq)` already folded (a conflict), dimensions that contradict
//! the filing's, or an event after the filing was closed. Those decisions look
//! at what was folded before, so they follow the log's order; the log's order
//! is fixed, so a replay or a recovery decides the same way.
//!
//! The state is 64 bytes; what only a few filings need (supplement pauses,
//! `seq` above 8) lives behind one optional box. The dedup memory is part of
//! it: one byte per folded `seq` (a fingerprint of its `event_id`), so it is
//! bounded by the filings held, not by the events ever seen.

use crate::event::{Channel, Event, EventType};
use crate::intern::Interner;
use crate::time::local_day;

/// How an ended filing did against its effective due (contract: "outcome").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Early,
    OnTime,
    Late,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Early => "early",
            Outcome::OnTime => "on_time",
            Outcome::Late => "late",
        }
    }

    /// `early` and `on_time` both count as on time for the rate.
    pub const fn is_on_time(self) -> bool {
        !matches!(self, Outcome::Late)
    }
}

/// What [`FilingState::apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event was new and has been folded.
    Folded,
    /// This event (same `event_id` at the same `(filing_id, seq)`) was
    /// folded before; nothing changed.
    Duplicate,
    /// The event cannot be applied; nothing changed.
    Rejected(Rejection),
}

/// Why an event cannot be applied to its filing. The processor dead-letters
/// it with [`Rejection::reason`] as the reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Another `event_id` was already folded at this `(filing_id, seq)`.
    Conflict,
    /// The event's province or commune contradicts the filing's (those of
    /// its `received` event, or else of its events so far).
    DimensionMismatch { province: u8, commune: u32 },
    /// The filing was closed (a `returned`, `withdrawn` or `not_received`
    /// event was folded), and this event, with a `seq` above every folded
    /// one, would take it back into processing.
    AfterClose { closed_by: EventType },
}

impl Rejection {
    /// The stable reason code (DLQ header, `rejects.reason`).
    pub const fn reason(&self) -> &'static str {
        match self {
            Rejection::Conflict => "conflict",
            Rejection::DimensionMismatch { .. } => "dimension_mismatch",
            Rejection::AfterClose { .. } => "after_close",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Conflict => {
                f.write_str("another event_id was already folded at this (filing_id, seq)")
            }
            Rejection::DimensionMismatch { province, commune } => write!(
                f,
                "the filing belongs to province {province:02}, commune {commune:05}"
            ),
            Rejection::AfterClose { closed_by } => write!(
                f,
                "the filing was closed by a `{closed_by}` event; this one would reopen it"
            ),
        }
    }
}

/// What one filing adds to the daily aggregates. The processor takes it
/// before and after each event and moves the difference, so the aggregates
/// stay exact however late an event arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub province: u8,
    pub commune: u32,
    /// What the filing counts for on its received day.
    pub received: Option<Received>,
    /// Local day of `ended_at`, and the outcome.
    pub ended: Option<(i32, Outcome)>,
}

/// A received filing's part of its received day's counts: the Decision 766
/// shares are all over the filings received that day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Local received day.
    pub day: i32,
    pub online: bool,
    /// The applicant used a level-2 e-ID (VNeID).
    pub eid_level2: bool,
    pub digitized: bool,
    /// The procedure charges a fee.
    pub fee_required: bool,
    /// A fee-bearing filing whose fee was paid online.
    pub fee_paid_online: bool,
}

// Bits of `FilingState::marks`; bits 4-5 hold the channel.
const RETURNED: u8 = 1;
const WITHDRAWN: u8 = 2;
const NOT_RECEIVED: u8 = 4;
const END_BY_RETURN: u8 = 8;
/// The `received` event in force came without `due_at`; hoso computed it.
const DUE_COMPUTED: u8 = 64;
const CHANNEL_SHIFT: u8 = 4;

/// `seq`s whose fingerprints live inline, one byte each in `seen_low`.
const INLINE_SEQS: u32 = 8;

/// One byte of `event_id`, never 0 (0 marks a `seq` not folded). FNV-1a:
/// the fingerprint is checkpointed, so it must never change between builds.
///
/// One byte per `seq` is what fits the 64-byte state. The price: another
/// event at a folded `(filing_id, seq)` whose `event_id` has the same
/// fingerprint (1 in 255) is taken for a duplicate. Either way it is not
/// folded; only its dead letter (reason `conflict`) is missed.
pub fn fingerprint(event_id: &str) -> u8 {
    let mut h: u32 = 0x811c_9dc5;
    for b in event_id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    ((h ^ (h >> 16)) % 255) as u8 + 1
}

// Two bits per optional flag in `FilingState::attrs`: known, value.
const EID: u8 = 0;
const DIGITIZED: u8 = 2;
const FEE_REQUIRED: u8 = 4;
const ONLINE_PAYMENT: u8 = 6;

/// The folded state of one filing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilingState {
    /// Time of the `received` event with the lowest `seq` (valid when `received_seq > 0`).
    received_at: i64,
    /// `due_at` of that `received` event.
    due_at: i64,
    /// Time of the event that ends the filing (valid when `end_seq > 0`).
    end_at: i64,
    /// Byte `s - 1` is the `event_id` fingerprint of `seq` `s` (1..=8),
    /// 0 while not folded: the dedup memory of the common short filing.
    seen_low: u64,
    /// Highest `seq` folded; its type is the status.
    max_seq: u32,
    /// `seq` of the `received` event in force, 0 when none.
    received_seq: u32,
    /// `seq` of the ending event in force, 0 when none.
    end_seq: u32,
    commune: u32,
    /// Interned procedure code, 0 when not received.
    procedure: u32,
    province: u8,
    /// `EventType as u8` of the highest-`seq` event.
    status: u8,
    /// Optional booleans, two bits each (see `EID` ...).
    attrs: u8,
    /// `RETURNED`, `WITHDRAWN`, `NOT_RECEIVED`, `END_BY_RETURN`, the channel
    /// (`Channel as u8`, 0 when not received) in bits 4-5, `DUE_COMPUTED`.
    marks: u8,
    /// Only for filings with supplement events or `seq` above 8.
    extra: Option<Box<Extra>>,
}

/// The part of a filing's state its deadline alerts follow (see
/// `hoso_processor::deadlines`): when it is due, whether a supplement
/// request stopped its clock, whether it is over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline {
    pub effective_due_at: Option<i64>,
    pub pause_started_at: Option<i64>,
    pub closed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    /// Supplement requests and receipts, sorted by `seq`.
    pauses: Vec<PauseMark>,
    /// Folded `seq`s above 8 with their `event_id` fingerprints, sorted.
    seen_high: Vec<(u32, u8)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PauseMark {
    seq: u32,
    at_ms: i64,
    request: bool,
}

impl FilingState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event. `procedures` interns the procedure code.
    pub fn apply(&mut self, ev: &Event<'_>, procedures: &mut Interner) -> Applied {
        let fp = fingerprint(&ev.event_id);
        match self.seen(ev.seq) {
            Some(f) if f == fp => return Applied::Duplicate,
            Some(_) => return Applied::Rejected(Rejection::Conflict),
            None => {}
        }
        if let Some(why) = self.refusal(ev) {
            return Applied::Rejected(why);
        }
        let lowest_before = self.lowest_seen();
        self.mark_seen(ev.seq, fp);
        // Dimensions come from the `received` event in force, else from the
        // lowest `seq` seen, so they too are independent of arrival order.
        if self.received_seq == 0 && lowest_before.is_none_or(|low| ev.seq < low) {
            self.province = ev.province;
            self.commune = ev.commune;
        }
        if ev.seq > self.max_seq {
            self.max_seq = ev.seq;
            self.status = ev.kind as u8;
        }
        match ev.kind {
            EventType::Received => {
                if self.received_seq == 0 || ev.seq < self.received_seq {
                    self.received_seq = ev.seq;
                    self.received_at = ev.occurred_at_ms;
                    self.due_at = ev.due_at_ms.unwrap_or(ev.occurred_at_ms);
                    if ev.due_at_computed {
                        self.marks |= DUE_COMPUTED;
                    } else {
                        self.marks &= !DUE_COMPUTED;
                    }
                    self.set_channel(ev.channel);
                    self.procedure = ev
                        .procedure_code
                        .as_deref()
                        .map_or(0, |p| procedures.intern(p));
                    self.province = ev.province;
                    self.commune = ev.commune;
                    self.set_attr(EID, ev.eid_level2);
                    self.set_attr(DIGITIZED, ev.digitized);
                    self.set_attr(FEE_REQUIRED, ev.fee_required);
                }
            }
            EventType::Resolved | EventType::Stopped => {
                self.offer_end(ev.seq, ev.occurred_at_ms, false)
            }
            EventType::Returned => {
                self.marks |= RETURNED;
                self.offer_end(ev.seq, ev.occurred_at_ms, true)
            }
            EventType::Withdrawn => self.marks |= WITHDRAWN,
            EventType::NotReceived => self.marks |= NOT_RECEIVED,
            EventType::SupplementRequested => self.add_pause_mark(ev.seq, ev.occurred_at_ms, true),
            EventType::SupplementReceived => self.add_pause_mark(ev.seq, ev.occurred_at_ms, false),
            EventType::FeePaid => {
                // Paid online if any payment says so; a payment without the
                // flag is a payment that was not online.
                let online =
                    self.attr(ONLINE_PAYMENT) == Some(true) || ev.online_payment == Some(true);
                self.set_attr(ONLINE_PAYMENT, Some(online));
            }
            EventType::Submitted
            | EventType::Processing
            | EventType::FeeRequested
            | EventType::Extended => {}
        }
        Applied::Folded
    }

    /// Why `ev`, new at its `seq`, cannot be applied, if it cannot.
    fn refusal(&self, ev: &Event<'_>) -> Option<Rejection> {
        if self.max_seq == 0 {
            return None;
        }
        // A filing belongs to one commune. The `received` event in force
        // is authoritative; before it, the events so far are, except that a
        // `received` event may still set them (it is the one that counts).
        let contradicts = (ev.province, ev.commune) != (self.province, self.commune);
        if contradicts && (self.received_seq > 0 || ev.kind != EventType::Received) {
            return Some(Rejection::DimensionMismatch {
                province: self.province,
                commune: self.commune,
            });
        }
        // After the filing was closed (its result handed back, withdrawn,
        // or refused at intake), an event that would take it back into
        // processing cannot apply. Corrections of how it ended (`resolved`,
        // `stopped`, `returned`, `withdrawn`, `not_received`) and a late
        // `fee_paid` can: the contract says what they mean. An event with a
        // lower `seq` than the newest is history arriving late, not a
        // reopening.
        let closed_by = if self.is_withdrawn() {
            EventType::Withdrawn
        } else if self.is_not_received() {
            EventType::NotReceived
        } else if self.marks & RETURNED != 0 {
            EventType::Returned
        } else {
            return None;
        };
        let reopens = matches!(
            ev.kind,
            EventType::Submitted
                | EventType::Received
                | EventType::Processing
                | EventType::SupplementRequested
                | EventType::SupplementReceived
                | EventType::FeeRequested
                | EventType::Extended
        );
        (reopens && ev.seq > self.max_seq).then_some(Rejection::AfterClose { closed_by })
    }

    /// The `event_id` fingerprint folded at `seq`, if any.
    fn seen(&self, seq: u32) -> Option<u8> {
        if (1..=INLINE_SEQS).contains(&seq) {
            let fp = (self.seen_low >> ((seq - 1) * 8)) as u8;
            return (fp != 0).then_some(fp);
        }
        let high = &self.extra.as_ref()?.seen_high;
        high.binary_search_by_key(&seq, |&(s, _)| s)
            .ok()
            .map(|i| high[i].1)
    }

    /// Records `seq` as folded with its fingerprint (it was not).
    fn mark_seen(&mut self, seq: u32, fp: u8) {
        if (1..=INLINE_SEQS).contains(&seq) {
            self.seen_low |= u64::from(fp) << ((seq - 1) * 8);
            return;
        }
        let high = &mut self.extra.get_or_insert_with(Default::default).seen_high;
        let i = high.partition_point(|&(s, _)| s < seq);
        high.insert(i, (seq, fp));
    }

    /// The lowest `seq` folded so far.
    fn lowest_seen(&self) -> Option<u32> {
        if self.seen_low != 0 {
            return Some(self.seen_low.trailing_zeros() / 8 + 1);
        }
        self.extra
            .as_ref()
            .and_then(|x| x.seen_high.first().map(|&(s, _)| s))
    }

    fn set_channel(&mut self, channel: Option<Channel>) {
        let bits = channel.map_or(0, |c| c as u8);
        self.marks = (self.marks & !(3 << CHANNEL_SHIFT)) | (bits << CHANNEL_SHIFT);
    }

    /// The ending event in force is the first `resolved`/`stopped` by `seq`;
    /// only when there is none, the first `returned`.
    fn offer_end(&mut self, seq: u32, at_ms: i64, by_return: bool) {
        let current_by_return = self.marks & END_BY_RETURN != 0;
        let better = self.end_seq == 0
            || (current_by_return && !by_return)
            || (current_by_return == by_return && seq < self.end_seq);
        if better {
            self.end_seq = seq;
            self.end_at = at_ms;
            if by_return {
                self.marks |= END_BY_RETURN;
            } else {
                self.marks &= !END_BY_RETURN;
            }
        }
    }

    fn add_pause_mark(&mut self, seq: u32, at_ms: i64, request: bool) {
        let pauses = &mut self.extra.get_or_insert_with(Default::default).pauses;
        let i = pauses.partition_point(|m| m.seq < seq);
        pauses.insert(
            i,
            PauseMark {
                seq,
                at_ms,
                request,
            },
        );
    }

    fn set_attr(&mut self, shift: u8, v: Option<bool>) {
        let bits = match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 3,
        };
        self.attrs = (self.attrs & !(3 << shift)) | (bits << shift);
    }

    fn attr(&self, shift: u8) -> Option<bool> {
        match (self.attrs >> shift) & 3 {
            0 => None,
            3 => Some(true),
            _ => Some(false),
        }
    }

    /// Completed pauses (each `supplement_requested` to the following
    /// `supplement_received`, by `seq`) and the start of a pause still open.
    fn pauses(&self) -> (i64, Option<i64>) {
        let Some(extra) = &self.extra else {
            return (0, None);
        };
        let mut paused = 0i64;
        let mut open = None;
        for m in &extra.pauses {
            if m.request {
                open.get_or_insert(m.at_ms);
            } else if let Some(start) = open.take() {
                paused += (m.at_ms - start).max(0);
            }
        }
        (paused, open)
    }

    // ---- the row, as the contract defines it ----

    pub fn province(&self) -> u8 {
        self.province
    }

    pub fn commune(&self) -> u32 {
        self.commune
    }

    /// Interned procedure code (resolve with the interner given to `apply`), 0 when none.
    pub fn procedure_id(&self) -> u32 {
        self.procedure
    }

    pub fn channel(&self) -> Option<Channel> {
        Channel::from_u8((self.marks >> CHANNEL_SHIFT) & 3)
    }

    /// The type of the highest-`seq` event. `None` only for a state that
    /// never folded an event.
    pub fn status(&self) -> Option<EventType> {
        EventType::from_u8(self.status)
    }

    pub fn last_seq(&self) -> u32 {
        self.max_seq
    }

    pub fn received_at(&self) -> Option<i64> {
        (self.received_seq > 0).then_some(self.received_at)
    }

    /// The appointment date of the `received` event.
    pub fn due_at(&self) -> Option<i64> {
        (self.received_seq > 0).then_some(self.due_at)
    }

    /// The due date was computed from the procedure catalogue (the source
    /// sent none).
    pub fn due_at_computed(&self) -> bool {
        self.received_seq > 0 && self.marks & DUE_COMPUTED != 0
    }

    /// A `returned` event was folded: the result reached the citizen.
    pub fn is_returned(&self) -> bool {
        self.marks & RETURNED != 0
    }

    pub fn is_withdrawn(&self) -> bool {
        self.marks & WITHDRAWN != 0
    }

    pub fn is_not_received(&self) -> bool {
        self.marks & NOT_RECEIVED != 0
    }

    /// When the filing ended for on-time purposes; never for withdrawn or
    /// not-received filings.
    pub fn ended_at(&self) -> Option<i64> {
        let ends = self.end_seq > 0 && !self.is_withdrawn() && !self.is_not_received();
        ends.then_some(self.end_at)
    }

    /// Ended, withdrawn or refused at intake.
    pub fn is_closed(&self) -> bool {
        self.end_seq > 0 || self.is_withdrawn() || self.is_not_received()
    }

    /// `supplement_requested` events folded.
    pub fn supplement_count(&self) -> u32 {
        self.extra
            .as_ref()
            .map_or(0, |x| x.pauses.iter().filter(|m| m.request).count() as u32)
    }

    /// Total completed supplement pauses, milliseconds.
    pub fn paused_ms(&self) -> i64 {
        self.pauses().0
    }

    /// Start of a supplement request still waiting for its documents.
    pub fn pause_started_at(&self) -> Option<i64> {
        self.pauses().1
    }

    /// Original `due_at` plus the completed pauses; `extended` never moves it.
    pub fn effective_due_at(&self) -> Option<i64> {
        self.due_at().map(|d| d + self.paused_ms())
    }

    /// The contract's outcome; `None` while open, for filings that are
    /// closed without ending, and for filings never received (no due date
    /// to score against).
    pub fn outcome(&self) -> Option<Outcome> {
        let ended = self.ended_at()?;
        let due = self.effective_due_at()?;
        Some(if ended > due || self.supplement_count() >= 2 {
            Outcome::Late
        } else if local_day(ended) < local_day(due) {
            Outcome::Early
        } else {
            Outcome::OnTime
        })
    }

    /// What decides when the filing is at risk or overdue.
    pub fn deadline(&self) -> Deadline {
        let (paused_ms, pause_started_at) = match self.extra {
            Some(_) => self.pauses(),
            None => (0, None),
        };
        Deadline {
            effective_due_at: self.due_at().map(|d| d + paused_ms),
            pause_started_at,
            closed: self.is_closed(),
        }
    }

    /// Not closed and past its effective due at `now_ms`; a pending
    /// supplement request freezes the clock at the request.
    pub fn is_overdue_open(&self, now_ms: i64) -> bool {
        if self.is_closed() {
            return false;
        }
        let Some(due) = self.effective_due_at() else {
            return false;
        };
        let clock = self.pause_started_at().map_or(now_ms, |p| p.min(now_ms));
        clock > due
    }

    pub fn eid_level2(&self) -> Option<bool> {
        self.attr(EID)
    }

    pub fn digitized(&self) -> Option<bool> {
        self.attr(DIGITIZED)
    }

    pub fn fee_required(&self) -> Option<bool> {
        self.attr(FEE_REQUIRED)
    }

    pub fn online_payment(&self) -> Option<bool> {
        self.attr(ONLINE_PAYMENT)
    }

    /// What this filing adds to the daily aggregates now.
    pub fn contribution(&self) -> Contribution {
        Contribution {
            province: self.province,
            commune: self.commune,
            received: self.received_at().map(|at| {
                let fee_required = self.fee_required() == Some(true);
                Received {
                    day: local_day(at),
                    online: self.channel() == Some(Channel::Online),
                    eid_level2: self.eid_level2() == Some(true),
                    digitized: self.digitized() == Some(true),
                    fee_required,
                    fee_paid_online: fee_required && self.online_payment() == Some(true),
                }
            }),
            ended: self
                .outcome()
                .and_then(|o| self.ended_at().map(|at| (local_day(at), o))),
        }
    }
}

mod codec;
#[cfg(test)]
mod tests;
