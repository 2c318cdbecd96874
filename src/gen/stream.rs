//! The event stream: every event of every filing of the chosen communes
//! and days, in event-time order, as contract JSON.
//!
//! Filings are planned whole when their day begins ([`super::lifecycle`]);
//! a heap holds the next event of each open filing, so the stream merges
//! them in time order with memory bounded by the filings still open, not by
//! all the events of the window. Ties in time go to the filing that arrived
//! first. The stream stops at the end of the window: filings still open
//! then stay open, the backlog a real center has on any evening.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;
use std::sync::Arc;

use hoso_model::calendar::Calendar;
use hoso_model::catalogue::DueRules;
use hoso_model::time::{DAY_MS, LOCAL_OFFSET_MS, civil_from_days, local_day};
use hoso_model::{Channel, EventType};

use super::GenError;
use super::arrivals::{Arrivals, midnight};
use super::communes::Commune;
use super::lifecycle::{Designed, Intake, Plan, Planner};
use super::mix::Mix;
use super::procedures::Procedures;
use super::rng::Rng;

/// Labels of the random streams derived from the seed.
const DAY_STREAM: u64 = 0xDA7;
const FILING_STREAM: u64 = 0xF11;
const LIVE_STREAM: u64 = 0x11FE;

/// Everything fixed for a run: the communes, the calendar and catalogue,
/// the mix and the seed.
pub struct World {
    pub communes: Vec<Commune>,
    pub rules: DueRules,
    pub procedures: Procedures,
    pub arrivals: Arrivals,
    pub mix: Mix,
    pub seed: u64,
    /// Ends every filing id, so runs with different seeds never reuse one.
    tag: String,
}

impl World {
    pub fn new(communes: Vec<Commune>, mix: Mix, seed: u64) -> Result<World, GenError> {
        mix.validate()?;
        if communes.is_empty() {
            return Err(GenError::Usage("no communes to simulate".into()));
        }
        let rules = DueRules::vietnam();
        let procedures = Procedures::new(&rules.catalogue);
        if procedures.list.is_empty() {
            return Err(GenError::Usage("the procedure catalogue is empty".into()));
        }
        if mix.online_share > 0.0 && !procedures.any_online() {
            return Err(GenError::Usage(
                "no procedure of the catalogue can be done online; use --online-share 0".into(),
            ));
        }
        let arrivals = Arrivals::new(&rules.calendar);
        let tag = format!("{:06x}", Rng::derive(seed, &[0x7A6]).next_u64() >> 40);
        Ok(World {
            communes,
            rules,
            procedures,
            arrivals,
            mix,
            seed,
            tag,
        })
    }

    pub fn calendar(&self) -> &Calendar {
        &self.rules.calendar
    }

    fn planner(&self) -> Planner<'_> {
        Planner {
            calendar: &self.rules.calendar,
            rules: &self.rules,
            procedures: &self.procedures,
            mix: &self.mix,
        }
    }
}

/// What the stream has emitted so far (counted as events leave it, so a
/// window's figures describe exactly what was written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    /// Filings whose first event was emitted.
    pub filings: u64,
    pub received: u64,
    pub received_online: u64,
    pub received_postal: u64,
    pub eid_level2: u64,
    pub digitized: u64,
    /// Received filings planned with at least one supplement request.
    pub with_supplement: u64,
    /// `received` events sent without `due_at`.
    pub due_omitted: u64,
    pub not_received: u64,
    pub withdrawn: u64,
    /// Filings that ended (`resolved` or `stopped`), by designed outcome.
    pub ended: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub stopped: u64,
    /// The event time of the last event emitted.
    pub last_at: i64,
}

impl Stats {
    pub fn share(part: u64, whole: u64) -> f64 {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    }
}

/// One emitted event: where it is in the buffer and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    /// Event time, UTC milliseconds.
    pub at: i64,
    /// The filing id (the Kafka key) inside the written bytes.
    pub key: Range<usize>,
    pub kind: EventType,
}

/// What the stream writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The contract's events.
    #[default]
    Events,
    /// The portal's items ([`super::portal`]): each event as the record
    /// after it, a `processing` event as a step.
    Portal,
}

