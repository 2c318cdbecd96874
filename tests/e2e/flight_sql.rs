//! Arrow Flight SQL with the real ADBC driver (Python, adbc-driver-flightsql):
//! the same answers as HTTP on plain and prepared statements, the same
//! refusals, a whole table into Arrow, and the catalog calls tools make.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, free_port, test_config, topic, wait_for};
use crate::query_suite::{FORBIDDEN, SUITE, is_refusal};

fn event(f: &str, seq: u32, kind: &str, at: &str, commune: &str) -> Value {
    json!({
        "event_id": format!("{f}-{seq}"), "filing_id": f, "seq": seq, "type": kind,
        "occurred_at": at, "province_code": "91", "commune_code": commune,
        "procedure_code": "1.001193", "channel": if f == "F1" { "online" } else { "in_person" }
    })
}

/// Queries whose answers must come back the same over Flight SQL as over
/// HTTP: text, integers, booleans, doubles, dates, nulls, views, UDFs, an
/// empty result.
const SAME_AS_HTTP: [&str; 7] = [
    "SELECT commune_code, received, received_online FROM daily_volume ORDER BY commune_code",
    "SELECT filing_id, commune_code, channel, status, supplement_count, last_seq, closed, \
     eid_level2, CAST(received_at AS VARCHAR) AS received_at, \
     CAST(ended_at AS VARCHAR) AS ended_at FROM filings ORDER BY filing_id",
    "SELECT day, round(online_share, 3) AS share, online_share FROM kpi_province_daily ORDER BY day",
    "SELECT is_working_day(DATE '2026-02-17') AS w, \
     working_days_between(DATE '2026-04-29', DATE '2026-05-04') AS n",
    "SELECT day, commune_code FROM daily_partials ORDER BY day, commune_code",
    "SELECT filing_id FROM filings WHERE filing_id = 'none'",
    "SELECT procedure_code, deadline_working_days, fee_vnd FROM procedures \
     ORDER BY procedure_code LIMIT 5",
];

/// An HTTP JSON value as the suite prints a value: null, or its text.
fn text(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
    }
}

