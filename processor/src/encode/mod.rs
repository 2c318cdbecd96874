//! Arrow encoding of the processor's state, in the model's schemas
//! (`hoso_model::schema`).
//!
//! Every encoder names its columns, and [`named`] places them by the
//! schema's field names: a column renamed, added or dropped in the schema
//! without its encoder (or the reverse) is an error naming the column, and
//! the tests below encode a row of every table, so a schema edit fails a
//! test, not the first publish in production. The tables' state (the
//! store, the daily aggregates) knows nothing of this module: it is handed
//! an encoder, so encoding depends on the state, never the other way.

use std::collections::HashMap;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

mod daily;
mod filings;

pub(crate) use daily::daily;
pub(crate) use filings::{filings, filings_stored};

/// A batch of `schema` from columns given by field name, in any order.
pub(crate) fn named(
    schema: SchemaRef,
    columns: Vec<(&str, ArrayRef)>,
) -> Result<RecordBatch, ArrowError> {
    let given = columns.len();
    let mut by_name: HashMap<&str, ArrayRef> = HashMap::with_capacity(given);
    for (name, column) in columns {
        if by_name.insert(name, column).is_some() {
            return Err(ArrowError::SchemaError(format!(
                "column {name} given twice"
            )));
        }
    }
    let mut ordered = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = by_name.remove(field.name().as_str()).ok_or_else(|| {
            ArrowError::SchemaError(format!("no column for field {}", field.name()))
        })?;
        ordered.push(column);
    }
    if let Some(extra) = by_name.keys().next() {
        return Err(ArrowError::SchemaError(format!(
            "column {extra} is not in the schema"
        )));
    }
    RecordBatch::try_new(schema, ordered)
}

/// Writes `value` as exactly `width` decimal digits.
pub(crate) fn digits(value: u32, width: usize, out: &mut [u8; 8]) -> &str {
    let mut v = value;
    for i in (0..width).rev() {
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&out[..width]).unwrap_or("")
}

#[cfg(test)]
mod tests;
