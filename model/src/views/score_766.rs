//! `score_766`: the Decision 766 index as the national portal computes it,
//! per period (month, quarter, half-year, year) and unit (commune, province),
//! the current period included so far. `docs/kpis.md` ("The official
//! score") documents every column, its formula and its source.
//!
//! It reads `filings`, not the daily aggregates, because the portal's
//! progress ratio counts the filings still open at the period's end (within
//! their due as on time, past it as late), a figure no daily count holds.
//! Each filing is expanded to the periods it was in the center's hands:
//! from the period it was received in to the one it ended in (or the
//! current one, while open).

/// Points of each indicator hoso computes (research §2-§4).
const PROGRESS_POINTS: f64 = 20.0;
const ONLINE_SERVICE_POINTS: f64 = 12.0;
/// At or above this full-online share the online-service score is full.
const ONLINE_FULL_SHARE: f64 = 0.5;
const PAYMENT_FILINGS_POINTS: f64 = 6.0;
/// `min(2, 2.5 × B)`: full at 80 % of the fee-bearing procedures.
const PAYMENT_INTEGRATION_CAP: f64 = 2.0;
const PAYMENT_INTEGRATION_SLOPE: f64 = 2.5;
const PAYMENT_COVERAGE_POINTS: f64 = 2.5;
/// The group's declared maximum; its terms add up to 10.5.
const PAYMENT_GROUP_CAP: f64 = 10.0;
const DIGITIZED_DOSSIER_POINTS: f64 = 4.0;
/// Indicator 1.4, the filings synchronised in real time.
const DOSSIER_SYNC_POINTS: f64 = 6.0;
const CITIZEN_DATA_POINTS: f64 = 2.0;

/// The six groups: column and maximum. Progress, online service and online
/// payment are computed from the stream; transparency, digitisation and
/// satisfaction are the portal's own figures where `portal_766` has them
/// (`CKMB`, `MDSH`, `MDHL`), else NULL.
pub const GROUPS: [(&str, f64); 6] = [
    ("group_transparency", 18.0),
    ("group_progress", 20.0),
    ("group_online_service", 12.0),
    ("group_online_payment", 10.0),
    ("group_digitization", 22.0),
    ("group_satisfaction", 18.0),
];

/// The portal's bands (An Giang's weekly digest), and hoso's word for the
/// rest.
const BAND_URGENT: &str = "cần cải thiện gấp";
const BAND_ATTENTION: &str = "cần chú ý";
const BAND_MET: &str = "đạt";

/// A period kind: its name, the first day of the period holding a date
/// `d` (a SQL expression of `{d}`), and its length.
struct Period {
    kind: &'static str,
    start_of: &'static str,
    step: &'static str,
}

const PERIODS: [Period; 4] = [
    Period {
        kind: "month",
        start_of: "CAST(date_trunc('month', {d}) AS DATE)",
        step: "1 month",
    },
    Period {
        kind: "quarter",
        start_of: "CAST(date_trunc('quarter', {d}) AS DATE)",
        step: "3 months",
    },
    Period {
        kind: "half",
        start_of: "make_date(CAST(date_part('year', {d}) AS INT), \
                   CASE WHEN date_part('month', {d}) <= 6 THEN 1 ELSE 7 END, 1)",
        step: "6 months",
    },
    Period {
        kind: "year",
        start_of: "CAST(date_trunc('year', {d}) AS DATE)",
        step: "1 year",
    },
];

