//! The filing lifecycle: events in, filing state out (event sourcing).
//!
//! A [`FilingState`] keeps the log of its filing's events (type, time,
//! `seq`, an `event_id` fingerprint, its province and commune, the offset
//! it was read at; a `received` event's dimensions and due date, an
//! `extended` event's new due date) and recomputes the row from it whenever
//! it changes: the status is the type at the highest `seq`, the `received`
//! event in force is the lowest one, "first `resolved` by `seq`" is the
//! first in the log, supplement pauses are read off the log in `seq` order.
//! So every value is a function of the *set* of events folded, never of
//! their arrival order, and a repeated event changes nothing.
//!
//! Three refusals are kept, all under the reason `conflict`:
//! [`Rejection::Conflict`], two `event_id`s at one `(filing_id, seq)`, of
//! which only the one whose `event_id` has the lowest [`fingerprint`] can
//! be the event at that `seq`, whichever came first;
//! [`Rejection::Receipt`], a `received` event naming another province or
//! commune than a `received` at a lower `seq`; and [`Rejection::EventId`],
//! an `event_id` seen at a lower `seq` of the filing with another type or
//! time. All are existential over the events seen (folded or refused), so
//! an arrival only ever adds refusals: when the deciding event comes second
//! it displaces the first ([`Displaced`]), and a refusal is never taken
//! back, so the refused set, too, is the same in every order. Refused
//! events stay in the log, so a repeat of one is a duplicate.
//!
//! An `event_id` resent at another `seq` with the same type and time is a
//! duplicate: only its lowest-`seq` copy is folded, and the others are kept
//! in the log, unfolded, so that the copy that came first never decides.
use crate::event::{Channel, EventType};
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

/// What [`FilingState::apply`] did with the event it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event was new and is now part of the filing.
    Folded,
    /// This event (same `event_id` at the same `(filing_id, seq)`, with
    /// the same content) was seen before; nothing changed.
    Duplicate,
    /// A resend: the same `event_id`, type and time were seen at a lower
    /// `seq`. It is kept in the log, never folded (a duplicate for the
    /// counters), but it takes part in its own `seq`'s conflicts, so it may
    /// have displaced an event there.
    Resent,
    /// The event is refused; it changed nothing but the filing's memory of
    /// what it refused.
    Rejected(Rejection),
}

/// Why an event is refused. The processor dead-letters it with
/// [`Rejection::reason`] as the reason code.
///
/// A refusal must be a function of the set of a filing's events, and it is
/// sent to the dead-letter topic as it happens, so it can never be taken
/// back: the only rules kept are *monotone* ones, where what is refused
/// stays refused whatever arrives later. `docs/kpis.md` ("Refusals") says
/// which rules were dropped for that and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Another `event_id` seen at this `(filing_id, seq)` has the lower
    /// [`fingerprint`]: only the lowest can be the event at this `seq`, in
    /// every arrival order (and it may be refused itself).
    Conflict,
    /// A `received` event at a lower `seq` of the filing (folded or not)
    /// names another province or commune: a second receipt cannot move
    /// the filing. The same reason code as [`Rejection::Conflict`], since
    /// an event can be refused for both and which one is found first
    /// depends on arrival order; the detail says which.
    Receipt,
    /// The event's `event_id` was seen at a lower `seq` of the filing with
    /// another type or time: two different events cannot share an
    /// `event_id` (the contract), so only the lowest-`seq` one counts.
    EventId,
}

impl Rejection {
    /// The stable reason code (DLQ header, `rejects.reason`).
    pub const fn reason(&self) -> &'static str {
        match self {
            Rejection::Conflict | Rejection::Receipt | Rejection::EventId => "conflict",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Conflict => f.write_str(
                "another event_id is at this (filing_id, seq), and the event_id with the lower \
                 fingerprint is the one folded",
            ),
            Rejection::Receipt => f.write_str(
                "a `received` event at a lower seq of this filing names another province or \
                 commune",
            ),
            Rejection::EventId => f.write_str(
                "this event_id was seen at a lower seq of this filing with another type or \
                 occurred_at, and the lowest-seq copy is the one folded",
            ),
        }
    }
}

