//! An event's arrival: which of a filing's events stands.
//!
//! Every decision here is existential over the events seen (folded or
//! refused), so an arrival only ever adds refusals and displaces what it
//! beats; the refused set, like the row, is the same in every order (see
//! the module docs of [`super`]).

use super::{
    Applied, DIGITIZED, Displaced, EID, FEE_REQUIRED, FP_SHIFT, FilingState, Logged, PAID_ONLINE,
    REFUSED, RESENT, Receipt, Rejection, fingerprint, id_check, set_bits,
};
use crate::event::{Event, EventType};
use crate::intern::Interner;

/// What the log says of an arriving event, before it is inserted.
struct Judgement {
    /// Why it is refused, if it is.
    why: Option<Rejection>,
    /// A copy of its `event_id` stands at a lower `seq`: kept, not folded.
    resent: bool,
    /// An event at its `seq` has a lower (fingerprint, check): it decides.
    beaten: bool,
    /// Another event under its `event_id` at its `seq`.
    twin: bool,
    /// Log positions at its `seq` it beats (not already refused).
    beats: Vec<usize>,
}

impl Receipt {
    /// The `received` or `extended` part of `ev` the state keeps.
    fn of(ev: &Event<'_>, fp: u32, procedures: &mut Interner) -> Option<Receipt> {
        let is_receipt = ev.kind == EventType::Received;
        if !is_receipt && ev.kind != EventType::Extended {
            return None;
        }
        let mut attrs = 0;
        set_bits(&mut attrs, EID, ev.eid_level2);
        set_bits(&mut attrs, DIGITIZED, ev.digitized);
        set_bits(&mut attrs, FEE_REQUIRED, ev.fee_required);
        Some(Receipt {
            due_at: ev.due_at_ms.unwrap_or(ev.occurred_at_ms),
            seq: ev.seq,
            fp,
            folded: false,
            procedure: ev
                .procedure_code
                .as_deref()
                .filter(|_| is_receipt)
                .map_or(0, |p| procedures.intern(p)),
            commune: ev.commune,
            province: ev.province,
            channel: ev.channel.map_or(0, |c| c as u8),
            attrs,
            due_computed: ev.due_at_computed,
            extended: !is_receipt,
        })
    }
}

impl FilingState {
    /// Folds one event read at no particular offset (tests, tools).
    pub fn apply(&mut self, ev: &Event<'_>, procedures: &mut Interner) -> Applied {
        self.apply_at(ev, 0, procedures, &mut Vec::new())
    }

    /// Folds one event read at `offset`. Events it refuses that were
    /// folded before are pushed to `displaced`. `procedures` interns the
    /// procedure code.
    ///
    /// The outcome is a function of the set of events seen, whatever their
    /// order: at each `seq` the event with the lowest `event_id`
    /// fingerprint is the one folded, of the copies of one `event_id` the
    /// lowest-`seq` one, and a refusal is never taken back (a lower
    /// fingerprint, or a lower copy, only ever displaces the one folded).
    pub fn apply_at(
        &mut self,
        ev: &Event<'_>,
        offset: i64,
        procedures: &mut Interner,
        displaced: &mut Vec<Displaced>,
    ) -> Applied {
        let fp = fingerprint(&ev.event_id);
        let id2 = id_check(&ev.event_id);
        let mut tag = (ev.kind as u32) | (fp << FP_SHIFT);
        if ev.kind == EventType::FeePaid && ev.online_payment == Some(true) {
            tag |= PAID_ONLINE;
        }
        let receipt = Receipt::of(ev, fp, procedures);
        let Some(judged) = self.judge(ev, fp, id2, tag, receipt.as_ref()) else {
            return Applied::Duplicate;
        };
        if judged.why.is_some() {
            tag |= REFUSED;
        } else if judged.resent {
            tag |= RESENT;
        }
        let stands = judged.why.is_none() && !judged.resent;
        let pos = self.insert(ev, offset, fp, id2, tag, receipt, stands);
        let before = displaced.len();
        let moved = self.displace(ev, pos, fp, id2, &judged, displaced);
        if stands || moved || displaced.len() > before {
            self.derive();
        }
        match judged.why {
            Some(why) => Applied::Rejected(why),
            None if judged.resent => Applied::Resent,
            None => Applied::Folded,
        }
    }