/// Each filing with what the score reads, its catalogue terms, its local
/// days, and the last day it was in the center's hands (`last_day`): the
/// ended day, the received day for one withdrawn or refused at intake
/// (counted in the intake figures only), today while open.
const FACTS: &str = "SELECT f.province_code, f.commune_code, f.procedure_code, f.channel, \
       f.outcome, f.effective_due_at, f.pause_started_at, f.supplement_count, \
       f.online_payment, f.eid_level2, f.digitized, \
       COALESCE(f.fee_required, p.fee_vnd > 0) AS fee_bearing, \
       p.online = 'full' AS full_online_eligible, \
       p.fee_vnd > 0 AS fee_procedure, p.level AS procedure_level, \
       f.outcome IS NOT NULL OR NOT f.closed AS scored, \
       received_day, ended_day, \
       GREATEST(received_day, CASE WHEN f.outcome IS NOT NULL THEN ended_day \
         WHEN f.closed THEN received_day ELSE today END) AS last_day \
     FROM (SELECT *, CAST(received_at + INTERVAL '7 hours' AS DATE) AS received_day, \
             CAST(ended_at + INTERVAL '7 hours' AS DATE) AS ended_day, \
             CAST(now() + INTERVAL '7 hours' AS DATE) AS today \
           FROM filings WHERE received_at IS NOT NULL) f \
     LEFT JOIN procedures p ON f.procedure_code = p.procedure_code";

const FACT_COLUMNS: &str = "province_code, commune_code, procedure_code, channel, outcome, \
     effective_due_at, pause_started_at, supplement_count, online_payment, eid_level2, \
     digitized, fee_bearing, full_online_eligible, fee_procedure, procedure_level, scored, \
     received_day, ended_day";

/// One period kind's rows: a filing once per period from its received
/// period to its `last_day`'s.
fn expanded(p: &Period) -> String {
    let from = p.start_of.replace("{d}", "received_day");
    let to = p.start_of.replace("{d}", "last_day");
    format!(
        "SELECT '{kind}' AS period_kind, period_start, \
           CAST(period_start + INTERVAL '{step}' AS DATE) AS next_start, {FACT_COLUMNS} \
         FROM (SELECT unnest(generate_series({from}, {to}, INTERVAL '{step}')) AS period_start, \
                 {FACT_COLUMNS} FROM facts)",
        kind = p.kind,
        step = p.step,
    )
}

/// Per filing and period, the flags the sums count. `judged_at` is when
/// an open filing is judged: the period's end (local midnight), or now for
/// the current period. An open filing is within its due when its clock
/// (stopped at a pending supplement request) has not passed the effective
/// due and it had fewer than two supplement requests; one with no due is
/// never late, as in `backlog`.
const FLAGS: &str = "SELECT *, \
       received_day >= period_start AND received_day < next_start AS received_in, \
       scored AND ended_day IS NOT NULL AND ended_day < next_start AS ended_in, \
       scored AND (ended_day IS NULL OR ended_day >= next_start) AS open_at_end, \
       supplement_count < 2 AND (effective_due_at IS NULL OR \
         LEAST(judged_at, COALESCE(pause_started_at, judged_at)) <= effective_due_at) \
         AS within_due \
     FROM (SELECT *, LEAST(now(), \
             arrow_cast(next_start, 'Timestamp(Millisecond, Some(\"UTC\"))') \
               - INTERVAL '7 hours') AS judged_at \
           FROM periods)";