/// An event that was part of the filing until a later arrival refused it
/// (a conflicting event at its `seq` with a lower `event_id` fingerprint,
/// a `received` at a lower `seq` with other dimensions, a copy of its
/// `event_id` at a lower `seq` that disagrees with it). Its refusal is as
/// final as any other: the processor logs and dead-letters it under the
/// offset it came at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Displaced {
    pub seq: u32,
    pub kind: EventType,
    pub occurred_at_ms: i64,
    /// The offset the displaced event was folded from (see
    /// [`FilingState::apply_at`]).
    pub offset: i64,
    pub why: Rejection,
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
    /// `extended` events folded: the apology letters sent for the filing.
    pub extensions: u16,
}

// Bits of `FilingState::marks`; bits 4-5 hold the channel.
const RETURNED: u8 = 1;
const WITHDRAWN: u8 = 2;
const NOT_RECEIVED: u8 = 4;
const END_BY_RETURN: u8 = 8;
/// The `received` event in force came without `due_at`; hoso computed it.
const DUE_COMPUTED: u8 = 64;
const CHANNEL_SHIFT: u8 = 4;

/// 24 bits of `event_id`, never 0. FNV-1a: fingerprints are checkpointed
/// and decide which of two conflicting events wins, so they must never
/// change between builds.
///
/// With [`id_check`] it orders the `event_id`s at one `(filing_id, seq)`:
/// the lowest (fingerprint, check) wins. Two different `event_id`s that
/// agree in all 40 bits (one in a trillion) are taken for one.
pub fn fingerprint(event_id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in event_id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    ((h ^ (h >> 24)) & 0x00ff_ffff).max(1)
}

// Two bits per optional flag in `FilingState::attrs`: known, value.
const EID: u8 = 0;
const DIGITIZED: u8 = 2;
const FEE_REQUIRED: u8 = 4;
const ONLINE_PAYMENT: u8 = 6;

// `Logged::tag`: the type in bits 0-3, flags in 4-7, the fingerprint above.
const KIND_MASK: u32 = 0x0f;
/// Refused: remembered so that a repeat of it is a duplicate and a
/// conflicting event at its `seq` is judged against every one seen.
const REFUSED: u32 = 0x10;
/// A `fee_paid` event that says it was paid online.
const PAID_ONLINE: u32 = 0x20;
/// A resend of an event at a lower `seq` (same `event_id`, type and
/// time): kept, never folded, never refused unless a copy at a lower
/// `seq` disagrees with it.
const RESENT: u32 = 0x40;
const FP_SHIFT: u32 = 8;

/// 16 more bits of `event_id`, never 0, from another hash than
/// [`fingerprint`]: with it, two events are taken for one `event_id` at
/// different `seq`s only when 40 bits agree (a chance of one in a
/// trillion a pair), where the 24 bits of the fingerprint alone would
/// merge a few unrelated events of a national year. 0 is a state read
/// from a format without it, which matches nothing.
pub fn id_check(event_id: &str) -> u16 {
    // djb2, xor-folded.
    let mut h: u32 = 5381;
    for b in event_id.bytes() {
        h = h.wrapping_mul(33) ^ u32::from(b);
    }
    ((h ^ (h >> 16)) as u16).max(1)
}

/// One event the filing has seen, folded or refused: the event log from
/// which every derived value is computed (event sourcing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Logged {
    at_ms: i64,
    /// The offset the event was first read at (the processor's), so a
    /// displaced event is refused under its own offset.
    offset: i64,
    seq: u32,
    tag: u32,
    /// The commune and province the event names (the unit that handled
    /// this step, which need not be the one that received the filing).
    commune: u32,
    /// [`id_check`] of the `event_id`.
    id2: u16,
    province: u8,
}