/// A filing with events still to emit.
struct Open {
    plan: Plan,
    commune: u32,
    id: String,
    /// Index of the next event to emit.
    next: u8,
}

pub struct Stream {
    world: Arc<World>,
    /// The first day whose arrivals are not yet planned.
    next_day: i32,
    /// Arrivals are planned for days before this one.
    end_day: i32,
    /// Events at or after this instant are not emitted.
    end_ms: i64,
    slots: Vec<Option<Open>>,
    free: Vec<u32>,
    /// (time of the next event, arrival order, slot) of every open filing:
    /// ties in time go to the filing that arrived first.
    heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    ordinal: u64,
    stats: Stats,
    /// Scratch: one commune-day's arrivals.
    arrivals: Vec<(i64, Channel)>,
    format: Format,
}

impl Stream {
    /// Filings arriving on `days` local days from `start_day` (days since
    /// 1970-01-01), and their events up to the end of the last day.
    pub fn new(world: Arc<World>, start_day: i32, days: u32) -> Stream {
        let end_day = start_day.saturating_add(days as i32);
        Stream {
            world,
            next_day: start_day,
            end_day,
            end_ms: midnight(end_day),
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            ordinal: 0,
            stats: Stats::default(),
            arrivals: Vec::new(),
            format: Format::Events,
        }
    }

    /// The same stream written in `format`.
    pub fn with_format(mut self, format: Format) -> Stream {
        self.format = format;
        self
    }

    /// Moves the end of the window to `end_ms` (later only): the demo's
    /// stream follows the wall clock.
    pub fn extend_to(&mut self, end_ms: i64) {
        if end_ms > self.end_ms {
            self.end_ms = end_ms;
            self.end_day = self.end_day.max(local_day(end_ms) + 1);
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// Filings with events still to come.
    pub fn open_filings(&self) -> usize {
        self.heap.len()
    }

    /// The start and end of the window, UTC milliseconds.
    pub fn end_ms(&self) -> i64 {
        self.end_ms
    }

    /// The time of the next event; `None` at the end of the window. Plans
    /// the arrivals of each day just before its first instant is reached.
    pub fn peek_at(&mut self) -> Option<i64> {
        loop {
            let next_at = self.heap.peek().map(|Reverse((at, _, _))| *at);
            if self.next_day < self.end_day && next_at.is_none_or(|t| t >= midnight(self.next_day))
            {
                let day = self.next_day;
                self.next_day += 1;
                self.plan_day(day);
                continue;
            }
            return next_at.filter(|t| *t < self.end_ms);
        }
    }

    /// Appends the next event's JSON (no newline) to `out`; `None` at the
    /// end of the window.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> Option<Emitted> {
        loop {
            self.peek_at()?;
            let Reverse((_, ordinal, slot)) = self.heap.pop()?;
            if let Some(e) = self.emit(slot, ordinal, out) {
                return Some(e);
            }
        }
    }

    /// Plans every filing that arrives on `day` in every commune.
    fn plan_day(&mut self, day: i32) {
        let world = self.world.clone();
        let mix = &world.mix;
        // Among counter filings, the postal ones.
        let postal = mix.postal_share / (1.0 - mix.online_share).max(1e-9);
        let planner = world.planner();
        let (y, m, d) = civil_from_days(i64::from(day));
        for (ci, commune) in world.communes.iter().enumerate() {
            let code = commune.code_number();
            let mut rng = Rng::derive(world.seed, &[DAY_STREAM, code, day as u64]);
            let counts =
                world
                    .arrivals
                    .counts(world.calendar(), day, commune.daily_mean, mix, &mut rng);
            self.arrivals.clear();
            for _ in 0..counts.office {
                let at = world.arrivals.office_time(day, &mut rng);
                let channel = if rng.chance(postal) {
                    Channel::Postal
                } else {
                    Channel::InPerson
                };
                self.arrivals.push((at, channel));
            }
            for _ in 0..counts.online {
                self.arrivals
                    .push((world.arrivals.online_time(day, &mut rng), Channel::Online));
            }
            // Numbered in the order they arrive, as a center's register does.
            self.arrivals.sort_unstable_by_key(|&(at, c)| (at, c as u8));
            for n in 0..self.arrivals.len() {
                let (at, channel) = self.arrivals[n];
                let mut rng = Rng::derive(world.seed, &[FILING_STREAM, code, day as u64, n as u64]);
                let procedure = world.procedures.draw(channel == Channel::Online, &mut rng);
                let plan = planner.plan(
                    Intake {
                        channel,
                        procedure,
                        at,
                    },
                    &mut rng,
                );
                let id = format!(
                    "{}-{:02}{m:02}{d:02}-{:05}-{}",
                    commune.commune_code,
                    y % 100,
                    n + 1,
                    world.tag
                );
                self.open(plan, ci as u32, id);
            }
        }
    }

    /// Adds one filing of the demo's live feed: it arrives at `at` in a
    /// commune drawn by size and lives `factor` times faster than a real one.
    pub fn add_live(&mut self, at: i64, n: u64, factor: f64) {
        let world = self.world.clone();
        let mut rng = Rng::derive(world.seed, &[LIVE_STREAM, at as u64, n]);
        let weights = super::rng::cumulative(world.communes.iter().map(|c| c.daily_mean));
        let ci = rng.pick(&weights);
        let mix = &world.mix;
        let channel = if rng.chance(mix.online_share) {
            Channel::Online
        } else if rng.chance(mix.postal_share) {
            Channel::Postal
        } else {
            Channel::InPerson
        };
        let procedure = world.procedures.draw(channel == Channel::Online, &mut rng);
        let planner = world.planner();
        // Planned as if it came at the next counter opening, then replayed
        // from `at`, compressed.
        let start = world.calendar().add_working_time(at, 1000);
        let mut plan = planner.plan(
            Intake {
                channel,
                procedure,
                at: start,
            },
            &mut rng,
        );
        plan.replay(start, at, factor);
        let id = format!(
            "{}-L{at}-{n}-{}",
            world.communes[ci].commune_code, world.tag
        );
        self.open(plan, ci as u32, id);
    }

    fn open(&mut self, plan: Plan, commune: u32, id: String) {
        let Some(first) = plan.events().first() else {
            return;
        };
        let first_at = first.at;
        let open = Open {
            plan,
            commune,
            id,
            next: 0,
        };
        self.ordinal += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(open);
                s
            }
            None => {
                self.slots.push(Some(open));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((first_at, self.ordinal - 1, slot)));
    }

