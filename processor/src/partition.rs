//! The tables of one Kafka partition: filings plus daily aggregates, and
//! where the partition has been read to.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use hoso_model::catalogue::DueRules;
use hoso_model::tables::PartitionStatus;
use hoso_model::{Applied, Contribution, decode_event_with};

use crate::cold::{ColdError, ColdTier};
use crate::completeness::CommuneClock;
use crate::daily::{DailyAggregates, DayCounts, DayKey};
use crate::deadlines::Deadlines;
use crate::portal::PortalFilings;
use crate::rejects::{Reject, RejectLog};
use crate::restatements::{Cause, RestatementLog};
use crate::store::FilingStore;

mod portal_fold;

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum FoldResult {
    Folded,
    /// This event (same `event_id` at the same `(filing_id, seq)`) was
    /// folded before.
    Duplicate,
    /// The message cannot be applied. `reason` is the reject reason code;
    /// `new` is the logged reject the first time this offset is refused,
    /// for the dead-letter topic, and `None` on a re-read.
    Rejected {
        reason: &'static str,
        new: Option<Box<Reject>>,
    },
    /// Before the offset these tables start at (a replay from a
    /// timestamp): not part of their history.
    BeforeStart,
}

/// Per-partition settings (from the processor's config).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// A day is closed once the partition's event time is this far past
    /// its end; later changes to it are restatements.
    pub day_close_grace_ms: i64,
    /// Rejects kept for SQL (the dead-letter topic keeps them all). At
    /// least the resume rewind, so that a re-read message that was refused
    /// is found in the log.
    pub rejects_retained: usize,
    /// Restatements kept for SQL.
    pub restatements_retained: usize,
    /// Where closed filings go once they are `cold_after_days` old; `None`
    /// keeps every filing in memory.
    pub cold_dir: Option<Arc<Path>>,
    /// The table store the cold files are made durable in, when it is not
    /// `cold_dir` itself (see [`crate::cold::ColdTier`]).
    pub cold_remote: Option<crate::table_store::StoreDir>,
    pub cold_after_days: i32,
    /// Due dates of `received` events that come without one.
    pub due_rules: DueRules,
    /// The at-risk window of the deadline timers, in working hours.
    pub at_risk_working_hours: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            day_close_grace_ms: 3_600_000,
            rejects_retained: 10_000,
            restatements_retained: 100_000,
            cold_dir: None,
            cold_remote: None,
            cold_after_days: 7,
            due_rules: DueRules::vietnam(),
            at_risk_working_hours: 8,
        }
    }
}

/// How far ahead of its Kafka timestamp an event's time may move the
/// watermark: a clock that is wrong by a year must not close every day.
const MAX_EVENT_LEAD_MS: i64 = 3_600_000;

/// A closed day's counts in this partition before and after one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChange {
    pub key: DayKey,
    pub old: DayCounts,
    pub new: DayCounts,
    pub offset: i64,
    /// The event, shared by the days it changed.
    pub cause: Arc<Cause>,
}

/// One partition's published tables.
#[derive(Clone, Debug, Default)]
pub struct PublishedPartition {
    pub filings: Vec<RecordBatch>,
    pub daily_partials: Vec<RecordBatch>,
    pub rejects: Option<RecordBatch>,
    pub restatements: Vec<RecordBatch>,
    /// The cold files whose rows complete `filings`.
    pub cold_files: Vec<String>,
    /// Offsets, event time and sizes at this publish (lag and caught-up
    /// are the live tables' to fill).
    pub status: PartitionStatus,
    pub commune_clocks: Option<RecordBatch>,
    /// The open filings at risk or overdue ([`crate::deadlines`]).
    pub filing_alerts: Option<RecordBatch>,
}

