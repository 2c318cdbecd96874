//! The differential test of issue 24: the generator's filings sent once
//! as the contract's events and once as the portal's records and steps
//! (through ingest's own reading, `hoso_ingest::dvcqg`), the records with
//! repeats, old records sent again late, typos corrected later and every
//! message shuffled, give the same `filings`, `daily_stats` and `kpi_*`
//! answers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hoso_model::catalogue::DueRules;
use hoso_model::portal::unit_map::UnitMap;
use hoso_processor::LiveTables;
use hoso_processor::engine::{Engine, Message};
use hoso_processor::partition::{PartitionTables, Settings};
use hoso_query::{Caller, Protocol, QueryConfig, QueryExecutor, QueryMetrics, Role};
use serde_json::{Value, json};

use crate::r#gen::communes::{self, CommuneSource};
use crate::r#gen::mix::Mix;
use crate::r#gen::stream::{Format, Stream, World};

const PARTITIONS: usize = 3;
/// The wall clock both runs are given.
const NOW: i64 = 1_760_000_000_000;

/// Monday 7 July 2025.
fn start_day() -> i32 {
    hoso_model::time::days_from_civil(2025, 7, 7) as i32
}

fn world() -> Arc<World> {
    let mix = Mix {
        median_daily: 30.0,
        ..Mix::default()
    };
    let source = CommuneSource::Csv(PathBuf::from("model/data/communes.csv"));
    let communes = communes::select(&source, &["01".into()], Some(3), mix.median_daily, 11)
        .expect("the official communes");
    Arc::new(World::new(communes, mix, 11).expect("a world"))
}

/// (key, payload, event time) of every item of the stream.
fn items(world: &Arc<World>, format: Format) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
    let mut stream = Stream::new(world.clone(), start_day(), 21).with_format(format);
    let mut out = Vec::new();
    loop {
        let mut bytes = Vec::new();
        let Some(e) = stream.next_into(&mut bytes) else {
            break;
        };
        out.push((bytes[e.key.clone()].to_vec(), bytes, e.at));
    }
    out
}

/// One portal item as ingest publishes it: a request of one item, read
/// and mapped by ingest, stamped `stamp`.
fn envelope(item: &Value, units: &UnitMap, stamp: i64) -> Vec<u8> {
    let service = if item.get("ThoiDiemXuLy").is_some() {
        "CapNhatTienDoHoSoMC"
    } else {
        "DongBoHoSoMC"
    };
    let body = serde_json::to_vec(&json!({"service": service, "data": [item]})).unwrap();
    let mut out = hoso_ingest::dvcqg::envelopes(&body, &DueRules::vietnam(), Some(units), stamp)
        .unwrap_or_else(|e| panic!("ingest refused {item}: {e}"));
    out.remove(0).payload
}

fn partition_of(key: &[u8]) -> usize {
    key.iter().map(|&b| usize::from(b)).sum::<usize>() % PARTITIONS
}

/// Folds `messages` in their order and serves the tables.
async fn serve(messages: &[(Vec<u8>, Vec<u8>, i64)]) -> (QueryExecutor, Vec<String>) {
    let settings = Settings::default();
    let mut engine = Engine::new(settings.clone());
    for p in 0..PARTITIONS as i32 {
        engine.assign(PartitionTables::new(p).with_settings(settings.clone()));
    }
    let mut offsets = [0i64; PARTITIONS];
    for (key, payload, at) in messages {
        let p = partition_of(key);
        let outcome = engine
            .fold(
                Message {
                    partition: p as i32,
                    offset: offsets[p],
                    key: Some(key),
                    payload,
                    timestamp_ms: Some(*at),
                },
                NOW,
            )
            .unwrap();
        assert!(
            !matches!(outcome, hoso_processor::engine::Outcome::Rejected { .. }),
            "{outcome:?}: {}",
            String::from_utf8_lossy(payload)
        );
        offsets[p] += 1;
    }
    let live = LiveTables::new();
    let ids: Vec<i32> = (0..PARTITIONS as i32).collect();
    live.assign(&ids);
    let mut causes = Vec::new();
    for t in engine.partitions_mut() {
        t.mark_end();
        causes.extend(t.restatement_log().iter().map(|r| r.cause.text.clone()));
        let p = t.partition();
        live.publish(p, t.publish_at(NOW));
        if t.take_caught_up() {
            live.mark_caught_up(p);
        }
    }
    let registry = prometheus::Registry::new();
    let ex = QueryExecutor::new(
        live,
        &QueryConfig::default(),
        QueryMetrics::new(&registry).unwrap(),
    )
    .await
    .unwrap();
    (ex, causes)
}

