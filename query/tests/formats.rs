//! `POST /v1/sql` in every format: Arrow and Parquet decode to the same rows
//! as the JSON, JSON and CSV are byte for byte what one write of the whole
//! result gives, whether the result fits in the first chunk or streams.

mod common;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use hoso_query::QueryConfig;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Strings with NULLs, floats, booleans, dates, timestamps; 20,000 rows is
/// several DataFusion batches and several times the first chunk.
const MIXED: &str = "SELECT value AS n, CAST(value AS DOUBLE) / 3 AS third, \
    CASE WHEN value % 3 = 0 THEN NULL ELSE concat('xã ', CAST(value AS VARCHAR)) END AS label, \
    value % 2 = 0 AS even, CAST(to_timestamp(value * 86400) AS DATE) AS day, \
    to_timestamp(value * 3600) AS at \
    FROM generate_series(1, 20000) ORDER BY n";

/// A view with a NULL ratio; small enough to go out whole.
const VIEW: &str = "SELECT * FROM on_time_rate ORDER BY day, province_code, commune_code";

/// What the old, collecting encoder wrote for `batches`: the reference the
/// streamed JSON must equal.
fn json_of(batches: &[RecordBatch]) -> String {
    let mut buf = Vec::new();
    let mut w = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(&mut buf);
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    String::from_utf8(buf).unwrap()
}

fn csv_of(schema: &SchemaRef, batches: &[RecordBatch]) -> String {
    let mut buf = Vec::new();
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(&mut buf);
    w.write(&RecordBatch::new_empty(schema.clone())).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    drop(w);
    String::from_utf8(buf).unwrap()
}

fn from_arrow(body: Bytes) -> (SchemaRef, Vec<RecordBatch>) {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
        .expect("an Arrow IPC stream");
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
    (schema, batches)
}

fn from_parquet(body: Bytes) -> (SchemaRef, Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(body).expect("a Parquet file");
    let row_groups = builder.metadata().num_row_groups();
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches, row_groups)
}

/// The answer to `sql` in `format`, which must be a success.
async fn ok(server: &common::Server, format: &str, sql: &str) -> reqwest::Response {
    let resp = server.post(format, sql).await;
    assert_eq!(resp.status(), 200, "{format} {sql}");
    resp
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_carries_the_same_rows() {
    let server = common::serve(QueryConfig::default()).await;
    for sql in [MIXED, VIEW] {
        let want = server
            .executor
            .execute(&common::admin(), sql)
            .await
            .unwrap();
        let want_json = json_of(&want.batches);
        assert!(want.num_rows() > 0, "{sql}");

        let resp = ok(&server, "json", sql).await;
        assert_eq!(content_type(&resp), "application/json");
        assert_eq!(resp.text().await.unwrap(), want_json, "{sql}");

        let resp = ok(&server, "csv", sql).await;
        assert_eq!(content_type(&resp), "text/csv; charset=utf-8");
        assert_eq!(
            resp.text().await.unwrap(),
            csv_of(&want.schema, &want.batches),
            "{sql}"
        );

        let resp = ok(&server, "arrow", sql).await;
        assert_eq!(content_type(&resp), "application/vnd.apache.arrow.stream");
        let (schema, batches) = from_arrow(resp.bytes().await.unwrap());
        assert_eq!(schema, want.schema, "{sql}");
        assert_eq!(json_of(&batches), want_json, "{sql}");

        let resp = ok(&server, "parquet", sql).await;
        assert_eq!(content_type(&resp), "application/vnd.apache.parquet");
        let (schema, batches, _) = from_parquet(resp.bytes().await.unwrap());
        assert_eq!(schema.fields(), want.schema.fields(), "{sql}");
        assert_eq!(json_of(&batches), want_json, "{sql}");
    }
    // The JSON of a view, checked by hand once, so the comparisons above
    // are not between two empty answers.
    let resp = ok(&server, "json", VIEW).await;
    let got: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(got.as_array().unwrap().len(), 3);
    assert_eq!(got[1]["ended"], 3);
    assert_eq!(got[2]["on_time_rate"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_leaves_in_row_groups_and_empty_results_are_well_formed() {
    let server = common::serve(QueryConfig::default()).await;
    let resp = ok(
        &server,
        "parquet",
        "SELECT value FROM generate_series(1, 150000)",
    )
    .await;
    let (_, batches, row_groups) = from_parquet(resp.bytes().await.unwrap());
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 150_000);
    assert_eq!(row_groups, 3, "65,536 rows per row group");

    let none = "SELECT day, received FROM daily_volume WHERE received < 0";
    assert_eq!(ok(&server, "json", none).await.text().await.unwrap(), "[]");
    assert_eq!(
        ok(&server, "csv", none).await.text().await.unwrap(),
        "day,received\n"
    );
    let (schema, batches) = from_arrow(ok(&server, "arrow", none).await.bytes().await.unwrap());
    assert_eq!(schema.fields().len(), 2);
    assert!(batches.iter().all(|b| b.num_rows() == 0));
    let (schema, batches, _) =
        from_parquet(ok(&server, "parquet", none).await.bytes().await.unwrap());
    assert_eq!(schema.field(0).name(), "day");
    assert!(batches.iter().all(|b| b.num_rows() == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_format_is_refused_naming_the_known_ones() {
    let server = common::serve(QueryConfig::default()).await;
    let resp = server.post("xlsx", "SELECT 1").await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    for name in ["\"xlsx\"", "json", "csv", "arrow", "parquet"] {
        assert!(message.contains(name), "{message}");
    }
    // Refused before running: nothing was counted as a query.
    assert_eq!(server.outcomes("ok"), 0);
}
