//! One cold file: the rows of closed filings as Parquet, the contract's
//! `filings` columns (readable by DataFusion, Spark, Trino, DuckDB) plus
//! `state`, the filing's encoded fold state, from which a late event
//! brings the filing back into memory.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hoso_model::codec::ByteReader;
use hoso_model::{FilingState, Interner};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::encode::filings_stored;
use crate::store::Chunk;

/// The column that holds the fold state.
pub const STATE: &str = "state";

/// Rows per row group, as many as a chunk of the hot rows. Big row groups
/// make scans cheap (measured: a year's 564 files scanned 1.3x to 1.5x
/// faster with one row group each than with 16,384 rows per group); the
/// rows are sorted by id, so each row group's statistics bound its ids,
/// and looking one filing up in a sealed month of 300,000 rows reads one
/// row group, not the file.
const ROW_GROUP_ROWS: usize = 65_536;

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
    /// The table store refused a file or would not give it.
    #[error("{path} in the table store: {message}")]
    Store { path: String, message: String },
}

/// Writes `rows` (sorted by id here, so the file's statistics bound its
/// ids) to `path` atomically: a temporary file, fsync, rename, fsync of the
/// directory.
pub fn write(
    path: &Path,
    rows: &mut [(Vec<u8>, FilingState)],
    procedures: &Interner,
) -> Result<(), ColdError> {
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut writer = Writer::create(path)?;
    for group in rows.chunks(ROW_GROUP_ROWS) {
        writer.append(group, procedures)?;
    }
    writer.finish()
}

/// Merges files into one at `path`, streaming: each input is sorted by id,
/// so a k-way merge holds one batch per input and one row group of output,
/// whatever the sizes. `seen` is called with every id written. Returns the
/// rows written.
pub fn merge(
    inputs: &[PathBuf],
    path: &Path,
    procedures: &Interner,
    mut seen: impl FnMut(&[u8]),
) -> Result<u64, ColdError> {
    let mut readers = Vec::with_capacity(inputs.len());
    for input in inputs {
        readers.push(SortedRows::open(input)?);
    }
    let mut heads = Vec::with_capacity(readers.len());
    for r in &mut readers {
        heads.push(r.next_row()?);
    }
    let mut writer = Writer::create(path)?;
    let mut group: Vec<(Vec<u8>, FilingState)> = Vec::with_capacity(ROW_GROUP_ROWS);
    let mut rows = 0u64;
    loop {
        // A handful of inputs: a scan for the smallest head beats a heap.
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|(id, _)| (i, id)))
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(i, _)| i);
        let Some(i) = next else {
            break;
        };
        let row = heads[i].take().expect("picked for being there");
        heads[i] = readers[i].next_row()?;
        seen(&row.0);
        group.push(row);
        rows += 1;
        if group.len() == ROW_GROUP_ROWS {
            writer.append(&group, procedures)?;
            group.clear();
        }
    }
    if !group.is_empty() {
        writer.append(&group, procedures)?;
    }
    writer.finish()?;
    Ok(rows)
}

/// A cold file being written: row groups appended in id order, then made
/// durable under its name. Dropped unfinished, it leaves nothing behind.
struct Writer {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
    schema: Arc<Schema>,
}