impl Logged {
    fn kind(&self) -> EventType {
        // Only ever written from an `EventType` (and checked on decode).
        EventType::from_u8((self.tag & KIND_MASK) as u8).unwrap_or(EventType::Submitted)
    }

    fn fp(&self) -> u32 {
        self.tag >> FP_SHIFT
    }

    fn folded(&self) -> bool {
        self.tag & (REFUSED | RESENT) == 0
    }

    fn refused(&self) -> bool {
        self.tag & REFUSED != 0
    }

    /// Another copy of the `event_id` `(fp, id2)` at another `seq`.
    fn same_id(&self, fp: u32, id2: u16) -> bool {
        self.fp() == fp && self.id2 == id2 && id2 != 0
    }
}

/// What a `received` event says about the filing (or, `extended` set, the
/// new due date an `extended` event gives). Every one seen is kept, folded
/// or refused: only the lowest-`seq` folded `received` is in force, the
/// others stand in for it if it is displaced, and any of them refuses a
/// higher-`seq` one that names other dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Receipt {
    due_at: i64,
    seq: u32,
    /// The event's `event_id` fingerprint: with `seq`, its place in the log.
    fp: u32,
    folded: bool,
    /// Interned procedure code, 0 when none.
    procedure: u32,
    commune: u32,
    province: u8,
    /// `Channel as u8`, 0 when none.
    channel: u8,
    /// `EID`, `DIGITIZED`, `FEE_REQUIRED` bits as in `FilingState::attrs`.
    attrs: u8,
    due_computed: bool,
    /// An `extended` event: only `due_at`, `seq`, `fp` and `folded` mean
    /// anything.
    extended: bool,
}

impl Receipt {
    /// The same event's payload (all but whether it is folded).
    fn same_payload(&self, o: &Receipt) -> bool {
        Receipt {
            folded: o.folded,
            ..*self
        } == *o
    }
}

/// Events a filing's log holds inline, in its state: a filing of up to
/// eight events (the generator's province-year averages 5.5) is one
/// allocation-free row. At the
/// scale of a year, the fold is bound by cache misses: the state, its log
/// and its receipts in three places cost three per event, inline they cost
/// one (`benches/README.md`, 2026-12-07).
const LOG_INLINE: usize = 8;

type EventLog = smallvec::SmallVec<[Logged; LOG_INLINE]>;

/// The `received` in force, inline; a second one or an `extended` moves
/// them to the heap.
type Receipts = smallvec::SmallVec<[Receipt; 1]>;

/// The folded state of one filing: the log of its events, and the row the
/// contract derives from them, recomputed from the log whenever it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilingState {
    /// Time of the `received` event in force (valid when `received_seq > 0`).
    received_at: i64,
    /// `due_at` of that `received` event.
    due_at: i64,
    /// Time of the event that ends the filing (valid when `end_seq > 0`).
    end_at: i64,
    /// Completed supplement pauses, ms.
    paused_ms: i64,
    /// Start of a supplement request still open, `i64::MIN` when none.
    pause_open_at: i64,
    /// Highest `seq` folded; its type is the status.
    max_seq: u32,
    /// `seq` of the `received` event in force, 0 when none.
    received_seq: u32,
    /// `seq` of the ending event in force, 0 when none.
    end_seq: u32,
    commune: u32,
    /// Interned procedure code, 0 when not received.
    procedure: u32,
    /// `supplement_requested` events folded.
    supplements: u32,
    province: u8,
    /// `EventType as u8` of the highest-`seq` event.
    status: u8,
    /// Optional booleans, two bits each (see `EID` ...).
    attrs: u8,
    /// `RETURNED`, `WITHDRAWN`, `NOT_RECEIVED`, `END_BY_RETURN`, the channel
    /// (`Channel as u8`, 0 when not received) in bits 4-5, `DUE_COMPUTED`.
    marks: u8,
    /// `extended` events folded, saturating (kept on the row, in what was
    /// padding, because the daily contribution reads it twice per event).
    extensions: u16,
    /// Every event seen, sorted by (`seq`, fingerprint, [`id_check`]); at
    /// each `seq` at most one is folded: the one with the lowest
    /// (fingerprint, check), unless it is refused for another reason.
    log: EventLog,
    /// Every `received` and `extended` event seen, sorted by (`seq`,
    /// fingerprint).
    receipts: Receipts,
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

