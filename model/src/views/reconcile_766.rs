//! `reconcile_766`: hoso's figure beside the portal's, per unit, period and
//! indicator, for every figure `portal_766` holds that hoso computes too,
//! with the difference and what a difference there usually means.
//! `docs/kpis.md` ("Reconciliation with the portal") documents it.
//!
//! The portal's rows drive it: a unit and period the portal published and
//! hoso has no filing for shows `no_hoso_row`, so a source that never sends
//! to hoso is seen. The groups hoso takes from the portal (transparency,
//! digitisation, satisfaction) are not compared: they are the same number.

/// One compared figure: hoso's column of `score_766` (an expression of the
/// joined row), the portal's field and column, whether it is a count (equal
/// or not) or points (equal to the portal's two decimals), and what a
/// difference usually means.
struct Compared {
    indicator: &'static str,
    hoso: &'static str,
    portal_field: &'static str,
    portal: &'static str,
    count: bool,
    reading: &'static str,
}

const COMPARED: [Compared; 12] = [
    Compared {
        indicator: "total_score",
        hoso: "s.total_score",
        portal_field: "TONG_SCORE",
        portal: "p.tong_score",
        count: false,
        reading: "the sum of the group differences below; the groups hoso cannot compute are \
                  the portal's own",
    },
    Compared {
        indicator: "rank",
        hoso: "s.rank",
        portal_field: "RANK",
        portal: "p.portal_rank",
        count: true,
        reading: "hoso ranks the units it holds a total for, the portal every unit of the level",
    },
    Compared {
        indicator: "group_progress",
        hoso: "s.group_progress",
        portal_field: "TDGQ",
        portal: "p.tdgq",
        count: false,
        reading: "filings missing on one side (received, synced), end or due dates that differ \
                  (ended_on_time, ended_late), or filings open at the period's end judged \
                  differently",
    },
    Compared {
        indicator: "group_online_service",
        hoso: "s.group_online_service",
        portal_field: "CLGQ",
        portal: "p.clgq",
        count: false,
        reading: "the channel of filings (received_online) or the procedures the catalogue \
                  marks full-online differ",
    },
    Compared {
        indicator: "group_online_payment",
        hoso: "s.group_online_payment",
        portal_field: "TTTT",
        portal: "p.tttt",
        count: false,
        reading: "paid-online flags (DuocThanhToanTrucTuyen), fee-free filings, or the \
                  catalogue's fee-bearing procedures differ",
    },
    Compared {
        indicator: "received",
        hoso: "s.received",
        portal_field: "HS_TOTAL",
        portal: "p.hs_total",
        count: true,
        reading: "above 0: filings hoso holds that the portal does not (not synchronised); \
                  below 0: filings the portal has that never reached hoso",
    },
    Compared {
        indicator: "synced",
        hoso: "s.received",
        portal_field: "DB_TOTAL",
        portal: "p.db_total",
        count: true,
        reading: "filings received in the period that the portal has not synchronised",
    },
    Compared {
        indicator: "received_in_person",
        hoso: "s.received_in_person",
        portal_field: "HTN_TRUCTIEP",
        portal: "p.htn_tructiep",
        count: true,
        reading: "the channel is recorded differently, or filings are missing on one side",
    },
    Compared {
        indicator: "received_postal",
        hoso: "s.received_postal",
        portal_field: "HTN_BUUCHINH",
        portal: "p.htn_buuchinh",
        count: true,
        reading: "the channel is recorded differently, or filings are missing on one side",
    },
    Compared {
        indicator: "received_online",
        hoso: "s.received_online",
        portal_field: "HTN_TRUCTUYEN",
        portal: "p.htn_tructuyen",
        count: true,
        reading: "the channel is recorded differently, or filings are missing on one side",
    },
    Compared {
        indicator: "ended_on_time",
        hoso: "s.ended_on_time",
        portal_field: "HTDH",
        portal: "p.htdh",
        count: true,
        reading: "with the same ended total: end or due dates differ (NgayKetThucXuLy, \
                  NgayHenTra, supplement pauses); else filings missing on one side",
    },
    Compared {
        indicator: "ended_late",
        hoso: "s.ended - s.ended_on_time",
        portal_field: "HTQH",
        portal: "p.htqh",
        count: true,
        reading: "with the same ended total: end or due dates differ (NgayKetThucXuLy, \
                  NgayHenTra, supplement pauses); else filings missing on one side",
    },
];

/// The view's SQL: the portal's rows joined once with `score_766`, then
/// unpivoted to a row per compared figure.
pub fn sql() -> String {
    let case = |f: &dyn Fn(&Compared) -> String| {
        let arms: Vec<String> = COMPARED
            .iter()
            .map(|c| format!("WHEN '{}' THEN {}", c.indicator, f(c)))
            .collect();
        format!("CASE c.indicator {} END", arms.join(" "))
    };
    let names: Vec<String> = COMPARED
        .iter()
        .map(|c| format!("('{}')", c.indicator))
        .collect();
    let hoso = case(&|c| format!("CAST({} AS DOUBLE)", c.hoso));
    let portal = case(&|c| format!("CAST({} AS DOUBLE)", c.portal));
    let field = case(&|c| format!("'{}'", c.portal_field));
    // Points agree to the portal's two decimals; counts exactly.
    let tolerance = case(&|c| (if c.count { "0.0" } else { "0.005" }).to_string());
    let reading = case(&|c| format!("'{}'", c.reading.replace('\'', "''")));
    format!(
        "SELECT period_kind, period_start, unit_level, province_code, commune_code, indicator, \
           portal_field, hoso_value, portal_value, hoso_value - portal_value AS difference, \
           CASE WHEN NOT in_hoso THEN 'no_hoso_row' \
             WHEN hoso_value IS NULL THEN 'hoso_unknown' \
             WHEN abs(hoso_value - portal_value) <= tolerance THEN 'agrees' \
             ELSE 'differs' END AS status, \
           reading, period_complete, imported_at, source \
         FROM (SELECT p.period_kind, p.period_start, p.unit_level, p.province_code, \
                 p.commune_code, c.indicator, {field} AS portal_field, {hoso} AS hoso_value, \
                 {portal} AS portal_value, {tolerance} AS tolerance, {reading} AS reading, \
                 s.unit_level IS NOT NULL AS in_hoso, s.period_complete, p.imported_at, p.source \
               FROM portal_766 p LEFT JOIN score_766 s ON s.period_kind = p.period_kind \
                 AND s.period_start = p.period_start AND s.unit_level = p.unit_level \
                 AND s.province_code = p.province_code \
                 AND COALESCE(s.commune_code, '') = COALESCE(p.commune_code, '') \
               CROSS JOIN (VALUES {names}) AS c(indicator)) \
         WHERE portal_value IS NOT NULL",
        names = names.join(", "),
    )
}
