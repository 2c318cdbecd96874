//! Arrow schemas of the SQL tables (contract: "SQL surface").
//!
//! Codes are text (`"01"`, `"00004"`) as in the contract; timestamps are UTC
//! milliseconds; days are `Date32` local dates.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub const FILINGS: &str = "filings";
pub const DAILY_PARTIALS: &str = "daily_partials";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// `filings`: one row per filing, as the processor publishes it and the
/// query engine scans it. The contract's columns first, then the additive
/// ones (`effective_due_at`, `pause_started_at`, `closed`, `fee_required`,
/// `last_seq`, `due_at_computed`: the source sent no `due_at` and hoso
/// computed it from the procedure catalogue; `procedure_code_full`: the
/// code as sent, of which `procedure_code` is the catalogue's base code;
/// `handling_commune_code`: the commune of the highest-`seq` event;
/// `extended_due_at` and `extensions`: the new date of the highest-`seq`
/// `extended` event, and how many there were).
///
/// Its text columns are `Utf8View`: a code of up to 12 bytes sits inside
/// the view itself, so grouping and comparing by it never follows a
/// pointer, and Parquet decodes into views without copying. Results leave
/// the query engine as `Utf8` (hoso_query's executor casts them), so
/// clients never see the difference. Cold files store
/// [`filings_stored`].
pub fn filings() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| filings_with(DataType::Utf8View));
    S.clone()
}

/// `filings` as cold Parquet files store it: text as `Utf8`, what every
/// reader of Parquet expects and every cold file written so far says.
pub fn filings_stored() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| filings_with(DataType::Utf8));
    S.clone()
}

fn filings_with(text: DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("filing_id", text.clone(), false),
        Field::new("province_code", text.clone(), false),
        Field::new("commune_code", text.clone(), false),
        Field::new("procedure_code", text.clone(), true),
        Field::new("channel", text.clone(), true),
        Field::new("status", text.clone(), false),
        Field::new("received_at", ts(), true),
        Field::new("due_at", ts(), true),
        Field::new("ended_at", ts(), true),
        Field::new("outcome", text.clone(), true),
        Field::new("supplement_count", DataType::Int32, false),
        Field::new("paused_seconds", DataType::Int64, false),
        Field::new("eid_level2", DataType::Boolean, true),
        Field::new("digitized", DataType::Boolean, true),
        Field::new("online_payment", DataType::Boolean, true),
        Field::new("effective_due_at", ts(), true),
        Field::new("pause_started_at", ts(), true),
        Field::new("closed", DataType::Boolean, false),
        Field::new("fee_required", DataType::Boolean, true),
        Field::new("last_seq", DataType::Int64, false),
        Field::new("due_at_computed", DataType::Boolean, false),
        Field::new("procedure_code_full", text.clone(), true),
        Field::new("handling_commune_code", text, true),
        Field::new("extended_due_at", ts(), true),
        Field::new("extensions", DataType::Int32, false),
    ]))
}

/// The daily counts, in column order (`daily_partials`, `daily_stats`):
/// the `received*` ones over the filings received on the day, the
/// `ended*` ones over those ended on it. `ended_on_time` includes early.
pub const DAILY_COUNTS: [&str; 11] = [
    "received",
    "received_online",
    "received_eid_level2",
    "received_digitized",
    "received_fee_required",
    "received_fee_paid_online",
    "ended",
    "ended_early",
    "ended_on_time",
    "ended_late",
    "extensions",
];

/// `daily_partials`: the daily aggregates as each Kafka partition keeps
/// them. A (day, province, commune) appears once per partition holding its
/// filings; the views sum over partitions. `day` is the received day for
/// the `received*` counts and the ended day for the `ended*` counts.
pub fn daily_partials() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields = vec![
            Field::new("partition", DataType::Int32, false),
            Field::new("day", DataType::Date32, false),
            Field::new("province_code", DataType::Utf8, false),
            Field::new("commune_code", DataType::Utf8, false),
        ];
        fields.extend(DAILY_COUNTS.map(|c| Field::new(c, DataType::Int64, false)));
        Arc::new(Schema::new(fields))
    });
    S.clone()
}

