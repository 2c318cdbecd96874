//! Deadline timers: which open filings are at risk or overdue, kept up to
//! date by the fold and a clock tick, without scanning the filings.
//!
//! A filing whose clock runs (open, received with a due date, no supplement
//! request pending) has one timer in an ordered queue: the instant it
//! becomes at risk (the working time left fits in the window, see
//! `Calendar::at_risk_from`), then the instant it becomes overdue (its
//! effective due has passed). A tick pops the timers that are due and moves
//! their filings on; the fold re-arms a filing whenever its
//! [`Deadline`] changes. The rules are the `at_risk` and `overdue` views':
//! a pending supplement request stops the clock at the request, so a
//! filing paused before its due is neither, and one paused after it stays
//! overdue.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray};
use hashbrown::{HashTable, hash_table};
use hoso_model::calendar::Calendar;
use hoso_model::fold::Deadline;

/// How late a filing is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    AtRisk,
    Overdue,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::AtRisk => "at_risk",
            Urgency::Overdue => "overdue",
        }
    }
}

/// A filing that is at risk or overdue now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilingAlert {
    pub urgency: Urgency,
    /// When it became so (the timer's instant, not the tick's).
    pub since_ms: i64,
    pub effective_due_at: i64,
    pub province: u8,
    pub commune: u32,
}

/// A filing being watched: its deadline and where it sits in the queue.
struct Watched {
    deadline: Deadline,
    /// When it becomes at risk.
    at_risk_at: i64,
    /// Its entry in the queue, if a timer is still ahead.
    next: Option<i64>,
    province: u8,
    commune: u32,
}

/// One filing the timers know: watched (its clock runs), alerting, or
/// both. A filing that is neither has no entry.
struct Entry {
    id: Arc<str>,
    watched: Option<Watched>,
    alert: Option<FilingAlert>,
}

pub struct Deadlines {
    calendar: Arc<Calendar>,
    /// `query.at_risk_working_hours`, in milliseconds.
    window_ms: i64,
    /// Every filing watched or alerting, by id. One table, probed with a
    /// hash computed once: every folded event that moves a deadline asks
    /// it, and a caught-up processor folds thousands a second.
    entries: HashTable<Entry>,
    hasher: foldhash::fast::RandomState,
    /// (instant, filing): the next timer of each watched filing.
    queue: BTreeSet<(i64, Arc<str>)>,
    /// The last [`Deadlines::batch`], until an alert changes.
    batch: Option<RecordBatch>,
    /// An alert changed since the last [`Deadlines::take_changed`].
    changed: bool,
}

impl Deadlines {
    pub fn new(calendar: Arc<Calendar>, at_risk_working_hours: u32) -> Self {
        Deadlines {
            calendar,
            window_ms: i64::from(at_risk_working_hours) * 3_600_000,
            entries: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            queue: BTreeSet::new(),
            batch: None,
            changed: false,
        }
    }

    /// The filing's deadline is now `deadline` (the fold changed it, or a
    /// restore found it): re-arms its timer and settles its alert as of
    /// `now_ms`.
    pub fn observe(
        &mut self,
        filing_id: &str,
        deadline: Deadline,
        province: u8,
        commune: u32,
        now_ms: i64,
    ) {
        let runs = deadline.effective_due_at.is_some() && !deadline.closed;
        let hash = self.hasher.hash_one(filing_id);
        let hasher = &self.hasher;
        let mut entry =
            match self
                .entries
                .entry(hash, |e| &*e.id == filing_id, |e| hasher.hash_one(&*e.id))
            {
                hash_table::Entry::Occupied(mut o) => {
                    let e = o.get_mut();
                    if e.watched.as_ref().is_some_and(|w| w.deadline == deadline) {
                        return;
                    }
                    if let Some(Watched { next: Some(at), .. }) = e.watched.take() {
                        self.queue.remove(&(at, e.id.clone()));
                    }
                    o
                }
                // Neither watched nor alerting, and nothing to become: the
                // common case of an event that closes a filing.
                hash_table::Entry::Vacant(_) if !runs => return,
                hash_table::Entry::Vacant(v) => v.insert(Entry {
                    id: filing_id.into(),
                    watched: None,
                    alert: None,
                }),
            };
        let e = entry.get_mut();
        let alert = match (deadline.effective_due_at, deadline.pause_started_at) {
            // Closed or never due: no alert.
            _ if !runs => None,
            // The clock stopped at the request: overdue stays overdue,
            // anything else waits for the documents.
            (Some(due), Some(paused)) => (paused > due).then(|| FilingAlert {
                urgency: Urgency::Overdue,
                since_ms: due.saturating_add(1),
                effective_due_at: due,
                province,
                commune,
            }),
            (due, _) => {
                let due = due.expect("a running clock has a due date");
                e.watched = Some(Watched {
                    deadline,
                    at_risk_at: self.calendar.at_risk_from(due, self.window_ms),
                    next: None,
                    province,
                    commune,
                });
                advance(e, now_ms, &mut self.queue)
            }
        };
        if set_alert(&mut e.alert, alert) {
            self.changed = true;
            self.batch = None;
        }
        if e.watched.is_none() && e.alert.is_none() {
            entry.remove();
        }
    }