pub struct PartitionTables {
    partition: i32,
    settings: Settings,
    filings: FilingStore,
    daily: DailyAggregates,
    pub(crate) rejects: RejectLog,
    pub(crate) restatements: RestatementLog,
    pub(crate) cold: ColdTier,
    /// Newest event time folded per commune.
    pub(crate) clocks: CommuneClock,
    /// The filings fed by portal records: their records in force and
    /// steps (`crate::portal`).
    pub(crate) portal: PortalFilings,
    /// Which open filings are at risk or overdue (derived from `filings`,
    /// rebuilt on restore, not checkpointed). Until the partition first
    /// reaches its end, folded events leave the timers alone: reading a
    /// backlog (a replay of months) would otherwise raise and clear an
    /// alert for nearly every filing, each one a false alarm judged by
    /// today's clock. The end rebuilds them from every filing held.
    deadlines: Deadlines,
    /// Event time the partition has reached (UTC ms, `i64::MIN` before
    /// any event): what closes days.
    watermark_ms: i64,
    /// Closed days changed by the last folded event, for the caller to
    /// turn into restatements.
    closed_changes: Vec<DayChange>,
    /// Refusals of events folded before, for the caller to dead-letter.
    displaced: Vec<Reject>,
    /// Messages whose event or due date fell in a year without an
    /// announced holiday arrangement, by year, for the caller's metric.
    projected_years: BTreeMap<i32, u64>,
    /// Offset of the next message to read.
    next_offset: i64,
    /// Messages before this offset are not part of these tables (0 unless
    /// they were replayed from a timestamp).
    first_offset: i64,
    /// Changed since the last publish.
    changed: bool,
    /// `next_offset` of the last checkpoint written or restored.
    checkpointed_offset: i64,
    /// Read to the end of the partition at least once.
    reached_end: bool,
    /// `reached_end` has been published (and announced as caught up).
    end_published: bool,
}

impl PartitionTables {
    pub fn new(partition: i32) -> Self {
        let settings = Settings::default();
        PartitionTables {
            partition,
            filings: FilingStore::new(),
            daily: DailyAggregates::new(),
            rejects: RejectLog::new(settings.rejects_retained),
            restatements: RestatementLog::new(settings.restatements_retained),
            cold: ColdTier::new(partition, None, settings.cold_after_days),
            clocks: CommuneClock::new(),
            portal: PortalFilings::new(),
            deadlines: Deadlines::new(
                settings.due_rules.calendar.clone(),
                settings.at_risk_working_hours,
            ),
            settings,
            watermark_ms: i64::MIN,
            closed_changes: Vec::new(),
            displaced: Vec::new(),
            projected_years: BTreeMap::new(),
            next_offset: 0,
            first_offset: 0,
            changed: true,
            checkpointed_offset: 0,
            reached_end: false,
            end_published: false,
        }
    }