pub const PROCEDURES: &str = "procedures";

/// `procedures`: the procedure catalogue (built in plus the operator's
/// files), for joins on `filings.procedure_code` (the base code):
/// `deadline_working_days` is 0 for same-day ones and NULL for a deadline
/// in calendar days (`deadline_calendar_days`, `deadline_unit`);
/// `same_day_cutoff` is the procedure's own `HH:MM`, NULL for the
/// configured one.
pub fn procedures() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("procedure_code", DataType::Utf8, false),
            Field::new("name_vi", DataType::Utf8, false),
            Field::new("name_en", DataType::Utf8, false),
            Field::new("same_day", DataType::Boolean, false),
            Field::new("deadline_working_days", DataType::Int32, true),
            Field::new("fee_vnd", DataType::Int64, false),
            Field::new("online", DataType::Utf8, false),
            Field::new("level", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("deadline_calendar_days", DataType::Int32, true),
            Field::new("deadline_unit", DataType::Utf8, false),
            Field::new("same_day_cutoff", DataType::Utf8, true),
        ]))
    });
    S.clone()
}

/// `filing_alerts`: per partition, the open filings at risk or overdue
/// now, kept by the processor's deadline timers (`urgency` is `at_risk`
/// or `overdue`; `since` is when it became so).
pub fn filing_alerts() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::Int32, false),
        Field::new("filing_id", DataType::Utf8, false),
        Field::new("province_code", DataType::Utf8, false),
        Field::new("commune_code", DataType::Utf8, false),
        Field::new("urgency", DataType::Utf8, false),
        Field::new("since", ts(), false),
        Field::new("effective_due_at", ts(), false),
    ]))
}

/// `system.commune_clocks`: per partition, the newest event time folded
/// for each commune (`system.completeness` takes the newest over them).
pub fn commune_clocks() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("partition", DataType::Int32, false),
            Field::new("province_code", DataType::Utf8, false),
            Field::new("commune_code", DataType::Utf8, false),
            Field::new("newest_event_at", ts(), false),
        ]))
    });
    S.clone()
}

/// `system.partitions`: one row per Kafka partition this process holds.
pub fn partitions() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("partition", DataType::Int32, false),
            Field::new("next_offset", DataType::Int64, false),
            Field::new("high_watermark", DataType::Int64, true),
            Field::new("lag", DataType::Int64, true),
            Field::new("last_event_at", ts(), true),
            Field::new("caught_up", DataType::Boolean, false),
            Field::new("hot_filings", DataType::Int64, false),
            Field::new("cold_filings", DataType::Int64, false),
            Field::new("published_at", ts(), false),
        ]))
    });
    S.clone()
}

pub const REJECTS: &str = "rejects";
pub const RESTATEMENTS: &str = "restatements";

/// `rejects`: messages the processor could not apply, as also sent to the
/// dead-letter topic. `reason` is one of `not_json`, `invalid_event`,
/// `conflict`, `dimension_mismatch`, `after_close`.
pub fn rejects() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("reason", DataType::Utf8, false),
            Field::new("detail", DataType::Utf8, false),
            Field::new("filing_id", DataType::Utf8, true),
            Field::new("event_id", DataType::Utf8, true),
            // The message value as text (invalid UTF-8 replaced), and exact.
            Field::new("payload", DataType::Utf8, false),
            Field::new("payload_bytes", DataType::Binary, false),
            Field::new("partition", DataType::Int32, false),
            Field::new("offset", DataType::Int64, false),
            Field::new("seen_at", ts(), false),
        ]))
    });
    S.clone()
}