impl FilingState {
    pub fn new() -> Self {
        FilingState {
            pause_open_at: i64::MIN,
            ..Self::default()
        }
    }

    /// Every `(seq, event_id fingerprint)` this filing has seen, folded or
    /// refused, in order (for tests that compare histories).
    pub fn seen(&self) -> impl Iterator<Item = (u32, u32, bool)> + '_ {
        self.log.iter().map(|l| (l.seq, l.fp(), l.folded()))
    }

    /// The events folded (neither refused nor resent), in `seq` order:
    /// `(seq, type, time, offset read at)`. What a filing's move to
    /// portal records displaces.
    pub fn folded_events(&self) -> impl Iterator<Item = (u32, EventType, i64, i64)> + '_ {
        self.log
            .iter()
            .filter(|l| l.folded())
            .map(|l| (l.seq, l.kind(), l.at_ms, l.offset))
    }

    fn attr(&self, shift: u8) -> Option<bool> {
        match (self.attrs >> shift) & 3 {
            0 => None,
            3 => Some(true),
            _ => Some(false),
        }
    }

    // ---- the row, as the contract defines it ----

    pub fn province(&self) -> u8 {
        self.province
    }

    pub fn commune(&self) -> u32 {
        self.commune
    }

    /// The commune its highest-`seq` event names: the unit handling it
    /// now, which may differ from the one that received it (Decree
    /// 118/2025: receipt wherever the applicant chooses). 0 for a state
    /// that never folded an event.
    pub fn handling_commune(&self) -> u32 {
        self.log
            .iter()
            .rev()
            .find(|l| l.folded())
            .map_or(0, |l| l.commune)
    }

    /// `extended` events folded (apology letters with a new date); counts
    /// past 65,535 read as 65,535.
    pub fn extensions(&self) -> u32 {
        u32::from(self.extensions)
    }

    /// The new promised date of the highest-`seq` `extended` event.
    pub fn extended_due_at(&self) -> Option<i64> {
        self.receipts
            .iter()
            .rev()
            .find(|r| r.extended && r.folded)
            .map(|r| r.due_at)
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
        self.supplements
    }

    /// Total supplement pauses, milliseconds: each request after the clock
    /// started, until the next event that shows the filing back in the
    /// center's hands, or until the end when none does (contract v1.1).
    pub fn paused_ms(&self) -> i64 {
        self.paused_ms
    }

    /// Start of a supplement request still waiting for its documents.
    pub fn pause_started_at(&self) -> Option<i64> {
        (self.pause_open_at != i64::MIN).then_some(self.pause_open_at)
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
        Deadline {
            effective_due_at: self.effective_due_at(),
            pause_started_at: self.pause_started_at(),
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
                    extensions: self.extensions,
                }
            }),
            ended: self
                .outcome()
                .and_then(|o| self.ended_at().map(|at| (local_day(at), o))),
        }
    }
}

/// Sets a two-bit optional flag (known, value) at `shift` of `bits`.
fn set_bits(bits: &mut u8, shift: u8, v: Option<bool>) {
    let b = match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 3,
    };
    *bits = (*bits & !(3 << shift)) | (b << shift);
}

mod arrival;
mod codec;
mod derive;
#[cfg(test)]
mod tests;
