//! Decision 766 figures per province as Prometheus gauges, for dashboards
//! and alerting rules that operators already run: received today, online
//! share today, on-time rate today and over 7 days, overdue and at-risk
//! open filings. Refreshed on a schedule through the executor (as the
//! internal admin `metrics`), so they are the numbers SQL gives.

use std::time::Duration;

use arrow::array::{Array, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use hoso_model::time::{format_day, local_day};
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};
use tracing::warn;

use crate::auth::{Caller, Protocol, Role};
use crate::executor::{QueryExecutor, QueryOutput};

#[derive(Clone)]
pub struct KpiGauges {
    received_today: IntGaugeVec,
    online_share_today: GaugeVec,
    on_time_rate_today: GaugeVec,
    on_time_rate_7d: GaugeVec,
    overdue: IntGaugeVec,
    at_risk: IntGaugeVec,
}

impl KpiGauges {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let int =
            |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["province_code"]);
        let ratio =
            |name: &str, help: &str| GaugeVec::new(Opts::new(name, help), &["province_code"]);
        let g = KpiGauges {
            received_today: int(
                "hoso_kpi_received_today_filings",
                "Filings received today (Vietnam's day), per province.",
            )?,
            online_share_today: ratio(
                "hoso_kpi_online_share_today_ratio",
                "Share of today's received filings that came online, per province.",
            )?,
            on_time_rate_today: ratio(
                "hoso_kpi_on_time_rate_today_ratio",
                "Share of filings ended today that ended on time, per province.",
            )?,
            on_time_rate_7d: ratio(
                "hoso_kpi_on_time_rate_7d_ratio",
                "Share of filings ended in the last 7 days that ended on time, per province.",
            )?,
            overdue: int(
                "hoso_kpi_overdue_open_filings",
                "Open filings past their effective due, per province.",
            )?,
            at_risk: int(
                "hoso_kpi_at_risk_open_filings",
                "Open filings due within query.at_risk_working_hours, per province.",
            )?,
        };
        registry.register(Box::new(g.received_today.clone()))?;
        registry.register(Box::new(g.online_share_today.clone()))?;
        registry.register(Box::new(g.on_time_rate_today.clone()))?;
        registry.register(Box::new(g.on_time_rate_7d.clone()))?;
        registry.register(Box::new(g.overdue.clone()))?;
        registry.register(Box::new(g.at_risk.clone()))?;
        Ok(g)
    }

    /// Refreshes every `interval` until `stop`.
    pub async fn run(
        self,
        executor: QueryExecutor,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        crate::schedule::every(interval, stop, |now| {
            let (gauges, executor) = (&self, &executor);
            async move {
                if let Err(e) = gauges.refresh(executor, local_day(now)).await {
                    warn!(error = %e, "the KPI gauges were not refreshed");
                }
            }
        })
        .await;
    }

    /// Sets every gauge as of `today` (a day number, Vietnam's calendar).
    /// A ratio over nothing is left out rather than reported as NaN.
    pub async fn refresh(&self, executor: &QueryExecutor, today: i32) -> Result<(), String> {
        let caller = Caller::new("metrics", Role::Admin, Protocol::Internal);
        let day = format_day(today);
        let daily = format!(
            "SELECT province_code, \
               CAST(sum(CASE WHEN day = DATE '{day}' THEN received ELSE 0 END) AS BIGINT) AS received, \
               CAST(sum(CASE WHEN day = DATE '{day}' THEN received_online ELSE 0 END) AS BIGINT) AS online, \
               CAST(sum(CASE WHEN day = DATE '{day}' THEN ended ELSE 0 END) AS BIGINT) AS ended, \
               CAST(sum(CASE WHEN day = DATE '{day}' THEN ended_on_time ELSE 0 END) AS BIGINT) AS on_time, \
               CAST(sum(ended) AS BIGINT) AS ended_7d, CAST(sum(ended_on_time) AS BIGINT) AS on_time_7d \
             FROM daily_stats \
             WHERE day > DATE '{day}' - INTERVAL '7 days' AND day <= DATE '{day}' \
             GROUP BY province_code"
        );
        let daily = executor
            .execute(&caller, &daily)
            .await
            .map_err(|e| e.to_string())?;
        let backlog = executor
            .execute(
                &caller,
                "SELECT province_code, CAST(overdue AS BIGINT) AS overdue, \
                   CAST(at_risk AS BIGINT) AS at_risk FROM backlog_province",
            )
            .await
            .map_err(|e| e.to_string())?;
        for g in [
            &self.online_share_today,
            &self.on_time_rate_today,
            &self.on_time_rate_7d,
        ] {
            g.reset();
        }
        for g in [&self.received_today, &self.overdue, &self.at_risk] {
            g.reset();
        }
        for row in rows(&daily)? {
            let [received, online, ended, on_time, ended_7d, on_time_7d] = row.1[..] else {
                return Err("unexpected columns".into());
            };
            let p = [row.0.as_str()];
            self.received_today.with_label_values(&p).set(received);
            let ratio = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
            if let Some(r) = ratio(online, received) {
                self.online_share_today.with_label_values(&p).set(r);
            }
            if let Some(r) = ratio(on_time, ended) {
                self.on_time_rate_today.with_label_values(&p).set(r);
            }
            if let Some(r) = ratio(on_time_7d, ended_7d) {
                self.on_time_rate_7d.with_label_values(&p).set(r);
            }
        }
        for row in rows(&backlog)? {
            let [overdue, at_risk] = row.1[..] else {
                return Err("unexpected columns".into());
            };
            self.overdue.with_label_values(&[&row.0]).set(overdue);
            self.at_risk.with_label_values(&[&row.0]).set(at_risk);
        }
        Ok(())
    }
}

/// (province, the other columns as integers, NULL as 0).
fn rows(out: &QueryOutput) -> Result<Vec<(String, Vec<i64>)>, String> {
    let mut rows = Vec::new();
    for batch in &out.batches {
        let province = cast(batch.column(0), &DataType::Utf8).map_err(|e| e.to_string())?;
        let province = province
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("province_code is not text")?;
        let mut columns = Vec::new();
        for c in 1..batch.num_columns() {
            let col = cast(batch.column(c), &DataType::Int64).map_err(|e| e.to_string())?;
            columns.push(
                col.as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or("not an integer")?
                    .clone(),
            );
        }
        for r in 0..batch.num_rows() {
            let values = columns
                .iter()
                .map(|c| if c.is_null(r) { 0 } else { c.value(r) })
                .collect();
            rows.push((province.value(r).to_string(), values));
        }
    }
    Ok(rows)
}
