//! Every SQL view, in creation order: the contract's three (over
//! `daily_stats`, [`crate::schema::VIEWS`]) and the Decision 766 set that
//! `docs/kpis.md` documents.
//!
//! - `kpi_<grain>` and `kpi_province_<grain>` (grain = daily, weekly,
//!   monthly, quarterly, yearly): counts, shares and scores per commune or
//!   per province. They sum the incrementally maintained daily counts and
//!   divide last, so a rollup's share is the share of its filings, never
//!   an average of daily shares.
//! - `processing_time_<grain>` and `processing_time_province_<grain>`: per
//!   procedure, ended filings and their time in working days.
//! - `overdue`, `at_risk`, `backlog`, `backlog_province`: open filings as
//!   of the query's `now()`.
//!
//! The shares' denominators are the filings received in the period
//! (`online_share`, `eid_level2_share`, `digitization_share`), the
//! fee-bearing ones among them (`online_payment_share`) and the filings
//! ended in the period (`on_time_rate`). A share over nothing is NULL.

use crate::schema::{DAILY_COUNTS, VIEWS};

pub mod reconcile_766;
pub mod score_766;

/// A rollup period: the view-name suffix, the period column and how it is
/// computed from `day`.
struct Grain {
    suffix: &'static str,
    column: &'static str,
    expr: &'static str,
}

const GRAINS: [Grain; 5] = [
    Grain {
        suffix: "daily",
        column: "day",
        expr: "day",
    },
    // ISO weeks: a week starts on Monday.
    Grain {
        suffix: "weekly",
        column: "week",
        expr: "CAST(date_trunc('week', day) AS DATE)",
    },
    Grain {
        suffix: "monthly",
        column: "month",
        expr: "CAST(date_trunc('month', day) AS DATE)",
    },
    Grain {
        suffix: "quarterly",
        column: "quarter",
        expr: "CAST(date_trunc('quarter', day) AS DATE)",
    },
    Grain {
        suffix: "yearly",
        column: "year",
        expr: "CAST(date_trunc('year', day) AS DATE)",
    },
];

/// Decision 766 points and thresholds (see `docs/kpis.md` for sources).
const PROGRESS_POINTS: f64 = 20.0;
const ONLINE_POINTS: f64 = 12.0;
/// At or above this online share the online-service score is full.
const ONLINE_FULL_SHARE: f64 = 0.5;
/// The filing-level part of the 10 online-payment points.
const ONLINE_PAYMENT_POINTS: f64 = 6.0;

/// Settings that views depend on.
#[derive(Clone, Copy, Debug)]
pub struct ViewOptions {
    /// An open filing is at risk when its effective due is at most this
    /// many working hours away.
    pub at_risk_working_hours: u32,
}

/// Every view: name and SQL, in creation order (a view only uses views
/// before it).
pub fn all(opts: ViewOptions) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = VIEWS
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    for (level, keys) in [
        ("", "province_code, commune_code"),
        ("province_", "province_code"),
    ] {
        for g in &GRAINS {
            out.push((format!("kpi_{level}{}", g.suffix), kpi_sql(g, keys)));
        }
    }
    out.push(("processing_time_daily".into(), PROCESSING_DAILY.into()));
    for (level, keys) in [
        ("", "province_code, commune_code"),
        ("province_", "province_code"),
    ] {
        for g in &GRAINS {
            if level.is_empty() && g.suffix == "daily" {
                continue;
            }
            out.push((
                format!("processing_time_{level}{}", g.suffix),
                processing_rollup_sql(g, keys),
            ));
        }
    }
    out.extend(backlog_views(opts));
    out.push(("score_766".into(), score_766::sql()));
    out.push(("reconcile_766".into(), reconcile_766::sql()));
    out
}