/// The sums of one unit and period.
fn sums(keys: &str) -> String {
    let n = |cond: &str| format!("CAST(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS BIGINT)");
    let distinct = |cond: &str| {
        format!("CAST(COUNT(DISTINCT CASE WHEN {cond} THEN procedure_code END) AS BIGINT)")
    };
    let on_time_ended = "ended_in AND outcome IN ('early', 'on_time')";
    let fee = "received_in AND fee_bearing";
    format!(
        "SELECT period_kind, period_start, MAX(next_start) AS next_start, \
           MIN(judged_at) AS judged_at, {keys}, \
           {received} AS received, \
           {in_person} AS received_in_person, {postal} AS received_postal, \
           {online} AS received_online, \
           {handled} AS handled, \
           {ended} AS ended, {ended_on_time} AS ended_on_time, \
           {open} AS open_at_end, {open_within} AS open_within_due_at_end, \
           {fo_eligible} AS full_online_eligible, {fo} AS full_online, \
           {fee_bearing} AS fee_bearing, {paid} AS paid_online, \
           {digitized} AS digitized, {eid} AS eid_level2, \
           {procs_paid} AS fee_procedures_paid_online, {procs_used} AS fee_procedures_used \
         FROM flags GROUP BY period_kind, period_start, {keys}",
        received = n("received_in"),
        in_person = n("received_in AND channel = 'in_person'"),
        postal = n("received_in AND channel = 'postal'"),
        online = n("received_in AND channel = 'online'"),
        handled = n("scored"),
        ended = n("ended_in"),
        ended_on_time = n(on_time_ended),
        open = n("open_at_end"),
        open_within = n("open_at_end AND within_due"),
        fo_eligible = n("received_in AND full_online_eligible"),
        fo = n("received_in AND full_online_eligible AND channel = 'online'"),
        fee_bearing = n(fee),
        paid = n(&format!("{fee} AND online_payment")),
        digitized = n("received_in AND digitized"),
        eid = n("received_in AND eid_level2"),
        procs_paid = distinct(&format!(
            "{fee} AND online_payment AND fee_procedure AND {{level_match}}"
        )),
        procs_used = distinct("received_in AND fee_procedure AND {level_match}"),
    )
}

/// The fee-bearing procedures of the catalogue a unit of `level` answers
/// for: a commune, those its centers usually receive; a province, all.
fn fee_procedures(level: &str) -> String {
    let cond = if level == "commune" {
        "fee_vnd > 0 AND level = 'commune'"
    } else {
        "fee_vnd > 0"
    };
    format!(
        "(SELECT CAST(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS BIGINT) AS fee_procedures \
          FROM procedures)"
    )
}

fn ratio(num: &str, den: &str) -> String {
    format!("CAST({num} AS DOUBLE) / CAST(NULLIF({den}, 0) AS DOUBLE)")
}

/// `min(1, x)`, NULL when `x` is: SQL's `LEAST` skips a NULL, which would
/// give full points for a share over nothing.
fn at_most_one(x: &str) -> String {
    format!("CASE WHEN ({x}) IS NOT NULL THEN LEAST(1.0, {x}) END")
}

/// One level's rows, shares and indicator scores.
fn unit_rows(level: &str) -> String {
    let (keys, commune, level_match) = if level == "commune" {
        (
            "province_code, commune_code",
            "commune_code",
            "procedure_level = 'commune'",
        )
    } else {
        ("province_code", "CAST(NULL AS VARCHAR)", "TRUE")
    };
    let sums = sums(keys).replace("{level_match}", level_match);
    let handled_on_time = "ended_on_time + open_within_due_at_end";
    let b = ratio("fee_procedures_paid_online", "fee_procedures");
    let c = ratio("fee_procedures_used", "fee_procedures");
    format!(
        "SELECT period_kind, period_start, \
           CAST(next_start - INTERVAL '1 day' AS DATE) AS period_end, \
           next_start <= CAST(now() + INTERVAL '7 hours' AS DATE) AS period_complete, \
           judged_at, '{level}' AS unit_level, province_code, {commune} AS commune_code, \
           received, received_in_person, received_postal, received_online, \
           handled, {handled_on_time} AS handled_on_time, ended, ended_on_time, \
           open_at_end, open_within_due_at_end, \
           {progress_rate} AS progress_rate, \
           full_online_eligible, full_online, {fo_share} AS full_online_share, \
           fee_bearing, paid_online, {paid_share} AS online_payment_share, \
           fee_procedures, fee_procedures_paid_online, fee_procedures_used, \
           digitized, {digitized_share} AS digitization_share, \
           eid_level2, {eid_share} AS eid_level2_share, \
           {PROGRESS_POINTS:.1} * {progress_rate} AS progress_score, \
           {ONLINE_SERVICE_POINTS:.1} * {online_capped} \
             AS online_service_score, \
           {PAYMENT_FILINGS_POINTS:.1} * COALESCE({paid_share}, 0.0) AS online_payment_score, \
           LEAST({PAYMENT_INTEGRATION_CAP:.1}, {PAYMENT_INTEGRATION_SLOPE} * COALESCE({b}, 0.0)) \
             AS payment_integration_score, \
           {PAYMENT_COVERAGE_POINTS} * COALESCE({c}, 0.0) AS payment_coverage_score, \
           {DIGITIZED_DOSSIER_POINTS:.1} * {digitized_share} AS digitized_dossier_score, \
           {CITIZEN_DATA_POINTS:.1} * {eid_share} AS citizen_data_score \
         FROM ({sums}) CROSS JOIN {fee_procedures}",
        progress_rate = ratio(handled_on_time, "handled"),
        fo_share = ratio("full_online", "full_online_eligible"),
        online_capped = at_most_one(&format!(
            "{} / {ONLINE_FULL_SHARE}",
            ratio("full_online", "full_online_eligible")
        )),
        paid_share = ratio("paid_online", "fee_bearing"),
        digitized_share = ratio("digitized", "received"),
        eid_share = ratio("eid_level2", "received"),
        fee_procedures = fee_procedures(level),
    )
}

