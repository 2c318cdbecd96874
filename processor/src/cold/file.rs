//! One cold file: the rows of closed filings as Parquet, the contract's
//! `filings` columns (readable by DataFusion, Spark, Trino, DuckDB) plus
//! `state`, the filing's encoded fold state, from which a late event
//! brings the filing back into memory.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hoso_model::codec::ByteReader;
use hoso_model::{FilingState, Interner};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::encode::encode_filings;
use crate::store::Chunk;

/// The column that holds the fold state.
pub const STATE: &str = "state";

#[derive(Debug, thiserror::Error)]
pub enum ColdError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: String,
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
}

/// Writes `rows` (sorted by id here, so the file's statistics bound its
/// ids) to `path` atomically: a temporary file, fsync, rename, fsync of the
/// directory.
pub fn write(
    path: &Path,
    rows: &mut [(Vec<u8>, FilingState)],
    procedures: &Interner,
) -> Result<(), ColdError> {
    let name = path.display().to_string();
    let io = |source| ColdError::Io {
        path: name.clone(),
        source,
    };
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let chunk = Chunk::of_rows(rows.iter().map(|(id, s)| (id.as_slice(), s)));
    let batch = encode_filings(&chunk, procedures);
    let mut states = BinaryBuilder::with_capacity(rows.len(), rows.len() * 60);
    let mut buf = Vec::with_capacity(80);
    for (_, s) in rows.iter() {
        buf.clear();
        s.encode(&mut buf);
        states.append_value(&buf);
    }
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(STATE, DataType::Binary, false));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(states.finish()));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
        ColdError::Corrupt {
            path: name.clone(),
            message: e.to_string(),
        }
    })?;

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(io)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let pq = |source| ColdError::Parquet {
        path: name.clone(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(pq)?;
    writer.write(&batch).map_err(pq)?;
    let mut file = writer.into_inner().map_err(pq)?;
    file.flush().map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// Every (id, state) of a cold file.
pub fn read_states(path: &Path) -> Result<Vec<(Vec<u8>, FilingState)>, ColdError> {
    let name = path.display().to_string();
    let pq = |source| ColdError::Parquet {
        path: name.clone(),
        source,
    };
    let corrupt = |message: String| ColdError::Corrupt {
        path: name.clone(),
        message,
    };
    let file = File::open(path).map_err(|source| ColdError::Io {
        path: name.clone(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    let schema = builder.schema().clone();
    let id_col = schema
        .index_of("filing_id")
        .map_err(|e| corrupt(e.to_string()))?;
    let state_col = schema.index_of(STATE).map_err(|e| corrupt(e.to_string()))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [id_col, state_col]);
    let reader = builder.with_projection(mask).build().map_err(pq)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(e.to_string()))?;
        let ids = batch
            .column_by_name("filing_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| corrupt("filing_id is not text".into()))?;
        let states = batch
            .column_by_name(STATE)
            .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
            .ok_or_else(|| corrupt("state is not binary".into()))?;
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || states.is_null(i) {
                return Err(corrupt(format!("row {i} is null")));
            }
            let state = FilingState::decode(&mut ByteReader::new(states.value(i)))
                .map_err(|e| corrupt(format!("row {i}: {e}")))?;
            out.push((ids.value(i).as_bytes().to_vec(), state));
        }
    }
    Ok(out)
}
