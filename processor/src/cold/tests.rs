//! Closed filings leave memory for Parquet and come back on a late event;
//! files follow the checkpoints.

use std::path::Path;
use std::sync::Arc;

use crate::checkpoint;
use crate::partition::{FoldResult, PartitionTables, Settings};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hoso-cold-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn settings(cold: &Path) -> Settings {
    Settings {
        cold_dir: Some(Arc::from(cold)),
        cold_after_days: 2,
        ..Settings::default()
    }
}

fn ev(filing: &str, seq: u32, kind: &str, day: u32) -> Vec<u8> {
    let extra = if kind == "received" {
        format!(
            r#","procedure_code":"1.001193","channel":"online","due_at":"2025-07-{:02}T17:00:00+07:00""#,
            day + 2
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-{day:02}T09:00:00+07:00","province_code":"01","commune_code":"00004"{extra}}}"#
    )
    .into_bytes()
}

/// Ten days of filings, 20 a day, received and resolved the same day:
/// 18 returned that day too (seq 4; seq 3 is left for a late event), one
/// not yet returned (`-18`), one still open (`-19`).
fn feed(t: &mut PartitionTables, offset: &mut i64) {
    for day in 1..=10u32 {
        for i in 0..20 {
            let f = format!("F{day:02}-{i:02}");
            for (seq, kind) in [(1, "received"), (2, "resolved"), (4, "returned")] {
                if (kind != "received" && i == 19) || (kind == "returned" && i == 18) {
                    continue;
                }
                t.fold_message(*offset, None, &ev(&f, seq, kind, day), None)
                    .unwrap();
                *offset += 1;
            }
        }
        t.evict_cold().unwrap();
    }
}

/// Settled filings are cold `2` days after they closed; one resolved but
/// not returned 4 x 2 days after.
const COLD_AFTER_FEED: u64 = 7 * 18 + 1;

fn all_rows(t: &mut PartitionTables) -> Vec<(Vec<u8>, hoso_model::FilingState)> {
    // As a publish would: recalled filings leave their files first.
    t.finish_recalls();
    let mut rows: Vec<_> = t
        .filings()
        .rows()
        .map(|(id, s)| (id.to_vec(), s.clone()))
        .collect();
    for p in t.cold().paths() {
        // A table store's URL: read the object where it is.
        let p = p.strip_prefix("file://").unwrap_or(&p);
        rows.extend(super::file::read_states(Path::new(p)).unwrap());
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[test]
fn closed_filings_past_the_horizon_go_cold_and_come_back_on_a_late_event() {
    let cold = dir("evict");
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    feed(&mut t, &mut offset);
    // Watermark July 10th, horizon 2 days: filings returned before July 8th
    // are cold (7 days x 18), and the unreturned one of July 1st (8 days
    // before the 10th); the open ones and the recent ones are hot.
    assert_eq!(t.cold().rows(), COLD_AFTER_FEED);
    assert_eq!(t.filings().len(), 200 - COLD_AFTER_FEED as usize);
    assert!(t.filings().get("F01-18").is_none());
    assert!(
        t.filings().get("F02-18").is_some(),
        "still expects `returned`"
    );
    // Seven daily passes wrote a settled file each, merged four at a time
    // (4 -> 1, then that one and 3 more -> 1); the unreturned filing is in
    // a pending file of its own.
    let files = t.cold().files().to_vec();
    assert_eq!(files.len(), 2, "{files:?}");
    let settled = files.iter().find(|f| !f.pending).expect("a settled file");
    assert_eq!(settled.rows, 7 * 18);
    assert_eq!(hoso_model::time::format_day(settled.day), "2025-07-01");
    let pending = files.iter().find(|f| f.pending).expect("a pending file");
    assert_eq!(pending.rows, 1);
    for p in t.cold().paths() {
        assert!(p.contains("/filings/province=01/month=2025-07/p0-"), "{p}");
    }
    let before = all_rows(&mut t);
    assert_eq!(before.len(), 200);

    // A late event for a cold filing: the filing comes back, once.
    let late = ev("F03-05", 3, "fee_paid", 11);
    assert_eq!(
        t.fold_message(offset, None, &late, None).unwrap(),
        FoldResult::Folded
    );
    offset += 1;
    let s = t.filings().get("F03-05").expect("back in memory");
    assert_eq!(s.last_seq(), 4);
    assert_eq!(s.online_payment(), Some(false), "the late event is folded");
    assert!(s.received_at().is_some(), "with its whole state");
    // Its file is rewritten at the next publish, not per late event.
    assert!(t.cold().has_recalled());
    assert_eq!(t.cold().rows(), COLD_AFTER_FEED);
    let published = t.publish();
    assert!(!t.cold().has_recalled());
    assert_eq!(t.cold().rows(), COLD_AFTER_FEED - 1);
    assert_eq!(published.cold_files, t.cold().paths());
    let after = all_rows(&mut t);
    assert_eq!(after.len(), 200, "never in both places, never in neither");
    // The same event again is a duplicate, from memory now.
    assert_eq!(
        t.fold_message(offset, None, &late, None).unwrap(),
        FoldResult::Duplicate
    );
    // A new filing does not touch the cold files.
    let new = ev("NEW", 1, "received", 10);
    assert_eq!(
        t.fold_message(offset + 1, None, &new, None).unwrap(),
        FoldResult::Folded
    );
    assert_eq!(t.cold().rows(), COLD_AFTER_FEED - 1);

    // The late `returned` of the unreturned filing recalls it from the
    // pending file; the big settled file is not rewritten.
    let settled_path =
        t.cold().paths()[t.cold().files().iter().position(|f| !f.pending).unwrap()].clone();
    let returned = ev("F01-18", 4, "returned", 11);
    assert_eq!(
        t.fold_message(offset + 2, None, &returned, None).unwrap(),
        FoldResult::Folded
    );
    assert!(t.filings().get("F01-18").unwrap().is_returned());
    t.finish_recalls();
    assert_eq!(
        t.cold().files().len(),
        1,
        "the emptied pending file is gone"
    );
    assert_eq!(t.cold().paths(), vec![settled_path]);
    assert_eq!(all_rows(&mut t).len(), 201);
    let _ = std::fs::remove_dir_all(&cold);
}

#[test]
fn merged_files_hold_every_row_once_and_recalls_find_them() {
    let cold = dir("merge");
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    // 28 days, 20 filings a day, all settled: 25 daily passes of July,
    // each file small, so merged two at a time into one.
    for day in 1..=28u32 {
        for i in 0..20 {
            let f = format!("M{day:02}-{i:02}");
            for (seq, kind) in [(1, "received"), (2, "resolved"), (4, "returned")] {
                t.fold_message(offset, None, &ev(&f, seq, kind, day), None)
                    .unwrap();
                offset += 1;
            }
        }
        t.evict_cold().unwrap();
    }
    let files = t.cold().files().to_vec();
    assert_eq!(files.len(), 1, "25 passes: {files:?}");
    assert_eq!(t.cold().rows(), 25 * 20);
    let rows = all_rows(&mut t);
    assert_eq!(
        rows.len(),
        28 * 20,
        "every filing once, in memory or a file"
    );
    // Any cold filing comes back from its merged file, once.
    for f in ["M01-00", "M13-07", "M25-19"] {
        let late = ev(f, 3, "fee_paid", 29);
        assert_eq!(
            t.fold_message(offset, None, &late, None).unwrap(),
            FoldResult::Folded,
            "{f}"
        );
        offset += 1;
        assert!(t.filings().get(f).is_some(), "{f} back in memory");
    }
    t.finish_recalls();
    assert_eq!(t.cold().rows(), 25 * 20 - 3);
    assert_eq!(all_rows(&mut t).len(), 28 * 20);

    // August 20th: July ended more than the unreturned horizon (4 x 2
    // days) ago, so no daily pass writes to it any more: its files, the
    // three recalled filings moving back included, become one sealed file.
    t.fold_message(offset, None, &aug("A1", 1, "received", 20), None)
        .unwrap();
    offset += 1;
    t.evict_cold().unwrap();
    let july: Vec<_> = t
        .cold()
        .files()
        .iter()
        .filter(|f| !f.pending)
        .cloned()
        .collect();
    assert_eq!(july.len(), 1, "{july:?}");
    assert!(july[0].sealed);
    assert_eq!(july[0].rows, 28 * 20, "all of July");
    assert_eq!(all_rows(&mut t).len(), 28 * 20 + 1);

    // A late event recalls a filing from it (the sealed file is rewritten,
    // sealed still); moving back days later, the filing is a small file of
    // its own, not a reason to rewrite the month again.
    let july = recall_and_move_back(&mut t, &mut offset, "M07-07", ("A2", 25));
    assert_eq!(july, vec![(false, 1), (true, 28 * 20 - 1)]);
    assert_eq!(all_rows(&mut t).len(), 28 * 20 + 2);

    // Another one recalled and moving back: the stragglers of a sealed
    // month are one file, not one more each time.
    let july = recall_and_move_back(&mut t, &mut offset, "M09-09", ("A3", 28));
    assert_eq!(july, vec![(false, 2), (true, 28 * 20 - 2)]);
    assert_eq!(all_rows(&mut t).len(), 28 * 20 + 3);
    let _ = std::fs::remove_dir_all(&cold);
}

#[test]
fn a_sealed_months_stragglers_join_its_small_pending_file() {
    let cold = dir("absorb");
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    // 28 days of July, 20 filings a day; every fifth one never gets its
    // `returned`, so it goes to a pending file.
    for day in 1..=28u32 {
        for i in 0..20 {
            let f = format!("S{day:02}-{i:02}");
            let returned = i % 5 != 0;
            for (seq, kind) in [(1, "received"), (2, "resolved"), (4, "returned")] {
                if kind == "returned" && !returned {
                    continue;
                }
                t.fold_message(offset, None, &ev(&f, seq, kind, day), None)
                    .unwrap();
                offset += 1;
            }
        }
        t.evict_cold().unwrap();
    }
    // August 20th: July is sealed, its settled and its pending filings in
    // one file each.
    t.fold_message(offset, None, &aug("B1", 1, "received", 20), None)
        .unwrap();
    offset += 1;
    t.evict_cold().unwrap();
    let files = |t: &PartitionTables| {
        let mut f: Vec<_> = t
            .cold()
            .files()
            .iter()
            .map(|f| (f.sealed, f.pending, f.rows))
            .collect();
        f.sort();
        f
    };
    assert_eq!(
        files(&t),
        vec![(true, false, 28 * 16), (true, true, 28 * 4)]
    );

    // A settled filing recalled by a late event, then moving back: it
    // joins the small pending file instead of making a third file.
    let late = ev("S07-07", 3, "fee_paid", 31);
    assert_eq!(
        t.fold_message(offset, None, &late, None).unwrap(),
        FoldResult::Folded
    );
    t.fold_message(offset + 1, None, &aug("B2", 1, "received", 25), None)
        .unwrap();
    offset += 2;
    t.evict_cold().unwrap();
    assert_eq!(
        files(&t),
        vec![(true, false, 28 * 16 - 1), (true, true, 28 * 4 + 1)]
    );
    // A pending one too: out of its file and back into it.
    let late = ev("S09-05", 3, "fee_paid", 31);
    assert_eq!(
        t.fold_message(offset, None, &late, None).unwrap(),
        FoldResult::Folded
    );
    assert!(t.filings().get("S09-05").is_some(), "recalled");
    t.fold_message(offset + 1, None, &aug("B3", 1, "received", 28), None)
        .unwrap();
    offset += 2;
    t.evict_cold().unwrap();
    assert_eq!(
        files(&t),
        vec![(true, false, 28 * 16 - 1), (true, true, 28 * 4 + 1)]
    );
    assert_eq!(all_rows(&mut t).len(), 28 * 20 + 3);
    let _ = offset;
    let _ = std::fs::remove_dir_all(&cold);
}

/// A late event for cold `filing`, then a new filing received on
/// `(id, August day)` to move the watermark past its horizon again; the
/// files as (sealed, rows), sorted.
fn recall_and_move_back(
    t: &mut PartitionTables,
    offset: &mut i64,
    filing: &str,
    (id, day): (&str, u32),
) -> Vec<(bool, u32)> {
    let late = ev(filing, 3, "fee_paid", 31);
    assert_eq!(
        t.fold_message(*offset, None, &late, None).unwrap(),
        FoldResult::Folded
    );
    assert_eq!(t.cold().files().iter().filter(|f| f.sealed).count(), 1);
    t.fold_message(*offset + 1, None, &aug(id, 1, "received", day), None)
        .unwrap();
    *offset += 2;
    t.evict_cold().unwrap();
    let mut files: Vec<_> = t
        .cold()
        .files()
        .iter()
        .map(|f| (f.sealed, f.rows))
        .collect();
    files.sort();
    files
}

/// An August event, to move the watermark on.
fn aug(filing: &str, seq: u32, kind: &str, day: u32) -> Vec<u8> {
    String::from_utf8(ev(filing, seq, kind, day))
        .unwrap()
        .replace("2025-07-", "2025-08-")
        .into_bytes()
}

#[test]
fn the_cold_tier_follows_the_checkpoints() {
    let cold = dir("ckpt");
    let store_dir = dir("ckpt-store");
    let store = checkpoint::FsCheckpointStore::new(&store_dir).unwrap();
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    feed(&mut t, &mut offset);
    checkpoint::save(&store, &mut t).unwrap();
    let restored = checkpoint::restore(&store, 0, settings(&cold)).unwrap();
    assert_eq!(restored.cold().files(), t.cold().files());
    assert_eq!(restored.cold().rows(), COLD_AFTER_FEED);

    // A recall rewrites a file; the old one stays until two checkpoints
    // no longer name it (a query may still be reading it).
    let old_files = t.cold().paths();
    t.fold_message(offset, None, &ev("F01-00", 3, "fee_paid", 11), None)
        .unwrap();
    t.finish_recalls();
    let gone: Vec<_> = old_files
        .iter()
        .filter(|p| !t.cold().paths().contains(p))
        .cloned()
        .collect();
    assert_eq!(gone.len(), 1);
    assert!(Path::new(&gone[0]).exists());
    checkpoint::save(&store, &mut t).unwrap();
    assert!(Path::new(&gone[0]).exists());
    t.fold_message(offset + 1, None, &ev("NEW", 1, "received", 11), None)
        .unwrap();
    checkpoint::save(&store, &mut t).unwrap();
    assert!(
        !Path::new(&gone[0]).exists(),
        "deleted after the second checkpoint"
    );

    // A file no checkpoint names (written by a process that then died) is
    // removed on restore.
    let orphan = cold.join("filings/province=01/month=2025-07/p0-0000009999.parquet");
    std::fs::write(&orphan, b"half").unwrap();
    let other_partition = cold.join("filings/province=01/month=2025-07/p1-0000000000.parquet");
    std::fs::write(&other_partition, b"not mine").unwrap();
    let mut again = checkpoint::restore(&store, 0, settings(&cold)).unwrap();
    assert_eq!(again.cold().rows(), t.cold().rows());
    assert!(!orphan.exists());
    // Its name is not used again: a cached footer could describe it.
    again
        .fold_message(offset + 2, None, &ev("F02-00", 3, "fee_paid", 11), None)
        .unwrap();
    again.finish_recalls();
    assert!(
        again
            .cold()
            .paths()
            .iter()
            .any(|p| p.ends_with("filings/province=01/month=2025-07/p0-0000010000.parquet")),
        "{:?}",
        again.cold().paths()
    );
    assert!(
        other_partition.exists(),
        "another partition's files are left alone"
    );
    let _ = std::fs::remove_dir_all(&cold);
    let _ = std::fs::remove_dir_all(&store_dir);
}

/// Two machines and a table store: the second takes the partition over
/// from the checkpoint with none of the files on its disk.
#[test]
fn a_partition_moves_to_another_machine_through_the_table_store() {
    use crate::table_store::{StoreDir, TableStore};
    let remote_dir = dir("remote");
    let url = format!("file://{}", remote_dir.display());
    let tables = Arc::new(TableStore::open(&url, &Default::default()).unwrap());
    let on = |machine: &Path| Settings {
        cold_remote: Some(StoreDir::new(tables.clone(), "cold/topic")),
        ..settings(machine)
    };
    let checkpoints =
        checkpoint::ObjectCheckpointStore::new(StoreDir::new(tables.clone(), "checkpoints/topic"));
    let (first, second) = (dir("machine-1"), dir("machine-2"));
    let mut t = PartitionTables::new(0).with_settings(on(&first));
    let mut offset = 0;
    feed(&mut t, &mut offset);
    checkpoint::save(&checkpoints, &mut t).unwrap();
    let before = all_rows(&mut t);
    for f in t.cold().files() {
        assert!(
            remote_dir.join("cold/topic").join(&f.name).exists(),
            "{f:?} uploaded"
        );
    }
    // Written after the checkpoint by the first machine, which then died.
    let orphan = "cold/topic/filings/province=01/month=2025-07/p0-0000009999.parquet";
    tables
        .put(orphan, bytes::Bytes::from_static(b"half"))
        .unwrap();

    let stored = || tables.list("cold/topic/filings").unwrap().len();
    // Files the first machine merged away, not yet deleted: a query node
    // one checkpoint behind may still read them.
    let let_go = stored() - t.cold().files().len() - 1;
    assert!(let_go > 0, "merged files await their deletion");
    let mut moved = checkpoint::restore(&checkpoints, 0, on(&second)).unwrap();
    assert!(
        !remote_dir.join(orphan).exists(),
        "the orphan is deleted in the store"
    );
    assert_eq!(moved.cold().files(), t.cold().files());
    assert_eq!(
        stored(),
        t.cold().files().len() + let_go,
        "they age out, not at once"
    );
    // A late event recalls a filing from a file the second machine fetches.
    assert_eq!(
        moved
            .fold_message(offset, None, &ev("F03-05", 3, "fee_paid", 11), None)
            .unwrap(),
        FoldResult::Folded
    );
    assert!(moved.filings().get("F03-05").is_some());
    let mut after = all_rows(&mut moved);
    after.retain(|(id, _)| id != b"F03-05");
    let mut expected = before;
    expected.retain(|(id, _)| id != b"F03-05");
    assert_eq!(after.len(), 199);
    assert_eq!(after, expected, "every other filing once, unchanged");
    checkpoint::save(&checkpoints, &mut moved).unwrap();
    moved
        .fold_message(offset + 1, None, &ev("NEW", 1, "received", 11), None)
        .unwrap();
    checkpoint::save(&checkpoints, &mut moved).unwrap();
    assert_eq!(
        stored(),
        moved.cold().files().len(),
        "gone two checkpoints later"
    );
    // The rewritten file is in the store; names go on past the orphan's.
    for f in moved.cold().files() {
        assert!(
            remote_dir.join("cold/topic").join(&f.name).exists(),
            "{f:?} uploaded"
        );
    }
    assert!(
        moved
            .cold()
            .paths()
            .iter()
            .any(|p| p.ends_with("p0-0000010000.parquet")),
        "{:?}",
        moved.cold().paths()
    );
    // SQL reads the files where they are, on any node.
    let query_node = checkpoint::decode(
        &hoso_model::checkpoint::load(&checkpoints, 0)
            .unwrap()
            .unwrap()
            .bytes,
    )
    .unwrap()
    .with_settings(Settings {
        cold_dir: None,
        ..on(&second)
    });
    assert_eq!(query_node.cold().files(), moved.cold().files());
    for p in query_node
        .cold()
        .paths()
        .iter()
        .chain(&moved.cold().paths())
    {
        assert!(
            p.starts_with(&format!(
                "file://{}/cold/topic/filings/",
                remote_dir.display()
            )),
            "{p}"
        );
    }
    for d in [&remote_dir, &first, &second] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_failed_write_leaves_every_filing_in_memory() {
    let cold = dir("fail");
    // A file where the directory should be: nothing can be written.
    std::fs::create_dir_all(cold.parent().unwrap()).unwrap();
    std::fs::write(&cold, b"in the way").unwrap();
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    for day in 1..=10u32 {
        for (seq, kind) in [(1, "received"), (2, "resolved")] {
            let f = format!("F{day:02}");
            t.fold_message(offset, None, &ev(&f, seq, kind, day), None)
                .unwrap();
            offset += 1;
        }
    }
    assert!(t.evict_cold().is_err());
    assert_eq!(t.filings().len(), 10);
    assert_eq!(t.cold().rows(), 0);
    let _ = std::fs::remove_file(&cold);
}

#[test]
fn a_reread_after_a_resume_recalls_no_cold_filing() {
    let cold = dir("reread");
    let mut t = PartitionTables::new(0).with_settings(settings(&cold));
    let mut offset = 0;
    feed(&mut t, &mut offset);
    let files = t.cold().files().to_vec();
    let before = all_rows(&mut t);
    let hot = t.filings().len();
    // The driver resumes a little before the checkpoint: every message is
    // read again, cold filings' ones included.
    let mut again = 0;
    feed(&mut t, &mut again);
    assert_eq!(again, offset);
    assert_eq!(t.cold().recalls(), 0, "nothing comes back from the files");
    assert_eq!(t.cold().files(), &files[..], "no file rewritten");
    assert_eq!(t.filings().len(), hot);
    assert_eq!(all_rows(&mut t), before);
    assert_eq!(t.next_offset(), offset);
    let _ = std::fs::remove_dir_all(&cold);
}
