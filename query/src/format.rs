//! The result formats of `POST /v1/sql`, each written batch by batch so a
//! large result never sits whole in memory.
//!
//! Every encoder writes into its own `Vec` and hands over what it holds
//! after each batch. The bytes are those a single write of the whole result
//! would give: JSON is one array across batches, CSV has its header once,
//! Arrow is one IPC stream (schema first, end-of-stream marker last), and
//! Parquet is one file whose row groups leave as they fill.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::QueryError;

/// Rows per Parquet row group: a row group is held in memory until full,
/// so this bounds what a Parquet result holds (DataFusion's 8192-row
/// batches fill one in eight).
const PARQUET_ROW_GROUP_ROWS: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An array of objects, one per row, nulls explicit (the default).
    Json,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// Arrow IPC stream format (`pyarrow.ipc.open_stream`).
    Arrow,
    /// One Parquet file, Snappy-compressed.
    Parquet,
}

impl Format {
    /// The `format` query parameter; `None` is JSON.
    pub fn parse(name: Option<&str>) -> Result<Format, String> {
        match name {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("arrow") => Ok(Format::Arrow),
            Some("parquet") => Ok(Format::Parquet),
            Some(other) => Err(format!(
                "unknown format {other:?}: use json, csv, arrow or parquet"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Arrow => "arrow",
            Format::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// Turns a result's batches into the bytes of one format, incrementally.
pub struct Encoder {
    format: Format,
    inner: Inner,
}

enum Inner {
    Json(arrow::json::Writer<Vec<u8>, arrow::json::writer::JsonArray>),
    /// The CSV writer keeps no state between batches but whether the header
    /// is out, so each batch gets a fresh writer over a fresh buffer.
    Csv {
        schema: SchemaRef,
        header_sent: bool,
    },
    Arrow(arrow::ipc::writer::StreamWriter<Vec<u8>>),
    Parquet(ArrowWriter<Vec<u8>>),
}

impl Encoder {
    /// An encoder for results of `schema`; Arrow's schema message is ready
    /// at the first [`Encoder::write`].
    pub fn new(format: Format, schema: &SchemaRef) -> Result<Self, QueryError> {
        let inner = match format {
            Format::Json => Inner::Json(
                arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build(Vec::new()),
            ),
            Format::Csv => Inner::Csv {
                schema: schema.clone(),
                header_sent: false,
            },
            Format::Arrow => Inner::Arrow(
                arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema)
                    .map_err(|e| encode_error(format, e))?,
            ),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .build();
                Inner::Parquet(
                    ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
                        .map_err(|e| encode_error(format, e))?,
                )
            }
        };
        Ok(Encoder { format, inner })
    }

    /// The bytes of `batch` that are ready to send (maybe none: Parquet
    /// holds rows until a row group fills).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Bytes, QueryError> {
        let format = self.format;
        let out = match &mut self.inner {
            Inner::Json(w) => {
                w.write(batch).map_err(|e| encode_error(format, e))?;
                std::mem::take(w.get_mut())
            }
            Inner::Csv { header_sent, .. } => {
                let out = csv(batch, !*header_sent).map_err(|e| encode_error(format, e))?;
                *header_sent = true;
                out
            }
            Inner::Arrow(w) => {
                w.write(batch).map_err(|e| encode_error(format, e))?;
                std::mem::take(w.get_mut())
            }
            // Taking the bytes out of the sink does not disturb the writer:
            // it counts the offsets of its footer itself.
            Inner::Parquet(w) => {
                w.write(batch).map_err(|e| encode_error(format, e))?;
                std::mem::take(w.inner_mut())
            }
        };
        Ok(Bytes::from(out))
    }

    /// The last bytes: the end of the JSON array, the CSV header of an
    /// empty result, Arrow's end-of-stream marker, Parquet's last row group
    /// and footer.
    pub fn finish(mut self) -> Result<Bytes, QueryError> {
        let format = self.format;
        let out = match &mut self.inner {
            Inner::Json(w) => {
                w.finish().map_err(|e| encode_error(format, e))?;
                std::mem::take(w.get_mut())
            }
            Inner::Csv {
                schema,
                header_sent,
            } => {
                if *header_sent {
                    Vec::new()
                } else {
                    csv(&RecordBatch::new_empty(schema.clone()), true)
                        .map_err(|e| encode_error(format, e))?
                }
            }
            Inner::Arrow(w) => {
                w.finish().map_err(|e| encode_error(format, e))?;
                std::mem::take(w.get_mut())
            }
            Inner::Parquet(w) => {
                w.finish().map_err(|e| encode_error(format, e))?;
                std::mem::take(w.inner_mut())
            }
        };
        Ok(Bytes::from(out))
    }
}

fn csv(batch: &RecordBatch, header: bool) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut buf = Vec::with_capacity(batch.num_rows() * 64 + 16);
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(header)
        .build(&mut buf);
    w.write(batch)?;
    drop(w);
    Ok(buf)
}

fn encode_error(format: Format, e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(format!(
        "cannot encode the result as {}: {e}",
        format.name()
    ))
}