/// The answer to `sql`, one line per row (and the table's frame).
async fn answer(ex: &QueryExecutor, sql: &str) -> String {
    let caller = Caller::new("differential", Role::Admin, Protocol::Internal);
    match ex.execute(&caller, sql).await {
        Ok(out) => arrow::util::pretty::pretty_format_batches(&out.batches)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| panic!("{sql}: {e}")),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// Every column of `filings` but `last_seq`, the filing's own numbering:
/// a record's events are numbered by hoso, and a record cannot say when
/// a wait for a fee began once the fee is paid.
const FILINGS: &str = "SELECT filing_id, province_code, commune_code, procedure_code, channel, \
    status, received_at, due_at, ended_at, outcome, supplement_count, paused_seconds, \
    eid_level2, digitized, online_payment, effective_due_at, pause_started_at, closed, \
    fee_required, due_at_computed, procedure_code_full, handling_commune_code, \
    extended_due_at, extensions FROM filings ORDER BY filing_id";

fn shuffle<T>(v: &mut [T], mut x: u64) {
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_portal_records_of_the_same_filings_give_the_same_answers() {
    let world = world();
    let units = UnitMap::parse(
        &super::units_csv(&world.communes),
        &hoso_model::units::Units::official(),
    )
    .unwrap();
    let events = items(&world, Format::Events);
    let portal = items(&world, Format::Portal);
    assert_eq!(events.len(), portal.len(), "one item per event");

    // The records as a source sends them, then its mistakes: every third
    // record sent twice, every fifth filing's first record sent again at
    // the end, and every seventh filing's last record sent with a typo in
    // its end date, corrected at the end.
    let end = portal.iter().map(|m| m.2).max().unwrap();
    let mut last_of: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut first_of: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (i, (key, _, _)) in portal.iter().enumerate() {
        last_of.insert(key.clone(), i);
        first_of.entry(key.clone()).or_insert(i);
    }
    let mut sent = Vec::new();
    let mut late = Vec::new();
    let (mut repeats, mut resends, mut typos) = (0, 0, 0);
    for (i, (key, bytes, at)) in portal.iter().enumerate() {
        let mut item: Value = serde_json::from_slice(bytes).unwrap();
        let n = first_of[key];
        if last_of[key] == i && n.is_multiple_of(7) && item.get("NgayKetThucXuLy").is_some() {
            let good = envelope(&item, &units, end + 1);
            late.push((key.clone(), good, end));
            let ended = item["NgayKetThucXuLy"].as_str().unwrap().to_string();
            item["NgayKetThucXuLy"] = json!(format!("{}{}", &ended[..6], "28170000"));
            typos += 1;
        }
        let env = envelope(&item, &units, *at);
        if i.is_multiple_of(3) {
            sent.push((key.clone(), env.clone(), *at));
            repeats += 1;
        }
        sent.push((key.clone(), env, *at));
        if first_of[key] == i && n.is_multiple_of(5) {
            late.push((key.clone(), envelope(&item, &units, end + 2), end));
            resends += 1;
        }
    }
    let in_order: Vec<_> = sent.iter().chain(&late).cloned().collect();
    let mut shuffled = in_order.clone();
    shuffle(&mut shuffled, 0x5eed);
    assert!(
        repeats > 100 && resends > 20 && typos > 5,
        "{repeats} {resends} {typos}"
    );

    let (by_events, _) = serve(&events).await;
    let (by_records, causes) = serve(&in_order).await;
    let (by_shuffled, _) = serve(&shuffled).await;
    assert!(
        causes
            .iter()
            .any(|c| c.starts_with("corrected record of filing")),
        "a typo fixed after its day closed is restated: {:?}",
        &causes[..causes.len().min(5)]
    );

    let mut queries = vec![
        FILINGS.to_string(),
        "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code".to_string(),
    ];
    for grain in ["daily", "weekly", "monthly", "quarterly", "yearly"] {
        for level in ["", "province_"] {
            queries.push(format!("SELECT * FROM kpi_{level}{grain} ORDER BY 1, 2, 3"));
        }
    }
    let filings = answer(
        &by_events,
        "SELECT count(*) AS n, count(ended_at) AS ended, \
        sum(extensions) AS extended, count(*) FILTER (WHERE supplement_count > 0) AS supplemented, \
        count(*) FILTER (WHERE online_payment) AS paid_online FROM filings",
    )
    .await;
    for sql in &queries {
        let want = answer(&by_events, sql).await;
        for (run, ex) in [
            ("records in order", &by_records),
            ("records shuffled", &by_shuffled),
        ] {
            let got = answer(ex, sql).await;
            let differ: Vec<String> = want
                .lines()
                .zip(got.lines())
                .filter(|(a, b)| a != b)
                .take(4)
                .map(|(a, b)| format!("events:  {a}\nrecords: {b}"))
                .collect();
            assert!(
                differ.is_empty() && want.lines().count() == got.lines().count(),
                "{sql} ({run}), first rows that differ:\n{}",
                differ.join("\n")
            );
        }
    }
    eprintln!("the same answers from events and portal records over:\n{filings}");
}
