//! Results leave hoso with text as `Utf8`.
//!
//! `filings` holds its text as `Utf8View` (see `hoso_model::schema::filings`):
//! the engine groups and compares short codes faster that way. Clients
//! (Flight SQL, Arrow IPC, ADBC, the Postgres wire) were promised `Utf8`
//! and many read nothing else, so every result, and every table schema a
//! protocol describes, is given back with plain types: the result's
//! batches are cast as they leave, which costs only the rows returned.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

/// `data_type` with every view type inside it made plain, or `None` when
/// it holds none.
pub fn plain_type(data_type: &DataType) -> Option<DataType> {
    let field = |f: &Arc<Field>| -> Option<Arc<Field>> {
        plain_type(f.data_type()).map(|t| Arc::new(f.as_ref().clone().with_data_type(t)))
    };
    match data_type {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        DataType::List(f) => field(f).map(DataType::List),
        DataType::LargeList(f) => field(f).map(DataType::LargeList),
        DataType::FixedSizeList(f, n) => field(f).map(|f| DataType::FixedSizeList(f, *n)),
        DataType::Struct(fields) => {
            if fields.iter().all(|f| plain_type(f.data_type()).is_none()) {
                return None;
            }
            let plain: Fields = fields
                .iter()
                .map(|f| field(f).unwrap_or_else(|| f.clone()))
                .collect();
            Some(DataType::Struct(plain))
        }
        _ => None,
    }
}

/// `schema` with plain types (the same schema when it has no view type).
pub fn plain_schema(schema: SchemaRef) -> SchemaRef {
    if schema
        .fields()
        .iter()
        .all(|f| plain_type(f.data_type()).is_none())
    {
        return schema;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match plain_type(f.data_type()) {
            Some(t) => f.as_ref().clone().with_data_type(t),
            None => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `stream` with every batch given `schema` (from [`plain_schema`]):
/// view-typed columns cast to plain ones, the rest untouched.
///
/// The cast is done on the batches rather than in the plan: DataFusion 55
/// plans a projection that casts, above a sort of several partitions,
/// without merging them in order, so `ORDER BY` rows would come out of
/// order.
pub fn plain_stream(
    stream: SendableRecordBatchStream,
    schema: SchemaRef,
) -> SendableRecordBatchStream {
    let out = schema.clone();
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        stream.map(move |batch| batch.and_then(|b| plain_batch(&b, &out))),
    ))
}

/// `batch` with `schema`'s plain types.
fn plain_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_types_are_made_plain_inside_lists_and_structs() {
        assert_eq!(plain_type(&DataType::Utf8View), Some(DataType::Utf8));
        assert_eq!(plain_type(&DataType::Int64), None);
        assert_eq!(plain_type(&DataType::Utf8), None);
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true)));
        assert_eq!(
            plain_type(&list),
            Some(DataType::List(Arc::new(Field::new(
                "item",
                DataType::Utf8,
                true
            ))))
        );
        let st = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::BinaryView, true),
        ]));
        assert_eq!(
            plain_type(&st),
            Some(DataType::Struct(Fields::from(vec![
                Field::new("a", DataType::Int32, false),
                Field::new("b", DataType::Binary, true),
            ])))
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Utf8View, false),
            Field::new("y", DataType::Int32, true),
        ]));
        let plain = plain_schema(schema);
        assert_eq!(plain.field(0).data_type(), &DataType::Utf8);
        assert!(!plain.field(0).is_nullable());
        assert_eq!(plain.field(1).data_type(), &DataType::Int32);
    }
}
