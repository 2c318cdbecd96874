//! One test per schema: every table the processor publishes (and the cold
//! files' `filings`) is encoded from real state, with rows, and must be
//! exactly its schema in `hoso_model::schema`. A field renamed, added or
//! dropped on one side only fails here.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hoso_model::schema;

use super::named;
use crate::engine::{Engine, Message};
use crate::partition::{PartitionTables, PublishedPartition, Settings};

const NOW: i64 = 1_751_500_000_000;

fn event(id: &str, filing: &str, seq: u32, kind: &str, at: &str) -> Vec<u8> {
    let extra = if kind == "received" {
        r#","procedure_code":"1.001193","channel":"online","due_at":"2025-07-01T17:00:00+07:00","eid_level2":true"#
    } else {
        ""
    };
    format!(
        r#"{{"event_id":"{id}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"{at}","province_code":"01","commune_code":"00004"{extra}}}"#
    )
    .into_bytes()
}

/// A partition with a row in every table: filings (an open overdue one,
/// hence an alert), daily counts, a reject, a restatement (a late event
/// for a closed day), commune clocks.
fn published() -> Arc<PublishedPartition> {
    let mut engine = Engine::new(Settings::default());
    engine.assign(PartitionTables::new(0));
    let log = [
        event("a1", "A", 1, "received", "2025-06-30T08:00:00+07:00"),
        event("b1", "B", 1, "received", "2025-06-30T09:00:00+07:00"),
        // Event time moves on two days: 30 June is closed.
        event("c1", "C", 1, "submitted", "2025-07-02T09:00:00+07:00"),
        // Late: B ends on the closed day (a restatement).
        event("b2", "B", 2, "resolved", "2025-06-30T15:00:00+07:00"),
        // Another event_id at A's seq 1 with a higher fingerprint, or a
        // lower one: either way one of the two is a reject.
        event("a1-other", "A", 1, "received", "2025-06-30T08:00:00+07:00"),
        b"not json".to_vec(),
    ];
    for (offset, bytes) in log.iter().enumerate() {
        engine
            .fold(
                Message {
                    partition: 0,
                    offset: offset as i64,
                    key: None,
                    payload: bytes,
                    timestamp_ms: None,
                },
                NOW,
            )
            .unwrap();
    }
    // Caught up: the deadline timers run, and A is overdue.
    engine.end_of_partition(0);
    let published = engine.publish(NOW);
    let (_, tables) = published.tables.into_iter().next().expect("published");
    tables
}

fn is_exactly(what: &str, batches: &[RecordBatch], want: SchemaRef) {
    assert!(!batches.is_empty(), "{what}: no batch");
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert!(rows > 0, "{what}: no rows");
    for b in batches {
        assert_eq!(b.schema(), want, "{what}: schema");
    }
}

#[test]
fn filings_is_its_schema() {
    is_exactly("filings", &published().filings, schema::filings());
}

#[test]
fn daily_partials_is_its_schema() {
    is_exactly(
        "daily_partials",
        &published().daily_partials,
        schema::daily_partials(),
    );
}

#[test]
fn rejects_is_its_schema() {
    let p = published();
    is_exactly("rejects", p.rejects.as_slice(), schema::rejects());
}

#[test]
fn restatements_is_its_schema() {
    is_exactly(
        "restatements",
        &published().restatements,
        schema::restatements(),
    );
}

#[test]
fn commune_clocks_is_its_schema() {
    let p = published();
    is_exactly(
        "commune_clocks",
        p.commune_clocks.as_slice(),
        schema::commune_clocks(),
    );
}

#[test]
fn filing_alerts_is_its_schema() {
    let p = published();
    is_exactly(
        "filing_alerts",
        p.filing_alerts.as_slice(),
        schema::filing_alerts(),
    );
}

