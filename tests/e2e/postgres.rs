//! The Postgres wire protocol with the real psql: the same answers as
//! HTTP, the same refusals, and psql's own catalog commands.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{self, Broker, Hoso, free_port, test_config, topic, wait_for};
use crate::query_suite::{FORBIDDEN, SUITE, http_rows, is_refusal};

fn received(f: &str, commune: &str, channel: &str) -> Value {
    json!({
        "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
        "occurred_at": "2026-07-06T09:00:00+07:00", "province_code": "91",
        "commune_code": commune, "procedure_code": "1.001193", "channel": channel
    })
}

/// Grafana's table list, as Grafana 10-12 sends it (datafusion-postgres
/// rewrites its search-path subquery, matching it token for token).
const GRAFANA_TABLES: &str = r#"SELECT
        CASE WHEN
              quote_ident(table_schema) IN (
              SELECT
                CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
              FROM
                generate_series(
                  array_lower(string_to_array(current_setting('search_path'),','),1),
                  array_upper(string_to_array(current_setting('search_path'),','),1)
                ) as i,
                string_to_array(current_setting('search_path'),',') s
              )
          THEN quote_ident(table_name)
          ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
        END AS "table"
        FROM information_schema.tables
        WHERE quote_ident(table_schema) NOT IN ('information_schema',
                                 'pg_catalog',
                                 '_timescaledb_cache',
                                 '_timescaledb_catalog',
                                 '_timescaledb_internal',
                                 '_timescaledb_config',
                                 'timescaledb_information',
                                 'timescaledb_experimental')
        ORDER BY CASE WHEN
              quote_ident(table_schema) IN (
              SELECT
                CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
              FROM
                generate_series(
                  array_lower(string_to_array(current_setting('search_path'),','),1),
                  array_upper(string_to_array(current_setting('search_path'),','),1)
                ) as i,
                string_to_array(current_setting('search_path'),',') s
              ) THEN 0 ELSE 1 END, 1"#;

/// Grafana's column list of a table.
const GRAFANA_COLUMNS: &str = r#"SELECT quote_ident(column_name) AS "column", data_type AS "type"
        FROM information_schema.columns
        WHERE
          CASE WHEN array_length(parse_ident('public.filings'),1) = 2
            THEN quote_ident(table_schema) = (parse_ident('public.filings'))[1]
              AND quote_ident(table_name) = (parse_ident('public.filings'))[2]
            ELSE quote_ident(table_name) = 'public.filings'
              AND
              quote_ident(table_schema) IN (
              SELECT
                CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
              FROM
                generate_series(
                  array_lower(string_to_array(current_setting('search_path'),','),1),
                  array_upper(string_to_array(current_setting('search_path'),','),1)
                ) as i,
                string_to_array(current_setting('search_path'),',') s
              )
          END"#;

/// Runs `sql` with psql as user hoso: stdout (unaligned, `|`-separated,
/// no header) or stderr.
fn psql(port: u16, password: &str, sql: &str) -> Result<String, String> {
    harness::psql(port, "hoso", password, &[], sql)
}