/// One KPI view: sums over the period and keys, then shares, then scores.
fn kpi_sql(g: &Grain, keys: &str) -> String {
    let sums: Vec<String> = DAILY_COUNTS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    let share = |num: &str, den: &str, name: &str| {
        format!("CAST({num} AS DOUBLE) / CAST(NULLIF({den}, 0) AS DOUBLE) AS {name}")
    };
    let shares = [
        share("received_online", "received", "online_share"),
        share("received_eid_level2", "received", "eid_level2_share"),
        share("received_digitized", "received", "digitization_share"),
        share(
            "received_fee_paid_online",
            "received_fee_required",
            "online_payment_share",
        ),
        share("ended_on_time", "ended", "on_time_rate"),
    ];
    let col = g.column;
    format!(
        "SELECT {col}, {keys}, received, received_online, received_eid_level2, \
           received_digitized, received_fee_required, received_fee_paid_online, \
           ended, ended_early AS early, ended_on_time - ended_early AS on_time, \
           ended_late AS late, online_share, eid_level2_share, digitization_share, \
           online_payment_share, on_time_rate, \
           {PROGRESS_POINTS:.1} * on_time_rate AS progress_score_ended_only, \
           {ONLINE_POINTS:.1} * CASE WHEN online_share >= {ONLINE_FULL_SHARE} THEN 1.0 \
             ELSE online_share / {ONLINE_FULL_SHARE} END AS online_score_all_filings, \
           {ONLINE_PAYMENT_POINTS:.1} * online_payment_share AS online_payment_score_filing_part, \
           extensions \
         FROM (SELECT *, {shares} FROM \
           (SELECT {expr} AS {col}, {keys}, {sums} FROM daily_stats GROUP BY 1, {keys}))",
        shares = shares.join(", "),
        expr = g.expr,
        sums = sums.join(", "),
    )
}

/// Ended filings per (ended day, commune, procedure), with their time from
/// `received_at` to `ended_at` in working days (the working days `d` with
/// received day < d <= ended day: 0 for the same day). Read from `filings`
/// with the configured calendar, so it always counts on today's calendar.
const PROCESSING_DAILY: &str = "SELECT day, province_code, commune_code, procedure_code, \
       CAST(COUNT(*) AS BIGINT) AS ended, \
       CAST(SUM(CASE WHEN outcome = 'early' THEN 1 ELSE 0 END) AS BIGINT) AS early, \
       CAST(SUM(CASE WHEN outcome = 'on_time' THEN 1 ELSE 0 END) AS BIGINT) AS on_time, \
       CAST(SUM(CASE WHEN outcome = 'late' THEN 1 ELSE 0 END) AS BIGINT) AS late, \
       CAST(SUM(wd) AS BIGINT) AS working_days_total, \
       CAST(SUM(wd) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) AS avg_working_days, \
       MAX(wd) AS max_working_days \
     FROM (SELECT CAST(ended_at + INTERVAL '7 hours' AS DATE) AS day, province_code, \
             commune_code, procedure_code, outcome, \
             working_days_between(received_at, ended_at) AS wd \
           FROM filings WHERE outcome IS NOT NULL) \
     GROUP BY day, province_code, commune_code, procedure_code";

fn processing_rollup_sql(g: &Grain, keys: &str) -> String {
    format!(
        "SELECT {expr} AS {col}, {keys}, procedure_code, \
           CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(early) AS BIGINT) AS early, \
           CAST(SUM(on_time) AS BIGINT) AS on_time, CAST(SUM(late) AS BIGINT) AS late, \
           CAST(SUM(working_days_total) AS BIGINT) AS working_days_total, \
           CAST(SUM(working_days_total) AS DOUBLE) / CAST(SUM(ended) AS DOUBLE) \
             AS avg_working_days, \
           MAX(max_working_days) AS max_working_days \
         FROM processing_time_daily GROUP BY 1, {keys}, procedure_code",
        expr = g.expr,
        col = g.column,
    )
}