    /// The same tables under other settings.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.rejects.set_retain(settings.rejects_retained);
        self.restatements.set_retain(settings.restatements_retained);
        self.cold.configure(
            settings.cold_dir.clone(),
            settings.cold_remote.clone(),
            settings.cold_after_days,
        );
        self.settings = settings;
        // The timers follow the calendar and window of these settings,
        // over every filing held (after a restore: the checkpoint's).
        self.reset_deadlines();
        self
    }

    /// New deadline timers, armed for every open filing held.
    fn reset_deadlines(&mut self) {
        self.deadlines = Deadlines::new(
            self.settings.due_rules.calendar.clone(),
            self.settings.at_risk_working_hours,
        );
        let now = now_ms();
        for (id, state) in self.filings.rows() {
            let deadline = state.deadline();
            if deadline.effective_due_at.is_some() && !deadline.closed {
                let id = String::from_utf8_lossy(id);
                self.deadlines
                    .observe(&id, deadline, state.province(), state.commune(), now);
            }
        }
    }

    /// Moves the deadline timers to `now_ms`; the alerts are published with
    /// the next publish when they changed.
    pub fn tick_deadlines(&mut self, now_ms: i64) {
        self.deadlines.tick(now_ms);
        if self.deadlines.take_changed() {
            self.changed = true;
        }
    }

    /// The filings at risk or overdue now.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Decodes and folds the message at `offset`. `timestamp_ms` is the
    /// message's Kafka timestamp, when it has one. An error (a cold file
    /// that may hold the filing cannot be read) leaves the tables as they
    /// were, the message unread.
    pub fn fold_message(
        &mut self,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        timestamp_ms: Option<i64>,
    ) -> Result<FoldResult, ColdError> {
        self.fold_message_at(offset, key, payload, timestamp_ms, now_ms())
    }

    /// [`PartitionTables::fold_message`] with the wall clock given: it
    /// stamps rejects and moves deadline timers, and decides nothing.
    pub fn fold_message_at(
        &mut self,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        timestamp_ms: Option<i64>,
        now: i64,
    ) -> Result<FoldResult, ColdError> {
        if offset < self.first_offset {
            return Ok(FoldResult::BeforeStart);
        }
        let fresh = offset >= self.next_offset;
        let was_next = self.next_offset;
        // Never backwards: messages re-read after a resume are behind it.
        self.next_offset = self.next_offset.max(offset + 1);
        if hoso_model::portal::envelope::Envelope::is_envelope(payload) {
            return self.fold_envelope(offset, key, payload, timestamp_ms, now, fresh, was_next);
        }
        let event = match decode_event_with(payload, Some(&self.settings.due_rules)) {
            Ok(e) => e,
            Err(e) => {
                let reject = Reject::of_message(
                    e.reason(),
                    e.message,
                    key,
                    payload,
                    self.partition,
                    offset,
                    now,
                );
                return Ok(self.reject(reject, fresh));
            }
        };
        // Deadlines in a year whose days off are only projected from the
        // law may move when the government announces its arrangement.
        let calendar = &self.settings.due_rules.calendar;
        let dates = [Some(event.occurred_at_ms), event.due_at_ms];
        for ms in dates.into_iter().flatten().filter(|_| fresh) {
            let day = hoso_model::time::local_day(ms);
            if !calendar.is_announced_day(day) {
                *self
                    .projected_years
                    .entry(hoso_model::calendar::year_of(day))
                    .or_default() += 1;
            }
        }
        // A re-read after a resume (read from a little before the
        // checkpoint, see the consumer's `resume`) of a filing not in
        // memory: the checkpoint holds what its first read did. Recalling
        // a cold one to find that again would rewrite its cold file, once
        // per re-read message; a run never stopped reads it once. (A
        // re-read of a filing in memory is checked against it: it may
        // fill records a broker skipped before the checkpoint.)
        if !fresh && self.filings.get(&event.filing_id).is_none() {
            return Ok(FoldResult::Duplicate);
        }
        // A filing fed by portal records is their function alone: an
        // event of the contract for it is refused, whichever came first
        // (the first record displaces the events folded before it).
        if self.portal.contains(&event.filing_id) {
            let reject = Reject::of_message(
                hoso_model::Rejection::Conflict.reason(),
                format!(
                    "{} (seq {} of filing {}): {}",
                    event.kind,
                    event.seq,
                    event.filing_id,
                    portal_fold::FED_BY_RECORDS
                ),
                key,
                payload,
                self.partition,
                offset,
                now,
            )
            .naming(&event.filing_id, Some(&event.event_id));
            return Ok(self.reject(reject, fresh));
        }
        let closed_before = self.closed_before();
        let cold = &mut self.cold;
        let mut displaced = Vec::new();
        let r = match self
            .filings
            .apply_at(&event, offset, |id| cold.recall(id), &mut displaced)
        {
            Ok(r) => r,
            Err(e) => {
                self.next_offset = was_next;
                return Err(e);
            }
        };
        // The files recalled from are rewritten without the recalled
        // filings at the next publish, cold pass or checkpoint
        // (`finish_recalls`), not per message: a day's late events into one
        // file cost one rewrite, and until then nothing publishes or saves
        // the files.
        // Events this one took the place of: refused under their own
        // offsets, as final as any refusal (see `hoso_model::fold`).
        for d in &displaced {
            let reject = Reject::of_message(
                d.why.reason(),
                format!(
                    "{} (seq {} of filing {}, occurred_at {}): displaced by event {} read at \
                     offset {offset}: {}",
                    d.kind,
                    d.seq,
                    event.filing_id,
                    hoso_model::time::format_utc_ms(d.occurred_at_ms),
                    event.event_id,
                    d.why
                ),
                key,
                &[],
                self.partition,
                d.offset,
                now,
            )
            .naming(&event.filing_id, None);
            if let FoldResult::Rejected { new: Some(r), .. } = self.reject(reject, fresh) {
                self.displaced.push(*r);
            }
        }
        Ok(match r.applied {
            Applied::Duplicate => FoldResult::Duplicate,
            Applied::Resent => {
                // Not folded, but kept, and it may have displaced the
                // event at its seq.
                self.moved(&r, &event, offset, closed_before, now);
                self.changed = true;
                FoldResult::Duplicate
            }
            Applied::Rejected(why) => {
                // Refused, yet it may have displaced folded events (a
                // `received` with other dimensions above it).
                self.moved(&r, &event, offset, closed_before, now);
                let reject = Reject::of_message(
                    why.reason(),
                    format!(
                        "{} (seq {} of filing {}): {why}",
                        event.kind, event.seq, event.filing_id
                    ),
                    key,
                    payload,
                    self.partition,
                    offset,
                    now,
                )
                .naming(&event.filing_id, Some(&event.event_id));
                self.reject(reject, fresh)
            }
            Applied::Folded => {
                self.moved(&r, &event, offset, closed_before, now);
                // Only fresh messages move event time: a re-read after a
                // resume must decide "closed" as the first read did.
                if fresh {
                    let lead =
                        timestamp_ms.map_or(i64::MAX, |t| t.saturating_add(MAX_EVENT_LEAD_MS));
                    self.watermark_ms = self.watermark_ms.max(event.occurred_at_ms.min(lead));
                }
                self.clocks
                    .saw(event.province, event.commune, event.occurred_at_ms);
                self.changed = true;
                FoldResult::Folded
            }
        })
    }

    /// Moves what one event changed of its filing: the daily counts (a
    /// closed day's change kept for its restatement) and the deadline
    /// timers.
    fn moved(
        &mut self,
        r: &crate::store::StoreApply,
        event: &hoso_model::Event<'_>,
        offset: i64,
        closed_before: i32,
        now: i64,
    ) {
        self.moved_by(r, &event.filing_id, offset, closed_before, now, || {
            let text = format!(
                "late `{}` event (seq {}, occurred_at {}) of filing {}",
                event.kind,
                event.seq,
                hoso_model::time::format_utc_ms(event.occurred_at_ms),
                event.filing_id
            );
            Cause::new(text, &*event.filing_id, &*event.event_id)
        });
    }

    /// [`Self::moved`] for any change of a filing, `cause` naming it for
    /// the restatements it makes.
    fn moved_by(
        &mut self,
        r: &crate::store::StoreApply,
        filing_id: &str,
        offset: i64,
        closed_before: i32,
        now: i64,
        cause: impl FnOnce() -> Arc<Cause>,
    ) {
        if self.reached_end && r.deadline_before != r.deadline_after {
            let (province, commune) = (r.after.province, r.after.commune);
            self.deadlines
                .observe(filing_id, r.deadline_after, province, commune, now);
        }
        if r.before == r.after {
            return;
        }
        self.changed = true;
        let closed = closed_keys(&r.before, &r.after, closed_before);
        if closed.is_empty() {
            self.daily.update(&r.before, &r.after);
            return;
        }
        let old: Vec<DayCounts> = closed
            .iter()
            .map(|k| self.daily.get(*k).unwrap_or_default())
            .collect();
        self.daily.update(&r.before, &r.after);
        let mut cause = Some(cause);
        let mut made: Option<Arc<Cause>> = None;
        for (key, old) in closed.into_iter().zip(old) {
            let new = self.daily.get(key).unwrap_or_default();
            if new != old {
                let cause = made.get_or_insert_with(|| (cause.take().expect("made once"))());
                self.closed_changes.push(DayChange {
                    key,
                    old,
                    new,
                    offset,
                    cause: cause.clone(),
                });
            }
        }
    }

    /// Logs a refusal. Only a message read for the first time is logged
    /// and returned for the dead-letter topic: refusals are final, so one
    /// read again after a resume was refused, logged and dead-lettered
    /// before the checkpoint it resumed from.
    fn reject(&mut self, reject: Reject, fresh: bool) -> FoldResult {
        let reason = reject.reason;
        if !fresh {
            return FoldResult::Rejected { reason, new: None };
        }
        self.changed = true;
        self.rejects.record(reject.clone());
        FoldResult::Rejected {
            reason,
            new: Some(Box::new(reject)),
        }
    }

    /// The events the last folded messages displaced (drained): each was
    /// logged as a reject and is due on the dead-letter topic.
    pub fn take_displaced(&mut self) -> Vec<Reject> {
        std::mem::take(&mut self.displaced)
    }

    /// Messages dated in years without an announced arrangement since the
    /// last call, by year.
    pub fn take_projected_years(&mut self) -> BTreeMap<i32, u64> {
        std::mem::take(&mut self.projected_years)
    }

    /// Days before this local day are closed.
    fn closed_before(&self) -> i32 {
        if self.watermark_ms == i64::MIN {
            return i32::MIN;
        }
        hoso_model::time::local_day(
            self.watermark_ms
                .saturating_sub(self.settings.day_close_grace_ms),
        )
    }

    /// The closed days the last folded events changed (drained).
    pub fn take_closed_changes(&mut self) -> Vec<DayChange> {
        std::mem::take(&mut self.closed_changes)
    }

    /// True when the last folded events changed closed days.
    pub fn has_closed_changes(&self) -> bool {
        !self.closed_changes.is_empty()
    }

    pub fn watermark_ms(&self) -> i64 {
        self.watermark_ms
    }

    /// The local day the partition's event time has reached, `i32::MIN`
    /// before any event: the cold tier makes a pass when it turns.
    pub fn event_day(&self) -> i32 {
        if self.watermark_ms == i64::MIN {
            return i32::MIN;
        }
        hoso_model::time::local_day(self.watermark_ms)
    }

    /// Tables rebuilt from a checkpoint, to continue at `next_offset`.
    #[allow(clippy::too_many_arguments)]
    pub fn restored(
        partition: i32,
        first_offset: i64,
        next_offset: i64,
        watermark_ms: i64,
        filings: FilingStore,
        daily: DailyAggregates,
        rejects: RejectLog,
        restatements: RestatementLog,
        cold: ColdTier,
    ) -> Self {
        PartitionTables {
            cold,
            first_offset,
            next_offset,
            checkpointed_offset: next_offset,
            watermark_ms,
            filings,
            daily,
            rejects,
            restatements,
            ..PartitionTables::new(partition)
        }
    }

    /// Fresh tables that start reading at `offset` (a replay from a
    /// timestamp): their first checkpoint records it even if nothing
    /// follows.
    pub fn starting_at(mut self, offset: i64) -> Self {
        self.next_offset = offset;
        self.first_offset = offset;
        self.checkpointed_offset = -1;
        self
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn first_offset(&self) -> i64 {
        self.first_offset
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Messages read since the last checkpoint.
    pub fn needs_checkpoint(&self) -> bool {
        self.next_offset != self.checkpointed_offset
    }

    /// A checkpoint of the current state is durable.
    pub fn mark_checkpointed(&mut self) {
        self.checkpointed_offset = self.next_offset;
    }

    pub fn filings(&self) -> &FilingStore {
        &self.filings
    }

    pub fn daily(&self) -> &DailyAggregates {
        &self.daily
    }

    pub fn has_changes(&self) -> bool {
        self.changed
    }

    /// Kafka reported the end of the partition.
    pub fn mark_end(&mut self) {
        if !self.reached_end {
            // The backlog is read: the timers restart from the filings as
            // they are now and follow the fold from here on.
            self.reset_deadlines();
            self.changed = true;
        }
        self.reached_end = true;
    }

    /// True once, right after the first publish that included the end of
    /// the partition: the moment SQL shows a caught-up partition.
    pub fn take_caught_up(&mut self) -> bool {
        let now = self.reached_end && !self.end_published && !self.changed;
        if now {
            self.end_published = true;
        }
        now
    }

    /// The current tables as Arrow, re-encoding only what changed.
    pub fn publish(&mut self) -> Arc<PublishedPartition> {
        self.publish_at(now_ms())
    }

    /// [`PartitionTables::publish`], stamped `now_ms`.
    pub fn publish_at(&mut self, now_ms: i64) -> Arc<PublishedPartition> {
        self.finish_recalls();
        self.changed = false;
        Arc::new(PublishedPartition {
            filings: self.filings.batches(crate::encode::filings),
            daily_partials: self.daily.batches(self.partition, crate::encode::daily),
            rejects: self.rejects.batch(),
            restatements: self.restatements.batches(),
            cold_files: self.cold.paths(),
            status: PartitionStatus {
                partition: self.partition,
                next_offset: self.next_offset,
                last_event_at_ms: (self.watermark_ms != i64::MIN).then_some(self.watermark_ms),
                hot_filings: self.filings.len() as u64,
                cold_filings: self.cold.rows(),
                published_at_ms: now_ms,
                ..PartitionStatus::default()
            },
            commune_clocks: Some(self.clocks.batch(self.partition)),
            filing_alerts: Some(self.deadlines.batch(self.partition)),
        })
    }

    /// The same tables with the commune clocks of a checkpoint.
    pub fn with_clocks(mut self, clocks: CommuneClock) -> Self {
        self.clocks = clocks;
        self
    }

    /// The same tables with these portal filings (from a checkpoint).
    pub fn with_portal(mut self, portal: PortalFilings) -> Self {
        self.portal = portal;
        self
    }

    /// The filings fed by portal records.
    pub fn portal(&self) -> &PortalFilings {
        &self.portal
    }

    /// The restatements kept.
    pub fn restatement_log(&self) -> &RestatementLog {
        &self.restatements
    }

    /// Moves filings closed longer ago than the horizon to cold files,
    /// once per day of event time. `Ok(0)` when not due.
    pub fn evict_cold(&mut self) -> Result<usize, ColdError> {
        self.finish_recalls();
        if self.watermark_ms == i64::MIN {
            return Ok(0);
        }
        let day = hoso_model::time::local_day(self.watermark_ms);
        if !self.cold.due(day) {
            return Ok(0);
        }
        let n = self.cold.evict(&mut self.filings, day)?;
        if n > 0 {
            self.changed = true;
        }
        Ok(n)
    }

    pub fn cold(&self) -> &ColdTier {
        &self.cold
    }

    /// Rewrites the cold files filings were recalled from since the last
    /// call, without them (or brings their other filings back into memory
    /// when a file cannot be written). Until then the recalled filings are
    /// both in memory and in their old files, so everything that shows or
    /// saves the files calls this first: publishing, a cold pass and a
    /// checkpoint (which refuses to name files while a recall is pending).
    pub fn finish_recalls(&mut self) {
        if self.cold.has_recalled() {
            self.cold.finish_recall(&mut self.filings);
            self.changed = true;
        }
    }

    /// Deletes cold files a durable checkpoint no longer names.
    pub fn collect_garbage(&mut self) {
        self.cold.collect_garbage();
    }

    /// A change was recorded outside the fold (a restatement).
    pub fn mark_changed(&mut self) {
        self.changed = true;
    }
}

/// The distinct closed (day, province, commune) keys a contribution moves
/// from or to.
fn closed_keys(before: &Contribution, after: &Contribution, closed_before: i32) -> Vec<DayKey> {
    let mut keys: Vec<DayKey> = Vec::new();
    for c in [before, after] {
        let days = [c.received.map(|r| r.day), c.ended.map(|(d, _)| d)];
        for day in days.into_iter().flatten() {
            let key = (day, c.province, c.commune);
            if day < closed_before && !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The wall clock, UTC ms: what drivers of the engine pass as `now`.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoso_model::time::{local_day, parse_rfc3339_ms};

    fn ev(filing: &str, seq: u32, kind: &str, at: &str) -> Vec<u8> {
        let extra = if kind == "received" {
            r#","procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00""#
        } else {
            ""
        };
        format!(
            r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"{at}","province_code":"01","commune_code":"00004"{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn late_events_change_closed_days_and_say_so() {
        let mut t = PartitionTables::new(0);
        let mut offset = 0;
        let mut fold = |t: &mut PartitionTables, bytes: Vec<u8>| {
            offset += 1;
            t.fold_message(offset, None, &bytes, None).unwrap()
        };
        fold(&mut t, ev("F1", 1, "received", "2025-07-01T08:00:00+07:00"));
        fold(&mut t, ev("F1", 2, "resolved", "2025-07-01T10:00:00+07:00"));
        // Still July 1st in event time: nothing is closed yet, a second
        // filing that day is not a restatement.
        fold(&mut t, ev("F2", 1, "received", "2025-07-01T09:00:00+07:00"));
        assert!(!t.has_closed_changes());
        // July 2nd, 00:30: within the hour of grace, July 1st is still open.
        fold(&mut t, ev("F3", 1, "received", "2025-07-02T00:30:00+07:00"));
        fold(&mut t, ev("F4", 1, "received", "2025-07-01T23:00:00+07:00"));
        assert!(!t.has_closed_changes());
        // Two days later, July 1st is closed.
        fold(&mut t, ev("F5", 1, "received", "2025-07-03T08:00:00+07:00"));
        assert!(!t.has_closed_changes());
        // A filing received on July 1st arrives late; F1 turns late (two
        // supplement requests, Decision 766).
        fold(&mut t, ev("F6", 1, "received", "2025-07-01T15:00:00+07:00"));
        let r = fold(
            &mut t,
            ev("F1", 3, "supplement_requested", "2025-07-01T09:00:00+07:00"),
        );
        assert_eq!(r, FoldResult::Folded);
        fold(
            &mut t,
            ev("F1", 4, "supplement_requested", "2025-07-01T09:30:00+07:00"),
        );
        let day = local_day(parse_rfc3339_ms("2025-07-01T12:00:00+07:00").unwrap());
        let changes = t.take_closed_changes();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].key, (day, 1, 4));
        assert_eq!((changes[0].old.received, changes[0].new.received), (3, 4));
        assert_eq!(changes[0].offset, 7);
        assert!(
            changes[0]
                .cause
                .text
                .contains("late `received` event (seq 1"),
            "{}",
            changes[0].cause.text
        );
        // The first supplement request changes no figure; the second one
        // turns the outcome late.
        assert_eq!(changes[1].cause.event_id, "F1-4");
        assert_eq!(
            (changes[1].old.ended_on_time, changes[1].new.ended_on_time),
            (1, 0)
        );
        assert_eq!(
            (changes[1].old.ended_late, changes[1].new.ended_late),
            (0, 1)
        );
        assert!(!t.has_closed_changes(), "drained");
    }

    #[test]
    fn deadline_timers_wait_for_the_end_of_the_backlog() {
        // Due July 3rd 2025: by the wall clock, every open filing here is
        // overdue.
        let mut t = PartitionTables::new(0);
        t.fold_message(
            0,
            None,
            &ev("F1", 1, "received", "2025-07-01T08:00:00+07:00"),
            None,
        )
        .unwrap();
        t.fold_message(
            1,
            None,
            &ev("F2", 1, "received", "2025-07-01T08:00:00+07:00"),
            None,
        )
        .unwrap();
        t.fold_message(
            2,
            None,
            &ev("F2", 2, "resolved", "2025-07-02T08:00:00+07:00"),
            None,
        )
        .unwrap();
        assert_eq!(
            t.deadlines().alerting().count(),
            0,
            "reading the backlog: no alerts"
        );
        t.mark_end();
        let alerting: Vec<&str> = t.deadlines().alerting().map(|(id, _)| id).collect();
        assert_eq!(
            alerting,
            vec!["F1"],
            "the open one, from the state at the end"
        );
        // From now on the fold moves them.
        t.fold_message(
            3,
            None,
            &ev("F1", 2, "resolved", "2025-07-04T08:00:00+07:00"),
            None,
        )
        .unwrap();
        t.fold_message(
            4,
            None,
            &ev("F3", 1, "received", "2025-07-04T09:00:00+07:00"),
            None,
        )
        .unwrap();
        let alerting: Vec<&str> = t.deadlines().alerting().map(|(id, _)| id).collect();
        assert_eq!(alerting, vec!["F3"]);
        t.mark_end();
        assert_eq!(
            t.deadlines().alerting().count(),
            1,
            "a later end changes nothing"
        );
    }

    #[test]
    fn an_event_time_far_ahead_of_its_kafka_time_closes_nothing() {
        let mut t = PartitionTables::new(0);
        let kafka = parse_rfc3339_ms("2025-07-01T09:00:00+07:00").unwrap();
        let bad = ev("F1", 1, "received", "2999-01-01T00:00:00+07:00");
        t.fold_message(0, None, &bad, Some(kafka)).unwrap();
        assert_eq!(t.watermark_ms(), kafka + MAX_EVENT_LEAD_MS);
        t.fold_message(
            1,
            None,
            &ev("F2", 1, "received", "2025-07-01T08:00:00+07:00"),
            Some(kafka),
        )
        .unwrap();
        assert!(!t.has_closed_changes());
    }

    /// An event with `event_id` `id` at (F1, `seq`).
    fn ev_id(id: &str, seq: u32, kind: &str) -> Vec<u8> {
        let raw = String::from_utf8(ev("F1", seq, kind, "2025-07-01T09:00:00+07:00")).unwrap();
        raw.replacen(&format!("\"F1-{seq}\""), &format!("\"{id}\""), 1)
            .into_bytes()
    }

    /// Two event ids whose fingerprints are in increasing order.
    fn low_and_high() -> (String, String) {
        let (a, b) = ("conflict-a".to_string(), "conflict-b".to_string());
        if hoso_model::fold::fingerprint(&a) < hoso_model::fold::fingerprint(&b) {
            (a, b)
        } else {
            (b, a)
        }
    }

    #[test]
    fn a_conflict_is_refused_once_and_a_reread_refusal_stays_a_refusal() {
        let (low, high) = low_and_high();
        let mut t = PartitionTables::new(0);
        t.fold_message(
            0,
            None,
            &ev("F1", 1, "received", "2025-07-01T08:00:00+07:00"),
            None,
        )
        .unwrap();
        assert_eq!(
            t.fold_message(1, None, &ev_id(&low, 2, "processing"), None)
                .unwrap(),
            FoldResult::Folded
        );
        let loser = ev_id(&high, 2, "resolved");
        let first = t.fold_message(2, None, &loser, None).unwrap();
        assert!(matches!(
            first,
            FoldResult::Rejected {
                reason: "conflict",
                new: Some(_)
            }
        ));
        // Read again after a resume: the refused event is remembered, so
        // it is not logged or dead-lettered twice.
        assert_eq!(
            t.fold_message(2, None, &loser, None).unwrap(),
            FoldResult::Duplicate
        );
        // Undecodable, read again: refused again, logged once.
        let junk = b"{not json";
        assert!(matches!(
            t.fold_message(3, None, junk, None).unwrap(),
            FoldResult::Rejected { new: Some(_), .. }
        ));
        assert_eq!(
            t.fold_message(3, None, junk, None).unwrap(),
            FoldResult::Rejected {
                reason: "not_json",
                new: None
            }
        );
        // Sent again at a new offset: the same event, a duplicate of the refused one.
        assert_eq!(
            t.fold_message(4, None, &loser, None).unwrap(),
            FoldResult::Duplicate
        );
        assert_eq!(t.rejects.len(), 2);
        assert_eq!(
            t.filings().get("F1").unwrap().status(),
            Some(hoso_model::EventType::Processing)
        );
    }

    #[test]
    fn an_event_that_takes_a_seq_displaces_the_one_folded_there() {
        let (low, high) = low_and_high();
        let mut t = PartitionTables::new(0);
        t.fold_message(
            0,
            None,
            &ev("F1", 1, "received", "2025-07-01T08:00:00+07:00"),
            None,
        )
        .unwrap();
        assert_eq!(
            t.fold_message(1, None, &ev_id(&high, 2, "resolved"), None)
                .unwrap(),
            FoldResult::Folded
        );
        assert!(t.filings().get("F1").unwrap().ended_at().is_some());
        // The lower fingerprint arrives second and takes seq 2.
        assert_eq!(
            t.fold_message(2, None, &ev_id(&low, 2, "processing"), None)
                .unwrap(),
            FoldResult::Folded
        );
        let f = t.filings().get("F1").unwrap();
        assert_eq!(
            f.ended_at(),
            None,
            "the displaced resolution no longer counts"
        );
        let displaced = t.take_displaced();
        assert_eq!(displaced.len(), 1);
        assert_eq!((displaced[0].offset, displaced[0].reason), (1, "conflict"));
        assert_eq!(
            t.rejects.reason_at(1),
            Some("conflict"),
            "logged under its own offset"
        );
        assert!(t.take_displaced().is_empty(), "drained");
    }
}
