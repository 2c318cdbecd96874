//! Checkpoints round-trip exactly, refuse corrupt bytes, and survive
//! interrupted saves.

use super::*;
use crate::partition::FoldResult;

fn event(filing: usize, seq: u32, kind: &str, day: u32) -> String {
    let extra = if kind == "received" {
        format!(
            r#","procedure_code":"1.00{}","channel":"{}","due_at":"2025-07-{:02}T17:00:00+07:00","eid_level2":true"#,
            1193 + filing % 7,
            if filing.is_multiple_of(3) {
                "online"
            } else {
                "in_person"
            },
            day + 2
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"event_id":"e-{filing}-{seq}","filing_id":"F-{filing:06}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-{day:02}T{:02}:00:00+07:00","province_code":"{:02}","commune_code":"{:05}"{extra}}}"#,
        8 + seq % 10,
        1 + filing % 3,
        4 + filing % 11
    )
}

/// A stream with every shape of state: plain, paused, high seqs, open.
fn stream(filings: usize) -> Vec<String> {
    let mut out = Vec::new();
    for f in 0..filings {
        let day = 1 + (f % 20) as u32;
        out.push(event(f, 1, "received", day));
        if f.is_multiple_of(5) {
            out.push(event(f, 2, "supplement_requested", day));
            out.push(event(f, 3, "supplement_received", day + 1));
        }
        if f.is_multiple_of(13) {
            out.push(event(f, 40, "processing", day));
        }
        if !f.is_multiple_of(4) {
            out.push(event(f, 5, "resolved", day + 1));
        }
        // Rejects are state too: not JSON, and a conflict at a folded seq.
        if f % 97 == 1 {
            out.push(format!("not json {f}"));
            out.push(event(f, 1, "received", day).replace("\"e-", "\"other-"));
        }
    }
    out
}

fn folded(events: &[String]) -> PartitionTables {
    let mut t = PartitionTables::new(3);
    for (i, e) in events.iter().enumerate() {
        t.fold_message(i as i64, None, e.as_bytes(), None).unwrap();
    }
    t
}

/// A fold result with the reject's wall-clock time left out.
fn without_clock(r: FoldResult) -> FoldResult {
    match r {
        FoldResult::Rejected { reason, new } => FoldResult::Rejected {
            reason,
            new: new.map(|mut r| {
                r.seen_at_ms = 0;
                r
            }),
        },
        other => other,
    }
}

#[test]
fn a_checkpoint_restores_the_exact_tables_and_dedup_memory() {
    let events = stream(3_000);
    let (first, rest) = events.split_at(events.len() / 2);
    let mut live = folded(first);
    let bytes = encode(&live);
    let mut restored = decode(&bytes).expect("decodes");
    assert_eq!(restored.partition(), 3);
    assert_eq!(restored.next_offset(), first.len() as i64);
    assert_eq!(restored.filings().len(), live.filings().len());
    for ((id_a, a), (id_b, b)) in live.filings().rows().zip(restored.filings().rows()) {
        assert_eq!((id_a, a), (id_b, b));
    }
    let mut rows_a: Vec<_> = live.daily().rows().collect();
    let mut rows_b: Vec<_> = restored.daily().rows().collect();
    rows_a.sort_by_key(|r| *r.0);
    rows_b.sort_by_key(|r| *r.0);
    assert_eq!(rows_a, rows_b);
    assert_eq!(live.publish().filings, restored.publish().filings);

    let rejects: Vec<_> = live.rejects.iter().cloned().collect();
    assert!(
        rejects.len() >= 10,
        "the stream has rejects: {}",
        rejects.len()
    );
    assert_eq!(
        restored.rejects.iter().cloned().collect::<Vec<_>>(),
        rejects
    );
    assert_eq!(restored.watermark_ms(), live.watermark_ms());
    assert_ne!(live.watermark_ms(), i64::MIN);

    // Replaying what the checkpoint already holds changes nothing: folded
    // events are duplicates, refused ones are not logged again.
    for (i, e) in first.iter().enumerate() {
        match restored
            .fold_message(i as i64, None, e.as_bytes(), None)
            .unwrap()
        {
            FoldResult::Duplicate => {}
            FoldResult::Rejected { new: None, .. } => {}
            other => panic!("offset {i}: {other:?}"),
        }
    }
    assert_eq!(restored.rejects.len(), rejects.len());
    // ...and both continue to the same place.
    let offset = first.len() as i64;
    for (i, e) in rest.iter().enumerate() {
        let at = offset + i as i64;
        let (a, b) = (
            live.fold_message(at, None, e.as_bytes(), None).unwrap(),
            restored.fold_message(at, None, e.as_bytes(), None).unwrap(),
        );
        assert_eq!(without_clock(a), without_clock(b), "offset {at}");
    }
    // A reject records when it was seen (the wall clock): the one field
    // two folds of the same message may differ in.
    live.rejects.stamp_all(0);
    restored.rejects.stamp_all(0);
    assert!(
        encode(&live) == encode(&restored),
        "same state, byte for byte"
    );
    let (a, b) = (live.publish(), restored.publish());
    assert_eq!(a.filings, b.filings);
    let sorted = |batches: &[arrow_array::RecordBatch]| {
        let mut rows: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                (0..b.num_rows()).map(move |i| {
                    b.columns()
                        .iter()
                        .map(|c| format!("{:?}", c.slice(i, 1)))
                        .collect::<Vec<_>>()
                        .join("|")
                })
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(sorted(&a.daily_partials), sorted(&b.daily_partials));
}

#[test]
fn corrupt_or_truncated_bytes_are_refused() {
    let bytes = encode(&folded(&stream(200)));
    assert!(decode(&bytes).is_ok());
    for at in [0, 9, 20, bytes.len() / 2, bytes.len() - 5, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(
            matches!(decode(&bad), Err(CheckpointError::Corrupt(_))),
            "flipped byte {at}"
        );
    }
    for cut in [0, 7, 30, bytes.len() - 1] {
        assert!(
            matches!(decode(&bytes[..cut]), Err(CheckpointError::Corrupt(_))),
            "cut at {cut}"
        );
    }
}