    /// Writes the next event of the filing in `slot` and schedules the one after.
    fn emit(&mut self, slot: u32, ordinal: u64, out: &mut Vec<u8>) -> Option<Emitted> {
        let world = &self.world;
        let open = self.slots.get_mut(slot as usize)?.as_mut()?;
        let index = usize::from(open.next);
        let ev = *open.plan.events().get(index)?;
        let plan = &open.plan;
        let commune = &world.communes[open.commune as usize];
        let seq = index + 1;
        let start = out.len();

        out.extend_from_slice(b"{\"event_id\":\"");
        out.extend_from_slice(open.id.as_bytes());
        out.push(b'-');
        push_int(out, seq as u64);
        out.extend_from_slice(b"\",\"filing_id\":\"");
        let key_start = out.len();
        out.extend_from_slice(open.id.as_bytes());
        let mut key = key_start..out.len();
        out.extend_from_slice(b"\",\"seq\":");
        push_int(out, seq as u64);
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(ev.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"occurred_at\":\"");
        push_time(out, ev.at);
        out.extend_from_slice(b"\",\"province_code\":\"");
        out.extend_from_slice(commune.province_code.as_bytes());
        out.extend_from_slice(b"\",\"commune_code\":\"");
        out.extend_from_slice(commune.commune_code.as_bytes());
        out.push(b'"');

        let stats = &mut self.stats;
        stats.events += 1;
        stats.last_at = ev.at;
        if index == 0 {
            stats.filings += 1;
        }
        match ev.kind {
            EventType::Received => {
                let info = &world.procedures.list[usize::from(plan.procedure)];
                out.extend_from_slice(b",\"procedure_code\":");
                out.extend_from_slice(info.code_json.as_bytes());
                out.extend_from_slice(b",\"channel\":\"");
                out.extend_from_slice(plan.channel.as_str().as_bytes());
                out.push(b'"');
                if plan.send_due {
                    out.extend_from_slice(b",\"due_at\":\"");
                    push_time(out, plan.due_at);
                    out.push(b'"');
                } else {
                    stats.due_omitted += 1;
                }
                push_bool(out, b"eid_level2", plan.eid_level2);
                push_bool(out, b"digitized", plan.digitized);
                push_bool(out, b"fee_required", plan.fee_required);
                stats.received += 1;
                stats.received_online += u64::from(plan.channel == Channel::Online);
                stats.received_postal += u64::from(plan.channel == Channel::Postal);
                stats.eid_level2 += u64::from(plan.eid_level2);
                stats.digitized += u64::from(plan.digitized);
                stats.with_supplement += u64::from(plan.supplements > 0);
            }
            EventType::Extended => {
                out.extend_from_slice(b",\"due_at\":\"");
                push_time(out, plan.extended_due_at);
                out.push(b'"');
            }
            EventType::FeePaid => push_bool(out, b"online_payment", plan.online_payment),
            EventType::NotReceived => stats.not_received += 1,
            EventType::Withdrawn => stats.withdrawn += 1,
            EventType::Resolved | EventType::Stopped => {
                stats.ended += 1;
                stats.stopped += u64::from(ev.kind == EventType::Stopped);
                match plan.designed {
                    Designed::Early => stats.early += 1,
                    Designed::OnTime => stats.on_time += 1,
                    Designed::Late => stats.late += 1,
                    Designed::NoOutcome => {}
                }
            }
            _ => {}
        }
        out.push(b'}');
        if self.format == Format::Portal {
            // The same event, as the portal's item: counted alike.
            out.truncate(start);
            let item = if super::portal::is_step(ev.kind) {
                super::portal::step(&open.id, ev.at)
            } else {
                let info = &world.procedures.list[usize::from(plan.procedure)];
                super::portal::record(plan, index, &open.id, commune, info)
            };
            key = super::portal::write_item(out, &item);
        }

        open.next += 1;
        match open.plan.events().get(index + 1) {
            Some(next) => self.heap.push(Reverse((next.at, ordinal, slot))),
            None => {
                self.slots[slot as usize] = None;
                self.free.push(slot);
            }
        }
        Some(Emitted {
            at: ev.at,
            key,
            kind: ev.kind,
        })
    }
}