/// Open filings as of `now()`. A filing is open once received and until
/// it ends, is withdrawn or refused. A pending supplement request stops
/// its clock at the request (contract: "overdue open"); such a filing is
/// waiting on the citizen and never at risk.
fn backlog_views(opts: ViewOptions) -> Vec<(String, String)> {
    let open = "SELECT filing_id, province_code, commune_code, procedure_code, channel, \
         status, received_at, due_at, effective_due_at, pause_started_at, \
         pause_started_at IS NOT NULL AS waiting_on_citizen, \
         CASE WHEN pause_started_at < now() THEN pause_started_at ELSE now() END AS clock_at \
       FROM filings WHERE NOT closed AND received_at IS NOT NULL";
    let overdue = "SELECT filing_id, province_code, commune_code, procedure_code, channel, \
         status, received_at, effective_due_at, waiting_on_citizen, \
         -working_hours_until(clock_at, effective_due_at) AS working_hours_overdue \
       FROM open_filings WHERE clock_at > effective_due_at";
    let at_risk = format!(
        "SELECT filing_id, province_code, commune_code, procedure_code, channel, status, \
           received_at, effective_due_at, \
           working_hours_until(clock_at, effective_due_at) AS working_hours_left \
         FROM open_filings \
         WHERE NOT waiting_on_citizen AND clock_at <= effective_due_at \
           AND working_hours_until(clock_at, effective_due_at) <= {}",
        opts.at_risk_working_hours
    );
    let backlog = |keys: &str| {
        format!(
            "SELECT {keys}, CAST(COUNT(*) AS BIGINT) AS open, \
               CAST(SUM(CASE WHEN waiting_on_citizen THEN 1 ELSE 0 END) AS BIGINT) \
                 AS waiting_on_citizen, \
               CAST(SUM(CASE WHEN clock_at > effective_due_at THEN 1 ELSE 0 END) AS BIGINT) \
                 AS overdue, \
               CAST(SUM(CASE WHEN NOT waiting_on_citizen AND clock_at <= effective_due_at \
                 AND working_hours_until(clock_at, effective_due_at) <= {h} \
                 THEN 1 ELSE 0 END) AS BIGINT) AS at_risk, \
               MIN(CASE WHEN clock_at > effective_due_at THEN effective_due_at END) \
                 AS oldest_overdue_due_at \
             FROM open_filings GROUP BY {keys}",
            h = opts.at_risk_working_hours
        )
    };
    vec![
        ("open_filings".into(), open.into()),
        ("overdue".into(), overdue.into()),
        ("at_risk".into(), at_risk),
        ("backlog".into(), backlog("province_code, commune_code")),
        ("backlog_province".into(), backlog("province_code")),
    ]
}

/// The views of the `system` schema: name (schema-qualified) and SQL.
///
/// - `system.freshness`: one row, the newest event time folded over every
///   partition held and how long ago that is (`now()` minus it).
/// - `system.completeness`: per commune, the newest event time folded and
///   how long ago: a commune whose feed stopped shows here first.
pub fn system() -> Vec<(String, String)> {
    vec![
        (
            "system.freshness".into(),
            "SELECT MAX(last_event_at) AS newest_event_at, \
               CAST(date_part('epoch', now()) - date_part('epoch', MAX(last_event_at)) AS DOUBLE) \
                 AS behind_seconds, \
               CAST(SUM(lag) AS BIGINT) AS lag_messages, \
               COUNT(*) AS partitions, \
               CAST(SUM(CASE WHEN caught_up THEN 1 ELSE 0 END) AS BIGINT) AS partitions_caught_up \
             FROM system.partitions"
                .into(),
        ),
        (
            "system.completeness".into(),
            "SELECT province_code, commune_code, MAX(newest_event_at) AS newest_event_at, \
               CAST(date_part('epoch', now()) - date_part('epoch', MAX(newest_event_at)) \
                 AS DOUBLE) AS behind_seconds \
             FROM system.commune_clocks GROUP BY province_code, commune_code"
                .into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grain_at_both_levels_and_names_are_unique() {
        let views = all(ViewOptions {
            at_risk_working_hours: 8,
        });
        let names: Vec<&str> = views.iter().map(|(n, _)| n.as_str()).collect();
        for g in ["daily", "weekly", "monthly", "quarterly", "yearly"] {
            for prefix in [
                "kpi_",
                "kpi_province_",
                "processing_time_",
                "processing_time_province_",
            ] {
                assert!(names.contains(&&*format!("{prefix}{g}")), "{prefix}{g}");
            }
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        // A view only uses views created before it.
        for (i, (_, sql)) in views.iter().enumerate() {
            for (later, _) in &views[i + 1..] {
                assert!(
                    !sql.contains(&format!("FROM {later} "))
                        && !sql.ends_with(&format!("FROM {later}")),
                    "{} uses {later} before it exists",
                    views[i].0
                );
            }
        }
    }
}
