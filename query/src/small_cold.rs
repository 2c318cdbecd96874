//! Small cold files, decoded once and scanned from memory.
//!
//! A query pays for every Parquet file it opens, whatever its size: a
//! reader set up, the file's schema adapted to the table's, buffers
//! allocated (about 0.15 ms of CPU per file on the benchmark machine, the
//! same rows in 165 files or in 72 took 120 ms against 107). The cold tier
//! leaves small files next to each big sealed one (a month's pending
//! filings) and the current months' files are small until merged. A cold
//! file never changes once written (a rewrite or a merge is a new name),
//! so the small ones are decoded once into batches of the table's schema
//! and scanned like the hot rows; the big ones are read from Parquet.
//! Files leave the cache when a snapshot no longer names them.

use std::collections::HashMap;
use std::sync::Mutex;

use arrow::array::{ArrayRef, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStoreExt;
use object_store::path::Path as Key;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The decoded batches kept, at most; past it, small files are read from
/// Parquet like the big ones.
const MAX_CACHED_BYTES: usize = 256 << 20;

/// A cold file to read from Parquet: its store, its key there, its size.
pub type BigFile = (ObjectStoreUrl, Key, u64);

/// The store and key of a cold file's location: an absolute local path
/// (the processor's own copy) or a URL in the table store.
pub fn locate(location: &str) -> Result<(ObjectStoreUrl, Key)> {
    if location.starts_with('/') {
        // Object-store paths are relative to the file system's root.
        return Ok((
            ObjectStoreUrl::local_filesystem(),
            Key::from(location.trim_start_matches('/')),
        ));
    }
    let url = url::Url::parse(location)
        .map_err(|e| DataFusionError::Execution(format!("cold file {location:?}: {e}")))?;
    let store = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])?;
    let key = Key::from_url_path(url.path())
        .map_err(|e| DataFusionError::Execution(format!("cold file {location:?}: {e}")))?;
    Ok((store, key))
}

/// The decoded small cold files of one table.
#[derive(Debug)]
pub struct SmallColdFiles {
    schema: SchemaRef,
    /// Files up to this size are decoded and kept (0: none).
    max_file_bytes: u64,
    cached: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    files: HashMap<String, RecordBatch>,
    /// The files seen that are read from Parquet, located and sized once,
    /// so each costs one `HEAD`, not one per query (a name never comes back
    /// with other bytes).
    big: HashMap<String, BigFile>,
    bytes: usize,
}

