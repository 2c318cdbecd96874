//! hoso against what a planner would otherwise use: DuckDB and chDB
//! (ClickHouse in-process), both from PyPI, on the same filings exported to
//! Parquet.
//!
//! hoso answers the dashboard's three queries (the page's own SQL: the
//! cards, the daily series, the per-commune table) from `daily_stats`, its
//! incrementally maintained aggregates; DuckDB and chDB compute the same
//! figures from the raw filings, the only data they have. The two ad-hoc
//! queries read raw filings in all three. Every engine runs each query
//! once to warm up, then [`RUNS`] times; the median counts. Every engine's
//! answer must equal hoso's, or the part fails: a faster wrong answer is
//! no result.
//!
//! The Python side is `benches/engines.py`, compiled in and run with
//! `python3`; `benches/requirements.txt` pins the engines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use hoso_model::tables::TableSource;
use hoso_model::time::format_day;
use hoso_query::auth::{Caller, Protocol, Role};
use hoso_query::format::{Encoder, Format};
use hoso_query::{QueryExecutor, QueryMetrics};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::config::Config;

/// Timed runs per query and engine, after one warm-up.
pub const RUNS: usize = 5;

/// The engines compared with hoso, as `benches/engines.py` names them.
pub const ENGINES: [&str; 2] = ["duckdb", "chdb"];

/// hoso's own query engine alone, on the same Parquet file, with hoso's
/// SQL: run for the ad-hoc queries, it separates what the engine costs
/// from what hoso's storage (memory plus cold files) adds.
pub const REFERENCE: &str = "datafusion";

const SCRIPT: &str = include_str!("../../benches/engines.py");

/// Whether a query is one the dashboard asks (hoso from its aggregates)
/// or an ad-hoc one (raw filings everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dashboard,
    AdHoc,
}

/// One query in each engine's SQL. `{filings}` stands for the Parquet
/// file in DuckDB's and chDB's.
pub struct Query {
    pub name: &'static str,
    pub kind: Kind,
    pub hoso: String,
    pub duckdb: String,
    pub chdb: String,
}

/// One query's times: hoso's, then each of [`ENGINES`].
pub struct Timed {
    pub name: &'static str,
    pub kind: Kind,
    pub hoso: Duration,
    pub others: Vec<Duration>,
    /// [`REFERENCE`]'s time, for the ad-hoc queries.
    pub reference: Option<Duration>,
    pub rows: usize,
}

pub struct Comparison {
    pub timed: Vec<Timed>,
    /// Engine versions, in [`ENGINES`] order, then [`REFERENCE`]'s.
    pub versions: Vec<String>,
    pub parquet_bytes: u64,
    pub rows: usize,
}