    /// What the events seen say of `ev`; `None` when it is one of them
    /// again (a duplicate).
    fn judge(
        &self,
        ev: &Event<'_>,
        fp: u32,
        id2: u16,
        tag: u32,
        receipt: Option<&Receipt>,
    ) -> Option<Judgement> {
        // What of an event the state keeps; copies of one `event_id` at
        // one `seq` that differ in it are two events under one id.
        let same_content = |l: &Logged| {
            l.kind() == ev.kind
                && l.at_ms == ev.occurred_at_ms
                && (l.province, l.commune) == (ev.province, ev.commune)
                && l.tag & PAID_ONLINE == tag & PAID_ONLINE
                && receipt.is_none_or(|n| {
                    self.receipts
                        .iter()
                        .any(|r| r.seq == l.seq && r.fp == l.fp() && r.same_payload(n))
                })
        };
        let at = self.log.partition_point(|l| l.seq < ev.seq);
        // Events at this `seq` this one beats, folded or kept as resends.
        let (mut beats, mut beaten, mut twin) = (Vec::new(), false, false);
        for (i, l) in self.log[at..].iter().enumerate() {
            if l.seq != ev.seq {
                break;
            }
            if l.same_id(fp, id2) {
                if same_content(l) {
                    return None;
                }
                twin = true;
                continue;
            }
            beaten |= (l.fp(), l.id2) < (fp, id2);
            if !l.refused() && (l.fp(), l.id2) > (fp, id2) {
                beats.push(at + i);
            }
        }
        // Copies of this `event_id` at lower `seq`s, seen folded or not.
        let (mut copied, mut contradicted) = (false, false);
        for l in self.log[..at].iter().filter(|l| l.same_id(fp, id2)) {
            copied = true;
            contradicted |= l.kind() != ev.kind || l.at_ms != ev.occurred_at_ms;
        }
        // Every refusal is existential over the events seen, folded or
        // not, so adding events only ever adds refusals (monotone): a lower
        // fingerprint at this `seq`; for a `received`, one at a lower `seq`
        // that names other dimensions; a copy of the `event_id` at a lower
        // `seq` with another type or time.
        let dims = (ev.province, ev.commune);
        let why = if beaten {
            Some(Rejection::Conflict)
        } else if ev.kind == EventType::Received
            && self
                .receipts
                .iter()
                .any(|r| !r.extended && r.seq < ev.seq && (r.province, r.commune) != dims)
        {
            Some(Rejection::Receipt)
        } else if contradicted || twin {
            Some(Rejection::EventId)
        } else {
            None
        };
        Some(Judgement {
            resent: why.is_none() && copied,
            why,
            beaten,
            twin,
            beats,
        })
    }

