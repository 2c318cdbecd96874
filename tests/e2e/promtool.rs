//! What operators plug into Prometheus: the rules in deploy/prometheus pass
//! `promtool check rules`, a live server's /metrics passes
//! `promtool check metrics`, and every hoso metric the rules name is one
//! the server exports.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hoso_model::time::format_utc_ms;
use serde_json::json;

use crate::harness::{Broker, Hoso, now_ms, test_config, topic, wait_for};

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/prometheus/hoso.rules.yml"
);

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (deploy/local.sh test installs the prometheus package)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The `hoso_*` metric names an expression text mentions (not the
/// recording rules' own `hoso:` names).
fn metric_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("hoso_"))
        .map(|w| w.trim_end_matches("_bucket").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_metrics_pass_promtool_and_agree() {
    let (ok, out) = promtool(&["check", "rules", RULES], None);
    assert!(ok, "promtool check rules: {out}");

    let broker = Broker::start();
    let topic = topic("promtool");
    let mut config = test_config(&broker.addr, &topic);
    config.query.kpi_metrics_interval_ms = 100;
    config.alerting.evaluation_interval_ms = 100;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    // One filing long overdue, one received and resolved an hour ago (so
    // that today's and the 7-day rates exist).
    let now = now_ms();
    let event = |f: &str, seq: u32, kind: &str, at: String| {
        json!({
            "event_id": format!("{f}-{seq}"), "filing_id": f, "seq": seq, "type": kind,
            "occurred_at": at, "province_code": "91", "commune_code": "30292",
            "procedure_code": "1.001193", "channel": "online",
            "due_at": format_utc_ms(now + 86_400_000)
        })
    };
    let mut overdue = event("P1", 1, "received", "2026-07-06T09:00:00+07:00".into());
    overdue.as_object_mut().unwrap().remove("due_at");
    let body = [
        overdue,
        event("P2", 1, "received", format_utc_ms(now - 3_600_000)),
        event("P2", 2, "resolved", format_utc_ms(now - 60_000)),
    ]
    .iter()
    .map(|e| format!("{e}\n"))
    .collect::<String>();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n FROM filings").await[0]["n"] == 2
    })
    .await;
    assert!(folded);
    // The gauges are refreshed on their own schedule, and the lag comes
    // with librdkafka's statistics (every second): wait for every metric
    // the rules name, then check them all.
    let rules = std::fs::read_to_string(RULES).unwrap();
    let named = metric_names(&rules);
    assert!(named.len() >= 8, "{named:?}");
    let missing = |m: &str| -> Vec<String> {
        named
            .iter()
            .filter(|n| !m.contains(&format!("# TYPE {n} ")))
            .cloned()
            .collect()
    };
    let complete = wait_for(Duration::from_secs(30), || async {
        let m = hoso.metrics().await;
        m.contains("hoso_kpi_overdue_open_filings{province_code=\"91\"} 1")
            && m.contains("hoso_kpi_on_time_rate_7d_ratio{province_code=\"91\"} 1")
            && missing(&m).is_empty()
    })
    .await;
    let metrics = hoso.metrics().await;
    assert!(
        complete,
        "the rules use {:?}, which /metrics does not export (or the KPI gauges never \
         showed province 91):\n{metrics}",
        missing(&metrics)
    );
    let (ok, out) = promtool(&["check", "metrics"], Some(&metrics));
    assert!(ok, "promtool check metrics: {out}");
    hoso.stop().await;
}
