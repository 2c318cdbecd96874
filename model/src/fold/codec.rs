//! The fold state as bytes, for checkpoints. Fixed 57 bytes per filing,
//! plus the pause marks and high `seq`s of the few filings that have them.

use super::{Extra, FilingState, PauseMark};
use crate::codec::{ByteReader, CodecError, put_i64, put_u8, put_u32};

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
use crate::event::{Channel, EventType};

impl FilingState {
    /// Appends this state to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_i64(out, self.received_at);
        put_i64(out, self.due_at);
        put_i64(out, self.end_at);
        put_u64(out, self.seen_low);
        for v in [
            self.max_seq,
            self.received_seq,
            self.end_seq,
            self.commune,
            self.procedure,
        ] {
            put_u32(out, v);
        }
        for v in [self.province, self.status, self.attrs, self.marks] {
            put_u8(out, v);
        }
        match &self.extra {
            None => put_u8(out, 0),
            Some(x) => {
                put_u8(out, 1);
                put_u32(out, x.pauses.len() as u32);
                for m in &x.pauses {
                    put_u32(out, m.seq);
                    put_i64(out, m.at_ms);
                    put_u8(out, u8::from(m.request));
                }
                put_u32(out, x.seen_high.len() as u32);
                for &(seq, fp) in &x.seen_high {
                    put_u32(out, seq);
                    put_u8(out, fp);
                }
            }
        }
    }

    /// Reads a state written by [`FilingState::encode`].
    pub fn decode(r: &mut ByteReader<'_>) -> Result<FilingState, CodecError> {
        let mut s = FilingState {
            received_at: r.i64()?,
            due_at: r.i64()?,
            end_at: r.i64()?,
            seen_low: r.i64()? as u64,
            max_seq: r.u32()?,
            received_seq: r.u32()?,
            end_seq: r.u32()?,
            commune: r.u32()?,
            procedure: r.u32()?,
            province: r.u8()?,
            status: r.u8()?,
            attrs: r.u8()?,
            marks: r.u8()?,
            extra: None,
        };
        if s.status != 0 && EventType::from_u8(s.status).is_none() {
            return Err(CodecError::Corrupt(format!("status {}", s.status)));
        }
        let channel = (s.marks >> super::CHANNEL_SHIFT) & 3;
        if channel != 0 && Channel::from_u8(channel).is_none() {
            return Err(CodecError::Corrupt(format!("channel {channel}")));
        }
        match r.u8()? {
            0 => {}
            1 => {
                let n = r.count(13)?;
                let mut pauses = Vec::with_capacity(n);
                for _ in 0..n {
                    pauses.push(PauseMark {
                        seq: r.u32()?,
                        at_ms: r.i64()?,
                        request: r.u8()? != 0,
                    });
                }
                let n = r.count(5)?;
                let mut seen_high = Vec::with_capacity(n);
                for _ in 0..n {
                    seen_high.push((r.u32()?, r.u8()?));
                }
                s.extra = Some(Box::new(Extra { pauses, seen_high }));
            }
            other => return Err(CodecError::Corrupt(format!("extra marker {other}"))),
        }
        Ok(s)
    }
}
