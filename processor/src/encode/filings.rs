//! The `filings` table: a chunk of the store as an Arrow batch, in the
//! published form (`Utf8View`) or the stored one (`Utf8`, cold files).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, StringBuilder, StringViewBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, SchemaRef};
use hoso_model::catalogue::base_code;
use hoso_model::{Interner, schema};

use super::{digits, named};
use crate::store::Chunk;

/// A text column of `filings` being built: `Utf8View` for the published
/// table, `Utf8` for cold files (see `hoso_model::schema::filings`).
trait Text: Sized {
    fn with_capacity(rows: usize, bytes_per_row: usize) -> Self;
    /// The chunk's ids, sharing its bytes.
    fn ids(chunk: &Chunk) -> Result<ArrayRef, ArrowError>;
    fn append(&mut self, value: &str);
    fn append_option(&mut self, value: Option<&str>);
    fn finish(self) -> ArrayRef;
}

impl Text for StringBuilder {
    fn with_capacity(rows: usize, bytes_per_row: usize) -> Self {
        StringBuilder::with_capacity(rows, rows * bytes_per_row)
    }

    fn ids(chunk: &Chunk) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(chunk.id_offsets.clone())),
            chunk.id_bytes.clone().into(),
            None,
        )?))
    }

    fn append(&mut self, value: &str) {
        self.append_value(value);
    }

    fn append_option(&mut self, value: Option<&str>) {
        StringBuilder::append_option(self, value);
    }

    fn finish(mut self) -> ArrayRef {
        Arc::new(StringBuilder::finish(&mut self))
    }
}

impl Text for StringViewBuilder {
    fn with_capacity(rows: usize, _bytes_per_row: usize) -> Self {
        StringViewBuilder::with_capacity(rows)
    }

    fn ids(chunk: &Chunk) -> Result<ArrayRef, ArrowError> {
        // Views into one block holding the chunk's id bytes: ids longer
        // than 12 bytes point into it, the rest are copied into their view.
        let mut ids = StringViewBuilder::with_capacity(chunk.states.len());
        let block = ids.append_block(Buffer::from(chunk.id_bytes.clone()));
        for w in chunk.id_offsets.windows(2) {
            ids.try_append_view(block, w[0] as u32, (w[1] - w[0]) as u32)?;
        }
        Ok(Arc::new(ids.finish()))
    }

    fn append(&mut self, value: &str) {
        self.append_value(value);
    }

    fn append_option(&mut self, value: Option<&str>) {
        StringViewBuilder::append_option(self, value);
    }

    fn finish(mut self) -> ArrayRef {
        Arc::new(StringViewBuilder::finish(&mut self))
    }
}

/// The chunk as the published `filings` table (text as `Utf8View`).
pub(crate) fn filings(chunk: &Chunk, procedures: &Interner) -> RecordBatch {
    try_encode_filings::<StringViewBuilder>(chunk, procedures, schema::filings())
        .expect("filings batch matches its schema")
}

/// The chunk as cold files store it (text as `Utf8`).
pub(crate) fn filings_stored(chunk: &Chunk, procedures: &Interner) -> RecordBatch {
    try_encode_filings::<StringBuilder>(chunk, procedures, schema::filings_stored())
        .expect("filings batch matches its schema")
}

fn try_encode_filings<T: Text>(
    chunk: &Chunk,
    procedures: &Interner,
    schema: SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let n = chunk.states.len();
    let ids = T::ids(chunk)?;
    let mut province = T::with_capacity(n, 2);
    let mut commune = T::with_capacity(n, 5);
    let mut procedure = T::with_capacity(n, 8);
    let mut channel = T::with_capacity(n, 8);
    let mut status = T::with_capacity(n, 10);
    let mut outcome = T::with_capacity(n, 6);
    let ts = || TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut received_at, mut due_at, mut ended_at, mut effective_due, mut pause_started) =
        (ts(), ts(), ts(), ts(), ts());
    let mut supplements = Int32Builder::with_capacity(n);
    let mut paused = Int64Builder::with_capacity(n);
    let mut last_seq = Int64Builder::with_capacity(n);
    let bools = || BooleanBuilder::with_capacity(n);
    let (mut eid, mut digitized, mut online_payment, mut closed, mut fee_required) =
        (bools(), bools(), bools(), bools(), bools());
    let mut due_computed = bools();
    let mut procedure_full = T::with_capacity(n, 8);
    let mut handling = T::with_capacity(n, 5);
    let mut extended_due = ts();
    let mut extensions = Int32Builder::with_capacity(n);
    let mut buf = [0u8; 8];
    for s in &chunk.states {
        province.append(digits(u32::from(s.province()), 2, &mut buf));
        commune.append(digits(s.commune(), 5, &mut buf));
        let code = procedures.resolve(s.procedure_id());
        procedure.append_option(code.map(base_code));
        procedure_full.append_option(code);
        channel.append_option(s.channel().map(|c| c.as_str()));
        status.append(s.status().map_or("", |t| t.as_str()));
        received_at.append_option(s.received_at());
        due_at.append_option(s.due_at());
        ended_at.append_option(s.ended_at());
        outcome.append_option(s.outcome().map(|o| o.as_str()));
        supplements.append_value(s.supplement_count() as i32);
        paused.append_value(s.paused_ms().div_euclid(1000));
        eid.append_option(s.eid_level2());
        digitized.append_option(s.digitized());
        online_payment.append_option(s.online_payment());
        effective_due.append_option(s.effective_due_at());
        pause_started.append_option(s.pause_started_at());
        closed.append_value(s.is_closed());
        fee_required.append_option(s.fee_required());
        last_seq.append_value(i64::from(s.last_seq()));
        due_computed.append_value(s.due_at_computed());
        if s.status().is_some() {
            handling.append(digits(s.handling_commune(), 5, &mut buf));
        } else {
            handling.append_option(None);
        }
        extended_due.append_option(s.extended_due_at());
        extensions.append_value(s.extensions().min(i32::MAX as u32) as i32);
    }
    named(
        schema,
        vec![
            ("filing_id", ids),
            ("province_code", province.finish()),
            ("commune_code", commune.finish()),
            ("procedure_code", procedure.finish()),
            ("channel", channel.finish()),
            ("status", status.finish()),
            ("received_at", Arc::new(received_at.finish())),
            ("due_at", Arc::new(due_at.finish())),
            ("ended_at", Arc::new(ended_at.finish())),
            ("outcome", outcome.finish()),
            ("supplement_count", Arc::new(supplements.finish())),
            ("paused_seconds", Arc::new(paused.finish())),
            ("eid_level2", Arc::new(eid.finish())),
            ("digitized", Arc::new(digitized.finish())),
            ("online_payment", Arc::new(online_payment.finish())),
            ("effective_due_at", Arc::new(effective_due.finish())),
            ("pause_started_at", Arc::new(pause_started.finish())),
            ("closed", Arc::new(closed.finish())),
            ("fee_required", Arc::new(fee_required.finish())),
            ("last_seq", Arc::new(last_seq.finish())),
            ("due_at_computed", Arc::new(due_computed.finish())),
            ("procedure_code_full", procedure_full.finish()),
            ("handling_commune_code", handling.finish()),
            ("extended_due_at", Arc::new(extended_due.finish())),
            ("extensions", Arc::new(extensions.finish())),
        ],
    )
}
