//! The row from the log: every value of a [`FilingState`] recomputed from
//! the folded events sorted by `seq`, so a function of their set.

use super::{
    CHANNEL_SHIFT, DUE_COMPUTED, END_BY_RETURN, FilingState, NOT_RECEIVED, ONLINE_PAYMENT,
    PAID_ONLINE, RETURNED, WITHDRAWN, set_bits,
};
use crate::event::EventType;

impl FilingState {
    /// Recomputes the row from the log: every value is a function of the
    /// folded events sorted by `seq`, so of their set.
    pub(super) fn derive(&mut self) {
        self.reset_row();
        let s = self;
        // Until it has a `received` event, the filing is where its
        // lowest-`seq` event says.
        if let Some(l) = s.log.iter().find(|l| l.folded()) {
            s.province = l.province;
            s.commune = l.commune;
        }
        if let Some(r) = s.receipts.iter().find(|r| r.folded && !r.extended).copied() {
            s.received_seq = r.seq;
            s.due_at = r.due_at;
            s.procedure = r.procedure;
            s.province = r.province;
            s.commune = r.commune;
            s.attrs = r.attrs;
            s.marks |= (r.channel & 3) << CHANNEL_SHIFT;
            if r.due_computed {
                s.marks |= DUE_COMPUTED;
            }
        }
        // The clock starts at the `received` in force: supplement events
        // below it are intake history (contract v1.1).
        let clock_from = if s.received_seq > 0 {
            s.received_seq
        } else {
            u32::MAX
        };
        let mut paid: Option<bool> = None;
        let mut open: Option<i64> = None;
        // The highest-`seq` event that decides the filing's fate: a
        // withdrawal or refusal at intake holds unless an ending comes
        // after it.
        let mut fate: Option<EventType> = None;
        for l in s.log.iter().filter(|l| l.folded()) {
            let kind = l.kind();
            s.max_seq = l.seq;
            s.status = kind as u8;
            // The documents are back, or the filing is back in the
            // center's hands: a pending request's pause ends (contract
            // v1.1: sources that report the return only as the next step).
            let resumes = matches!(
                kind,
                EventType::SupplementReceived
                    | EventType::Processing
                    | EventType::FeeRequested
                    | EventType::Resolved
                    | EventType::Stopped
                    | EventType::Returned
            );
            if resumes && let Some(start) = open.take() {
                s.paused_ms += (l.at_ms - start).max(0);
            }
            match kind {
                EventType::Received if l.seq == s.received_seq => s.received_at = l.at_ms,
                // The first `resolved` or `stopped` by `seq` ends the
                // filing; a `returned` only when there is none.
                EventType::Resolved | EventType::Stopped
                    if s.end_seq == 0 || s.marks & END_BY_RETURN != 0 =>
                {
                    s.end_seq = l.seq;
                    s.end_at = l.at_ms;
                    s.marks &= !END_BY_RETURN;
                }
                EventType::Returned => {
                    s.marks |= RETURNED;
                    if s.end_seq == 0 {
                        s.end_seq = l.seq;
                        s.end_at = l.at_ms;
                        s.marks |= END_BY_RETURN;
                    }
                }
                EventType::SupplementRequested if l.seq > clock_from => {
                    s.supplements += 1;
                    open.get_or_insert(l.at_ms);
                }
                // Paid online if any payment says so; a payment without
                // the flag is a payment that was not online.
                EventType::FeePaid => {
                    paid = Some(paid == Some(true) || l.tag & PAID_ONLINE != 0);
                }
                _ => {}
            }
            if matches!(
                kind,
                EventType::Withdrawn
                    | EventType::NotReceived
                    | EventType::Resolved
                    | EventType::Stopped
                    | EventType::Returned
            ) {
                fate = Some(kind);
            }
        }
        match fate {
            Some(EventType::Withdrawn) => s.marks |= WITHDRAWN,
            Some(EventType::NotReceived) => s.marks |= NOT_RECEIVED,
            _ => {}
        }
        if let Some(start) = open {
            if s.end_seq > 0 {
                // A request still pending when the filing ended (it came
                // after the ending event): the clock stopped at it, until
                // the end.
                s.paused_ms += (s.end_at - start).max(0);
            } else {
                s.pause_open_at = start;
            }
        }
        set_bits(&mut s.attrs, ONLINE_PAYMENT, paid);
        let extended = s.receipts.iter().filter(|r| r.extended && r.folded).count();
        s.extensions = extended.min(usize::from(u16::MAX)) as u16;
    }

    /// Every value of the row back to that of [`FilingState::new`], in
    /// place: the log it is derived from stays where it is (inline, it is
    /// most of the state's bytes). Naming every field makes a new one a
    /// compile error here until it is reset too.
    fn reset_row(&mut self) {
        let FilingState {
            received_at,
            due_at,
            end_at,
            paused_ms,
            pause_open_at,
            max_seq,
            received_seq,
            end_seq,
            commune,
            procedure,
            supplements,
            province,
            status,
            attrs,
            marks,
            extensions,
            log: _,
            receipts: _,
        } = self;
        (*received_at, *due_at, *end_at, *paused_ms) = (0, 0, 0, 0);
        *pause_open_at = i64::MIN;
        (*max_seq, *received_seq, *end_seq) = (0, 0, 0);
        (*commune, *procedure, *supplements) = (0, 0, 0);
        (*province, *status, *attrs, *marks) = (0, 0, 0, 0);
        *extensions = 0;
    }
}