impl SmallColdFiles {
    /// A cache of the files up to `max_file_bytes` (`query.
    /// small_cold_file_bytes`), decoded into `schema` (the table's).
    pub fn new(schema: SchemaRef, max_file_bytes: u64) -> Self {
        SmallColdFiles {
            schema,
            max_file_bytes,
            cached: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `locations` (one snapshot's cold files) as the batches of the small
    /// ones and the big ones to scan, read through `runtime`'s object
    /// stores; what the snapshot no longer names is forgotten. A file that
    /// cannot be decoded here is left to the Parquet scan, which reports
    /// what is wrong with it. No lock is held while a store answers.
    pub async fn split(
        &self,
        runtime: &RuntimeEnv,
        locations: &[String],
    ) -> Result<(Vec<RecordBatch>, Vec<BigFile>)> {
        let mut small = Vec::new();
        let mut big = Vec::new();
        let mut unknown = Vec::new();
        let mut big_hits = 0;
        {
            let cached = self.lock();
            for loc in locations {
                if let Some(batch) = cached.files.get(loc) {
                    small.push(batch.clone());
                } else if let Some(file) = cached.big.get(loc) {
                    big.push(file.clone());
                    big_hits += 1;
                } else {
                    unknown.push(loc);
                }
            }
        }
        let mut decoded = Vec::new();
        let mut located = Vec::new();
        for loc in unknown {
            let (url, key) = locate(loc)?;
            let store = runtime.object_store(&url)?;
            let size = store
                .head(&key)
                .await
                .map_err(|e| DataFusionError::Execution(format!("cold file {loc}: {e}")))?
                .size;
            if size > self.max_file_bytes {
                located.push((loc.clone(), (url.clone(), key.clone(), size)));
                big.push((url, key, size));
                continue;
            }
            if self.lock().bytes >= MAX_CACHED_BYTES {
                // Small, but no room now: asked again next time.
                big.push((url, key, size));
                continue;
            }
            let bytes = store
                .get(&key)
                .await
                .map_err(|e| DataFusionError::Execution(format!("cold file {loc}: {e}")))?
                .bytes()
                .await
                .map_err(|e| DataFusionError::Execution(format!("cold file {loc}: {e}")))?;
            match decode(bytes, &self.schema) {
                Ok(batch) => {
                    small.push(batch.clone());
                    decoded.push((loc.clone(), batch));
                }
                Err(e) => {
                    tracing::warn!(file = %loc, error = %e, "a small cold file is read from Parquet");
                    located.push((loc.clone(), (url.clone(), key.clone(), size)));
                    big.push((url, key, size));
                }
            }
        }
        let mut cached = self.lock();
        let big_named = big_hits + located.len();
        cached.big.extend(located);
        for (loc, batch) in decoded {
            cached.bytes += batch.get_array_memory_size();
            cached.files.insert(loc, batch);
        }
        if cached.files.len() > small.len() || cached.big.len() > big_named {
            let named: std::collections::HashSet<&String> = locations.iter().collect();
            cached.files.retain(|p, _| named.contains(p));
            cached.big.retain(|p, _| named.contains(p));
            cached.bytes = cached
                .files
                .values()
                .map(RecordBatch::get_array_memory_size)
                .sum();
        }
        Ok((small, big))
    }

    /// Files held (for tests).
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The whole file as one batch of `schema`: its columns by name (the
/// file's others, such as `state`, are not read), text cast to the
/// table's type, a column the file lacks as nulls.
fn decode(file: Bytes, schema: &SchemaRef) -> Result<RecordBatch, Box<dyn std::error::Error>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let parquet_schema = builder.parquet_schema();
    let wanted: Vec<usize> = (0..parquet_schema.num_columns())
        .filter(|&i| schema.index_of(parquet_schema.column(i).name()).is_ok())
        .collect();
    let mask = ProjectionMask::leaves(parquet_schema, wanted);
    let reader = builder.with_projection(mask).build()?;
    let read_schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let whole = concat_batches(&read_schema, &batches)?;
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef, Box<dyn std::error::Error>> {
            match whole.column_by_name(field.name()) {
                Some(c) if c.data_type() == field.data_type() => Ok(c.clone()),
                Some(c) => Ok(cast(c, field.data_type())?),
                None if field.is_nullable() => {
                    Ok(new_null_array(field.data_type(), whole.num_rows()))
                }
                None => Err(format!("no column {}", field.name()).into()),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, BinaryArray, BooleanArray, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use std::fs::File;
    use std::path::Path;
    use std::sync::Arc;

    /// A cold file as the processor writes one (`filings_stored`, then
    /// `state`), without `fee_required`, as an older file might be.
    fn write_cold_file(path: &Path, rows: usize) {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for f in hoso_model::schema::filings_stored().fields() {
            if f.name() == "fee_required" {
                continue;
            }
            let column: ArrayRef = match f.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("{}-{i}", f.name())),
                )),
                DataType::Int32 => Arc::new(Int32Array::from_iter_values(0..rows as i32)),
                DataType::Int64 => Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                DataType::Boolean => Arc::new(BooleanArray::from(vec![true; rows])),
                other => new_null_array(other, rows),
            };
            fields.push(f.as_ref().clone());
            columns.push(column);
        }
        fields.push(Field::new("state", DataType::Binary, false));
        columns.push(Arc::new(BinaryArray::from_iter_values(
            (0..rows).map(|_| b"x".as_slice()),
        )));
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn loc(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn small_files_are_decoded_once_into_the_tables_schema() {
        let rt = RuntimeEnv::default();
        let dir = std::env::temp_dir().join(format!("hoso-small-cold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.parquet"), dir.join("b.parquet"));
        write_cold_file(&a, 3);
        write_cold_file(&b, 5);
        let schema = hoso_model::schema::filings();
        let cache = SmallColdFiles::new(schema.clone(), 1 << 20);

        // A local path, and the same kind of file as a URL.
        let b_url = format!("file://{}", b.display());
        let (small, big) = cache.split(&rt, &[loc(&a), b_url.clone()]).await.unwrap();
        assert!(big.is_empty());
        assert_eq!(small.iter().map(|b| b.num_rows()).sum::<usize>(), 8);
        assert_eq!(small[0].schema(), schema, "views, no state");
        let commune = small[1].column_by_name("commune_code").unwrap();
        assert_eq!(commune.data_type(), &DataType::Utf8View);
        assert_eq!(
            cast(commune, &DataType::Utf8)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(4),
            "commune_code-4"
        );
        let fee = small[0].column_by_name("fee_required").unwrap();
        assert_eq!(fee.null_count(), 3, "a column the file lacks is null");
        assert_eq!(cache.len(), 2);

        // Read again from the cache: the same buffers, not a new decode.
        let (again, _) = cache
            .split(&rt, std::slice::from_ref(&b_url))
            .await
            .unwrap();
        assert_eq!(
            again[0].column(0).to_data().buffers()[0].as_ptr(),
            small[1].column(0).to_data().buffers()[0].as_ptr()
        );
        assert_eq!(cache.len(), 1, "a file no snapshot names is forgotten");

        // Past the size limit (here: every file), files go to the scan.
        let none = SmallColdFiles::new(schema, 0);
        let (small, big) = none.split(&rt, &[loc(&a)]).await.unwrap();
        assert!(small.is_empty());
        assert_eq!(big.len(), 1);
        assert_eq!(big[0].2, std::fs::metadata(&a).unwrap().len());
        assert_eq!(big[0].0, ObjectStoreUrl::local_filesystem());
        assert_eq!(big[0].1.as_ref(), loc(&a).trim_start_matches('/'));
        assert!(none.is_empty());

        // A file that is gone is an error, not a silent gap.
        std::fs::remove_file(&a).unwrap();
        assert!(cache.split(&rt, &[loc(&a)]).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
