//! A fixed scenario over HTTP -> Kafka -> fold -> SQL, with out-of-order
//! arrival, duplicates and every outcome; the expected figures are worked
//! out by hand in the comments.

use std::time::Duration;

use serde_json::{Value, json};

use hoso::up::Roles;
use hoso_processor::ConsumeMode;

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

/// One event of filing `f` in commune `(p, c)`.
fn ev(f: &str, seq: u32, kind: &str, at: &str, p: &str, c: &str) -> Value {
    json!({
        "event_id": format!("{f}-{seq}"), "filing_id": f, "seq": seq, "type": kind,
        "occurred_at": at, "province_code": p, "commune_code": c,
        "note": "unknown fields travel on"
    })
}

fn received(f: &str, at: &str, due: &str, channel: &str, p: &str, c: &str) -> Value {
    let mut e = ev(f, 1, "received", at, p, c);
    e["procedure_code"] = json!("1.001193");
    e["channel"] = json!(channel);
    e["due_at"] = json!(due);
    e
}

fn ndjson(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// Distinct events of the scenario: its filings' highest seqs, summed
/// (EARLY 4, ONTIME 2, LATE 2, PAUSE 4, TWOSUP 6, WITHDRAWN 2, NOTRECV 2,
/// RETURNED 2, EXTENDED 3, OPEN 2); every seq from 1 up is sent.
const DISTINCT_EVENTS: usize = 29;

const HN: &str = "01";
const HCM: &str = "79";

/// The scenario's events, grouped as they are sent.
fn scenario() -> Vec<Vec<Value>> {
    let (a, b, c) = ("00004", "00025", "26740");
    let early = vec![
        // early: resolved 2 Jul, due 3 Jul -> early, ended day 2 Jul
        received(
            "F-EARLY",
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            "in_person",
            HN,
            a,
        ),
        ev(
            "F-EARLY",
            2,
            "processing",
            "2025-07-01T09:00:00+07:00",
            HN,
            a,
        ),
        ev("F-EARLY", 3, "resolved", "2025-07-02T10:00:00+07:00", HN, a),
        ev("F-EARLY", 4, "returned", "2025-07-02T15:00:00+07:00", HN, a),
    ];
    let mut pause_received = ev("F-PAUSE", 1, "received", "2025-07-01T08:30:00+07:00", HN, a);
    pause_received["procedure_code"] = json!("1.000894");
    pause_received["channel"] = json!("online");
    pause_received["due_at"] = json!("2025-07-02T17:00:00+07:00");
    pause_received["eid_level2"] = json!(true);
    pause_received["digitized"] = json!(true);
    pause_received["fee_required"] = json!(false);
    let mut extended = ev(
        "F-EXTENDED",
        2,
        "extended",
        "2025-07-02T16:00:00+07:00",
        HCM,
        c,
    );
    extended["due_at"] = json!("2025-07-05T17:00:00+07:00");
    vec![
        // Request 1 (NDJSON): F-EARLY, with its `processing` sent twice.
        {
            let mut v = early.clone();
            v.push(early[1].clone());
            v
        },
        // Request 2 (JSON array): F-EARLY again (a client retry) and more.
        {
            let mut v = early.clone();
            v.extend([
                // on time: resolved 16:00 on its due day
                received(
                    "F-ONTIME",
                    "2025-07-01T09:00:00+07:00",
                    "2025-07-01T17:00:00+07:00",
                    "online",
                    HN,
                    a,
                ),
                ev(
                    "F-ONTIME",
                    2,
                    "resolved",
                    "2025-07-01T16:00:00+07:00",
                    HN,
                    a,
                ),
                // late by time: resolved 3 Jul 09:00, due 2 Jul 17:00
                received(
                    "F-LATE",
                    "2025-07-01T10:00:00+07:00",
                    "2025-07-02T17:00:00+07:00",
                    "postal",
                    HN,
                    a,
                ),
                ev("F-LATE", 2, "resolved", "2025-07-03T09:00:00+07:00", HN, a),
            ]);
            v
        },
        // Request 3 (NDJSON), out of order: F-PAUSE's resolution before its
        // receipt. Paused 2 Jul 08:00 -> 3 Jul 08:00 = 86400 s, so the
        // effective due is 3 Jul 17:00 and 3 Jul 16:00 is on time.
        vec![
            ev("F-PAUSE", 4, "resolved", "2025-07-03T16:00:00+07:00", HN, a),
            ev(
                "F-PAUSE",
                3,
                "supplement_received",
                "2025-07-03T08:00:00+07:00",
                HN,
                a,
            ),
        ],
        vec![
            pause_received,
            ev(
                "F-PAUSE",
                2,
                "supplement_requested",
                "2025-07-02T08:00:00+07:00",
                HN,
                a,
            ),
        ],
        // Request 5: two supplement requests -> late though resolved early.
        vec![
            received(
                "F-TWOSUP",
                "2025-07-01T08:00:00+07:00",
                "2025-07-10T17:00:00+07:00",
                "in_person",
                HN,
                b,
            ),
            ev(
                "F-TWOSUP",
                2,
                "supplement_requested",
                "2025-07-02T09:00:00+07:00",
                HN,
                b,
            ),
            ev(
                "F-TWOSUP",
                3,
                "supplement_received",
                "2025-07-02T10:00:00+07:00",
                HN,
                b,
            ),
            ev(
                "F-TWOSUP",
                4,
                "supplement_requested",
                "2025-07-02T11:00:00+07:00",
                HN,
                b,
            ),
            ev(
                "F-TWOSUP",
                5,
                "supplement_received",
                "2025-07-02T11:30:00+07:00",
                HN,
                b,
            ),
            ev(
                "F-TWOSUP",
                6,
                "resolved",
                "2025-07-03T08:00:00+07:00",
                HN,
                b,
            ),
            // withdrawn: closed, never ended
            received(
                "F-WITHDRAWN",
                "2025-07-01T11:00:00+07:00",
                "2025-07-05T17:00:00+07:00",
                "in_person",
                HN,
                b,
            ),
            ev(
                "F-WITHDRAWN",
                2,
                "withdrawn",
                "2025-07-02T09:00:00+07:00",
                HN,
                b,
            ),
            // refused at intake: never received
            ev(
                "F-NOTRECV",
                1,
                "submitted",
                "2025-07-01T07:00:00+07:00",
                HN,
                b,
            ),
            ev(
                "F-NOTRECV",
                2,
                "not_received",
                "2025-07-01T10:00:00+07:00",
                HN,
                b,
            ),
            // ended by `returned` alone, on time
            received(
                "F-RETURNED",
                "2025-07-01T08:00:00+07:00",
                "2025-07-01T17:00:00+07:00",
                "online",
                HCM,
                c,
            ),
            ev(
                "F-RETURNED",
                2,
                "returned",
                "2025-07-01T15:00:00+07:00",
                HCM,
                c,
            ),
            // extended to 5 Jul, resolved 4 Jul: late against the 2 Jul due
            received(
                "F-EXTENDED",
                "2025-07-01T08:00:00+07:00",
                "2025-07-02T17:00:00+07:00",
                "in_person",
                HCM,
                c,
            ),
            extended,
            ev(
                "F-EXTENDED",
                3,
                "resolved",
                "2025-07-04T10:00:00+07:00",
                HCM,
                c,
            ),
            // still open
            received(
                "F-OPEN",
                "2025-07-01T13:00:00+07:00",
                "2025-07-04T17:00:00+07:00",
                "in_person",
                HCM,
                c,
            ),
            ev(
                "F-OPEN",
                2,
                "processing",
                "2025-07-01T14:00:00+07:00",
                HCM,
                c,
            ),
        ],
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_reads_back_as_worked_out_by_hand() {
    let broker = Broker::start();
    let topic = topic("scenario");
    let hoso = Hoso::start(test_config(&broker.addr, &topic)).await;
    hoso.wait_ready().await;

    let requests = scenario();
    let mut total = 0;
    for (i, events) in requests.iter().enumerate() {
        let body = if i == 1 {
            Value::Array(events.clone()).to_string()
        } else {
            ndjson(events)
        };
        let (status, answer, _) = hoso.post_events(body).await;
        assert_eq!(status, 202, "request {i}: {answer}");
        assert_eq!(answer, json!({ "accepted": events.len() }));
        total += events.len();
    }
    // One event alone, as a single object: a retry of F-OPEN's seq 2.
    let (status, answer, _) = hoso
        .post_events(requests[4].last().unwrap().to_string())
        .await;
    assert_eq!((status, answer), (202, json!({ "accepted": 1 })));
    total += 1;

    // Every event reaches the fold: 10 filings, the highest seqs summed.
    let visible = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n, sum(last_seq) AS seqs FROM filings")
            .await
            == vec![json!({ "n": 10, "seqs": DISTINCT_EVENTS })]
    })
    .await;
    assert!(visible, "not all events became visible");

    // -- filings --
    let rows = hoso
        .sql(
            "SELECT filing_id, province_code, commune_code, channel, status, outcome, supplement_count, \
             paused_seconds, CAST(received_at AS VARCHAR) AS received_at, CAST(ended_at AS VARCHAR) AS ended_at, \
             CAST(effective_due_at AS VARCHAR) AS effective_due_at, closed, eid_level2 \
             FROM filings ORDER BY filing_id",
        )
        .await;
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["filing_id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))
            .clone()
    };
    let pick = |id: &str, cols: &[&str]| -> Vec<Value> {
        cols.iter().map(|c| row(id)[*c].clone()).collect()
    };
    let cols = [
        "status",
        "outcome",
        "supplement_count",
        "paused_seconds",
        "closed",
    ];
    assert_eq!(
        pick("F-EARLY", &cols),
        [
            json!("returned"),
            json!("early"),
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-ONTIME", &cols),
        [
            json!("resolved"),
            json!("on_time"),
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-LATE", &cols),
        [
            json!("resolved"),
            json!("late"),
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-PAUSE", &cols),
        [
            json!("resolved"),
            json!("on_time"),
            json!(1),
            json!(86_400),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-TWOSUP", &cols),
        [
            json!("resolved"),
            json!("late"),
            json!(2),
            json!(5_400),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-WITHDRAWN", &cols),
        [
            json!("withdrawn"),
            Value::Null,
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-NOTRECV", &cols),
        [
            json!("not_received"),
            Value::Null,
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-RETURNED", &cols),
        [
            json!("returned"),
            json!("on_time"),
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-EXTENDED", &cols),
        [
            json!("resolved"),
            json!("late"),
            json!(0),
            json!(0),
            json!(true)
        ]
    );
    assert_eq!(
        pick("F-OPEN", &cols),
        [
            json!("processing"),
            Value::Null,
            json!(0),
            json!(0),
            json!(false)
        ]
    );
    // Timestamps are UTC: 08:30+07:00 is 01:30Z.
    assert_eq!(row("F-PAUSE")["received_at"], json!("2025-07-01T01:30:00Z"));
    assert_eq!(
        row("F-PAUSE")["effective_due_at"],
        json!("2025-07-03T10:00:00Z")
    );
    assert_eq!(row("F-PAUSE")["ended_at"], json!("2025-07-03T09:00:00Z"));
    assert_eq!(row("F-PAUSE")["eid_level2"], json!(true));
    // Native JSON of timestamps and flags, without casts.
    let native = hoso
        .sql("SELECT received_at, due_at, digitized, fee_required, online_payment FROM filings WHERE filing_id = 'F-PAUSE'")
        .await;
    assert_eq!(
        native,
        vec![
            json!({"received_at": "2025-07-01T01:30:00Z", "due_at": "2025-07-02T10:00:00Z",
                    "digitized": true, "fee_required": false, "online_payment": null})
        ]
    );
    assert_eq!(row("F-PAUSE")["channel"], json!("online"));
    assert_eq!(row("F-NOTRECV")["received_at"], Value::Null);
    assert_eq!(row("F-WITHDRAWN")["ended_at"], Value::Null);
    assert_eq!(row("F-RETURNED")["ended_at"], json!("2025-07-01T08:00:00Z"));
    assert_eq!(
        (
            row("F-RETURNED")["province_code"].clone(),
            row("F-RETURNED")["commune_code"].clone()
        ),
        (json!("79"), json!("26740"))
    );

    // -- daily_volume: received per local received day --
    // 1 Jul, 01/00004: EARLY, ONTIME, LATE, PAUSE (online: ONTIME, PAUSE)
    // 1 Jul, 01/00025: TWOSUP, WITHDRAWN (NOTRECV was never received)
    // 1 Jul, 79/26740: RETURNED (online), EXTENDED, OPEN
    let volume = hoso
        .sql(
            "SELECT CAST(day AS VARCHAR) AS day, province_code, commune_code, received, received_online \
             FROM daily_volume WHERE received > 0 ORDER BY day, province_code, commune_code",
        )
        .await;
    assert_eq!(
        volume,
        vec![
            json!({"day": "2025-07-01", "province_code": "01", "commune_code": "00004", "received": 4, "received_online": 2}),
            json!({"day": "2025-07-01", "province_code": "01", "commune_code": "00025", "received": 2, "received_online": 0}),
            json!({"day": "2025-07-01", "province_code": "79", "commune_code": "26740", "received": 3, "received_online": 1}),
        ]
    );

    // -- online_share: same keys as every view; NULL where nothing was received --
    let share = hoso
        .sql(
            "SELECT CAST(day AS VARCHAR) AS day, commune_code, received, online_share FROM online_share \
             ORDER BY day, province_code, commune_code",
        )
        .await;
    assert_eq!(
        share[0],
        json!({"day": "2025-07-01", "commune_code": "00004", "received": 4, "online_share": 0.5})
    );
    assert_eq!(share[1]["online_share"], json!(0.0));
    assert!((share[2]["online_share"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    let day2 = share
        .iter()
        .find(|r| r["day"] == "2025-07-02" && r["commune_code"] == "00004")
        .expect("2 Jul row");
    assert_eq!(
        (day2["received"].clone(), day2["online_share"].clone()),
        (json!(0), Value::Null)
    );

    // -- on_time_rate: per local day of ended_at --
    // 1 Jul 00004: ONTIME (1/1)     2 Jul 00004: EARLY (1/1)
    // 3 Jul 00004: LATE + PAUSE (1/2) 3 Jul 00025: TWOSUP (0/1)
    // 1 Jul 26740: RETURNED (1/1)   4 Jul 26740: EXTENDED (0/1)
    // 1 Jul 00025 and others: nothing ended -> rate NULL
    let rate = hoso
        .sql(
            "SELECT CAST(day AS VARCHAR) AS day, commune_code, ended, ended_on_time, on_time_rate FROM on_time_rate \
             ORDER BY day, province_code, commune_code",
        )
        .await;
    let expect = |day: &str, c: &str, ended: i64, on_time: i64, r: Value| {
        let row = rate
            .iter()
            .find(|x| x["day"] == day && x["commune_code"] == c)
            .unwrap_or_else(|| panic!("no on_time_rate row for {day} {c}: {rate:?}"));
        assert_eq!(
            row,
            &json!({"day": day, "commune_code": c, "ended": ended, "ended_on_time": on_time, "on_time_rate": r})
        );
    };
    expect("2025-07-01", "00004", 1, 1, json!(1.0));
    expect("2025-07-02", "00004", 1, 1, json!(1.0));
    expect("2025-07-03", "00004", 2, 1, json!(0.5));
    expect("2025-07-03", "00025", 1, 0, json!(0.0));
    expect("2025-07-01", "26740", 1, 1, json!(1.0));
    expect("2025-07-04", "26740", 1, 0, json!(0.0));
    expect("2025-07-01", "00025", 0, 0, Value::Null);
    assert_eq!(rate.len(), 7, "{rate:?}");

    // The curl of the README, in CSV.
    let (status, csv) = hoso.sql_raw("SELECT day, commune_code, received FROM online_share ORDER BY day, commune_code LIMIT 2", "csv").await;
    assert_eq!(status, 200);
    assert_eq!(
        csv,
        "day,commune_code,received\n2025-07-01,00004,4\n2025-07-01,00025,2\n"
    );

    // Metrics saw it all: every accepted event was consumed.
    let metrics = hoso.metrics().await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics"))
    };
    assert_eq!(value("hoso_ingest_events_accepted_total"), total as f64);
    assert_eq!(
        value("hoso_processor_messages_consumed_total"),
        total as f64
    );
    assert_eq!(
        value("hoso_processor_events_total{result=\"duplicate\"}"),
        (total - DISTINCT_EVENTS) as f64
    );
    assert!(metrics.contains("hoso_processor_fold_duration_seconds_bucket"));
    assert!(metrics.contains("hoso_query_queries_total"));
    // Lag comes from librdkafka's statistics (every second): caught up, 0.
    let caught_up = wait_for(Duration::from_secs(15), || async {
        let text = hoso.metrics().await;
        let lags: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("hoso_processor_consumer_lag_messages{"))
            .collect();
        lags.len() == 3 && lags.iter().all(|l| l.ends_with(" 0"))
    })
    .await;
    assert!(caught_up, "consumer lag per partition, 0 when caught up");
    hoso.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_restart_resumes_from_the_checkpoints() {
    restart_resumes_from_the_checkpoints(Roles::UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_restart_resumes_from_the_checkpoints() {
    let group = Roles {
        ingest: true,
        process: Some(ConsumeMode::Group),
        query: true,
        checkpoints: false,
    };
    restart_resumes_from_the_checkpoints(group).await;
}

async fn restart_resumes_from_the_checkpoints(roles: Roles) {
    let broker = Broker::start();
    let topic = topic("restart");
    let config = test_config(&broker.addr, &topic);
    let hoso = Hoso::start_roles(config.clone(), roles).await;
    hoso.wait_ready().await;
    for events in scenario() {
        let (status, answer, _) = hoso.post_events(ndjson(&events)).await;
        assert_eq!(status, 202, "{answer}");
    }
    let query = "SELECT * FROM on_time_rate ORDER BY day, province_code, commune_code";
    let settled = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n, sum(last_seq) AS s FROM filings")
            .await
            == vec![json!({"n": 10, "s": DISTINCT_EVENTS})]
    })
    .await;
    assert!(settled);
    let before = hoso.sql(query).await;
    let filings_before = hoso.sql("SELECT * FROM filings ORDER BY filing_id").await;
    hoso.stop().await;

    // A clean stop checkpoints every partition that read anything.
    let dir = hoso::up::checkpoint_dir(&config);
    let manifests = (0..3)
        .filter(|p| dir.join(format!("partition-{p}/MANIFEST")).exists())
        .count();
    assert!(manifests >= 2, "checkpoints under {}", dir.display());

    // The new process restores the checkpoints and starts at their offsets:
    // the same tables, without reading a message again.
    let hoso = Hoso::start_roles(config, roles).await;
    hoso.wait_ready().await;
    assert_eq!(hoso.sql(query).await, before);
    assert_eq!(
        hoso.sql("SELECT * FROM filings ORDER BY filing_id").await,
        filings_before
    );
    // What it read again (the resume rewind) was all dropped as duplicate:
    // nothing folded twice.
    let metrics = hoso.metrics().await;
    let folded = metrics
        .lines()
        .find(|l| l.starts_with("hoso_processor_events_total{result=\"folded\"}"))
        .map_or(0.0, |l| {
            l.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
        });
    assert_eq!(
        folded, 0.0,
        "resumed from the checkpoints, nothing folded again"
    );

    // And it goes on from there: F-OPEN ends late on 5 Jul (due 4 Jul 17:00).
    let resolved = ev(
        "F-OPEN",
        3,
        "resolved",
        "2025-07-05T09:00:00+07:00",
        HCM,
        "26740",
    );
    let (status, answer, _) = hoso.post_events(resolved.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    let moved = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT ended, ended_on_time FROM on_time_rate WHERE day = DATE '2025-07-05'")
            .await
            == vec![json!({"ended": 1, "ended_on_time": 0})]
    })
    .await;
    assert!(
        moved,
        "the event after the restart was folded on top of the restored state"
    );
    hoso.stop().await;
}
