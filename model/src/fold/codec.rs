//! The fold state as bytes, for checkpoints and cold files: the event log
//! and the `received` and `extended` events seen; the row is derived again
//! on decode, so it can never disagree with the log it came from.

use super::{EventLog, FilingState, KIND_MASK, Logged, Receipt, Receipts};
use crate::codec::{ByteReader, CodecError, put_i64, put_u8, put_u16, put_u32};
use crate::event::{Channel, EventType};

impl FilingState {
    /// Appends this state to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.log.len() as u32);
        for l in &self.log {
            put_u32(out, l.seq);
            put_u32(out, l.tag);
            put_i64(out, l.at_ms);
            put_i64(out, l.offset);
            put_u32(out, l.commune);
            put_u16(out, l.id2);
            put_u8(out, l.province);
        }
        put_u32(out, self.receipts.len() as u32);
        for r in &self.receipts {
            put_u32(out, r.seq);
            put_u32(out, r.fp);
            put_i64(out, r.due_at);
            put_u32(out, r.procedure);
            put_u32(out, r.commune);
            for v in [
                r.province,
                r.channel,
                r.attrs,
                u8::from(r.due_computed),
                u8::from(r.folded),
                u8::from(r.extended),
            ] {
                put_u8(out, v);
            }
        }
    }

    /// Reads a state written by [`FilingState::encode`].
    pub fn decode(r: &mut ByteReader<'_>) -> Result<FilingState, CodecError> {
        let n = r.count(31)?;
        let mut log = EventLog::with_capacity(n);
        for _ in 0..n {
            let l = Logged {
                seq: r.u32()?,
                tag: r.u32()?,
                at_ms: r.i64()?,
                offset: r.i64()?,
                commune: r.u32()?,
                id2: r.u16()?,
                province: r.u8()?,
            };
            if EventType::from_u8((l.tag & KIND_MASK) as u8).is_none() {
                return Err(CodecError::Corrupt(format!(
                    "event type {}",
                    l.tag & KIND_MASK
                )));
            }
            if log
                .last()
                .is_some_and(|p: &Logged| (p.seq, p.fp(), p.id2) > (l.seq, l.fp(), l.id2))
            {
                return Err(CodecError::Corrupt("event log out of order".into()));
            }
            log.push(l);
        }
        let n = r.count(30)?;
        let mut receipts = Receipts::with_capacity(n);
        for _ in 0..n {
            let x = Receipt {
                seq: r.u32()?,
                fp: r.u32()?,
                due_at: r.i64()?,
                procedure: r.u32()?,
                commune: r.u32()?,
                province: r.u8()?,
                channel: r.u8()?,
                attrs: r.u8()?,
                due_computed: r.u8()? != 0,
                folded: r.u8()? != 0,
                extended: r.u8()? != 0,
            };
            // Each receipt is an event of the log, refused or folded as it is.
            let kind = if x.extended {
                EventType::Extended
            } else {
                EventType::Received
            };
            let logged = log
                .iter()
                .find(|l| l.seq == x.seq && l.fp() == x.fp && l.kind() == kind);
            if logged.is_none_or(|l| l.folded() != x.folded) {
                return Err(CodecError::Corrupt(format!(
                    "receipt at seq {} is not in the event log",
                    x.seq
                )));
            }
            if x.channel != 0 && Channel::from_u8(x.channel).is_none() {
                return Err(CodecError::Corrupt(format!("channel {}", x.channel)));
            }
            receipts.push(x);
        }
        let mut s = FilingState {
            log,
            receipts,
            ..FilingState::new()
        };
        s.derive();
        Ok(s)
    }
}