/// `sql`'s rows through psql, each as its values' text (the suite's form:
/// NULL as `NULL`, booleans as `t`/`f`).
fn psql_rows(port: u16, sql: &str) -> Vec<Vec<String>> {
    let out = harness::psql(
        port,
        "hoso",
        "hoso",
        &["-F", "\u{1f}", "-P", "null=NULL"],
        sql,
    )
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\u{1f}').map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_gets_what_http_gets_and_can_write_nothing() {
    let broker = Broker::start();
    let topic = topic("postgres");
    let mut config = test_config(&broker.addr, &topic);
    let port = free_port();
    config.query.postgres_listen = format!("127.0.0.1:{port}");
    // Long enough for every query below on a slow machine, short enough to
    // see one cancelled.
    config.query.timeout_ms = 10_000;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    let events: Vec<Value> = vec![
        received("P1", "30292", "online"),
        received("P2", "30292", "in_person"),
        received("P3", "30301", "in_person"),
    ];
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
    let volume = "SELECT commune_code, received, received_online FROM daily_volume \
                  ORDER BY commune_code";
    // All three folded (the two communes' rows can come from different
    // partitions, published apart): only then do both protocols see the same.
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT COUNT(*) AS n FROM filings").await[0]["n"] == 3
    })
    .await;
    assert!(folded);

    // The same rows as HTTP.
    let http = hoso.sql(volume).await;
    let via_http: Vec<String> = http
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}",
                r["commune_code"].as_str().unwrap(),
                r["received"],
                r["received_online"]
            )
        })
        .collect();
    // The whole suite, row for row, value for value.
    for sql in SUITE {
        let want = http_rows(&hoso, sql).await;
        assert!(!want.is_empty(), "{sql} answers no rows: a weak test");
        assert_eq!(psql_rows(port, sql), want, "{sql}");
    }
    let port_sql = |sql: &str| psql(port, "hoso", sql);
    assert_eq!(port_sql(volume).unwrap(), via_http.join("\n"));
    assert_eq!(via_http, vec!["30292|2|1", "30301|1|0"]);
    // Views, UDFs, the catalog table, dates and doubles come through.
    assert_eq!(
        port_sql("SELECT is_working_day(DATE '2026-02-17'), working_days_between(DATE '2026-04-29', DATE '2026-05-04')").unwrap(),
        "f|1"
    );
    assert_eq!(
        port_sql("SELECT round(online_share, 3) FROM kpi_province_daily").unwrap(),
        "0.333"
    );
    // Grafana's query builder lists tables and columns with these (as
    // Grafana 10-12 sends them).
    let tables = port_sql(GRAFANA_TABLES).unwrap_or_else(|e| panic!("Grafana's tables: {e}"));
    assert!(tables.lines().any(|t| t.ends_with("filings")), "{tables}");
    let columns = port_sql(GRAFANA_COLUMNS).unwrap_or_else(|e| panic!("Grafana's columns: {e}"));
    assert!(
        columns.lines().any(|c| c.starts_with("filing_id|")),
        "{columns}"
    );
    // psql's own catalog commands work on hoso's tables.
    let tables = port_sql("\\dt").unwrap_or_else(|e| panic!("\\dt: {e}"));
    assert!(tables.contains("filings"), "{tables}");

    // Nothing can be written or changed, and each refusal says why.
    // The same on HTTP (400) as on the Postgres wire.
    for bad in FORBIDDEN {
        let err = port_sql(bad).unwrap_err();
        // Postgres has no CREATE EXTERNAL TABLE: its parser stops at it,
        // as a real Postgres server would.
        let postgres_syntax = bad.starts_with("CREATE EXTERNAL") && err.contains("parser error");
        assert!(is_refusal(&err) || postgres_syntax, "{bad}: {err}");
        let (status, body) = hoso.sql_raw(bad, "json").await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(is_refusal(&body), "{bad}: {body}");
    }
    assert!(!std::path::Path::new("/tmp/hoso-x.csv").exists());
    // What a client may set for itself is accepted, and changes no one else.
    assert_eq!(port_sql("SET application_name = 'planner'").unwrap(), "SET");
    assert_eq!(port_sql("SELECT COUNT(*) FROM filings").unwrap(), "3");
    // The extended protocol (parameters, binary results), as drivers use it.
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=hoso password=hoso dbname=hoso"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("a driver connects");
    let conn = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT commune_code, received, received_online FROM daily_volume \
             WHERE commune_code = $1",
            &[&"30292"],
        )
        .await
        .expect("a parameterised query");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].get::<_, String>(0),
            rows[0].get::<_, i64>(1),
            rows[0].get::<_, i64>(2)
        ),
        ("30292".to_string(), 2, 1)
    );
    let share: f64 = client
        .query_one("SELECT online_share FROM kpi_province_daily", &[])
        .await
        .unwrap()
        .get(0);
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{share}");
    let err = client
        .execute("INSERT INTO filings (filing_id) VALUES ($1)", &[&"x"])
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("25006"),
        "{err:?}"
    );
    drop(client);
    let _ = conn.await;

    // A query past the timeout is cancelled with SQLSTATE 57014, and the
    // server goes on serving.
    let err = port_sql("SELECT count(*) FROM generate_series(1, 10000000000000)").unwrap_err();
    assert!(err.contains("timeout"), "{err}");
    assert_eq!(port_sql("SELECT 1").unwrap(), "1");
    // A wrong password is refused.
    let err = psql(port, "wrong", "SELECT 1").unwrap_err();
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    hoso.stop().await;
}