    /// Moves every filing whose timer is due at `now_ms` on.
    pub fn tick(&mut self, now_ms: i64) {
        while let Some((at, _)) = self.queue.first()
            && *at <= now_ms
        {
            let (_, id) = self.queue.pop_first().expect("first exists");
            let hash = self.hasher.hash_one(&*id);
            let Some(e) = self.entries.find_mut(hash, |e| e.id == id) else {
                continue;
            };
            if let Some(w) = &mut e.watched {
                w.next = None;
            }
            let alert = advance(e, now_ms, &mut self.queue);
            if set_alert(&mut e.alert, alert) {
                self.changed = true;
                self.batch = None;
            }
        }
    }

    /// The filings at risk or overdue now.
    pub fn alerting(&self) -> impl Iterator<Item = (&str, &FilingAlert)> {
        self.entries
            .iter()
            .filter_map(|e| e.alert.as_ref().map(|a| (&*e.id, a)))
    }

    /// Whether the alerts changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }

    /// Filings with a timer still ahead.
    pub fn armed(&self) -> usize {
        self.queue.len()
    }

    /// The alerts as a batch of `hoso_model::schema::filing_alerts`, in
    /// no particular order; built again only when the alerts changed. A
    /// loaded processor rebuilds it at nearly every publish, so nothing
    /// here sorts or allocates per row.
    pub fn batch(&mut self, partition: i32) -> RecordBatch {
        if let Some(b) = &self.batch {
            return b.clone();
        }
        let rows: Vec<(&str, &FilingAlert)> = self.alerting().collect();
        let n = rows.len();
        let ids = StringArray::from_iter_values(rows.iter().map(|(k, _)| *k));
        let codes = |width: usize, code: &dyn Fn(&FilingAlert) -> u32| {
            let mut b = StringBuilder::with_capacity(n, n * width);
            for (_, a) in &rows {
                let digits = padded(code(a), width);
                b.append_value(std::str::from_utf8(&digits[..width]).expect("ASCII digits"));
            }
            b.finish()
        };
        let province = codes(2, &|a| u32::from(a.province));
        let commune = codes(5, &|a| a.commune);
        let urgency = StringArray::from_iter_values(rows.iter().map(|(_, a)| a.urgency.as_str()));
        let ts = |f: &dyn Fn(&FilingAlert) -> i64| -> ArrayRef {
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|(_, a)| f(a)))
                    .with_timezone("UTC"),
            )
        };
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("partition", Arc::new(Int32Array::from_value(partition, n))),
            ("filing_id", Arc::new(ids)),
            ("province_code", Arc::new(province)),
            ("commune_code", Arc::new(commune)),
            ("urgency", Arc::new(urgency)),
            ("since", ts(&|a| a.since_ms)),
            ("effective_due_at", ts(&|a| a.effective_due_at)),
        ];
        let batch = crate::encode::named(hoso_model::schema::filing_alerts(), columns)
            .expect("columns match the schema");
        self.batch = Some(batch.clone());
        batch
    }
}

