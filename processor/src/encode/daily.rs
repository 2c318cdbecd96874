//! The `daily_partials` table: one bucket of a partition's daily
//! aggregates as an Arrow batch.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::types::Date32Type;
use arrow_array::{ArrayRef, Int32Array, Int64Array, PrimitiveArray, RecordBatch};
use arrow_schema::ArrowError;
use hoso_model::schema;

use super::{digits, named};
use crate::daily::{DayCounts, DayKey, DayRows};

/// One bucket of the daily aggregates as a `daily_partials` batch.
pub(crate) fn daily(partition: i32, rows: &DayRows) -> RecordBatch {
    try_encode_daily(partition, rows).expect("daily batch matches its schema")
}

fn try_encode_daily(partition: i32, rows: &DayRows) -> Result<RecordBatch, ArrowError> {
    let mut keys: Vec<(&DayKey, &DayCounts)> = rows.iter().collect();
    keys.sort_unstable_by_key(|(k, _)| **k);
    let n = keys.len();
    let mut province = StringBuilder::with_capacity(n, n * 2);
    let mut commune = StringBuilder::with_capacity(n, n * 5);
    let mut buf = [0u8; 8];
    for ((_, p, c), _) in &keys {
        province.append_value(digits(u32::from(*p), 2, &mut buf));
        commune.append_value(digits(*c, 5, &mut buf));
    }
    let values: Vec<[i64; DayCounts::NAMES.len()]> = keys.iter().map(|(_, c)| c.values()).collect();
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("partition", Arc::new(Int32Array::from_value(partition, n))),
        (
            "day",
            Arc::new(PrimitiveArray::<Date32Type>::from_iter_values(
                keys.iter().map(|((d, _, _), _)| *d),
            )),
        ),
        ("province_code", Arc::new(province.finish())),
        ("commune_code", Arc::new(commune.finish())),
    ];
    for (i, name) in DayCounts::NAMES.iter().enumerate() {
        columns.push((
            name,
            Arc::new(Int64Array::from_iter_values(values.iter().map(|v| v[i]))),
        ));
    }
    named(schema::daily_partials(), columns)
}
