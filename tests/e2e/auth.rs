//! Tokens and province scoping: who gets in on HTTP, the Postgres wire
//! and ingest, and that a `province:<code>` caller sees only its province
//! in every table and view, with the policy applied in the plan.

use std::time::Duration;

use hoso_query::auth::{TokenConfig, token_sha256};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use crate::harness::{self, Broker, Hoso, free_port, test_config, topic, wait_for};

const ROOT: &str = "root-token-0123456789";
const AG: &str = "an-giang-token-0123456789";
const FEED: &str = "feed-token-0123456789";

fn received(f: &str, province: &str, commune: &str) -> Value {
    json!({
        "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
        "occurred_at": "2026-07-06T09:00:00+07:00", "province_code": province,
        "commune_code": commune, "procedure_code": "1.001193", "channel": "online"
    })
}

fn token(user: &str, role: &str, token: &str) -> TokenConfig {
    TokenConfig {
        user: user.into(),
        role: role.into(),
        sha256: token_sha256(token),
    }
}

fn psql(port: u16, user: &str, password: &str, sql: &str) -> Result<String, String> {
    harness::psql(port, user, password, &[], sql)
}

/// The one number a `SELECT count(*) ...` answers over HTTP as `token`.
async fn count(hoso: &Hoso, token: &str, sql: &str) -> i64 {
    let (status, body) = hoso.sql_as(token, sql).await;
    assert_eq!(status, 200, "{sql}: {body}");
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    rows[0]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_decide_who_gets_in_and_a_province_sees_only_itself() {
    let broker = Broker::start();
    let topic = topic("auth");
    let mut config = test_config(&broker.addr, &topic);
    let port = free_port();
    config.query.postgres_listen = format!("127.0.0.1:{port}");
    config.auth.tokens = vec![
        token("root", "admin", ROOT),
        token("ag", "province:91", AG),
        token("feed", "ingest", FEED),
    ];
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    // Ingest: no token, a token that may not publish, then the feed's.
    let body: String = [
        received("A1", "91", "30292"),
        received("A2", "91", "30301"),
        received("H1", "79", "26740"),
        received("H2", "79", "26740"),
        received("H3", "79", "26743"),
    ]
    .iter()
    .map(|e| format!("{e}\n"))
    .collect();
    let (status, answer, _) = hoso.post_events(body.clone()).await;
    assert_eq!(status, 401, "{answer}");
    let r = hoso
        .http
        .post(format!("{}/v1/events", hoso.base))
        .bearer_auth(AG)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = hoso
        .http
        .post(format!("{}/v1/events", hoso.base))
        .bearer_auth(FEED)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    // The portal's format is ingest too: no token, a province's token and
    // the feed's are told apart before the body is read (no units file is
    // configured, so the feed's record is refused for its unit).
    let portal = r#"{"service":"DongBoHoSoMC","data":[{"MaHoSo":"P-1","TrangThaiHoSo":1,"NgayNopHoSo":"20250701080000","DonViXuLy":"X"}]}"#;
    for (token, want) in [(None, 401), (Some(AG), 403), (Some(FEED), 422)] {
        let mut r = hoso.http.post(format!("{}/v1/dvcqg", hoso.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.body(portal).send().await.unwrap();
        assert_eq!(r.status(), want, "{token:?}: {}", r.text().await.unwrap());
    }
    // A message that is no event at all, straight onto the topic: a reject
    // of no known province.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&topic).key("x").payload("not an event"),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let folded = wait_for(Duration::from_secs(30), || async {
        count(&hoso, ROOT, "SELECT count(*) FROM filings").await == 5
            && count(&hoso, ROOT, "SELECT count(*) FROM rejects").await == 1
    })
    .await;
    assert!(folded, "the events and the reject were never folded");

    // SQL: no token, a wrong one, one that may not query.
    let (status, body) = hoso.sql_raw("SELECT 1", "json").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(hoso.sql_as("nope", "SELECT 1").await.0, 401);
    let (status, body) = hoso.sql_as(FEED, "SELECT 1").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("may not run SQL"), "{body}");

    // Every table and view, found in the catalog so that new ones are
    // covered too: the province's rows, and nothing else.
    let (_, body) = hoso
        .sql_as(
            ROOT,
            "SELECT t.table_schema, t.table_name, \
                    max(CASE WHEN c.column_name = 'province_code' THEN 1 ELSE 0 END) AS scoped \
             FROM information_schema.tables t JOIN information_schema.columns c \
               ON c.table_schema = t.table_schema AND c.table_name = t.table_name \
             WHERE t.table_schema IN ('public', 'system') \
             GROUP BY t.table_schema, t.table_name ORDER BY 1, 2",
        )
        .await;
    let tables: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(tables.len() > 30, "{body}");
    let mut narrowed = Vec::new();
    for t in &tables {
        let name = format!(
            "{}.{}",
            t["table_schema"].as_str().unwrap(),
            t["table_name"].as_str().unwrap()
        );
        let all = count(&hoso, ROOT, &format!("SELECT count(*) FROM {name}")).await;
        let seen = count(&hoso, AG, &format!("SELECT count(*) FROM {name}")).await;
        if t["scoped"] == 1 {
            let others = format!("SELECT count(*) FROM {name} WHERE province_code <> '91'");
            assert_eq!(count(&hoso, AG, &others).await, 0, "{name}");
            let own = format!("SELECT count(*) FROM {name} WHERE province_code = '91'");
            assert_eq!(seen, count(&hoso, ROOT, &own).await, "{name}");
        }
        if seen < all {
            narrowed.push(name);
        }
    }
    // `communes` is reference data kept outside the live tables: scoped too.
    for expected in [
        "public.filings",
        "public.daily_stats",
        "public.rejects",
        "public.communes",
    ] {
        assert!(
            narrowed.iter().any(|n| n == expected),
            "{expected} not narrowed: {narrowed:?}"
        );
    }
    // The scope is part of the plan itself.
    let (_, plan) = hoso
        .sql_as(AG, "EXPLAIN SELECT count(*) FROM filings")
        .await;
    assert!(
        plan.contains("FilterExec") && plan.contains("province_code") && plan.contains("91"),
        "{plan}"
    );
    // Without the column in sight, in joins and aggregates: the same subset.
    assert_eq!(
        count(
            &hoso,
            AG,
            "SELECT count(DISTINCT commune_code) FROM filings"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &hoso,
            AG,
            "SELECT count(*) FROM filings f JOIN daily_stats d ON d.commune_code = f.commune_code"
        )
        .await,
        2
    );
    assert_eq!(
        count(&hoso, AG, "SELECT sum(received) FROM kpi_province_daily").await,
        2
    );

    // The Postgres wire: the local login is gone, the token logs in as its
    // user, and the scope is the same.
    let err = psql(port, "hoso", "hoso", "SELECT 1").unwrap_err();
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    let err = psql(port, "root", AG, "SELECT 1").unwrap_err();
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    assert_eq!(
        psql(port, "ag", AG, "SELECT DISTINCT province_code FROM filings").unwrap(),
        "91"
    );
    assert_eq!(
        psql(port, "root", ROOT, "SELECT count(*) FROM filings").unwrap(),
        "5"
    );
    let err = psql(port, "feed", FEED, "SELECT 1").unwrap_err();
    assert!(err.contains("may not run SQL"), "{err}");
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=ag password={AG} dbname=hoso"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("the province's driver connects");
    let conn = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT filing_id FROM filings WHERE province_code = $1",
            &[&"79"],
        )
        .await
        .unwrap();
    assert!(rows.is_empty(), "province 79 leaked to province 91");
    drop(client);
    let _ = conn.await;

    // system.queries: the admin sees everyone's, the province its own.
    let (_, body) = hoso
        .sql_as(
            ROOT,
            "SELECT \"user\", protocol, count(*) AS n FROM system.queries \
             GROUP BY \"user\", protocol ORDER BY 1, 2",
        )
        .await;
    let seen: Vec<Value> = serde_json::from_str(&body).unwrap();
    let pairs: Vec<(String, String)> = seen
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("ag", "http"),
        ("ag", "postgres"),
        ("feed", "http"),
        ("root", "http"),
    ] {
        assert!(
            pairs.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} missing from {pairs:?}"
        );
    }
    let (_, body) = hoso
        .sql_as(
            ROOT,
            "SELECT outcome, error FROM system.queries WHERE \"user\" = 'feed'",
        )
        .await;
    assert!(
        body.contains("refused") && body.contains("may not run SQL"),
        "{body}"
    );
    assert_eq!(
        count(
            &hoso,
            AG,
            "SELECT count(*) FROM system.queries WHERE \"user\" <> 'ag'"
        )
        .await,
        0
    );
    assert!(count(&hoso, AG, "SELECT count(*) FROM system.queries").await > 10);
    hoso.stop().await;
}