impl Writer {
    fn create(path: &Path) -> Result<Writer, ColdError> {
        let io = |source| ColdError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut fields: Vec<Field> = hoso_model::schema::filings_stored()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(STATE, DataType::Binary, false));
        let schema = Arc::new(Schema::new(fields));
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(io)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            ColdError::Parquet {
                path: path.display().to_string(),
                source,
            }
        })?;
        Ok(Writer {
            path: path.to_path_buf(),
            tmp,
            writer: Some(writer),
            schema,
        })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// Appends rows already sorted by id, after every id appended before.
    fn append(
        &mut self,
        rows: &[(Vec<u8>, FilingState)],
        procedures: &Interner,
    ) -> Result<(), ColdError> {
        let chunk = Chunk::of_rows(rows.iter().map(|(id, s)| (id.as_slice(), s)));
        let batch = filings_stored(&chunk, procedures);
        let mut states = BinaryBuilder::with_capacity(rows.len(), rows.len() * 60);
        let mut buf = Vec::with_capacity(80);
        for (_, s) in rows {
            buf.clear();
            s.encode(&mut buf);
            states.append_value(&buf);
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(states.finish()));
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| ColdError::Corrupt {
                path: self.name(),
                message: e.to_string(),
            })?;
        let name = self.name();
        self.writer
            .as_mut()
            .expect("not finished")
            .write(&batch)
            .map_err(|source| ColdError::Parquet { path: name, source })
    }

    /// Closes the file, fsyncs it, renames it into place and fsyncs the
    /// directory.
    fn finish(mut self) -> Result<(), ColdError> {
        let name = self.name();
        let io = |source| ColdError::Io {
            path: name.clone(),
            source,
        };
        let writer = self.writer.take().expect("finished once");
        let mut file = writer.into_inner().map_err(|source| ColdError::Parquet {
            path: name.clone(),
            source,
        })?;
        file.flush().map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The (id, state) rows of a file in file order (by id), a batch at a time.
struct SortedRows {
    name: String,
    reader: ParquetRecordBatchReader,
    batch: Option<(StringArray, BinaryArray)>,
    next: usize,
}

impl SortedRows {
    fn open(path: &Path) -> Result<SortedRows, ColdError> {
        let name = path.display().to_string();
        let (reader, _) = id_and_state_reader(path, None)?;
        Ok(SortedRows {
            name,
            reader,
            batch: None,
            next: 0,
        })
    }

    fn next_row(&mut self) -> Result<Option<(Vec<u8>, FilingState)>, ColdError> {
        loop {
            if let Some((ids, states)) = &self.batch
                && self.next < ids.len()
            {
                let i = self.next;
                self.next += 1;
                return row(&self.name, ids, states, i).map(Some);
            }
            match self.reader.next() {
                None => return Ok(None),
                Some(batch) => {
                    let batch = batch.map_err(|e| corrupt(&self.name, e.to_string()))?;
                    self.batch = Some(columns(&self.name, &batch)?);
                    self.next = 0;
                }
            }
        }
    }
}

fn corrupt(name: &str, message: String) -> ColdError {
    ColdError::Corrupt {
        path: name.to_string(),
        message,
    }
}

/// Every (id, state) of a cold file.
pub fn read_states(path: &Path) -> Result<Vec<(Vec<u8>, FilingState)>, ColdError> {
    read(path, None)
}

/// The state of filing `id` when the file holds it, reading only the row
/// groups whose id statistics admit it.
pub fn find_state(path: &Path, id: &[u8]) -> Result<Option<FilingState>, ColdError> {
    // Only the matching row is decoded: a lookup reads up to a whole row
    // group, and most of a recall's time went to copying its rows.
    let (reader, name) = id_and_state_reader(path, Some(id))?;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(&name, e.to_string()))?;
        let (ids, states) = columns(&name, &batch)?;
        if let Some(i) = (0..ids.len()).find(|&i| ids.is_valid(i) && ids.value(i).as_bytes() == id)
        {
            return row(&name, &ids, &states, i).map(|(_, s)| Some(s));
        }
    }
    Ok(None)
}

/// The (id, state) rows of a file: all of them, or those of the row groups
/// that may hold `only`.
fn read(path: &Path, only: Option<&[u8]>) -> Result<Vec<(Vec<u8>, FilingState)>, ColdError> {
    let (reader, name) = id_and_state_reader(path, only)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(&name, e.to_string()))?;
        let (ids, states) = columns(&name, &batch)?;
        for i in 0..ids.len() {
            out.push(row(&name, &ids, &states, i)?);
        }
    }
    Ok(out)
}