/// The five queries over `province`, with `today` the last day of the
/// data (local days since 1970-01-01): the dashboard's window is the 30
/// days up to it.
pub fn queries(province: &str, today: i32) -> Vec<Query> {
    let t = format_day(today);
    let f = format_day(today - 29);
    let next = format_day(today + 1);
    // Local days are UTC+7: a day starts at 17:00 UTC the day before.
    let utc_from = format!("TIMESTAMP '{f} 00:00:00' - INTERVAL 7 HOUR");
    let utc_to = format!("TIMESTAMP '{next} 00:00:00' - INTERVAL 7 HOUR");
    let ch_from = format!("toDateTime64('{f} 00:00:00', 3, 'UTC') - INTERVAL 7 HOUR");
    let ch_to = format!("toDateTime64('{next} 00:00:00', 3, 'UTC') - INTERVAL 7 HOUR");
    let window =
        format!("day >= DATE '{f}' AND day <= DATE '{t}' AND province_code = '{province}'");
    // The received and ended sides of the window, as DuckDB and chDB see
    // them from raw filings: a filing counts on its local received day,
    // and, once ended with an outcome, on its local ended day.
    let duck_sides = |key: &str| {
        format!(
            "r AS (SELECT {key} AS k, COUNT(*) AS received, COUNT(*) FILTER (WHERE channel = 'online') AS online \
               FROM {{filings}} WHERE province_code = '{province}' AND received_at >= {utc_from} AND received_at < {utc_to} GROUP BY 1), \
             e AS (SELECT {ekey} AS k, COUNT(*) AS ended, COUNT(*) FILTER (WHERE outcome IN ('early', 'on_time')) AS on_time \
               FROM {{filings}} WHERE province_code = '{province}' AND outcome IS NOT NULL AND ended_at >= {utc_from} AND ended_at < {utc_to} GROUP BY 1)",
            ekey = key.replace("received_at", "ended_at"),
        )
    };
    let ch_sides = |key: &str| {
        format!(
            "r AS (SELECT {key} AS k, count() AS received, countIf(channel = 'online') AS online \
               FROM {{filings}} WHERE province_code = '{province}' AND received_at >= {ch_from} AND received_at < {ch_to} GROUP BY k), \
             e AS (SELECT {ekey} AS k, count() AS ended, countIf(outcome IN ('early', 'on_time')) AS on_time \
               FROM {{filings}} WHERE province_code = '{province}' AND outcome IS NOT NULL AND ended_at >= {ch_from} AND ended_at < {ch_to} GROUP BY k)",
            ekey = key.replace("received_at", "ended_at"),
        )
    };
    let duck_day = "CAST(received_at + INTERVAL 7 HOUR AS DATE)";
    let ch_day = "toDate(received_at + INTERVAL 7 HOUR)";
    vec![
        Query {
            name: "dashboard cards (today and 30 days)",
            kind: Kind::Dashboard,
            hoso: format!(
                "SELECT \
                   CAST(COALESCE(SUM(CASE WHEN day = DATE '{t}' THEN received END), 0) AS BIGINT) AS received_today, \
                   CAST(COALESCE(SUM(CASE WHEN day = DATE '{t}' THEN received_online END), 0) AS BIGINT) AS online_today, \
                   CAST(COALESCE(SUM(CASE WHEN day = DATE '{t}' THEN ended END), 0) AS BIGINT) AS ended_today, \
                   CAST(COALESCE(SUM(CASE WHEN day = DATE '{t}' THEN ended_on_time END), 0) AS BIGINT) AS on_time_today, \
                   CAST(COALESCE(SUM(ended), 0) AS BIGINT) AS ended_30d, \
                   CAST(COALESCE(SUM(ended_on_time), 0) AS BIGINT) AS on_time_30d \
                 FROM daily_stats WHERE {window}"
            ),
            duckdb: format!(
                "WITH {} SELECT \
                   (SELECT COALESCE(SUM(received), 0) FROM r WHERE k = DATE '{t}') AS received_today, \
                   (SELECT COALESCE(SUM(online), 0) FROM r WHERE k = DATE '{t}') AS online_today, \
                   (SELECT COALESCE(SUM(ended), 0) FROM e WHERE k = DATE '{t}') AS ended_today, \
                   (SELECT COALESCE(SUM(on_time), 0) FROM e WHERE k = DATE '{t}') AS on_time_today, \
                   (SELECT COALESCE(SUM(ended), 0) FROM e) AS ended_30d, \
                   (SELECT COALESCE(SUM(on_time), 0) FROM e) AS on_time_30d",
                duck_sides(duck_day)
            ),
            chdb: format!(
                "WITH {} SELECT \
                   (SELECT sum(received) FROM r WHERE k = toDate('{t}')) AS received_today, \
                   (SELECT sum(online) FROM r WHERE k = toDate('{t}')) AS online_today, \
                   (SELECT sum(ended) FROM e WHERE k = toDate('{t}')) AS ended_today, \
                   (SELECT sum(on_time) FROM e WHERE k = toDate('{t}')) AS on_time_today, \
                   (SELECT sum(ended) FROM e) AS ended_30d, \
                   (SELECT sum(on_time) FROM e) AS on_time_30d",
                ch_sides(ch_day)
            ),
        },
        Query {
            name: "dashboard daily series (30 days)",
            kind: Kind::Dashboard,
            hoso: format!(
                "SELECT CAST(day AS VARCHAR) AS day, \
                   CAST(SUM(received) AS BIGINT) AS received, CAST(SUM(received_online) AS BIGINT) AS online, \
                   CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(ended_on_time) AS BIGINT) AS on_time \
                 FROM daily_stats WHERE {window} GROUP BY day ORDER BY day"
            ),
            duckdb: format!(
                "WITH {} SELECT CAST(k AS VARCHAR) AS day, COALESCE(received, 0) AS received, \
                   COALESCE(online, 0) AS online, COALESCE(ended, 0) AS ended, COALESCE(on_time, 0) AS on_time \
                 FROM r FULL OUTER JOIN e USING (k) ORDER BY k",
                duck_sides(duck_day)
            ),
            chdb: format!(
                "WITH {} SELECT toString(if(r.k = toDate(0), e.k, r.k)) AS day, r.received AS received, \
                   r.online AS online, e.ended AS ended, e.on_time AS on_time \
                 FROM r FULL OUTER JOIN e ON r.k = e.k ORDER BY day",
                ch_sides(ch_day)
            ),
        },
        Query {
            name: "dashboard per-commune table (30 days)",
            kind: Kind::Dashboard,
            hoso: format!(
                "SELECT commune_code AS code, \
                   CAST(SUM(received) AS BIGINT) AS received, CAST(SUM(received_online) AS BIGINT) AS online, \
                   CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(ended_on_time) AS BIGINT) AS on_time \
                 FROM daily_stats WHERE {window} GROUP BY commune_code ORDER BY code"
            ),
            duckdb: format!(
                "WITH {} SELECT k AS code, COALESCE(received, 0) AS received, \
                   COALESCE(online, 0) AS online, COALESCE(ended, 0) AS ended, COALESCE(on_time, 0) AS on_time \
                 FROM r FULL OUTER JOIN e USING (k) ORDER BY k",
                duck_sides("commune_code")
            ),
            chdb: format!(
                "WITH {} SELECT if(r.k = '', e.k, r.k) AS code, r.received AS received, \
                   r.online AS online, e.ended AS ended, e.on_time AS on_time \
                 FROM r FULL OUTER JOIN e ON r.k = e.k ORDER BY code",
                ch_sides("commune_code")
            ),
        },
        Query {
            name: "ad hoc: ended filings per procedure, late ones and mean hours",
            kind: Kind::AdHoc,
            hoso: "SELECT procedure_code, COUNT(*) AS ended, \
                     SUM(CASE WHEN outcome = 'late' THEN 1 ELSE 0 END) AS late, \
                     AVG(date_part('epoch', ended_at) - date_part('epoch', received_at)) / 3600.0 AS mean_hours \
                   FROM filings WHERE outcome IS NOT NULL \
                   GROUP BY procedure_code ORDER BY ended DESC, procedure_code LIMIT 20"
                .into(),
            duckdb: "SELECT procedure_code, COUNT(*) AS ended, \
                       SUM(CASE WHEN outcome = 'late' THEN 1 ELSE 0 END) AS late, \
                       AVG(epoch(ended_at) - epoch(received_at)) / 3600.0 AS mean_hours \
                     FROM {filings} WHERE outcome IS NOT NULL \
                     GROUP BY procedure_code ORDER BY ended DESC, procedure_code LIMIT 20"
                .into(),
            chdb: "SELECT procedure_code, count() AS ended, countIf(outcome = 'late') AS late, \
                     avg(toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(received_at)) / 3600000.0 AS mean_hours \
                   FROM {filings} WHERE outcome IS NOT NULL \
                   GROUP BY procedure_code ORDER BY ended DESC, procedure_code LIMIT 20"
                .into(),
        },
        Query {
            name: "ad hoc: supplements and pauses per commune and channel",
            kind: Kind::AdHoc,
            hoso: "SELECT commune_code, channel, COUNT(*) AS filings, \
                     SUM(CASE WHEN supplement_count > 0 THEN 1 ELSE 0 END) AS with_supplement, \
                     AVG(CAST(paused_seconds AS DOUBLE)) AS mean_paused_s \
                   FROM filings GROUP BY commune_code, channel ORDER BY commune_code, channel"
                .into(),
            duckdb: "SELECT commune_code, channel, COUNT(*) AS filings, \
                       SUM(CASE WHEN supplement_count > 0 THEN 1 ELSE 0 END) AS with_supplement, \
                       AVG(CAST(paused_seconds AS DOUBLE)) AS mean_paused_s \
                     FROM {filings} GROUP BY commune_code, channel ORDER BY commune_code, channel"
                .into(),
            chdb: "SELECT commune_code, channel, count() AS filings, \
                     countIf(supplement_count > 0) AS with_supplement, \
                     avg(toFloat64(paused_seconds)) AS mean_paused_s \
                   FROM {filings} GROUP BY commune_code, channel ORDER BY commune_code, channel"
                .into(),
        },
    ]
}