    /// Puts `ev` in the log (and its receipt, if any, in the receipts) at
    /// its place by (`seq`, fingerprint, check); returns its log position.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        ev: &Event<'_>,
        offset: i64,
        fp: u32,
        id2: u16,
        tag: u32,
        receipt: Option<Receipt>,
        stands: bool,
    ) -> usize {
        let at = self.log.partition_point(|l| l.seq < ev.seq);
        let pos =
            at + self.log[at..].partition_point(|l| l.seq == ev.seq && (l.fp(), l.id2) < (fp, id2));
        self.log.insert(
            pos,
            Logged {
                at_ms: ev.occurred_at_ms,
                offset,
                seq: ev.seq,
                tag,
                commune: ev.commune,
                id2,
                province: ev.province,
            },
        );
        if let Some(mut receipt) = receipt {
            let i = self
                .receipts
                .partition_point(|r| (r.seq, r.fp) < (ev.seq, fp));
            receipt.folded = stands;
            self.receipts.insert(i, receipt);
        }
        pos
    }

    /// Refuses, or turns into resends, the events `ev` (now at log position
    /// `pos`) decides against. Refusals go to `displaced`; returns whether
    /// an event stopped being folded without a refusal (a resend).
    fn displace(
        &mut self,
        ev: &Event<'_>,
        pos: usize,
        fp: u32,
        id2: u16,
        judged: &Judgement,
        displaced: &mut Vec<Displaced>,
    ) -> bool {
        if judged.twin {
            // Another event under this `event_id` at this `seq`: neither
            // can be the event there, whichever came first.
            let twins: Vec<usize> = (0..self.log.len())
                .filter(|&i| {
                    let l = &self.log[i];
                    i != pos && l.seq == ev.seq && l.same_id(fp, id2) && !l.refused()
                })
                .collect();
            for i in twins {
                self.refuse(i, Rejection::EventId, displaced);
            }
        }
        if !judged.beaten {
            // The lowest fingerprint at the `seq`: the one folded there is
            // refused (and any resend kept there), even when this one is
            // refused or a resend.
            for &i in &judged.beats {
                let i = if i >= pos { i + 1 } else { i };
                self.refuse(i, Rejection::Conflict, displaced);
            }
        }
        if ev.kind == EventType::Received {
            // A `received` with other dimensions at a higher `seq` can no
            // longer stand, whether this one is folded or not (nor can one
            // kept as a resend).
            let dims = (ev.province, ev.commune);
            let higher: Vec<(u32, u32)> = self
                .receipts
                .iter()
                .filter(|r| !r.extended && r.seq > ev.seq && (r.province, r.commune) != dims)
                .map(|r| (r.seq, r.fp))
                .collect();
            for (seq, fp) in higher {
                let standing = self.log.iter().position(|l| {
                    l.seq == seq && l.fp() == fp && l.kind() == EventType::Received && !l.refused()
                });
                if let Some(i) = standing {
                    self.refuse(i, Rejection::Receipt, displaced);
                }
            }
        }
        // Copies of this `event_id` at higher `seq`s: one that disagrees
        // is refused (even one kept as a resend); one that agrees is a
        // resend of this one, and gives up its place silently.
        let higher: Vec<usize> = (0..self.log.len())
            .filter(|&i| {
                let l = &self.log[i];
                l.seq > ev.seq && l.same_id(fp, id2) && !l.refused()
            })
            .collect();
        let mut moved = false;
        for i in higher {
            let l = self.log[i];
            if l.kind() != ev.kind || l.at_ms != ev.occurred_at_ms {
                self.refuse(i, Rejection::EventId, displaced);
            } else if l.folded() {
                self.log[i].tag |= RESENT;
                self.set_receipt_folded(l.seq, l.fp(), false);
                moved = true;
            }
        }
        moved
    }

    fn set_receipt_folded(&mut self, seq: u32, fp: u32, folded: bool) {
        for r in self
            .receipts
            .iter_mut()
            .filter(|r| r.seq == seq && r.fp == fp)
        {
            r.folded = folded;
        }
    }

    /// Refuses the event at `self.log[i]`, which a later arrival displaced
    /// (see [`Displaced`]); it was folded, or kept as a resend.
    fn refuse(&mut self, i: usize, why: Rejection, displaced: &mut Vec<Displaced>) {
        let old = self.log[i];
        self.log[i].tag = (old.tag | REFUSED) & !RESENT;
        if matches!(old.kind(), EventType::Received | EventType::Extended) {
            self.set_receipt_folded(old.seq, old.fp(), false);
        }
        displaced.push(Displaced {
            seq: old.seq,
            kind: old.kind(),
            occurred_at_ms: old.at_ms,
            offset: old.offset,
            why,
        });
    }
}