/// The view's SQL.
pub fn sql() -> String {
    let periods: Vec<String> = PERIODS.iter().map(expanded).collect();
    let group_sum: Vec<String> = GROUPS
        .iter()
        .map(|(g, _)| format!("COALESCE({g}, 0.0)"))
        .collect();
    let group_max: Vec<String> = GROUPS
        .iter()
        .map(|(g, max)| format!("CASE WHEN {g} IS NULL THEN 0.0 ELSE {max:.1} END"))
        .collect();
    let all_known: Vec<String> = GROUPS
        .iter()
        .map(|(g, _)| format!("{g} IS NOT NULL"))
        .collect();
    let rank_window = "PARTITION BY period_kind, period_start, unit_level";
    format!(
        "WITH facts AS ({FACTS}), periods AS ({periods}), flags AS ({FLAGS}), \
         units AS ({communes} UNION ALL {provinces}), \
         grouped AS (SELECT u.*, \
           {DOSSIER_SYNC_POINTS:.1} * {sync_rate} AS dossier_sync_score, \
           pi.ckmb AS group_transparency, \
           u.progress_score AS group_progress, \
           u.online_service_score AS group_online_service, \
           LEAST({PAYMENT_GROUP_CAP:.1}, u.online_payment_score + u.payment_integration_score \
             + u.payment_coverage_score) AS group_online_payment, \
           pi.mdsh AS group_digitization, \
           pi.mdhl AS group_satisfaction, \
           pi.imported_at AS portal_imported_at \
           FROM units u LEFT JOIN portal_766 pi ON pi.period_kind = u.period_kind \
             AND pi.period_start = u.period_start AND pi.unit_level = u.unit_level \
             AND pi.province_code = u.province_code \
             AND COALESCE(pi.commune_code, '') = COALESCE(u.commune_code, '')), \
         totalled AS (SELECT *, {group_sum} AS scored_points, {group_max} AS scored_max, \
           CASE WHEN {all_known} THEN {group_sum} END AS total_score FROM grouped) \
         SELECT *, \
           CASE WHEN total_score IS NOT NULL THEN \
             RANK() OVER ({rank_window}, total_score IS NULL ORDER BY total_score DESC) END \
             AS rank, \
           RANK() OVER ({rank_window}, scored_max ORDER BY scored_points DESC) AS scored_rank, \
           CASE WHEN total_score < 80 THEN '{BAND_URGENT}' \
             WHEN total_score < 90 THEN '{BAND_ATTENTION}' \
             WHEN total_score IS NOT NULL THEN '{BAND_MET}' END AS band \
         FROM totalled",
        periods = periods.join(" UNION ALL "),
        communes = unit_rows("commune"),
        provinces = unit_rows("province"),
        group_sum = group_sum.join(" + "),
        group_max = group_max.join(" + "),
        all_known = all_known.join(" AND "),
        sync_rate = at_most_one(&ratio("pi.db_total", "GREATEST(u.received, pi.hs_total)")),
    )
}
