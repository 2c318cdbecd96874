//! The per-province KPI gauges equal what SQL says, for a chosen day, and
//! a ratio over nothing is absent rather than NaN.

mod common;

use hoso_query::QueryConfig;
use hoso_query::kpi_metrics::KpiGauges;
use prometheus::{Encoder, TextEncoder};

const DAY: i32 = 20_270; // 2025-07-01, the fixture's first day

fn exposition(registry: &prometheus::Registry) -> Vec<String> {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn gauges_follow_the_day_and_leave_out_empty_ratios() {
    let server = common::serve(QueryConfig::default()).await;
    let registry = prometheus::Registry::new();
    let gauges = KpiGauges::new(&registry).unwrap();

    gauges.refresh(&server.executor, DAY).await.unwrap();
    let lines = exposition(&registry);
    for want in [
        "hoso_kpi_received_today_filings{province_code=\"01\"} 3",
        "hoso_kpi_received_today_filings{province_code=\"79\"} 5",
        "hoso_kpi_online_share_today_ratio{province_code=\"01\"} 0.3333333333333333",
        "hoso_kpi_online_share_today_ratio{province_code=\"79\"} 0.8",
        "hoso_kpi_on_time_rate_today_ratio{province_code=\"01\"} 1",
        "hoso_kpi_on_time_rate_today_ratio{province_code=\"79\"} 0.3333333333333333",
        "hoso_kpi_on_time_rate_7d_ratio{province_code=\"01\"} 1",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
    }
    // No open filings in the fixture: no backlog series at all.
    assert!(
        !lines.iter().any(|l| l.starts_with("hoso_kpi_overdue")),
        "{lines:#?}"
    );

    // The next day: province 79 received nothing, so it has no online
    // share; the 7-day rate still counts yesterday.
    gauges.refresh(&server.executor, DAY + 1).await.unwrap();
    let lines = exposition(&registry);
    for want in [
        "hoso_kpi_received_today_filings{province_code=\"01\"} 2",
        "hoso_kpi_received_today_filings{province_code=\"79\"} 0",
        "hoso_kpi_online_share_today_ratio{province_code=\"01\"} 0",
        "hoso_kpi_on_time_rate_7d_ratio{province_code=\"79\"} 0.3333333333333333",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
    }
    for absent in [
        "hoso_kpi_online_share_today_ratio{province_code=\"79\"}",
        "hoso_kpi_on_time_rate_today_ratio{province_code=\"01\"}",
    ] {
        assert!(
            !lines.iter().any(|l| l.starts_with(absent)),
            "{absent} in {lines:#?}"
        );
    }
}