/// `restatements`: every change of a closed day's figure, with the figure
/// before and after (over the partitions the processor holds; see
/// `partitions_held`) and the event that caused it. `metric` is one of the
/// `daily_stats` counts or `online_share` / `on_time_rate`.
pub fn restatements() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("day", DataType::Date32, false),
            Field::new("province_code", DataType::Utf8, false),
            Field::new("commune_code", DataType::Utf8, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("old_value", DataType::Float64, true),
            Field::new("new_value", DataType::Float64, true),
            Field::new("changed_at", ts(), false),
            Field::new("cause", DataType::Utf8, false),
            Field::new("filing_id", DataType::Utf8, false),
            Field::new("event_id", DataType::Utf8, false),
            Field::new("partition", DataType::Int32, false),
            Field::new("offset", DataType::Int64, false),
            Field::new("partitions_held", DataType::Int32, false),
        ]))
    });
    S.clone()
}

pub const PORTAL_766: &str = "portal_766";

/// `portal_766`: the portal's published index as imported (`hoso import
/// --format portal-766`), one row per unit and period, the latest import
/// standing: the unit and period as in `score_766`, the six group scores
/// (`ckmb` ... `mdsh`), `tong_score`, `portal_rank`, the volumes
/// (`hs_total` ... `htqh`), when and from where (`file:line`) it came.
pub fn portal_766() -> SchemaRef {
    use crate::portal::index::{GROUPS, RANK, TOTAL, VOLUMES};
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields = vec![
            Field::new("period_kind", DataType::Utf8, false),
            Field::new("period_start", DataType::Date32, false),
            Field::new("unit_level", DataType::Utf8, false),
            Field::new("province_code", DataType::Utf8, false),
            Field::new("commune_code", DataType::Utf8, true),
        ];
        fields.extend(
            GROUPS
                .iter()
                .map(|g| Field::new(g.1, DataType::Float64, true)),
        );
        fields.push(Field::new(TOTAL.1, DataType::Float64, true));
        fields.push(Field::new(RANK.1, DataType::Int64, true));
        fields.extend(
            VOLUMES
                .iter()
                .map(|v| Field::new(v.1, DataType::Int64, true)),
        );
        fields.push(Field::new("imported_at", ts(), false));
        fields.push(Field::new("source", DataType::Utf8, false));
        Arc::new(Schema::new(fields))
    });
    S.clone()
}

/// The contract's views over `daily_partials`, in creation order: name and
/// SQL. The Decision 766 views build on `daily_stats` ([`crate::views`]).
/// They range over every (day, province, commune) with any activity, so the
/// three views have the same keys; a ratio whose denominator is 0 is NULL.
pub const VIEWS: [(&str, &str); 4] = [
    (
        "daily_stats",
        "SELECT day, province_code, commune_code, \
           CAST(SUM(received) AS BIGINT) AS received, \
           CAST(SUM(received_online) AS BIGINT) AS received_online, \
           CAST(SUM(received_eid_level2) AS BIGINT) AS received_eid_level2, \
           CAST(SUM(received_digitized) AS BIGINT) AS received_digitized, \
           CAST(SUM(received_fee_required) AS BIGINT) AS received_fee_required, \
           CAST(SUM(received_fee_paid_online) AS BIGINT) AS received_fee_paid_online, \
           CAST(SUM(ended) AS BIGINT) AS ended, \
           CAST(SUM(ended_early) AS BIGINT) AS ended_early, \
           CAST(SUM(ended_on_time) AS BIGINT) AS ended_on_time, \
           CAST(SUM(ended_late) AS BIGINT) AS ended_late, \
           CAST(SUM(extensions) AS BIGINT) AS extensions \
         FROM daily_partials GROUP BY day, province_code, commune_code",
    ),
    (
        "daily_volume",
        "SELECT day, province_code, commune_code, received, received_online FROM daily_stats",
    ),
    (
        "online_share",
        "SELECT day, province_code, commune_code, received, received_online, \
           CAST(received_online AS DOUBLE) / CAST(NULLIF(received, 0) AS DOUBLE) AS online_share \
         FROM daily_stats",
    ),
    (
        "on_time_rate",
        "SELECT day, province_code, commune_code, ended, ended_on_time, \
           CAST(ended_on_time AS DOUBLE) / CAST(NULLIF(ended, 0) AS DOUBLE) AS on_time_rate \
         FROM daily_stats",
    ),
];