/// Exports `filings` to Parquet in `dir`, times every query in hoso and
/// in each engine, and checks that every engine answered as hoso did.
pub async fn compare(
    config: &Config,
    source: Arc<dyn TableSource>,
    queries: &[Query],
    dir: &Path,
) -> anyhow::Result<Comparison> {
    let python = std::env::var("HOSO_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    check_engines(&python)?;
    let mut query_config = config.query.clone();
    query_config.max_result_rows = usize::MAX;
    query_config.timeout_ms = 600_000;
    let registry = prometheus::Registry::new();
    let executor = QueryExecutor::new(source, &query_config, QueryMetrics::new(&registry)?).await?;
    let caller = Caller::new("bench", Role::Admin, Protocol::Internal);

    let parquet = dir.join("filings.parquet");
    let rows = export(&executor, &caller, &parquet).await?;
    let parquet_bytes = std::fs::metadata(&parquet)?.len();

    let mut timed = Vec::new();
    let mut answers = Vec::new();
    for q in queries {
        let (hoso, answer) = time_hoso(&executor, &caller, &q.hoso).await?;
        timed.push(Timed {
            name: q.name,
            kind: q.kind,
            hoso,
            others: Vec::new(),
            reference: None,
            rows: answer.len(),
        });
        answers.push(answer);
    }
    let mut versions = Vec::new();
    let ad_hoc: Vec<usize> = (0..queries.len())
        .filter(|&i| queries[i].kind == Kind::AdHoc)
        .collect();
    let all: Vec<usize> = (0..queries.len()).collect();
    for engine in ENGINES.into_iter().chain([REFERENCE]) {
        let reference = engine == REFERENCE;
        let asked = if reference { &ad_hoc } else { &all };
        let out = run_engine(&python, engine, &parquet, queries, asked, dir)?;
        versions.push(out["version"].as_str().unwrap_or("?").to_string());
        let results = out["queries"]
            .as_array()
            .context("the engine's answer has no queries")?;
        anyhow::ensure!(
            results.len() == asked.len(),
            "{engine} answered {} queries of {}",
            results.len(),
            asked.len()
        );
        for (&i, theirs) in asked.iter().zip(results) {
            let (q, mine) = (&queries[i], &answers[i]);
            let rows = theirs["rows"].as_array().context("no rows")?;
            if let Some(why) = differs(mine, rows) {
                bail!(
                    "{engine} answered {:?} differently from hoso: {why}\nhoso: {}\n{engine}: {}",
                    q.name,
                    preview(mine),
                    preview(rows)
                );
            }
            let median = Duration::from_secs_f64(
                theirs["median_ms"].as_f64().context("no median")? / 1000.0,
            );
            if reference {
                timed[i].reference = Some(median);
            } else {
                timed[i].others.push(median);
            }
        }
    }
    Ok(Comparison {
        timed,
        versions,
        parquet_bytes,
        rows,
    })
}

/// `python3` with both engines, or an error that says how to get them.
fn check_engines(python: &str) -> anyhow::Result<()> {
    let ok = Command::new(python)
        .args(["-c", "import duckdb, chdb, datafusion"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        bail!(
            "the query comparison needs DuckDB, chDB and DataFusion for {python}: \
             `{python} -m pip install -r benches/requirements.txt` (or skip it: --only consume,ingest,freshness)"
        );
    }
    Ok(())
}

/// Writes every row of `filings` (hot and cold) to one Parquet file:
/// Snappy, row groups of 1M rows, as DuckDB's own export would.
async fn export(executor: &QueryExecutor, caller: &Caller, path: &Path) -> anyhow::Result<usize> {
    let mut stream = executor
        .execute_stream(caller, "SELECT * FROM filings")
        .await?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut writer = ArrowWriter::try_new(file, stream.schema(), Some(props))?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        writer.write(&batch)?;
    }
    writer.close()?;
    Ok(rows)
}

/// hoso's median over [`RUNS`] after a warm-up, and its answer as rows of
/// JSON values in column order.
async fn time_hoso(
    executor: &QueryExecutor,
    caller: &Caller,
    sql: &str,
) -> anyhow::Result<(Duration, Vec<Vec<Value>>)> {
    let out = executor.execute(caller, sql).await?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let again = executor.execute(caller, sql).await?;
        times.push(started.elapsed());
        anyhow::ensure!(
            again.num_rows() == out.num_rows(),
            "hoso answered differently twice"
        );
    }
    times.sort();
    let mut encoder = Encoder::new(Format::Json, &out.schema)?;
    let mut json = Vec::new();
    for b in &out.batches {
        json.extend_from_slice(&encoder.write(b)?);
    }
    json.extend_from_slice(&encoder.finish()?);
    let objects: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(&json)?;
    let columns: Vec<String> = out
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let rows = objects
        .into_iter()
        .map(|o| {
            columns
                .iter()
                .map(|c| o.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Ok((times[RUNS / 2], rows))
}

/// Runs `benches/engines.py` for one engine: the queries' SQL in, the
/// median times and the answers out, as JSON.
fn run_engine(
    python: &str,
    engine: &str,
    parquet: &Path,
    queries: &[Query],
    asked: &[usize],
    dir: &Path,
) -> anyhow::Result<Value> {
    let spec = json!({
        "parquet": parquet,
        "runs": RUNS,
        "queries": asked.iter().map(|&i| {
            let q = &queries[i];
            let sql = match engine {
                "duckdb" => &q.duckdb,
                "chdb" => &q.chdb,
                // Its own dialect: hoso's SQL over the file as `filings`.
                _ => &q.hoso,
            };
            json!({ "name": q.name, "sql": sql })
        }).collect::<Vec<_>>(),
    });
    let spec_path: PathBuf = dir.join(format!("{engine}.json"));
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let out = Command::new(python)
        .args(["-c", SCRIPT, engine])
        .arg(&spec_path)
        .output()
        .with_context(|| format!("running {python}"))?;
    if !out.status.success() {
        bail!(
            "{engine} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{engine}'s answer is not JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Why two answers differ, if they do: row count, then the first cell that
/// is not equal (numbers within a relative 1e-7, as sums of the same
/// doubles in another order may differ in their last bits).
fn differs(mine: &[Vec<Value>], theirs: &[Value]) -> Option<String> {
    if mine.len() != theirs.len() {
        return Some(format!("{} rows, hoso {}", theirs.len(), mine.len()));
    }
    for (i, (a, b)) in mine.iter().zip(theirs).enumerate() {
        let b = b.as_array()?;
        if a.len() != b.len() {
            return Some(format!("row {i}: {} columns, hoso {}", b.len(), a.len()));
        }
        for (j, (x, y)) in a.iter().zip(b).enumerate() {
            let same = match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-7 * x.abs().max(y.abs()).max(1.0),
                _ => x == y,
            };
            if !same {
                return Some(format!("row {i} column {j}: {y}, hoso {x}"));
            }
        }
    }
    None
}

fn preview<T: serde::Serialize>(rows: &[T]) -> String {
    let text = serde_json::to_string(&rows[..rows.len().min(5)]).unwrap_or_default();
    format!("{text} ({} rows)", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_differ_by_rows_cells_and_beyond_rounding() {
        let mine = vec![vec![json!("00004"), json!(10), json!(0.25)]];
        assert_eq!(differs(&mine, &[json!(["00004", 10, 0.25])]), None);
        // Doubles summed in another order.
        assert_eq!(differs(&mine, &[json!(["00004", 10, 0.25 + 1e-12])]), None);
        assert!(differs(&mine, &[json!(["00004", 10, 0.26])]).is_some());
        assert!(differs(&mine, &[json!(["00004", 11, 0.25])]).is_some());
        assert!(differs(&mine, &[json!(["00008", 10, 0.25])]).is_some());
        assert!(differs(&mine, &[json!(["00004", null, 0.25])]).is_some());
        assert!(differs(&mine, &[]).unwrap().contains("0 rows"));
        assert!(differs(&mine, &[json!(["00004", 10])]).is_some());
    }

    #[test]
    fn every_engine_gets_sql_over_the_same_window() {
        // 2025-12-31: the window is December 2 to 31, and UTC starts 7
        // hours before each local day.
        let today = crate::cli::parse_date("2025-12-31").unwrap();
        for q in queries("20", today) {
            if q.kind == Kind::Dashboard {
                assert!(q.hoso.contains("DATE '2025-12-02'"), "{}", q.hoso);
                assert!(q.hoso.contains("daily_stats"), "{}", q.hoso);
                assert!(
                    q.duckdb.contains("TIMESTAMP '2026-01-01 00:00:00'"),
                    "{}",
                    q.duckdb
                );
                assert!(q.chdb.contains("'2025-12-02 00:00:00'"), "{}", q.chdb);
            }
            assert!(q.duckdb.contains("{filings}") && q.chdb.contains("{filings}"));
            assert!(!q.hoso.contains("{filings}"));
        }
    }
}
