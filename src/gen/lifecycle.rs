//! One filing's life, planned whole when it arrives: every event and its
//! time, drawn so that the shares of [`Mix`] come out.
//!
//! The outcome is chosen first (late, on the due date, or earlier) and the
//! resolution time drawn inside that class's window of the effective due
//! date (the due date plus the supplement pauses), so the late share is
//! what was asked for, not an accident of the other delays. Work happens in
//! working time on the calendar: a filing received on Friday afternoon and
//! processed "two hours later" is processed on Monday morning.

use hoso_model::calendar::Calendar;
use hoso_model::catalogue::{DueRules, Online};
use hoso_model::time::local_day;
use hoso_model::{Channel, EventType};

use super::arrivals::midnight;
use super::mix::Mix;
use super::procedures::Procedures;
use super::rng::Rng;

/// The most events one filing has: submitted, received, processing, two
/// supplement loops, extended, fee requested and paid, resolved, returned.
pub const MAX_EVENTS: usize = 12;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// How a planned filing ends against its effective due date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Designed {
    /// Never ends for on-time purposes (withdrawn, refused at intake).
    NoOutcome,
    Early,
    OnTime,
    Late,
}

/// One planned event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// UTC milliseconds.
    pub at: i64,
    pub kind: EventType,
}

/// Everything about one filing: its dimensions and its events in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    events: [Planned; MAX_EVENTS],
    len: u8,
    pub channel: Channel,
    /// Index into [`Procedures::list`].
    pub procedure: u16,
    /// The appointment date; also what `received` carries unless `send_due` is false.
    pub due_at: i64,
    /// Whether `received` carries `due_at` (else hoso computes it).
    pub send_due: bool,
    /// The new appointment date of an `extended` event.
    pub extended_due_at: i64,
    pub eid_level2: bool,
    pub digitized: bool,
    pub fee_required: bool,
    pub online_payment: bool,
    pub supplements: u8,
    pub designed: Designed,
}

impl Plan {
    pub fn events(&self) -> &[Planned] {
        &self.events[..usize::from(self.len)]
    }

    fn push(&mut self, kind: EventType, at: i64) -> i64 {
        // Whole seconds, and strictly after the previous event: a filing's
        // events are in time order as they are in `seq` order.
        let mut at = (at + SECOND - 1).div_euclid(SECOND) * SECOND;
        if let Some(last) = self.events().last() {
            at = at.max(last.at + SECOND);
        }
        self.events[usize::from(self.len)] = Planned { at, kind };
        self.len += 1;
        at
    }

    /// The same life replayed from `to` instead of `from`, `factor` times
    /// faster (for the demo's live filings, whose days pass in minutes).
    /// Times keep their order and their ratios, so the designed outcome holds.
    pub fn replay(&mut self, from: i64, to: i64, factor: f64) {
        let f = |t: i64| to + ((t - from) as f64 / factor).round() as i64;
        for e in &mut self.events[..usize::from(self.len)] {
            e.at = f(e.at);
        }
        self.due_at = f(self.due_at);
        self.extended_due_at = f(self.extended_due_at);
    }
}

/// What a filing is when it arrives.
#[derive(Clone, Copy, Debug)]
pub struct Intake {
    pub channel: Channel,
    pub procedure: usize,
    /// When it was submitted (online) or received at the counter.
    pub at: i64,
}

/// Plans filings on a calendar with a catalogue's due dates.
pub struct Planner<'a> {
    pub calendar: &'a Calendar,
    pub rules: &'a DueRules,
    pub procedures: &'a Procedures,
    pub mix: &'a Mix,
}