/// Settles a watched filing's alert as of `now_ms` and queues its next
/// timer; the alert it has now. An entry not watched keeps its alert.
fn advance(
    e: &mut Entry,
    now_ms: i64,
    queue: &mut BTreeSet<(i64, Arc<str>)>,
) -> Option<FilingAlert> {
    let Entry { id, watched, alert } = e;
    let Some(w) = watched else {
        return *alert;
    };
    let due = w
        .deadline
        .effective_due_at
        .expect("watched filings are due");
    let overdue_at = due.saturating_add(1);
    let (urgency, next) = if now_ms >= overdue_at {
        (Some((Urgency::Overdue, overdue_at)), None)
    } else if now_ms >= w.at_risk_at {
        (Some((Urgency::AtRisk, w.at_risk_at)), Some(overdue_at))
    } else {
        (None, Some(w.at_risk_at))
    };
    w.next = next;
    if let Some(at) = next {
        queue.insert((at, id.clone()));
    }
    urgency.map(|(urgency, since_ms)| FilingAlert {
        urgency,
        since_ms,
        effective_due_at: due,
        province: w.province,
        commune: w.commune,
    })
}

/// `code` as `width` (at most 5) zero-padded decimal digits, the way the
/// contract writes province and commune codes.
fn padded(mut code: u32, width: usize) -> [u8; 5] {
    let mut out = [b'0'; 5];
    for d in out[..width].iter_mut().rev() {
        *d = b'0' + (code % 10) as u8;
        code /= 10;
    }
    out
}