#[test]
fn cold_files_hold_filings_stored() {
    let mut t = PartitionTables::new(0);
    let bytes = event("a1", "A", 1, "received", "2025-06-30T08:00:00+07:00");
    t.fold_message(0, None, &bytes, None).unwrap();
    let chunk = crate::store::Chunk::of_rows(t.filings().rows());
    let batch = super::filings_stored(&chunk, t.filings().procedures());
    is_exactly("filings_stored", &[batch], schema::filings_stored());
}

#[test]
fn columns_are_placed_by_name_and_a_mismatch_names_the_column() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("b", DataType::Int32, false),
    ]));
    let col = |v: i32| -> ArrayRef { Arc::new(Int32Array::from(vec![v])) };
    // Any order: by name.
    let b = named(schema.clone(), vec![("b", col(2)), ("a", col(1))]).unwrap();
    assert_eq!(b.column(0).as_ref(), col(1).as_ref());
    assert_eq!(b.column(1).as_ref(), col(2).as_ref());
    let missing = named(schema.clone(), vec![("a", col(1))]).unwrap_err();
    assert!(missing.to_string().contains("field b"), "{missing}");
    let extra = named(
        schema.clone(),
        vec![("a", col(1)), ("b", col(2)), ("c", col(3))],
    )
    .unwrap_err();
    assert!(extra.to_string().contains("column c"), "{extra}");
    let twice = named(schema, vec![("a", col(1)), ("a", col(1))]).unwrap_err();
    assert!(twice.to_string().contains("twice"), "{twice}");
}

#[test]
fn filings_carry_the_base_and_full_procedure_code_the_handler_and_the_extensions() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, TimestampMillisecondType};
    let mut engine = Engine::new(Settings::default());
    engine.assign(PartitionTables::new(0));
    let log = [
        // The long public form of birth registration, received in 00004.
        r#"{"event_id":"x1","filing_id":"X","seq":1,"type":"received","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","procedure_code":"1.001193.000.00.00.H01","channel":"online","due_at":"2025-07-01T17:00:00+07:00"}"#,
        r#"{"event_id":"x2","filing_id":"X","seq":2,"type":"extended","occurred_at":"2025-07-01T16:00:00+07:00","province_code":"01","commune_code":"00004","due_at":"2025-07-03T17:00:00+07:00"}"#,
        // Handled by Ngọc Hà (00008).
        r#"{"event_id":"x3","filing_id":"X","seq":3,"type":"processing","occurred_at":"2025-07-02T08:00:00+07:00","province_code":"01","commune_code":"00008"}"#,
    ];
    for (offset, bytes) in log.iter().enumerate() {
        let msg = Message {
            partition: 0,
            offset: offset as i64,
            key: None,
            payload: bytes.as_bytes(),
            timestamp_ms: None,
        };
        engine.fold(msg, NOW).unwrap();
    }
    let published = engine.publish(NOW);
    let (_, tables) = published.tables.into_iter().next().expect("published");
    let b = &tables.filings[0];
    let text = |c: &str, i: usize| -> String {
        b.column_by_name(c)
            .unwrap()
            .as_string_view()
            .value(i)
            .to_string()
    };
    assert_eq!(text("procedure_code", 0), "1.001193");
    assert_eq!(text("procedure_code_full", 0), "1.001193.000.00.00.H01");
    assert_eq!(text("commune_code", 0), "00004");
    assert_eq!(text("handling_commune_code", 0), "00008");
    let ext = b
        .column_by_name("extensions")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(ext.value(0), 1);
    let due = b
        .column_by_name("extended_due_at")
        .unwrap()
        .as_primitive::<TimestampMillisecondType>();
    assert_eq!(
        due.value(0),
        hoso_model::time::parse_rfc3339_ms("2025-07-03T17:00:00+07:00").unwrap()
    );
    // The day's extension count, on the received day.
    let daily = &tables.daily_partials[0];
    let n = daily
        .column_by_name("extensions")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(n.iter().flatten().sum::<i64>(), 1);
}