impl Planner<'_> {
    /// `dur` of working time after `t` (at least a second).
    fn work(&self, t: i64, dur: f64) -> i64 {
        self.calendar.add_working_time(t, (dur as i64).max(SECOND))
    }

    /// The close of the last working day before local `day`.
    fn close_before(&self, day: i32) -> i64 {
        let mut d = day - 1;
        while !self.calendar.is_working_day(d) && d > day - 60 {
            d -= 1;
        }
        self.calendar.close_of(d)
    }

    /// The start of `day`'s first working window.
    fn open_of(&self, day: i32) -> i64 {
        let first = self.calendar.hours().first().map_or(0, |w| w.0);
        midnight(day) + i64::from(first) * MINUTE
    }

    pub fn plan(&self, intake: Intake, rng: &mut Rng) -> Plan {
        let mix = self.mix;
        let info = &self.procedures.list[intake.procedure];
        let online = intake.channel == Channel::Online;
        let mut plan = Plan {
            events: [Planned {
                at: 0,
                kind: EventType::Received,
            }; MAX_EVENTS],
            len: 0,
            channel: intake.channel,
            procedure: intake.procedure as u16,
            due_at: 0,
            send_due: !rng.chance(mix.omit_due_share),
            extended_due_at: 0,
            eid_level2: rng.chance(mix.eid_share),
            digitized: online || rng.chance(mix.digitized_share),
            fee_required: info.fee_required,
            online_payment: false,
            supplements: 0,
            designed: Designed::NoOutcome,
        };

        // Intake: an online submission waits for the next working window.
        let received = if online {
            plan.push(EventType::Submitted, intake.at);
            let at = self.work(
                intake.at,
                MINUTE as f64 + rng.exponential(2.0 * HOUR as f64),
            );
            if rng.chance(mix.not_received_share) {
                plan.push(EventType::NotReceived, at);
                return plan;
            }
            at
        } else {
            intake.at
        };
        let received = plan.push(EventType::Received, received);
        let due = self
            .rules
            .due_at(&info.code, received)
            .unwrap_or_else(|| self.calendar.add_working_time(received, 8 * HOUR));
        plan.due_at = due;
        // The working time the center has: every step below takes a
        // fraction of it, so short procedures move fast and long ones slow.
        let budget = self.calendar.working_ms_between(received, due).max(MINUTE) as f64;

        let mut t = plan.push(
            EventType::Processing,
            self.work(
                received,
                (30.0 * SECOND as f64 + rng.exponential(20.0 * MINUTE as f64)).min(0.1 * budget),
            ),
        );
        if rng.chance(mix.withdrawn_share) {
            plan.push(EventType::Withdrawn, self.work(t, rng.f64() * 0.5 * budget));
            return plan;
        }

        // Supplement loops: the clock pauses while the citizen gathers
        // documents (a working day and a half, typically).
        let mut paused = 0;
        plan.supplements = if rng.chance(mix.supplement_share) {
            1 + u8::from(rng.chance(mix.second_supplement_share))
        } else {
            0
        };
        for _ in 0..plan.supplements {
            let asked = plan.push(
                EventType::SupplementRequested,
                self.work(t, (0.05 + 0.25 * rng.f64()) * budget),
            );
            let back = plan.push(
                EventType::SupplementReceived,
                self.work(asked, rng.lognormal(12.0 * HOUR as f64, 0.8)),
            );
            paused += back - asked;
            t = back;
        }
        let effective_due = due + paused;

        if plan.fee_required {
            // The fee steps take a part of the working time left, so they
            // never make a filing late by themselves.
            let left = self.calendar.working_ms_between(t, effective_due).max(0) as f64;
            let asked = plan.push(
                EventType::FeeRequested,
                self.work(
                    t,
                    (5.0 * MINUTE as f64 + rng.f64() * 0.1 * budget).min(0.3 * left),
                ),
            );
            let share = if online {
                mix.online_online_payment_share
            } else {
                mix.office_online_payment_share
            };
            plan.online_payment = rng.chance(share);
            let paid = if plan.online_payment {
                // Online payment: any hour, minutes to hours later.
                let wait = (3.0 * HOUR as f64).min(0.2 * left);
                asked + MINUTE + (rng.f64() * wait) as i64
            } else {
                self.work(asked, rng.exponential(15.0 * MINUTE as f64).min(0.2 * left))
            };
            t = plan.push(EventType::FeePaid, paid);
        }

        // The end: late, on the due date, or earlier.
        let due_day = local_day(effective_due);
        let late = rng.chance(mix.late_share);
        let end = if late {
            let end = self.work(effective_due.max(t), rng.lognormal(4.0 * HOUR as f64, 1.0));
            if rng.chance(0.5) && t + SECOND < effective_due {
                // An apology letter (form 04) promising a new date.
                let room = self.calendar.working_ms_between(t, effective_due) as f64;
                plan.push(EventType::Extended, self.work(t, rng.f64() * room));
                // Whole seconds, as every date a source sends.
                let promised = self.work(end, 4.0 * HOUR as f64);
                plan.extended_due_at = (promised + SECOND - 1).div_euclid(SECOND) * SECOND;
            }
            end.max(effective_due + SECOND)
        } else {
            let early_room = self
                .calendar
                .working_ms_between(t, self.close_before(due_day));
            if !rng.chance(mix.due_day_share) && early_room > MINUTE {
                // Most filings are done well before their date.
                let u = rng.f64();
                self.work(t, u * u * early_room as f64)
            } else {
                // The due-date spike: done on the day, late in the day.
                let from = t.max(self.open_of(due_day));
                let room = self.calendar.working_ms_between(from, effective_due) as f64;
                let u = rng.f64();
                self.work(from, (1.0 - u * u) * room)
            }
        };
        let refused = rng.chance(mix.refusal_share);
        let end = plan.push(
            if refused {
                EventType::Stopped
            } else {
                EventType::Resolved
            },
            end,
        );
        plan.designed = if plan.supplements >= 2 || end > effective_due {
            Designed::Late
        } else if local_day(end) < due_day {
            Designed::Early
        } else {
            Designed::OnTime
        };
        if !refused {
            let info_online = self.procedures.list[intake.procedure].online;
            let returned = if online && info_online == Online::Full {
                // The result goes back electronically.
                end + MINUTE + rng.below(HOUR as u64) as i64
            } else {
                // The citizen comes to collect it.
                self.work(end, rng.lognormal(6.0 * HOUR as f64, 1.0))
            };
            plan.push(EventType::Returned, returned);
        }
        plan
    }
}