/// Puts `alert` in `slot`; whether that changed it.
fn set_alert(slot: &mut Option<FilingAlert>, alert: Option<FilingAlert>) -> bool {
    if *slot == alert {
        return false;
    }
    *slot = alert;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoso_model::time::parse_rfc3339_ms;

    fn t(s: &str) -> i64 {
        parse_rfc3339_ms(s).unwrap()
    }

    fn due(at: &str) -> Deadline {
        Deadline {
            effective_due_at: Some(t(at)),
            pause_started_at: None,
            closed: false,
        }
    }

    fn deadlines() -> Deadlines {
        Deadlines::new(Arc::new(Calendar::vietnam()), 8)
    }

    fn state(d: &Deadlines, id: &str) -> Option<(Urgency, i64)> {
        d.alerting()
            .find(|(k, _)| *k == id)
            .map(|(_, a)| (a.urgency, a.since_ms))
    }

    #[test]
    fn a_filing_crosses_at_risk_then_overdue_by_the_clock() {
        let mut d = deadlines();
        // Due Tuesday 10:00; 8 working hours before is Monday 10:00.
        d.observe(
            "F",
            due("2025-07-08T10:00:00+07:00"),
            91,
            30292,
            t("2025-07-07T08:00:00+07:00"),
        );
        assert_eq!(state(&d, "F"), None);
        assert_eq!(d.armed(), 1);
        d.tick(t("2025-07-07T09:59:59+07:00"));
        assert_eq!(state(&d, "F"), None);
        assert!(!d.take_changed());
        d.tick(t("2025-07-07T10:00:00+07:00"));
        assert_eq!(
            state(&d, "F"),
            Some((Urgency::AtRisk, t("2025-07-07T10:00:00+07:00")))
        );
        assert!(d.take_changed());
        // A late tick still dates the change by the deadline.
        d.tick(t("2025-07-08T10:05:00+07:00"));
        assert_eq!(
            state(&d, "F"),
            Some((Urgency::Overdue, t("2025-07-08T10:00:00+07:00") + 1))
        );
        assert_eq!(d.armed(), 0, "nothing follows overdue");
        // Another event that leaves the deadline as it was changes nothing.
        d.observe(
            "F",
            due("2025-07-08T10:00:00+07:00"),
            91,
            30292,
            t("2025-07-08T11:00:00+07:00"),
        );
        assert!(d.take_changed());
        d.observe(
            "F",
            due("2025-07-08T10:00:00+07:00"),
            91,
            30292,
            t("2025-07-08T12:00:00+07:00"),
        );
        assert!(!d.take_changed());
        // Resolved: the alert ends.
        let closed = Deadline {
            closed: true,
            ..due("2025-07-08T10:00:00+07:00")
        };
        d.observe("F", closed, 91, 30292, t("2025-07-08T13:00:00+07:00"));
        assert_eq!(state(&d, "F"), None);
        assert!(d.take_changed());
        assert_eq!(d.entries.len(), 0, "a closed filing is forgotten");
        // Closing a filing never watched remembers nothing either.
        d.observe("G", closed, 91, 30292, t("2025-07-08T13:00:00+07:00"));
        assert_eq!(d.entries.len(), 0);
        assert!(!d.take_changed());
    }

    #[test]
    fn the_window_reaches_over_a_weekend_and_a_holiday() {
        let mut d = Deadlines::new(Arc::new(Calendar::vietnam()), 4);
        // Due Wednesday 3 September 2025 09:30; 1-2 September are days off
        // and 30-31 August a weekend: at risk from Friday 29 August 15:00.
        d.observe(
            "H",
            due("2025-09-03T09:30:00+07:00"),
            91,
            30292,
            t("2025-08-29T08:00:00+07:00"),
        );
        d.tick(t("2025-08-29T14:59:00+07:00"));
        assert_eq!(state(&d, "H"), None);
        d.tick(t("2025-08-31T10:00:00+07:00"));
        assert_eq!(
            state(&d, "H"),
            Some((Urgency::AtRisk, t("2025-08-29T15:00:00+07:00")))
        );
        d.tick(t("2025-09-03T09:30:01+07:00"));
        assert_eq!(state(&d, "H").map(|s| s.0), Some(Urgency::Overdue));
    }

    #[test]
    fn a_supplement_request_stops_the_clock() {
        let mut d = deadlines();
        let monday = t("2025-07-07T08:00:00+07:00");
        d.observe("S", due("2025-07-08T10:00:00+07:00"), 91, 30292, monday);
        // Monday 09:00 the center asks for documents: no alert while waiting,
        // whatever the clock says.
        let paused = Deadline {
            pause_started_at: Some(t("2025-07-07T09:00:00+07:00")),
            ..due("2025-07-08T10:00:00+07:00")
        };
        d.observe("S", paused, 91, 30292, t("2025-07-07T09:00:00+07:00"));
        assert_eq!(d.armed(), 0);
        d.tick(t("2025-07-09T12:00:00+07:00"));
        assert_eq!(state(&d, "S"), None);
        // The documents come back after 2 days: the due moves by the pause.
        let resumed = due("2025-07-10T10:00:00+07:00");
        d.observe("S", resumed, 91, 30292, t("2025-07-09T09:00:00+07:00"));
        d.tick(t("2025-07-09T09:59:00+07:00"));
        assert_eq!(state(&d, "S"), None);
        d.tick(t("2025-07-09T10:00:00+07:00"));
        assert_eq!(state(&d, "S").map(|s| s.0), Some(Urgency::AtRisk));
        // Asked again after its due: it stays overdue while it waits.
        d.tick(t("2025-07-10T11:00:00+07:00"));
        let late_pause = Deadline {
            pause_started_at: Some(t("2025-07-10T11:00:00+07:00")),
            ..resumed
        };
        d.observe("S", late_pause, 91, 30292, t("2025-07-10T11:00:00+07:00"));
        assert_eq!(
            state(&d, "S"),
            Some((Urgency::Overdue, t("2025-07-10T10:00:00+07:00") + 1))
        );
    }

    #[test]
    fn codes_are_written_as_the_contract_writes_them() {
        assert_eq!(&padded(1, 2)[..2], b"01");
        assert_eq!(&padded(91, 2)[..2], b"91");
        assert_eq!(&padded(4, 5)[..5], b"00004");
        assert_eq!(&padded(30292, 5)[..5], b"30292");
    }

    #[test]
    fn a_filing_first_seen_late_is_overdue_at_once_and_batches_name_it() {
        let mut d = deadlines();
        d.observe(
            "L",
            due("2025-07-01T17:00:00+07:00"),
            91,
            30292,
            t("2025-07-07T08:00:00+07:00"),
        );
        d.observe(
            "N",
            Deadline::default(),
            91,
            30292,
            t("2025-07-07T08:00:00+07:00"),
        );
        assert_eq!(state(&d, "L").map(|s| s.0), Some(Urgency::Overdue));
        assert_eq!(state(&d, "N"), None, "no due date, no alert");
        let b = d.batch(4);
        assert_eq!(b.num_rows(), 1);
        let text = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0)
                .to_string()
        };
        assert_eq!(
            [text(1), text(2), text(3), text(4)],
            ["L", "91", "30292", "overdue"]
        );
    }
}
