//! Folding a portal envelope (a `DongBoHoSoMC` record or a
//! `CapNhatTienDoHoSoMC` step, as ingest publishes them): the record is
//! weighed against the filing's record in force, a step added to its
//! steps, and when either changed the filing is folded afresh from the
//! events they derive. The daily counts, restatements, deadline timers and
//! rejects then move as for any event.

use hoso_model::portal::envelope::{Envelope, Kind};

use super::{FoldResult, MAX_EVENT_LEAD_MS, PartitionTables};
use crate::cold::ColdError;
use crate::portal::{InForce, Offered};
use crate::rejects::Reject;
use crate::restatements::Cause;

/// Why a contract event of a filing fed by portal records is refused.
pub(super) const FED_BY_RECORDS: &str =
    "the filing is fed by portal records (DongBoHoSoMC), which alone make its events";

impl PartitionTables {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fold_envelope(
        &mut self,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        timestamp_ms: Option<i64>,
        now: i64,
        fresh: bool,
        was_next: i64,
    ) -> Result<FoldResult, ColdError> {
        let envelope = match Envelope::parse(payload) {
            Ok(e) => e,
            Err(e) => {
                let reject = Reject::of_message(
                    "invalid_event",
                    e.0,
                    key,
                    payload,
                    self.partition,
                    offset,
                    now,
                );
                return Ok(self.reject(reject, fresh));
            }
        };
        let place = envelope.place().expect("checked by parse");
        let filing_id = envelope.filing_id().to_string();
        // As for events: a re-read of a filing not in memory was folded by
        // the first read, which the checkpoint holds.
        if !fresh && self.filings.get(&filing_id).is_none() {
            return Ok(FoldResult::Duplicate);
        }
        // Until its first record the filing's state is the contract's
        // events (or nothing): those the record displaces.
        let first = self
            .portal
            .get(&filing_id)
            .is_none_or(|f| f.in_force.is_none());
        let what = match (envelope.dvcqg, envelope.record, envelope.step) {
            (Kind::Record, Some(record), _) => {
                let stages = record.stages();
                let offered = self.portal.offer_record(InForce {
                    record,
                    place,
                    stamp_ms: envelope.ingested_at_ms,
                    stages,
                    offset,
                });
                match offered {
                    Offered::Unchanged | Offered::Restamped => return Ok(FoldResult::Duplicate),
                    Offered::First => "record",
                    Offered::Newer => "newer record",
                    Offered::Correction => "corrected record",
                }
            }
            (_, _, Some(step)) => {
                if !self.portal.offer_step(&filing_id, step.at) {
                    return Ok(FoldResult::Duplicate);
                }
                "processing step"
            }
            _ => unreachable!("Envelope::parse checks the kind"),
        };
        let Some((events, folded_at)) = self
            .portal
            .events(&filing_id, Some(&self.settings.due_rules))
        else {
            // A step before its filing's first record: kept, to be folded
            // with the record.
            self.changed = true;
            return Ok(FoldResult::Folded);
        };
        let closed_before = self.closed_before();
        let cold = &mut self.cold;
        let (r, old) = match self
            .filings
            .rebuild_at(&filing_id, &events, folded_at, |id| cold.recall(id))
        {
            Ok(x) => x,
            Err(e) => {
                self.next_offset = was_next;
                return Err(e);
            }
        };
        // The contract's events folded before the filing's first record
        // are displaced by it, as final as any refusal.
        if first {
            for (seq, kind, at, at_offset) in old.folded_events() {
                let reject = Reject::of_message(
                    hoso_model::Rejection::Conflict.reason(),
                    format!(
                        "{kind} (seq {seq} of filing {filing_id}, occurred_at {}): displaced by \
                         the portal record read at offset {offset}: {FED_BY_RECORDS}",
                        hoso_model::time::format_utc_ms(at),
                    ),
                    key,
                    &[],
                    self.partition,
                    at_offset,
                    now,
                )
                .naming(&filing_id, None);
                if let FoldResult::Rejected { new: Some(r), .. } = self.reject(reject, fresh) {
                    self.displaced.push(*r);
                }
            }
        }
        let stamp = envelope.ingested_at_ms;
        self.moved_by(&r, &filing_id, offset, closed_before, now, || {
            let text = format!(
                "{what} of filing {filing_id} (ingested at {}, offset {offset})",
                hoso_model::time::format_utc_ms(stamp)
            );
            Cause::new(text, filing_id.as_str(), format!("dvcqg@{offset}"))
        });
        let latest = events.iter().map(|e| e.occurred_at_ms).max();
        if let Some(latest) = latest {
            if fresh {
                let lead = timestamp_ms.map_or(i64::MAX, |t| t.saturating_add(MAX_EVENT_LEAD_MS));
                self.watermark_ms = self.watermark_ms.max(latest.min(lead));
                // As for an event: the message's latest date, in a year
                // whose days off are only projected from the law.
                let day = hoso_model::time::local_day(latest);
                if !self.settings.due_rules.calendar.is_announced_day(day) {
                    *self
                        .projected_years
                        .entry(hoso_model::calendar::year_of(day))
                        .or_default() += 1;
                }
            }
            // Where the record in force says the filing is held (a step
            // names no place of its own).
            let (province, commune) = (events[0].province, events[0].commune);
            self.clocks.saw(province, commune, latest);
        }
        self.changed = true;
        Ok(FoldResult::Folded)
    }
}