/// Each event as one line of JSON, for tests and small uses.
impl Iterator for Stream {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut out = Vec::with_capacity(320);
        self.next_into(&mut out)?;
        // Only ASCII and valid UTF-8 from the communes file is written.
        String::from_utf8(out).ok()
    }
}

fn push_bool(out: &mut Vec<u8>, name: &[u8], v: bool) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name);
    out.extend_from_slice(if v { b"\":true" } else { b"\":false" });
}

fn push_int(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_digits(out: &mut Vec<u8>, v: i64, width: usize) {
    let mut digits = [b'0'; 4];
    let mut v = v.rem_euclid(10i64.pow(width as u32));
    for i in (0..width).rev() {
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// RFC 3339 in local time (`2025-07-01T08:30:00+07:00`), with
/// milliseconds only when there are some.
pub fn push_time(out: &mut Vec<u8>, ms: i64) {
    let local = ms + LOCAL_OFFSET_MS;
    let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
    let rem = local.rem_euclid(DAY_MS);
    push_digits(out, y, 4);
    out.push(b'-');
    push_digits(out, i64::from(m), 2);
    out.push(b'-');
    push_digits(out, i64::from(d), 2);
    out.push(b'T');
    push_digits(out, rem / 3_600_000, 2);
    out.push(b':');
    push_digits(out, rem / 60_000 % 60, 2);
    out.push(b':');
    push_digits(out, rem / 1000 % 60, 2);
    if rem % 1000 != 0 {
        out.push(b'.');
        push_digits(out, rem % 1000, 3);
    }
    out.extend_from_slice(b"+07:00");
}