/// A reader of a file's `filing_id` and `state` columns: every row group,
/// or those that may hold `only` (an empty reader when none may). Also
/// returns the path as text, for errors.
fn id_and_state_reader(
    path: &Path,
    only: Option<&[u8]>,
) -> Result<(ParquetRecordBatchReader, String), ColdError> {
    let name = path.display().to_string();
    let pq = |source| ColdError::Parquet {
        path: name.clone(),
        source,
    };
    let file = File::open(path).map_err(|source| ColdError::Io {
        path: name.clone(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    let schema = builder.schema().clone();
    let id_col = schema
        .index_of("filing_id")
        .map_err(|e| corrupt(&name, e.to_string()))?;
    let state_col = schema
        .index_of(STATE)
        .map_err(|e| corrupt(&name, e.to_string()))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [id_col, state_col]);
    let builder = match only {
        Some(id) => {
            let groups = candidate_groups(builder.metadata(), id);
            builder.with_row_groups(groups)
        }
        None => builder,
    };
    let reader = builder.with_projection(mask).build().map_err(pq)?;
    Ok((reader, name))
}

/// A batch's `filing_id` and `state` columns.
fn columns(name: &str, batch: &RecordBatch) -> Result<(StringArray, BinaryArray), ColdError> {
    let ids = batch
        .column_by_name("filing_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| corrupt(name, "filing_id is not text".into()))?;
    let states = batch
        .column_by_name(STATE)
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(|| corrupt(name, "state is not binary".into()))?;
    Ok((ids.clone(), states.clone()))
}

/// Row `i` as (id, decoded state).
fn row(
    name: &str,
    ids: &StringArray,
    states: &BinaryArray,
    i: usize,
) -> Result<(Vec<u8>, FilingState), ColdError> {
    if ids.is_null(i) || states.is_null(i) {
        return Err(corrupt(name, format!("row {i} is null")));
    }
    let state = FilingState::decode(&mut ByteReader::new(states.value(i)))
        .map_err(|e| corrupt(name, format!("row {i}: {e}")))?;
    Ok((ids.value(i).as_bytes().to_vec(), state))
}

/// The row groups whose `filing_id` min and max admit `id` (all of those
/// without statistics).
fn candidate_groups(meta: &ParquetMetaData, id: &[u8]) -> Vec<usize> {
    let leaves = meta.file_metadata().schema_descr().columns();
    let Some(id_col) = leaves.iter().position(|c| c.name() == "filing_id") else {
        return (0..meta.num_row_groups()).collect();
    };
    meta.row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(id_col).statistics() {
            Some(Statistics::ByteArray(st)) => {
                let above_min = st.min_bytes_opt().is_none_or(|min| min <= id);
                let below_max = st.max_bytes_opt().is_none_or(|max| id <= max);
                above_min && below_max
            }
            _ => true,
        })
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_reads_only_the_row_group_that_may_hold_the_id() {
        let dir =
            std::env::temp_dir().join(format!("hoso-cold-file-lookup-{}", std::process::id()));
        let path = dir.join("f.parquet");
        // Written out of order: the file sorts them, so row groups split
        // the id range.
        let mut rows: Vec<(Vec<u8>, FilingState)> = (0..140_000u32)
            .rev()
            .map(|i| (format!("F{i:06}").into_bytes(), FilingState::new()))
            .collect();
        write(&path, &mut rows, &Interner::new()).unwrap();

        let file = File::open(&path).unwrap();
        let meta = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .metadata()
            .clone();
        assert_eq!(meta.num_row_groups(), 3, "140,000 rows in groups of 65,536");
        assert_eq!(candidate_groups(&meta, b"F000000"), vec![0]);
        assert_eq!(candidate_groups(&meta, b"F070000"), vec![1]);
        assert_eq!(candidate_groups(&meta, b"F139999"), vec![2]);
        assert!(candidate_groups(&meta, b"G").is_empty(), "past the last id");
        assert!(
            candidate_groups(&meta, b"A").is_empty(),
            "before the first id"
        );

        for id in ["F000000", "F065536", "F139999"] {
            assert_eq!(
                find_state(&path, id.as_bytes()).unwrap(),
                Some(FilingState::new()),
                "{id}"
            );
        }
        assert_eq!(find_state(&path, b"F0700005").unwrap(), None, "between ids");
        assert_eq!(read_states(&path).unwrap().len(), 140_000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_merge_streams_sorted_inputs_into_one_sorted_file() {
        let dir = std::env::temp_dir().join(format!("hoso-cold-file-merge-{}", std::process::id()));
        // Three files whose ids interleave, one of them over a row group.
        let sizes = [70_000u32, 3, 700];
        let mut inputs = Vec::new();
        for (f, n) in sizes.iter().enumerate() {
            let mut rows: Vec<(Vec<u8>, FilingState)> = (0..*n)
                .map(|i| {
                    (
                        format!("F{:06}", i * 3 + f as u32).into_bytes(),
                        FilingState::new(),
                    )
                })
                .collect();
            let path = dir.join(format!("in-{f}.parquet"));
            write(&path, &mut rows, &Interner::new()).unwrap();
            inputs.push(path);
        }
        let out = dir.join("merged.parquet");
        let mut seen = Vec::new();
        let rows = merge(&inputs, &out, &Interner::new(), |id| seen.push(id.to_vec())).unwrap();
        assert_eq!(rows, 70_703);
        let back: Vec<Vec<u8>> = read_states(&out)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(back, seen, "written as seen");
        let mut expected: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .flat_map(|(f, n)| {
                (0..*n).map(move |i| format!("F{:06}", i * 3 + f as u32).into_bytes())
            })
            .collect();
        expected.sort();
        assert_eq!(back, expected, "every row once, in id order");
        assert!(!dir.join("merged.parquet.tmp").exists());

        // An input that is not Parquet: an error, and no output left.
        std::fs::write(&inputs[1], b"not parquet").unwrap();
        let failed = dir.join("failed.parquet");
        assert!(merge(&inputs, &failed, &Interner::new(), |_| {}).is_err());
        assert!(!failed.exists() && !dir.join("failed.parquet.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