/// Runs tests/python/adbc_suite.py with `request` on stdin; its JSON.
fn adbc_suite(request: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/adbc_suite.py");
    let probe = Command::new("python3")
        .args(["-c", "import adbc_driver_flightsql.dbapi, pyarrow"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "python3 cannot import adbc_driver_flightsql and pyarrow: run `deploy/local.sh test` \
             (it installs them) or `pip3 install adbc-driver-flightsql pyarrow`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            panic!("python3 is needed for the Flight SQL test ({e}): run `deploy/local.sh test`")
        }
    }
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("the request reaches the suite");
    let out = child.wait_with_output().expect("the suite ends");
    assert!(
        out.status.success(),
        "adbc_suite.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "adbc_suite.py printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_gets_what_http_gets_and_can_write_nothing() {
    let broker = Broker::start();
    let topic = topic("flight");
    let mut config = test_config(&broker.addr, &topic);
    let port = free_port();
    config.query.flight_listen = format!("127.0.0.1:{port}");
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    let events = [
        event("F1", 1, "received", "2026-07-06T09:00:00+07:00", "30292"),
        event("F2", 1, "received", "2026-07-06T10:00:00+07:00", "30292"),
        event("F3", 1, "received", "2026-07-07T09:30:00+07:00", "30301"),
        event("F3", 2, "withdrawn", "2026-07-08T09:00:00+07:00", "30301"),
    ];
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT filing_id FROM filings WHERE status = 'withdrawn'")
            .await
            .len()
            == 1
            && hoso.sql("SELECT filing_id FROM filings").await.len() == 3
    })
    .await;
    assert!(folded, "the events were never folded");

    // This test's own queries, then the suite every protocol answers.
    let queries: Vec<&str> = SAME_AS_HTTP.iter().chain(SUITE).copied().collect();
    let request = json!({
        "uri": format!("grpc://127.0.0.1:{port}"),
        "username": "hoso",
        "password": "hoso",
        "queries": queries,
        "refused": FORBIDDEN,
        "table": "filings",
    });
    let got = tokio::task::spawn_blocking(move || adbc_suite(&request))
        .await
        .unwrap();

    // Plain and prepared statements answer what HTTP answers.
    for (i, sql) in queries.iter().enumerate() {
        let http = hoso.sql(sql).await;
        for kind in ["results", "prepared"] {
            let flight = &got[kind][i];
            let columns: Vec<&str> = flight["columns"]
                .as_array()
                .unwrap_or_else(|| panic!("{kind} {sql}: {flight}"))
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let via_http: Vec<Vec<Value>> = http
                .iter()
                .map(|row| columns.iter().map(|c| text(row.get(*c))).collect())
                .collect();
            let via_flight: Vec<Vec<Value>> =
                serde_json::from_value(flight["rows"].clone()).unwrap();
            assert_eq!(via_flight, via_http, "{kind}: {sql}");
            if !http.is_empty() {
                // Every column HTTP names came back.
                let mut named: Vec<&String> = http[0].as_object().unwrap().keys().collect();
                named.retain(|k| !columns.contains(&k.as_str()));
                assert!(named.is_empty(), "{kind}: {sql}: missing {named:?}");
            }
        }
    }
    // The data really is there (not two empty answers agreeing).
    assert_eq!(
        got["results"][0]["rows"],
        json!([["30292", "2", "1"], ["30301", "1", "0"]])
    );
    assert_eq!(got["results"][1]["rows"][2][3], json!("withdrawn"));
    assert_eq!(got["results"][1]["rows"][0][9], Value::Null);
    assert_eq!(got["results"][3]["rows"], json!([["false", "1"]]));

    // Nothing can be written or changed, and each refusal says why.
    let outcomes = got["refused"].as_array().unwrap();
    assert_eq!(outcomes.len(), FORBIDDEN.len());
    for (sql, outcome) in FORBIDDEN.iter().zip(outcomes) {
        assert_eq!(outcome["sql"], json!(sql));
        for way in ["prepared", "plain"] {
            let error = outcome[way]
                .as_str()
                .unwrap_or_else(|| panic!("{sql} was not refused ({way})"));
            assert!(is_refusal(error), "{sql} ({way}): {error}");
        }
    }
    assert!(!std::path::Path::new("/tmp/hoso-x.csv").exists());
    assert_eq!(
        hoso.sql("SELECT COUNT(*) AS n FROM filings").await[0]["n"],
        json!(3)
    );
    let views = hoso
        .sql("SELECT table_name FROM information_schema.tables WHERE table_name = 'daily_volume'")
        .await;
    assert_eq!(views.len(), 1, "DROP VIEW went through");

    // A whole table into Arrow, with the table's columns.
    let columns: Vec<String> = hoso
        .sql(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'filings' ORDER BY ordinal_position",
        )
        .await
        .iter()
        .map(|r| r["column_name"].as_str().unwrap().to_string())
        .collect();
    assert!(columns.len() > 10, "{columns:?}");
    assert_eq!(got["table"]["num_rows"], json!(3));
    let arrow_columns: Vec<String> = got["table"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arrow_columns, columns);

    // What tools browse: the catalog, and one table's schema.
    let objects: Vec<(String, String)> = serde_json::from_value(got["objects"].clone()).unwrap();
    for (name, kind) in [
        ("hoso.public.filings", "TABLE"),
        ("hoso.public.daily_volume", "VIEW"),
        ("hoso.system.partitions", "TABLE"),
        ("hoso.information_schema.tables", "VIEW"),
    ] {
        assert!(
            objects.iter().any(|(n, k)| n == name && k == kind),
            "{name} ({kind}) not in {objects:?}"
        );
    }
    assert_eq!(got["object_columns"]["hoso.public.filings"], json!(columns));
    assert_eq!(got["table_schema"], got["table"]["schema"]);

    // Wrong credentials are refused, saying so.
    let refused = got["wrong_password"]
        .as_str()
        .expect("a wrong password was accepted");
    assert!(refused.contains("authentication failed"), "{refused}");

    // Every query above ran through the executor, as the Flight SQL caller.
    let logged = hoso
        .sql("SELECT COUNT(*) AS n FROM system.queries WHERE protocol = 'flight_sql'")
        .await;
    assert!(
        logged[0]["n"].as_i64().unwrap() >= SAME_AS_HTTP.len() as i64,
        "{logged:?}"
    );
    hoso.stop().await;
}
